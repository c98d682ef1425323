// Column gather and its adjoint (scatter-add), for index_select.
#include <algorithm>

#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

void CpuBackend::gather_columns(const Tensor& x, const Tensor& index, const Tensor& out) {
  const int64_t rows = x.size(0), len = x.size(1), m = index.numel();
  const float* xp = x.data<float>();
  const int64_t* ip = index.data<int64_t>();
  float* op_ = out.data<float>();
#pragma omp parallel for schedule(static) if (rows * m > 32768 && rows > 1)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < m; ++j) op_[r * m + j] = xp[r * len + ip[j]];
}

void CpuBackend::scatter_add_columns(const Tensor& g, const Tensor& index, const Tensor& gx,
                                     bool /*unique: rows are independent either way*/) {
  const int64_t rows = gx.size(0), len = gx.size(1), m = index.numel();
  const float* gp = g.data<float>();
  const int64_t* ip = index.data<int64_t>();
  float* gxp = gx.data<float>();
  std::fill(gxp, gxp + rows * len, 0.f);
#pragma omp parallel for schedule(static) if (rows * m > 32768 && rows > 1)
  for (int64_t r = 0; r < rows; ++r)  // rows are independent: no races
    for (int64_t j = 0; j < m; ++j) gxp[r * len + ip[j]] += gp[r * m + j];
}

}  // namespace rmgait::cpu
