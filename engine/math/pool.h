#pragma once
// Max pooling's backward rule as per-window functions: each window's gradient goes to its first
// maximum in (t, h, w) scan order, the CPU backend's (oneDNN's) rule. The CUDA backward kernels
// are loops over these; the CPU tests run them against oneDNN's gradients.
#include <math.h>
#include <stdint.h>

#include "engine/math/hd.h"

namespace rmgait {

// One pooling over rows of (n, c): input plane in[3] = [T, H, W] -> output plane out[3].
struct PoolGeom {
  int64_t rows, plane_in, plane_out;
  int64_t in[3], out[3], k[3], s[3], pad[3];
};

// From the shapes x [N, C, T, H, W], y [N, C, OT, OH, OW] and the kernel / stride / padding.
inline PoolGeom make_pool_geom(const int64_t* x, const int64_t* y, const int64_t* k,
                               const int64_t* s, const int64_t* pad) {
  PoolGeom g;
  g.rows = x[0] * x[1], g.plane_in = x[2] * x[3] * x[4], g.plane_out = y[2] * y[3] * y[4];
  for (int d = 0; d < 3; ++d)
    g.in[d] = x[2 + d], g.out[d] = y[2 + d], g.k[d] = k[d], g.s[d] = s[d], g.pad[d] = pad[d];
  return g;
}

// Splits linear index i of [rows, d[0], d[1], d[2]] into (returned) row and coordinates c.
RM_HD int64_t pool_split(int64_t i, const int64_t d[3], int64_t c[3]) {
  int64_t plane = d[0] * d[1] * d[2], p = i % plane;
  c[2] = p % d[2], c[1] = (p / d[2]) % d[1], c[0] = p / (d[2] * d[1]);
  return i / plane;
}

// In-plane index of the first maximum of output o's window over the input plane xr; -1 when
// the window holds no number greater than -inf.
RM_HD int64_t pool_first_argmax(const float* xr, const PoolGeom& g, const int64_t o[3]) {
  float best = -INFINITY;
  int64_t best_i = -1;
  for (int64_t kt = 0; kt < g.k[0]; ++kt) {
    int64_t t = o[0] * g.s[0] - g.pad[0] + kt;
    if (t < 0 || t >= g.in[0]) continue;
    for (int64_t kh = 0; kh < g.k[1]; ++kh) {
      int64_t h = o[1] * g.s[1] - g.pad[1] + kh;
      if (h < 0 || h >= g.in[1]) continue;
      for (int64_t kw = 0; kw < g.k[2]; ++kw) {
        int64_t w = o[2] * g.s[2] - g.pad[2] + kw;
        if (w < 0 || w >= g.in[2]) continue;
        int64_t xi = (t * g.in[1] + h) * g.in[2] + w;
        if (xr[xi] > best) best = xr[xi], best_i = xi;  // strict: the first maximum stays
      }
    }
  }
  return best_i;
}

// Gradient of input position c (in-plane index xi): the sum of gr (output gradients of the
// plane) over the windows covering c whose first maximum (ar) is xi, in output order.
RM_HD float pool_input_grad(const float* gr, const int64_t* ar, const PoolGeom& g,
                            const int64_t c[3], int64_t xi) {
  int64_t lo[3], hi[3];
  for (int d = 0; d < 3; ++d) {  // outputs o with o*s <= c+pad <= o*s + k-1
    int64_t first = c[d] + g.pad[d] - g.k[d] + 1;
    lo[d] = first <= 0 ? 0 : (first + g.s[d] - 1) / g.s[d];
    hi[d] = (c[d] + g.pad[d]) / g.s[d];
    if (hi[d] > g.out[d] - 1) hi[d] = g.out[d] - 1;
  }
  float sum = 0.f;
  for (int64_t ot = lo[0]; ot <= hi[0]; ++ot)
    for (int64_t oh = lo[1]; oh <= hi[1]; ++oh)
      for (int64_t ow = lo[2]; ow <= hi[2]; ++ow) {
        int64_t o = (ot * g.out[1] + oh) * g.out[2] + ow;
        if (ar[o] == xi) sum += gr[o];
      }
  return sum;
}

}  // namespace rmgait
