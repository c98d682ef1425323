#pragma once
// The rule of the max / min reductions, one source of truth for the CPU loop and the CUDA
// tree reduction: NaN beats numbers, and among equal values (or NaNs) the first index wins.
#include <stdint.h>

#include "engine/math/hd.h"

namespace rmgait {

enum class ReduceOp : int { sum, max, min };

// True when (v at index i) should replace the current extreme (best at index bi).
RM_HD bool extreme_replaces(ReduceOp op, float v, int64_t i, float best, int64_t bi) {
  bool vn = v != v, bn = best != best;
  if (vn || bn) return vn && (!bn || i < bi);
  if (v == best) return i < bi;
  return op == ReduceOp::max ? v > best : v < best;
}

}  // namespace rmgait
