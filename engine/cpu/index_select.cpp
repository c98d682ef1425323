// Gather along the middle dim of [outer, len, inner] and its adjoint (scatter-add), for
// index_select. inner == 1 (the picked dim is last) walks single elements; otherwise whole
// contiguous runs of `inner` elements are copied or added.
#include <algorithm>
#include <cstring>

#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

void CpuBackend::index_gather(const Tensor& x, const Tensor& index, const Tensor& out) {
  const int64_t outer = x.size(0), len = x.size(1), inner = x.size(2), m = index.numel();
  const float* xp = x.data<float>();
  const int64_t* ip = index.data<int64_t>();
  float* op_ = out.data<float>();
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * m > 32768 && outer > 1)
    for (int64_t r = 0; r < outer; ++r)
      for (int64_t j = 0; j < m; ++j) op_[r * m + j] = xp[r * len + ip[j]];
    return;
  }
#pragma omp parallel for collapse(2) schedule(static) if (outer * m * inner > 32768)
  for (int64_t r = 0; r < outer; ++r)
    for (int64_t j = 0; j < m; ++j)
      std::memcpy(op_ + (r * m + j) * inner, xp + (r * len + ip[j]) * inner,
                  size_t(inner) * sizeof(float));
}

void CpuBackend::index_scatter_add(const Tensor& g, const Tensor& index, const Tensor& gx,
                                   bool /*unique: outer slices are independent either way*/) {
  const int64_t outer = gx.size(0), len = gx.size(1), inner = gx.size(2), m = index.numel();
  const float* gp = g.data<float>();
  const int64_t* ip = index.data<int64_t>();
  float* gxp = gx.data<float>();
  std::fill(gxp, gxp + outer * len * inner, 0.f);
  // Parallel over outer slices (independent: no races); within one, positions in index order.
#pragma omp parallel for schedule(static) if (outer * m * inner > 32768 && outer > 1)
  for (int64_t r = 0; r < outer; ++r)
    for (int64_t j = 0; j < m; ++j) {
      const float* src = gp + (r * m + j) * inner;
      float* dst = gxp + (r * len + ip[j]) * inner;
      for (int64_t k = 0; k < inner; ++k) dst[k] += src[k];
    }
}

}  // namespace rmgait::cpu
