#pragma once
// This machine's measured arithmetic peaks over all OpenMP threads (best of 5), the yardstick of
// the benchmarks' "% of peak": f32 FMA (16 independent AVX-512 chains per thread, or 12 AVX2
// ones) and bf16 dot products (AVX512-BF16 vdpbf16ps: 2 bf16 products per f32 lane), the
// instructions oneDNN's f32 and bf16 convolutions run on. Per-function target attributes keep the
// rest of the code portable.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace rmgait::bench {

__attribute__((target("avx512f"))) inline double first_lane(__m512 s) {
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0];
}

__attribute__((target("avx512f"))) inline double fma_loop_avx512(int64_t iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, acc[i]);
  return first_lane(s);
}

__attribute__((target("avx2,fma"))) inline double fma_loop_avx2(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  float out[8];
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  _mm256_storeu_ps(out, s);
  return out[0];
}

__attribute__((target("avx512f,avx512bf16"))) inline double bf16_loop_avx512(int64_t iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, acc[i]);
  return first_lane(s);
}

inline bool has_avx512_bf16() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}

// GFLOP/s; bf16 = true measures bf16 dot products (0 when the CPU has no AVX512-BF16).
inline double measure_peak(bool bf16 = false) {
  using Clock = std::chrono::steady_clock;
  const bool avx512 = __builtin_cpu_supports("avx512f");
  if (bf16 && !has_avx512_bf16()) return 0;
  const int64_t iters = 60'000'000;  // ~0.1-0.3 s a run: short runs read low on a shared VM
  const double flops_per_iter = bf16 ? 16 * 32 * 2 : avx512 ? 16 * 16 * 2 : 12 * 8 * 2;
  double best = 0, sink = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = Clock::now();
#pragma omp parallel reduction(+ : sink)
    sink += bf16 ? bf16_loop_avx512(iters) : avx512 ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, flops_per_iter * double(iters) * omp_get_max_threads() / s / 1e9);
  }
  if (sink == 12345.678) best += 1e-9;  // keeps the loops from being optimised away
  return best;
}

}  // namespace rmgait::bench
