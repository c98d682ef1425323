// softmax / log_softmax over rows, max-subtracted, with backward.
#include <cmath>

#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

void CpuBackend::softmax_rows(const Tensor& x, const Tensor& y, bool log) {
  const int64_t rows = x.size(0), len = x.size(1);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
#pragma omp parallel for schedule(static) if (rows * len > 32768 && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float* a = xp + r * len;
    float* b = yp + r * len;
    float m = -INFINITY;
    for (int64_t i = 0; i < len; ++i) m = std::max(m, a[i]);
    double s = 0.0;
    for (int64_t i = 0; i < len; ++i) s += std::exp(double(a[i] - m));
    float lse = float(std::log(s));
    for (int64_t i = 0; i < len; ++i)
      b[i] = log ? a[i] - m - lse : float(std::exp(double(a[i] - m)) / s);
  }
}

void CpuBackend::softmax_rows_backward(const Tensor& gy, const Tensor& y, const Tensor& gx,
                                       bool log) {
  const int64_t rows = y.size(0), len = y.size(1);
  const float *gp = gy.data<float>(), *yp = y.data<float>();
  float* gxp = gx.data<float>();
#pragma omp parallel for schedule(static) if (rows * len > 32768 && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = gp + r * len;
    const float* s = yp + r * len;
    float* o = gxp + r * len;
    double dot = 0.0;  // log: sum(g); softmax: sum(g * y)
    for (int64_t i = 0; i < len; ++i) dot += log ? g[i] : g[i] * s[i];
    for (int64_t i = 0; i < len; ++i)
      o[i] = log ? g[i] - std::exp(s[i]) * float(dot) : s[i] * (g[i] - float(dot));
  }
}

}  // namespace rmgait::cpu
