#pragma once
// Elementwise results in their operands' memory layout. A result takes the memory order of its
// first operand of the result's shape that is dense but not contiguous (a channels-last
// activation gives a channels-last result), so an op that only maps values never transposes
// them. The backend kernels see the operands permuted into that order, where the result is
// contiguous: no kernel needs layout logic of its own.
#include <initializer_list>
#include <vector>

#include "engine/tensor.h"

namespace rmgait {

using Order = std::vector<int64_t>;  // empty: plain row-major

Order result_order(const Shape& shape, std::initializer_list<const Tensor*> operands);
// t (of the result's shape) permuted into `order` and detached: contiguous when t is laid out
// in it; t detached when order is empty.
Tensor in_order(const Tensor& t, const Order& order);
// A new tensor of `shape` laid out in `order`. kernel_view(out, order) is the contiguous
// tensor a kernel writes (the permuted shape).
Tensor empty_in_order(const Shape& shape, const Order& order, DType dtype, Device device);
inline Tensor kernel_view(const Tensor& out, const Order& order) {
  return in_order(out, order);
}

}  // namespace rmgait
