// Reductions over the middle dim of [outer, len, inner] (sum with double accumulation, max/min
// with the first index) and the scatter used by max/min backward. inner == 1 walks rows; otherwise
// a block of inner positions is reduced at once, the loop over them vectorised, each position
// still summed in order of the middle index (the same numbers as the row form).
#include <algorithm>

#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

namespace {
constexpr int64_t kBlock = 256;  // inner positions per task: a double row that stays in L1
}

void CpuBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out, const Tensor& index) {
  const int64_t outer = x.size(0), len = x.size(1), inner = x.size(2);
  const float* xp = x.data<float>();
  float* op_ = out.data<float>();
  int64_t* ip = index.defined() ? index.data<int64_t>() : nullptr;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * len > 32768 && outer > 1)
    for (int64_t r = 0; r < outer; ++r) {
      const float* row = xp + r * len;
      if (op == ReduceOp::sum) {
        double s = 0.0;
        for (int64_t i = 0; i < len; ++i) s += row[i];
        op_[r] = float(s);
        continue;
      }
      int64_t best = 0;
      for (int64_t i = 1; i < len; ++i)
        if (extreme_replaces(op, row[i], i, row[best], best)) best = i;
      op_[r] = row[best];
      if (ip) ip[r] = best;
    }
    return;
  }
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (outer * len * inner > 32768)
  for (int64_t t = 0; t < outer * blocks; ++t) {
    const int64_t o = t / blocks, k0 = (t % blocks) * kBlock, kn = std::min(kBlock, inner - k0);
    const float* base = xp + o * len * inner + k0;
    float* dst = op_ + o * inner + k0;
    if (op == ReduceOp::sum && len == 2) {
      // Two terms (RMFE's pair, [2, N, ...] -> [N, ...]) as one vectorised float add, bit for bit
      // the double sum below: rounding a + b to double and then to float gives the float sum
      // (53 >= 2 * 24 + 2 bits), and + 0.f turns -0 + -0 into +0 as 0.0 + a + b does.
      for (int64_t k = 0; k < kn; ++k) dst[k] = (base[k] + base[inner + k]) + 0.f;
      continue;
    }
    if (op == ReduceOp::sum) {
      double acc[kBlock] = {};
      for (int64_t i = 0; i < len; ++i)
        for (int64_t k = 0; k < kn; ++k) acc[k] += base[i * inner + k];
      for (int64_t k = 0; k < kn; ++k) dst[k] = float(acc[k]);
      continue;
    }
    // extreme_replaces with i past every index so far (a later index never wins a tie): v
    // replaces the running extreme when it is a NaN over a number or strictly beyond it. Written
    // as selects, so that the loop over positions vectorises (the temporal max over frames).
    int64_t best[kBlock] = {};
    std::copy(base, base + kn, dst);
    const bool is_max = op == ReduceOp::max;
    for (int64_t i = 1; i < len; ++i) {
      const float* row = base + i * inner;
      for (int64_t k = 0; k < kn; ++k) {
        const float v = row[k], d = dst[k];
        const bool beyond = is_max ? v > d : v < d, replaces = beyond || (v != v && d == d);
        dst[k] = replaces ? v : d;
        best[k] = replaces ? i : best[k];
      }
    }
    if (ip) std::copy(best, best + kn, ip + o * inner + k0);
  }
}

void CpuBackend::scatter_index(const Tensor& gy, const Tensor& index, const Tensor& gx) {
  const int64_t outer = gx.size(0), len = gx.size(1), inner = gx.size(2);
  const float* gp = gy.data<float>();
  const int64_t* ip = index.data<int64_t>();
  float* gxp = gx.data<float>();
#pragma omp parallel for schedule(static) if (outer * len * inner > 32768 && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    float* slab = gxp + o * len * inner;
    std::fill(slab, slab + len * inner, 0.f);
    for (int64_t k = 0; k < inner; ++k) slab[ip[o * inner + k] * inner + k] = gp[o * inner + k];
  }
}

}  // namespace rmgait::cpu
