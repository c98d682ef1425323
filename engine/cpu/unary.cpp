// Unary elementwise ops and their backward, from the shared per-element rules.
#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& y, float a, float b) {
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) yp[i] = unary_forward(op, xp[i], a, b);
}

void CpuBackend::unary_backward(UnaryOp op, const Tensor& gy, const Tensor& x, const Tensor& y,
                                const Tensor& gx, float a, float b) {
  const float *gp = gy.data<float>(), *xp = x.data<float>(), *yp = y.data<float>();
  float* gxp = gx.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) gxp[i] = rmgait::unary_backward(op, gp[i], xp[i], yp[i], a, b);
}

}  // namespace rmgait::cpu
