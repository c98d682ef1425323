#pragma once
// Per-element forward and backward rules of the unary and binary ops: one source of truth for
// the CPU loops and the CUDA kernels.
#include <math.h>

#include "engine/math/hd.h"

namespace rmgait {

enum class UnaryOp : int {
  neg,
  abs,
  exp,
  log,
  sqrt,
  relu,
  leaky_relu,   // a = negative slope
  pow_scalar,   // a = exponent
  clamp,        // [a, b]
  add_scalar,   // x + a
  mul_scalar,   // x * a
  rsub_scalar,  // a - x
  rdiv_scalar,  // a / x
};

enum class BinaryOp : int { add, sub, mul, div, pow, maximum, minimum, eq, gt, ge, lt, le };

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

// d(loss)/dx given d(loss)/dy = gy, the input x and the output y.
// Kinks (relu at 0, clamp at its bounds) take the gradient of the flat side, as PyTorch does.
RM_HD float unary_backward(UnaryOp op, float gy, float x, float y, float a, float b) {
  switch (op) {
    case UnaryOp::neg:
      return -gy;
    case UnaryOp::abs:
      return x > 0.f ? gy : (x < 0.f ? -gy : 0.f);
    case UnaryOp::exp:
      return gy * y;
    case UnaryOp::log:
      return gy / x;
    case UnaryOp::sqrt:
      return y > 0.f ? gy * 0.5f / y : 0.f;
    case UnaryOp::relu:
      return x > 0.f ? gy : 0.f;
    case UnaryOp::leaky_relu:
      return x > 0.f ? gy : gy * a;
    case UnaryOp::pow_scalar:
      return a == 0.f ? 0.f : gy * a * powf(x, a - 1.f);
    case UnaryOp::clamp:
      return (x >= a && x <= b) ? gy : 0.f;
    case UnaryOp::add_scalar:
      return gy;
    case UnaryOp::mul_scalar:
      return gy * a;
    case UnaryOp::rsub_scalar:
      return -gy;
    case UnaryOp::rdiv_scalar:
      return -gy * a / (x * x);
  }
  return 0.f;
}

RM_HD float binary_forward(BinaryOp op, float x, float y) {
  switch (op) {
    case BinaryOp::add:
      return x + y;
    case BinaryOp::sub:
      return x - y;
    case BinaryOp::mul:
      return x * y;
    case BinaryOp::div:
      return x / y;
    case BinaryOp::pow:
      return powf(x, y);
    case BinaryOp::maximum:
      return x >= y ? x : y;
    case BinaryOp::minimum:
      return x <= y ? x : y;
    case BinaryOp::eq:
      return x == y ? 1.f : 0.f;
    case BinaryOp::gt:
      return x > y ? 1.f : 0.f;
    case BinaryOp::ge:
      return x >= y ? 1.f : 0.f;
    case BinaryOp::lt:
      return x < y ? 1.f : 0.f;
    case BinaryOp::le:
      return x <= y ? 1.f : 0.f;
  }
  return 0.f;
}

}  // namespace rmgait
