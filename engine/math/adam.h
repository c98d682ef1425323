#pragma once
// One Adam (or AdamW) update of one parameter element, one source of truth for the CPU loop and
// the CUDA kernel. The same operations, in the same order and rounding, as the op-by-op update
// it replaces (ten temporaries a parameter): g += wd p (L2) or p *= 1 - lr wd (decoupled);
// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps).
#include <math.h>

#include "engine/math/hd.h"

namespace rmgait {

// The step's scalars, computed once on the host.
struct AdamScalars {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  float weight_decay;  // 0: none
  bool decoupled;      // AdamW: decay the weight, not the gradient
  float decay;         // 1 - lr * weight_decay (decoupled)
  float inv_sqrt_bc2;  // 1 / sqrt(1 - beta2^t)
  float step;          // lr / (1 - beta1^t)
};

RM_HD void adam_update(float& p, float g, float& m, float& v, const AdamScalars& s) {
  if (s.weight_decay != 0.f) {
    if (s.decoupled)
      p = p * s.decay;
    else
      g = g + p * s.weight_decay;
  }
  m = m * s.beta1 + g * s.one_minus_beta1;
  v = v * s.beta2 + (g * g) * s.one_minus_beta2;
  const float denom = sqrtf(v) * s.inv_sqrt_bc2 + s.eps;
  p = p - (m / denom) * s.step;
}

}  // namespace rmgait
