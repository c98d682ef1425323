// Distances from Gram terms, averaged over slices (engine/math/distance.h): per output row, the
// slices are summed in order into a row of doubles, so the inner loop over columns vectorises
// (with -fno-trapping-math for the clamp and -fno-math-errno for sqrtf).
#include "engine/math/distance.h"

#include <algorithm>
#include <vector>

#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

void CpuBackend::gram_distance_mean(const Tensor& x2, const Tensor& y2, const Tensor& xy,
                                    const Tensor& out) {
  const int64_t slices = xy.size(0), n = xy.size(1), m = xy.size(2);
  const float *x2p = x2.data<float>(), *y2p = y2.data<float>(), *xyp = xy.data<float>();
  float* op_ = out.data<float>();
#pragma omp parallel if (slices * n * m > 32768)
  {
    std::vector<double> acc(m);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t b = 0; b < slices; ++b) {
        const float xi = x2p[b * n + i];
        const float* yb = y2p + b * m;
        const float* row = xyp + (b * n + i) * m;
        for (int64_t j = 0; j < m; ++j) acc[j] += gram_distance_term(xi, yb[j], row[j]);
      }
      for (int64_t j = 0; j < m; ++j) op_[i * m + j] = gram_distance_finish(acc[j], slices);
    }
  }
}

}  // namespace rmgait::cpu
