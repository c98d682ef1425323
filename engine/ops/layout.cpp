#include "engine/ops/layout.h"

namespace rmgait {

Order result_order(const Shape& shape, std::initializer_list<const Tensor*> operands) {
  for (const Tensor* t : operands) {
    if (!t->defined() || t->shape() != shape || t->is_contiguous()) continue;
    if (std::optional<Order> o = dense_order(t->shape(), t->strides())) return *o;
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

}  // namespace rmgait
