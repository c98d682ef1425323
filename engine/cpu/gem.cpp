// GeM pooling of rows: the per-row rule of engine/math/gem.h, in parallel over rows.
#include "engine/math/gem.h"

#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

void CpuBackend::gem_rows(const Tensor& x, const Tensor& p, float eps, const Tensor& y) {
  const int64_t rows = x.size(0), len = x.size(1);
  const float* xp = x.data<float>();
  const float pv = p.data<float>()[0];
  float* yp = y.data<float>();
#pragma omp parallel for schedule(static) if (rows * len > 32768 && rows > 1)
  for (int64_t r = 0; r < rows; ++r) yp[r] = gem_row_forward(xp + r * len, len, 1, pv, eps);
}

void CpuBackend::gem_rows_backward(const Tensor& gy, const Tensor& x, const Tensor& p, float eps,
                                   const Tensor& gx, const Tensor& gp_rows) {
  const int64_t rows = x.size(0), len = x.size(1);
  const float *gyp = gy.data<float>(), *xp = x.data<float>();
  const float pv = p.data<float>()[0];
  float *gxp = gx.data<float>(), *gpp = gp_rows.data<float>();
#pragma omp parallel for schedule(static) if (rows * len > 32768 && rows > 1)
  for (int64_t r = 0; r < rows; ++r)
    gpp[r] = gem_row_backward(gyp[r], xp + r * len, len, 1, pv, eps, gxp + r * len);
}

}  // namespace rmgait::cpu
