#pragma once
// Row-wise iteration over K operands of one shape with arbitrary strides (0 = broadcast), on the
// broadcast arithmetic the CUDA kernels use (engine/math/strided.h).
// f(out_start, offs, len, inner) is called once per innermost row, in parallel over rows:
// out_start = linear index of the row's first element, offs[k] = element offset of operand k,
// inner[k] = operand k's stride along the row.
#include <array>
#include <cstdint>

#include "engine/strided_view.h"

namespace rmgait::cpu {

template <int K, class F>
void for_each_row(const Strided<K>& g, F&& f) {
  if (g.n == 0) return;
  const int64_t len = g.nd ? g.shape[g.nd - 1] : 1;
  const int64_t rows = g.n / len;
  std::array<int64_t, K> inner;
  for (int k = 0; k < K; ++k) inner[k] = g.nd ? g.stride[k][g.nd - 1] : 0;
#pragma omp parallel for schedule(static) if (g.n > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    std::array<int64_t, K> offs;
    g.offsets(r * len, offs.data());
    f(r * len, offs, len, inner);
  }
}

}  // namespace rmgait::cpu
