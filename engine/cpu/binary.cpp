// Binary elementwise ops and where(), over broadcast (stride-0) views.
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/strided.h"
#include "engine/dispatch.h"

namespace rmgait::cpu {

namespace {
// Row kernels specialised on the inner strides so that the compiler vectorises them.
template <class F>
void row(F f, const float* x, const float* y, float* o, int64_t len, int64_t sx, int64_t sy) {
  if (sx == 1 && sy == 1) {
    for (int64_t i = 0; i < len; ++i) o[i] = f(x[i], y[i]);
  } else if (sx == 1 && sy == 0) {
    const float c = y[0];
    for (int64_t i = 0; i < len; ++i) o[i] = f(x[i], c);
  } else if (sx == 0 && sy == 1) {
    const float c = x[0];
    for (int64_t i = 0; i < len; ++i) o[i] = f(c, y[i]);
  } else {
    for (int64_t i = 0; i < len; ++i) o[i] = f(x[i * sx], y[i * sy]);
  }
}

template <class F>
void binary_loop(F f, const Tensor& a, const Tensor& b, const Tensor& out) {
  const float* ap = static_cast<const float*>(a.storage()->data());
  const float* bp = static_cast<const float*>(b.storage()->data());
  float* op_ = out.data<float>();
  const int64_t n = out.numel();
  if (a.is_contiguous() && b.is_contiguous()) {  // same shape, both dense: one flat loop
    const float* x = ap + a.offset();
    const float* y = bp + b.offset();
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) op_[i] = f(x[i], y[i]);
    return;
  }
  for_each_row(strided_view<2>(out.shape(), {&a, &b}),
               [&](int64_t o, auto offs, int64_t len, auto inner) {
                 row(f, ap + offs[0], bp + offs[1], op_ + o, len, inner[0], inner[1]);
               });
}
}  // namespace

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  switch (op) {  // the hot ones get their own vectorised loops
    case BinaryOp::add:
      return binary_loop([](float x, float y) { return x + y; }, a, b, out);
    case BinaryOp::sub:
      return binary_loop([](float x, float y) { return x - y; }, a, b, out);
    case BinaryOp::mul:
      return binary_loop([](float x, float y) { return x * y; }, a, b, out);
    case BinaryOp::div:
      return binary_loop([](float x, float y) { return x / y; }, a, b, out);
    default:
      break;
  }
  const float* ap = static_cast<const float*>(a.storage()->data());
  const float* bp = static_cast<const float*>(b.storage()->data());
  float* op_ = out.data<float>();
  for_each_row(strided_view<2>(out.shape(), {&a, &b}),
               [&](int64_t o, auto offs, int64_t len, auto inner) {
                 const float* x = ap + offs[0];
                 const float* y = bp + offs[1];
                 for (int64_t i = 0; i < len; ++i)
                   op_[o + i] = binary_forward(op, x[i * inner[0]], y[i * inner[1]]);
               });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const float* ap = static_cast<const float*>(a.storage()->data());
  const float* bp = static_cast<const float*>(b.storage()->data());
  float* op_ = out.data<float>();
  dispatch(cond.dtype(), [&](auto z) {
    using C = decltype(z);
    const C* cp = static_cast<const C*>(cond.storage()->data());
    for_each_row(strided_view<3>(out.shape(), {&cond, &a, &b}),
                 [&](int64_t o, auto offs, int64_t len, auto inner) {
                   for (int64_t i = 0; i < len; ++i)
                     op_[o + i] = cp[offs[0] + i * inner[0]] != C(0) ? ap[offs[1] + i * inner[1]]
                                                                     : bp[offs[2] + i * inner[2]];
                 });
  });
}

}  // namespace rmgait::cpu
