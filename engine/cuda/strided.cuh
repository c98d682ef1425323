#pragma once
// Up to K operands over one shape with arbitrary strides, passed to kernels by value.
#include <cstdint>

#include "engine/error.h"
#include "engine/tensor.h"

namespace rmgait::cuda {

constexpr int kMaxDims = 8;

template <int K>
struct Geometry {
  int nd = 0;
  int64_t n = 0;
  int64_t shape[kMaxDims];
  int64_t stride[K][kMaxDims];
  int64_t offset[K];

  // Element offsets of linear (row-major) index i for every operand.
  __device__ void offsets(int64_t i, int64_t out[K]) const {
    for (int k = 0; k < K; ++k) out[k] = offset[k];
    for (int d = nd - 1; d >= 0; --d) {
      int64_t pos = i % shape[d];
      i /= shape[d];
      for (int k = 0; k < K; ++k) out[k] += pos * stride[k][d];
    }
  }
};

template <int K>
Geometry<K> geometry(const Shape& shape, const Tensor* const (&ops)[K]) {
  Geometry<K> g;
  RM_CHECK(int(shape.size()) <= kMaxDims, "CUDA: tensors of more than ", kMaxDims,
           " dims are not supported, got ", shape_str(shape));
  g.nd = int(shape.size());
  g.n = numel_of(shape);
  for (int d = 0; d < g.nd; ++d) g.shape[d] = shape[d];
  for (int k = 0; k < K; ++k) {
    g.offset[k] = ops[k]->offset();
    for (int d = 0; d < g.nd; ++d) g.stride[k][d] = ops[k]->strides()[d];
  }
  return g;
}

}  // namespace rmgait::cuda
