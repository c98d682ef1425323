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
  // The outermost dim needs no division: what is left of i is its position.
  RM_HD void offsets(int64_t i, int64_t out[K]) const {
    for (int k = 0; k < K; ++k) out[k] = offset[k];
    for (int d = nd - 1; d >= 0; --d) {
      int64_t pos = d > 0 ? i % shape[d] : i;
      if (d > 0) i /= shape[d];
      for (int k = 0; k < K; ++k) out[k] += pos * stride[k][d];
    }
  }
};

}  // namespace rmgait
