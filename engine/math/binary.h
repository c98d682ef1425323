#pragma once
// Per-element forward and backward rules of the binary ops: one source of truth for the CPU loops
// (cpu/binary.cpp) and the CUDA kernels (cuda/binary.cu).
#include <math.h>
#include <stddef.h>

#include "engine/math/hd.h"

namespace rmgait {

// The ops, each listed once: the enum and its names (binary_op_name) are made from this list.
#define RMGAIT_BINARY_OPS(X) \
  X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(minimum) X(eq) X(gt) X(ge) X(lt) X(le)
#define RMGAIT_OP_ENUM(name) name,
#define RMGAIT_OP_NAME(name) #name,
#define RMGAIT_OP_COUNT(name) +1
enum class BinaryOp : int { RMGAIT_BINARY_OPS(RMGAIT_OP_ENUM) };
constexpr int kBinaryOps = 0 RMGAIT_BINARY_OPS(RMGAIT_OP_COUNT);
inline const char* binary_op_name(BinaryOp op) {
  static const char* const names[] = {RMGAIT_BINARY_OPS(RMGAIT_OP_NAME)};
  static_assert(sizeof(names) / sizeof(names[0]) == size_t(kBinaryOps), "a name per op");
  return names[int(op)];
}
#undef RMGAIT_OP_ENUM
#undef RMGAIT_OP_NAME
#undef RMGAIT_OP_COUNT

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
