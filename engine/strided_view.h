#pragma once
// Builds the shared broadcast geometry (engine/math/strided.h) from tensors, host side. Dims of
// size 1 are dropped and neighbouring dims that every operand walks contiguously are merged, so
// that same-shape dense operands become one flat dim (no index arithmetic per element on the
// GPU, long rows for the CPU loops). Linear indices of the shape are unchanged by this.
#include <vector>

#include "engine/error.h"
#include "engine/math/strided.h"
#include "engine/tensor.h"

namespace rmgait {

// ops: K tensors already viewed (expanded) to `shape`.
template <int K>
Strided<K> strided_view(const Shape& shape, const Tensor* const (&ops)[K]) {
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> strides(K);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !dims.empty();
    for (int k = 0; k < K && merge; ++k)
      merge = strides[k].back() == ops[k]->strides()[d] * shape[d];
    if (merge) {
      dims.back() *= shape[d];
      for (int k = 0; k < K; ++k) strides[k].back() = ops[k]->strides()[d];
    } else {
      dims.push_back(shape[d]);
      for (int k = 0; k < K; ++k) strides[k].push_back(ops[k]->strides()[d]);
    }
  }
  RM_CHECK(int(dims.size()) <= kMaxDims, "strided loops: more than ", kMaxDims,
           " dims remain after merging, for shape ", shape_str(shape));
  Strided<K> g;
  g.nd = int(dims.size());
  g.n = numel_of(shape);
  for (int d = 0; d < g.nd; ++d) g.shape[d] = dims[d];
  for (int k = 0; k < K; ++k) {
    g.offset[k] = ops[k]->offset();
    for (int d = 0; d < g.nd; ++d) g.stride[k][d] = strides[k][d];
  }
  return g;
}

}  // namespace rmgait
