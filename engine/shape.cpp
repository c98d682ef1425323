#include "engine/shape.h"

#include <algorithm>

#include "engine/error.h"

namespace rmgait {

int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (int64_t i = int64_t(shape.size()) - 1; i >= 0; --i) {
    st[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

std::optional<Shape> view_strides(const Shape& shape, const Shape& strides,
                                  const Shape& new_shape) {
  Shape out(new_shape.size());
  if (shape.empty() || numel_of(shape) == 0) return contiguous_strides(new_shape);
  // Walk the old dims from the innermost, closing a chunk where the next dim out does not
  // continue it in memory; the new dims that make up the same element count take its strides.
  int64_t view_d = int64_t(new_shape.size()) - 1;
  int64_t base = strides.back(), chunk = 1, view_n = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    chunk *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != chunk * base)) {
      while (view_d >= 0 && (view_n < chunk || new_shape[view_d] == 1)) {
        out[view_d] = view_n * base;
        view_n *= new_shape[view_d];
        --view_d;
      }
      if (view_n != chunk) return std::nullopt;
      if (d > 0) {
        base = strides[d - 1];
        chunk = 1;
        view_n = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

std::optional<std::vector<int64_t>> dense_order(const Shape& shape, const Shape& strides) {
  std::vector<int64_t> order(shape.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  // Dims of size 1 sit where their logical place puts them (their strides say nothing).
  std::vector<int64_t> big;
  for (int64_t d : order)
    if (shape[d] != 1) big.push_back(d);
  std::stable_sort(big.begin(), big.end(),
                   [&](int64_t a, int64_t b) { return strides[a] > strides[b]; });
  int64_t expect = 1;
  for (auto it = big.rbegin(); it != big.rend(); ++it) {
    if (strides[*it] != expect) return std::nullopt;
    expect *= shape[*it];
  }
  // Each dim of size 1 follows the dim of size > 1 before it logically (leading ones go first).
  std::vector<int64_t> out;
  for (int64_t d : order)
    if (shape[d] == 1 && (d == 0 || std::none_of(order.begin(), order.begin() + d,
                                                 [&](int64_t e) { return shape[e] != 1; })))
      out.push_back(d);
  for (int64_t b : big) {
    out.push_back(b);
    for (int64_t d = b + 1; d < int64_t(shape.size()) && shape[d] == 1; ++d) out.push_back(d);
  }
  return out;
}

Shape strides_in_order(const Shape& shape, const std::vector<int64_t>& order) {
  Shape st(shape.size());
  int64_t s = 1;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    st[*it] = s;
    s *= std::max<int64_t>(shape[*it], 1);
  }
  return st;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  RM_CHECK(d >= 0 && d < ndim, op, ": dim ", dim, " out of range for a ", ndim, "-d tensor");
  return d;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    RM_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace rmgait
