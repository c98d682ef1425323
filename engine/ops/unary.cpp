// Unary elementwise ops and their backward rules (engine/math/unary.h): checks -> the
// backend's kernel (cpu/unary.cpp, cuda/unary.cu) -> record.
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/ops/layout.h"

namespace rmgait {

namespace {

// Autograd keeps only what the backward reads: the sign bits of relu / leaky_relu's output, the
// output or the input of the others (engine/math/unary.h), nothing for the affine ones.
// The result takes x's layout (engine/ops/layout.h): the kernels run on the views permuted
// into it (xk, yk, gk), where all are contiguous, and the sign bits follow that order too.
Tensor unary_op(UnaryOp op, const Tensor& x, float a = 0.f, float b = 0.f) {
  const char* name = unary_op_name(op);
  check_dtype(x, DType::f32, name);
  const Order order = result_order(x.shape(), {&x});
  Tensor xk = in_order(x, order).contiguous();
  Tensor y = empty_in_order(x.shape(), order, DType::f32, x.device());
  Tensor yk = kernel_view(y, order);
  Backend& be = backend(x.device());
  be.unary(op, xk, yk, a, b);
  if (!needs_grad({x})) return y;
  // g in the result's layout, contiguous as the kernel sees it (a copy only when it is not).
  auto grad_view = [order](const Tensor& g) { return in_order(g, order).contiguous(); };
  if (op == UnaryOp::relu || (op == UnaryOp::leaky_relu && a >= 0.f)) {
    Tensor bits = Tensor::empty({(y.numel() + 7) / 8}, DType::u8, y.device());
    be.sign_bits(yk, bits);
    const float slope = op == UnaryOp::relu ? 0.f : a;
    return record(name, y, {x}, [bits, slope, order, grad_view](const Tensor& g) {
      Tensor gx = empty_in_order(g.shape(), order, DType::f32, g.device());
      backend(g.device())
          .leaky_relu_backward_bits(grad_view(g), bits, kernel_view(gx, order), slope);
      return std::vector<Tensor>{gx};
    });
  }
  const bool affine = op == UnaryOp::neg || op == UnaryOp::add_scalar ||
                      op == UnaryOp::mul_scalar || op == UnaryOp::rsub_scalar;
  Tensor saved = affine ? Tensor() : unary_backward_reads_output(op, a) ? yk : xk;
  return record(name, y, {x}, [op, saved, a, b, order, grad_view](const Tensor& g) {
    Tensor gk = grad_view(g), gx = empty_in_order(g.shape(), order, DType::f32, g.device());
    backend(g.device())
        .unary_backward(op, gk, saved.defined() ? saved : gk, kernel_view(gx, order), a, b);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

Tensor add(const Tensor& a, float s) {
  return unary_op(UnaryOp::add_scalar, a, s);
}
Tensor mul(const Tensor& a, float s) {
  return unary_op(UnaryOp::mul_scalar, a, s);
}
Tensor sub(float s, const Tensor& a) {
  return unary_op(UnaryOp::rsub_scalar, a, s);
}
Tensor div(float s, const Tensor& a) {
  return unary_op(UnaryOp::rdiv_scalar, a, s);
}
Tensor pow(const Tensor& a, float e) {
  return unary_op(UnaryOp::pow_scalar, a, e);
}
Tensor neg(const Tensor& x) {
  return unary_op(UnaryOp::neg, x);
}
Tensor abs(const Tensor& x) {
  return unary_op(UnaryOp::abs, x);
}
Tensor exp(const Tensor& x) {
  return unary_op(UnaryOp::exp, x);
}
Tensor log(const Tensor& x) {
  return unary_op(UnaryOp::log, x);
}
Tensor sqrt(const Tensor& x) {
  return unary_op(UnaryOp::sqrt, x);
}
Tensor relu(const Tensor& x) {
  return unary_op(UnaryOp::relu, x);
}
Tensor leaky_relu(const Tensor& x, float slope) {
  return unary_op(UnaryOp::leaky_relu, x, slope);
}
Tensor clamp(const Tensor& x, float lo, float hi) {
  RM_CHECK(lo <= hi, "clamp: lower bound ", lo, " above upper bound ", hi);
  return unary_op(UnaryOp::clamp, x, lo, hi);
}

}  // namespace rmgait
