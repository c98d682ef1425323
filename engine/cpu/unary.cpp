// Unary elementwise ops, their backward, and the sign bits of relu / leaky_relu, from the shared
// per-element rules. The op is made a compile-time constant outside the loop, so each loop is
// one straight vectorised body instead of a per-element switch.
#include <type_traits>

#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

namespace {
template <UnaryOp Op>
using OpC = std::integral_constant<UnaryOp, Op>;

// Calls f(OpC<op>{}).
template <class F>
void with_op(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::neg:
      return f(OpC<UnaryOp::neg>{});
    case UnaryOp::abs:
      return f(OpC<UnaryOp::abs>{});
    case UnaryOp::exp:
      return f(OpC<UnaryOp::exp>{});
    case UnaryOp::log:
      return f(OpC<UnaryOp::log>{});
    case UnaryOp::sqrt:
      return f(OpC<UnaryOp::sqrt>{});
    case UnaryOp::relu:
      return f(OpC<UnaryOp::relu>{});
    case UnaryOp::leaky_relu:
      return f(OpC<UnaryOp::leaky_relu>{});
    case UnaryOp::pow_scalar:
      return f(OpC<UnaryOp::pow_scalar>{});
    case UnaryOp::clamp:
      return f(OpC<UnaryOp::clamp>{});
    case UnaryOp::add_scalar:
      return f(OpC<UnaryOp::add_scalar>{});
    case UnaryOp::mul_scalar:
      return f(OpC<UnaryOp::mul_scalar>{});
    case UnaryOp::rsub_scalar:
      return f(OpC<UnaryOp::rsub_scalar>{});
    case UnaryOp::rdiv_scalar:
      return f(OpC<UnaryOp::rdiv_scalar>{});
  }
}

constexpr int64_t kParallel = 32768;  // elements below which a loop stays on one thread
}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& y, float a, float b) {
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  const int64_t n = x.numel();
  with_op(op, [&](auto o) {
#pragma omp parallel for simd schedule(static) if (n > kParallel)
    for (int64_t i = 0; i < n; ++i) yp[i] = unary_forward(o(), xp[i], a, b);
  });
}

void CpuBackend::unary_backward(UnaryOp op, const Tensor& gy, const Tensor& saved, const Tensor& gx,
                                float a, float b) {
  const float *gp = gy.data<float>(), *sp = saved.data<float>();
  float* gxp = gx.data<float>();
  const int64_t n = saved.numel();
  with_op(op, [&](auto o) {
#pragma omp parallel for simd schedule(static) if (n > kParallel)
    for (int64_t i = 0; i < n; ++i) gxp[i] = rmgait::unary_backward(o(), gp[i], sp[i], a, b);
  });
}

void CpuBackend::sign_bits(const Tensor& y, const Tensor& bits) {
  const float* yp = y.data<float>();
  uint8_t* bp = bits.data<uint8_t>();
  const int64_t n = y.numel(), full = n / 8;
#pragma omp parallel for schedule(static) if (n > kParallel)
  for (int64_t k = 0; k < full; ++k) {
    const float* v = yp + 8 * k;
    uint8_t m = 0;
    for (int j = 0; j < 8; ++j) m |= uint8_t(v[j] > 0.f) << j;
    bp[k] = m;
  }
  if (n % 8) {
    uint8_t m = 0;
    for (int64_t i = 8 * full; i < n; ++i) m |= uint8_t(yp[i] > 0.f) << (i % 8);
    bp[full] = m;
  }
}

void CpuBackend::leaky_relu_backward_bits(const Tensor& gy, const Tensor& bits, const Tensor& gx,
                                          float slope) {
  const float* gp = gy.data<float>();
  const uint8_t* bp = bits.data<uint8_t>();
  float* gxp = gx.data<float>();
  const int64_t n = gy.numel(), full = n / 8;
#pragma omp parallel for schedule(static) if (n > kParallel)
  for (int64_t k = 0; k < full; ++k)
    for (int j = 0; j < 8; ++j)
      gxp[8 * k + j] = leaky_relu_backward_bit(gp[8 * k + j], (bp[k] >> j) & 1, slope);
  for (int64_t i = 8 * full; i < n; ++i)
    gxp[i] = leaky_relu_backward_bit(gp[i], (bp[full] >> (i % 8)) & 1, slope);
}

}  // namespace rmgait::cpu
