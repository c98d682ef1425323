// Adam / AdamW in place: the per-element rule of engine/math/adam.h in one parallel pass.
#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

void CpuBackend::adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                             const Tensor& exp_avg_sq, const AdamScalars& s) {
  float *p = param.data<float>(), *m = exp_avg.data<float>(), *v = exp_avg_sq.data<float>();
  const float* g = grad.data<float>();
  const int64_t n = param.numel();
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) rmgait::adam_update(p[i], g[i], m[i], v[i], s);
}

}  // namespace rmgait::cpu
