// bench_peak: prints this machine's measured f32 FMA and bf16 dot-product peaks (bench/peak.h)
// for the thread count OpenMP uses, in lines bench/compare.sh reads.
#include "bench/peak.h"

#include <cstdio>

int main() {
  std::printf("threads %d\n", omp_get_max_threads());
  std::printf("f32_peak_gflops %.1f\n", rmgait::bench::measure_peak(false));
  std::printf("bf16_peak_gflops %.1f\n", rmgait::bench::measure_peak(true));
  return 0;
}
