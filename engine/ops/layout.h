#pragma once
// Elementwise results in their operands' memory layout. A result takes the memory order of its
// first operand (as expanded to the result's shape) that is dense in a permuted order over its
// dims that are not broadcast, those going outermost: a channels-last activation gives a
// channels-last result, also when multiplied by a broadcast mask or expanded over a new leading
// dim; an op that only maps values never transposes them. The backend kernels see the operands
// permuted into that order, where the result is contiguous: no kernel needs layout logic of its
// own.
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
// t laid out in `order`: t itself (detached) when it already is, else a copy that is.
Tensor as_order(const Tensor& t, const Order& order);
inline Tensor kernel_view(const Tensor& out, const Order& order) {
  return in_order(out, order);
}

}  // namespace rmgait
