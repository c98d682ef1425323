#pragma once
// Per-element forward and backward rules of the unary ops: one source of truth for the CPU loops
// (cpu/unary.cpp) and the CUDA kernels (cuda/unary.cu).
#include <math.h>
#include <stddef.h>

#include "engine/math/hd.h"

namespace rmgait {

// The ops, each listed once: the enum and its names (unary_op_name) are made from this list,
// so a name cannot drift from its op. leaky_relu: a = negative slope; pow_scalar: a = exponent;
// clamp: [a, b]; add_scalar: x + a; mul_scalar: x * a; rsub_scalar: a - x; rdiv_scalar: a / x.
#define RMGAIT_UNARY_OPS(X)                                                               \
  X(neg)                                                                                  \
  X(abs) X(exp) X(log) X(sqrt) X(relu) X(leaky_relu) X(pow_scalar) X(clamp) X(add_scalar) \
      X(mul_scalar) X(rsub_scalar) X(rdiv_scalar)
#define RMGAIT_OP_ENUM(name) name,
#define RMGAIT_OP_NAME(name) #name,
#define RMGAIT_OP_COUNT(name) +1
enum class UnaryOp : int { RMGAIT_UNARY_OPS(RMGAIT_OP_ENUM) };
constexpr int kUnaryOps = 0 RMGAIT_UNARY_OPS(RMGAIT_OP_COUNT);
inline const char* unary_op_name(UnaryOp op) {
  static const char* const names[] = {RMGAIT_UNARY_OPS(RMGAIT_OP_NAME)};
  static_assert(sizeof(names) / sizeof(names[0]) == size_t(kUnaryOps), "a name per op");
  return names[int(op)];
}
#undef RMGAIT_OP_ENUM
#undef RMGAIT_OP_NAME
#undef RMGAIT_OP_COUNT

RM_HD float unary_forward(UnaryOp op, float x, float a, float b) {
  switch (op) {
    case UnaryOp::neg:
      return -x;
    case UnaryOp::abs:
      return fabsf(x);
    case UnaryOp::exp:
      return expf(x);
    case UnaryOp::log:
      return logf(x);
    case UnaryOp::sqrt:
      return sqrtf(x);
    case UnaryOp::relu:
      return x > 0.f ? x : 0.f;
    case UnaryOp::leaky_relu:
      return x > 0.f ? x : x * a;
    case UnaryOp::pow_scalar:
      return powf(x, a);
    case UnaryOp::clamp:
      return x < a ? a : (x > b ? b : x);
    case UnaryOp::add_scalar:
      return x + a;
    case UnaryOp::mul_scalar:
      return x * a;
    case UnaryOp::rsub_scalar:
      return a - x;
    case UnaryOp::rdiv_scalar:
      return a / x;
  }
  return 0.f;
}

// What a unary op's backward reads: the output (true) or the input (false). Autograd keeps only
// that tensor. relu and leaky_relu with a slope >= 0 read the output's sign (y > 0 iff x > 0),
// so the input can be freed as soon as the output exists.
RM_HD bool unary_backward_reads_output(UnaryOp op, float a) {
  switch (op) {
    case UnaryOp::exp:
    case UnaryOp::sqrt:
    case UnaryOp::relu:
      return true;
    case UnaryOp::leaky_relu:
      return a >= 0.f;
    default:
      return false;
  }
}

// d(loss)/dx given d(loss)/dy = gy and s, the saved value: y where
// unary_backward_reads_output(op, a), else x. Kinks (relu at 0, clamp at its bounds) take the
// gradient of the flat side, as PyTorch does; sqrt at 0 is PyTorch's gy / (2 * 0) (inf, or NaN
// for gy = 0): a caller that can reach 0 guards it (the triplet loss's relu selects 0 there).
RM_HD float unary_backward(UnaryOp op, float gy, float s, float a, float b) {
  switch (op) {
    case UnaryOp::neg:
      return -gy;
    case UnaryOp::abs:
      return s > 0.f ? gy : (s < 0.f ? -gy : 0.f);
    case UnaryOp::exp:
      return gy * s;
    case UnaryOp::log:
      return gy / s;
    case UnaryOp::sqrt:
      return gy / (2.f * s);
    case UnaryOp::relu:
      return s > 0.f ? gy : 0.f;
    case UnaryOp::leaky_relu:  // s is y for a >= 0, x otherwise: the sign test is the same
      return s > 0.f ? gy : gy * a;
    case UnaryOp::pow_scalar:
      return a == 0.f ? 0.f : gy * a * powf(s, a - 1.f);
    case UnaryOp::clamp:
      return (s >= a && s <= b) ? gy : 0.f;
    case UnaryOp::add_scalar:
      return gy;
    case UnaryOp::mul_scalar:
      return gy * a;
    case UnaryOp::rsub_scalar:
      return -gy;
    case UnaryOp::rdiv_scalar:
      return -gy * a / (s * s);
  }
  return 0.f;
}

// relu / leaky_relu backward from the sign of the output kept as one bit per element (bit i % 8
// of byte i / 8 = y[i] > 0): 32 times less memory than keeping y.
// slope 0 (relu) gives exactly 0 on the flat side, as relu's own rule does.
RM_HD float leaky_relu_backward_bit(float gy, bool positive, float slope) {
  return positive ? gy : (slope == 0.f ? 0.f : gy * slope);
}

}  // namespace rmgait
