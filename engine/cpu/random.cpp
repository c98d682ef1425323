// Counter-based random fill: element i = f(seed, offset + i), thread-count independent.
#include "engine/cpu/cpu_backend.h"
#include "engine/math/random.h"

namespace rmgait::cpu {

void CpuBackend::random(RandomKind kind, uint64_t seed, uint64_t offset, float a, float b,
                        const Tensor& out) {
  float* p = out.data<float>();
  const int64_t n = out.numel();
#pragma omp parallel for schedule(static) if (n > 4096)
  for (int64_t i = 0; i < n; ++i) {
    p[i] = philox::sample(kind, seed, offset + uint64_t(i), a, b);
  }
}

}  // namespace rmgait::cpu
