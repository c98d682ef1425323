#pragma once
// A process-wide count of the floating-point operations the dense ops run (conv3d forward,
// backward-data and backward-weights, matmul; 2 per multiply-add), so that benchmarks report
// the work a step really did instead of a formula kept beside the model.
#include <atomic>
#include <cstdint>

namespace rmgait {

inline std::atomic<uint64_t>& dense_flop_counter() {
  static std::atomic<uint64_t> n{0};
  return n;
}
inline void count_dense_flops(uint64_t n) {
  dense_flop_counter().fetch_add(n, std::memory_order_relaxed);
}
inline uint64_t dense_flops() {
  return dense_flop_counter().load(std::memory_order_relaxed);
}

}  // namespace rmgait
