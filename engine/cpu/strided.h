#pragma once
// Row-wise iteration over K operands of one shape with arbitrary strides (0 = broadcast).
// f(out_start, offs, len, inner) is called once per innermost row, in parallel over rows:
// out_start = linear index of the row's first element, offs[k] = element offset of operand k,
// inner[k] = operand k's stride along the row.
#include <array>
#include <cstdint>
#include <vector>

#include "engine/shape.h"

namespace rmgait::cpu {

template <size_t K, class F>
void for_each_row(const Shape& shape, const std::array<const Shape*, K>& strides,
                  const std::array<int64_t, K>& base, F&& f) {
  const int64_t nd = int64_t(shape.size());
  const int64_t n = numel_of(shape);
  if (n == 0) return;
  const int64_t len = nd ? shape[nd - 1] : 1;
  const int64_t rows = n / len;
  std::array<int64_t, K> inner;
  for (size_t k = 0; k < K; ++k) inner[k] = nd ? (*strides[k])[nd - 1] : 0;
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    std::array<int64_t, K> offs = base;
    int64_t rem = r;
    for (int64_t d = nd - 2; d >= 0; --d) {
      int64_t i = rem % shape[d];
      rem /= shape[d];
      for (size_t k = 0; k < K; ++k) offs[k] += i * (*strides[k])[d];
    }
    f(r * len, offs, len, inner);
  }
}

}  // namespace rmgait::cpu
