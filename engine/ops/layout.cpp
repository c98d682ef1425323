#include "engine/ops/layout.h"

#include <algorithm>

#include "engine/backend.h"

namespace rmgait {

Order result_order(const Shape& shape, std::initializer_list<const Tensor*> operands) {
  for (const Tensor* t : operands) {
    if (!t->defined() || t->shape() != shape || t->is_contiguous()) continue;
    // An operand broadcast over some dims (stride 0) counts by its other dims: the broadcast
    // ones go outermost, and only a permuted rest (not row-major) sets the order.
    Order broadcast, rest;
    Shape rest_shape, rest_strides;
    for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
      if (t->strides()[size_t(d)] == 0 && shape[size_t(d)] > 1) {
        broadcast.push_back(d);
      } else {
        rest.push_back(d);
        rest_shape.push_back(shape[size_t(d)]);
        rest_strides.push_back(t->strides()[size_t(d)]);
      }
    }
    std::optional<Order> o = dense_order(rest_shape, rest_strides);
    if (!o || std::is_sorted(o->begin(), o->end())) continue;
    Order order = broadcast;
    for (int64_t i : *o) order.push_back(rest[size_t(i)]);
    return order;
  }
  return {};
}

Tensor in_order(const Tensor& t, const Order& order) {
  Tensor d = t.detach();
  if (order.empty()) return d;
  Shape shape, strides;
  for (int64_t i : order) {
    shape.push_back(d.shape()[size_t(i)]);
    strides.push_back(d.strides()[size_t(i)]);
  }
  return make_view(d, shape, strides, d.offset());
}

Tensor empty_in_order(const Shape& shape, const Order& order, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  return order.empty() ? t : make_view(t, shape, strides_in_order(shape, order), 0);
}

Tensor as_order(const Tensor& t, const Order& order) {
  if (in_order(t, order).is_contiguous()) return t.detach();
  Tensor out = empty_in_order(t.shape(), order, t.dtype(), t.device());
  backend(t.device()).copy(in_order(t, order), kernel_view(out, order));
  return out;
}

}  // namespace rmgait
