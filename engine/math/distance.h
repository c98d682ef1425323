#pragma once
// Euclidean distances from Gram terms, averaged over B slices: one source of truth for the CPU
// loop and the CUDA kernel of Backend::gram_distance_mean.
//   d(n, m) = (1/B) sum_b sqrt(max(0, (|x_bn|^2 + |y_bm|^2) - 2 x_bn . y_bm))
// Each term in f32 (as the op-by-op formula sqrt(relu(x2 + y2 - 2 xy)) rounds it), the sum over
// b in double, in order b = 0 .. B-1, then rounded to f32 and scaled by the f32 1/B, as
// mul(sum(.), 1/B) does: the chunked evaluator reproduces the whole-matrix one bit for bit.
#include <math.h>

#include "engine/math/hd.h"

namespace rmgait {

RM_HD float gram_distance_term(float x2, float y2, float xy) {
  const float s = (x2 + y2) - xy * 2.f;
  return sqrtf(s > 0.f ? s : 0.f);
}

RM_HD float gram_distance_finish(double sum, int64_t slices) {
  return float(sum) * (1.f / float(slices));
}

}  // namespace rmgait
