// Binary elementwise ops with broadcasting, where and compare, and their backward rules
// (engine/math/binary.h): checks -> the backend's kernel (cpu/binary.cpp, cuda/binary.cu) ->
// record.
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/ops/layout.h"

namespace rmgait {

namespace {

const char* binary_name(BinaryOp op) {
  return binary_op_name(op);
}

// Forward only: out = op(a, b) with broadcasting, in the operands' layout (engine/ops/layout.h).
Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  check_dtype(a, DType::f32, name, "first operand");
  check_dtype(b, DType::f32, name, "second operand");
  check_same_device(a, b, name);
  Shape s = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor ae = a.detach().expand(s), be = b.detach().expand(s);
  const Order order = result_order(s, {&ae, &be});
  Tensor out = empty_in_order(s, order, DType::f32, a.device());
  backend(a.device()).binary(op, in_order(ae, order), in_order(be, order), kernel_view(out, order));
  return out;
}

// What a binary op's gradients read, so that autograd keeps nothing else alive.
struct Saves {
  bool a, b, y;
};

// Records a binary op whose input gradients are computed by `grads(g, a, b, y, ra, rb)`; the
// operands and output it does not save reach it as undefined tensors.
template <class F>
Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b, Saves saves, F grads) {
  Tensor y = binary_raw(op, a, b);
  if (!needs_grad({a, b})) return y;
  Tensor ad = saves.a ? a.detach() : Tensor(), bd = saves.b ? b.detach() : Tensor(),
         yd = saves.y ? y.detach() : Tensor();
  Shape sa = a.shape(), sb = b.shape();
  bool ra = a.requires_grad(), rb = b.requires_grad();
  return record(binary_name(op), y, {a, b}, [=](const Tensor& g) {
    auto [ga, gb] = grads(g, ad, bd, yd, ra, rb);
    return std::vector<Tensor>{ra ? sum_to(ga, sa) : Tensor(), rb ? sum_to(gb, sb) : Tensor()};
  });
}

using Pair = std::pair<Tensor, Tensor>;

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::add, a, b, {}, [](auto& g, auto&, auto&, auto&, bool, bool) {
    return Pair{g, g};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::sub, a, b, {}, [](auto& g, auto&, auto&, auto&, bool, bool rb) {
    return Pair{g, rb ? neg(g) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Saves saves{b.requires_grad(), a.requires_grad(), false};  // d/da reads b, d/db reads a
  return binary_op(BinaryOp::mul, a, b, saves,
                   [](auto& g, auto& a, auto& b, auto&, bool ra, bool rb) {
                     return Pair{ra ? mul(g, b) : Tensor(), rb ? mul(g, a) : Tensor()};
                   });
}

Tensor div(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::div, a, b, {false, true, b.requires_grad()},
                   [](auto& g, auto&, auto& b, auto& y, bool ra, bool rb) {
                     return Pair{ra ? div(g, b) : Tensor(), rb ? neg(div(mul(g, y), b)) : Tensor()};
                   });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::pow, a, b, {true, true, b.requires_grad()},
                   [](auto& g, auto& a, auto& b, auto& y, bool ra, bool rb) {
                     Tensor ga, gb;
                     if (ra) ga = mul(g, mul(b, binary_raw(BinaryOp::pow, a, add(b, -1.f))));
                     if (rb) {
                       Tensor positive =
                           compare(BinaryOp::gt, a, Tensor::zeros({}, DType::f32, a.device()));
                       Tensor safe_a = where(positive, a, Tensor::ones({}, DType::f32, a.device()));
                       gb = mul(g, mul(mul(y, log(safe_a)), positive));
                     }
                     return Pair{ga, gb};
                   });
}

namespace {
// maximum / minimum: the gradient goes to a where `keep_a` (a >= b, resp. a <= b) holds, else b.
Tensor extreme_of(BinaryOp op, BinaryOp keep_a, const Tensor& a, const Tensor& b) {
  return binary_op(op, a, b, {true, true, false},
                   [keep_a](auto& g, auto& a, auto& b, auto&, bool, bool) {
                     Tensor take_a = compare(keep_a, a, b);
                     return Pair{mul(g, take_a), mul(g, sub(1.f, take_a))};
                   });
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return extreme_of(BinaryOp::maximum, BinaryOp::ge, a, b);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return extreme_of(BinaryOp::minimum, BinaryOp::le, a, b);
}

Tensor compare(BinaryOp op, const Tensor& a, const Tensor& b) {
  return binary_raw(op, a, b);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  RM_CHECK(cond.defined() && (cond.dtype() == DType::u8 || cond.dtype() == DType::f32),
           "where: condition must be u8 or f32");
  check_dtype(a, DType::f32, "where", "first operand");
  check_dtype(b, DType::f32, "where", "second operand");
  check_same_device(a, b, "where");
  check_same_device(cond, a, "where");
  Shape s =
      broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor c = cond.detach().expand(s), ae = a.detach().expand(s), be = b.detach().expand(s);
  const Order order = result_order(s, {&ae, &be, &c});
  Tensor out = empty_in_order(s, order, DType::f32, a.device());
  backend(a.device())
      .where(in_order(c, order), in_order(ae, order), in_order(be, order), kernel_view(out, order));
  Shape sa = a.shape(), sb = b.shape();
  return record("where", out, {a, b}, [c, sa, sb](const Tensor& g) {
    Tensor zero = Tensor::zeros({}, DType::f32, g.device());
    return std::vector<Tensor>{sum_to(where(c, g, zero), sa), sum_to(where(c, zero, g), sb)};
  });
}

}  // namespace rmgait
