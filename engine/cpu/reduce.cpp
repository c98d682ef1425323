// Row reductions (sum with double accumulation, max/min with first index) and the scatter used
// by max/min backward.
#include <algorithm>

#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

void CpuBackend::reduce_rows(ReduceOp op, const Tensor& x, const Tensor& out, const Tensor& index) {
  const int64_t rows = x.size(0), len = x.size(1);
  const float* xp = x.data<float>();
  float* op_ = out.data<float>();
  int64_t* ip = index.defined() ? index.data<int64_t>() : nullptr;
#pragma omp parallel for schedule(static) if (rows * len > 32768 && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
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
}

void CpuBackend::scatter_rows(const Tensor& gy, const Tensor& index, const Tensor& gx) {
  const int64_t rows = gx.size(0), len = gx.size(1);
  const float* gp = gy.data<float>();
  const int64_t* ip = index.data<int64_t>();
  float* gxp = gx.data<float>();
  std::fill(gxp, gxp + rows * len, 0.f);
  for (int64_t r = 0; r < rows; ++r) gxp[r * len + ip[r]] = gp[r];
}

}  // namespace rmgait::cpu
