#pragma once
// Builds the shared broadcast geometry (engine/math/strided.h) from tensors; host side.
#include "engine/error.h"
#include "engine/math/strided.h"
#include "engine/tensor.h"

namespace rmgait {

// ops: K tensors already viewed (expanded) to `shape`.
template <int K>
Strided<K> strided_view(const Shape& shape, const Tensor* const (&ops)[K]) {
  RM_CHECK(int(shape.size()) <= kMaxDims, "tensors of more than ", kMaxDims,
           " dims are not supported, got ", shape_str(shape));
  Strided<K> g;
  g.nd = int(shape.size());
  g.n = numel_of(shape);
  for (int d = 0; d < g.nd; ++d) g.shape[d] = shape[d];
  for (int k = 0; k < K; ++k) {
    g.offset[k] = ops[k]->offset();
    for (int d = 0; d < g.nd; ++d) g.stride[k][d] = ops[k]->strides()[d];
  }
  return g;
}

}  // namespace rmgait
