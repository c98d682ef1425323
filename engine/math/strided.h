#pragma once
// Broadcast index arithmetic, one source of truth for the CPU loops and the CUDA kernels: K
// operands viewed over one shape, each with its own strides (0 on broadcast dims) and offset.
// Passed to kernels by value.
#include <stdint.h>

#include "engine/math/hd.h"

namespace rmgait {

constexpr int kMaxDims = 8;

template <int K>
struct Strided {
  int nd = 0;
  int64_t n = 0;  // elements of the shape
  int64_t shape[kMaxDims];
  int64_t stride[K][kMaxDims];
  int64_t offset[K];

  // Element offsets of every operand at row-major linear index i (0 <= i < n) of the shape.
  // The outermost dim needs no division: what is left of i is its position. I: int64_t, or
  // uint32_t where fits_32bit() (GPU kernels: a 64-bit division is a long subroutine there).
  template <class I>
  RM_HD void offsets(I i, I out[K]) const {
    for (int k = 0; k < K; ++k) out[k] = I(offset[k]);
    for (int d = nd - 1; d >= 0; --d) {
      const I s = I(shape[d]);
      I pos = d > 0 ? i % s : i;
      if (d > 0) i /= s;
      for (int k = 0; k < K; ++k) out[k] += pos * I(stride[k][d]);
    }
  }

  // Whether every linear index and every operand's offsets stay below 2^31, so that
  // offsets<uint32_t> is exact and grid-stride loops cannot wrap.
  RM_HD bool fits_32bit() const {
    const int64_t limit = int64_t(1) << 31;
    if (n >= limit) return false;
    for (int k = 0; k < K; ++k) {
      int64_t last = offset[k];
      for (int d = 0; d < nd; ++d) {
        if (stride[k][d] < 0) return false;
        last += (shape[d] - 1) * stride[k][d];
      }
      if (last >= limit) return false;
    }
    return true;
  }
};

}  // namespace rmgait
