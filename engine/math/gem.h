#pragma once
// Generalized-mean (GeM) pooling of one row, forward and backward: one source of truth for the
// CPU loop and the CUDA kernel.
//   c_i = max(x_i, eps),  z = (1/L) sum_i c_i^p,  y = z^(1/p)
//   dy/dx_i = y c_i^(p-1) / (L z)   where x_i >= eps (0 below: the clamp's flat side)
//   dy/dp   = y (sum_i c_i^p ln c_i / (L z p) - ln z / p^2)
// Powers per element in f32, sums in double.
#include <math.h>
#include <stdint.h>

#include "engine/math/hd.h"

namespace rmgait {

RM_HD float gem_clamped(float x, float eps) {
  return x >= eps ? x : eps;
}

// Returns y for the row x[0 .. len) (elements `stride` apart).
RM_HD float gem_row_forward(const float* x, int64_t len, int64_t stride, float p, float eps) {
  double z = 0.0;
  for (int64_t i = 0; i < len; ++i) z += powf(gem_clamped(x[i * stride], eps), p);
  z /= double(len);
  return float(pow(z, 1.0 / double(p)));
}

// gx[i * stride] = gy * dy/dx_i for the row; returns gy * dy/dp.
RM_HD float gem_row_backward(float gy, const float* x, int64_t len, int64_t stride, float p,
                             float eps, float* gx) {
  double z = 0.0, zlog = 0.0;
  for (int64_t i = 0; i < len; ++i) {
    float c = gem_clamped(x[i * stride], eps), cp = powf(c, p);
    z += cp;
    zlog += double(cp) * double(logf(c));
  }
  z /= double(len), zlog /= double(len);
  const double y = pow(z, 1.0 / double(p));
  const double scale = double(gy) * y / (double(len) * z);
  for (int64_t i = 0; i < len; ++i) {
    float xi = x[i * stride];
    gx[i * stride] = xi >= eps ? float(scale * double(powf(xi, p - 1.f))) : 0.f;
  }
  return float(double(gy) * y * (zlog / (z * double(p)) - log(z) / (double(p) * double(p))));
}

}  // namespace rmgait
