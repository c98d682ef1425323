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

// Index arithmetic of the functions below: I is int64_t, or int32_t where pool_fits_32bit(g)
// (GPU kernels: a 64-bit division is a long subroutine there, a 32-bit one a few instructions).

// Whether every linear index of the input and output [rows, plane] stays below 2^30: int32_t
// then holds the indices, and a grid-stride loop's step (at most 2^27 threads) cannot overflow.
RM_HD bool pool_fits_32bit(const PoolGeom& g) {
  const int64_t limit = int64_t(1) << 30;
  return g.rows * g.plane_in < limit && g.rows * g.plane_out < limit;
}

// Splits linear index i of [rows, d[0], d[1], d[2]] into (returned) row and coordinates c.
template <class I>
RM_HD I pool_split(I i, const int64_t d64[3], I c[3]) {
  const I d[3] = {I(d64[0]), I(d64[1]), I(d64[2])};
  I plane = d[0] * d[1] * d[2], p = i % plane;
  c[2] = p % d[2], c[1] = (p / d[2]) % d[1], c[0] = p / (d[2] * d[1]);
  return i / plane;
}

// In-plane index of the first maximum of output o's window over the input plane xr (element xi
// at xr[xi * step]: step 1 for a row-major plane, C for a channel of a channels-last one); -1
// when the window holds no number greater than -inf.
template <class I>
RM_HD I pool_first_argmax(const float* xr, const PoolGeom& g, const I o[3], I step = 1) {
  float best = -INFINITY;
  I best_i = -1;
  for (I kt = 0; kt < I(g.k[0]); ++kt) {
    I t = o[0] * I(g.s[0]) - I(g.pad[0]) + kt;
    if (t < 0 || t >= I(g.in[0])) continue;
    for (I kh = 0; kh < I(g.k[1]); ++kh) {
      I h = o[1] * I(g.s[1]) - I(g.pad[1]) + kh;
      if (h < 0 || h >= I(g.in[1])) continue;
      for (I kw = 0; kw < I(g.k[2]); ++kw) {
        I w = o[2] * I(g.s[2]) - I(g.pad[2]) + kw;
        if (w < 0 || w >= I(g.in[2])) continue;
        I xi = (t * I(g.in[1]) + h) * I(g.in[2]) + w;
        const float v = xr[xi * step];
        if (v > best) best = v, best_i = xi;  // strict: the first maximum stays
      }
    }
  }
  return best_i;
}

// Gradient of input position c (in-plane index xi): the sum of gr (output gradients of the
// plane) over the windows covering c whose first maximum (ar) is xi, in output order.
template <class I>
RM_HD float pool_input_grad(const float* gr, const int64_t* ar, const PoolGeom& g, const I c[3],
                            I xi) {
  I lo[3], hi[3];
  for (int d = 0; d < 3; ++d) {  // outputs o with o*s <= c+pad <= o*s + k-1
    const I s = I(g.s[d]), first = c[d] + I(g.pad[d]) - I(g.k[d]) + 1;
    lo[d] = first <= 0 ? 0 : (first + s - 1) / s;
    hi[d] = (c[d] + I(g.pad[d])) / s;
    if (hi[d] > I(g.out[d]) - 1) hi[d] = I(g.out[d]) - 1;
  }
  float sum = 0.f;
  for (I ot = lo[0]; ot <= hi[0]; ++ot)
    for (I oh = lo[1]; oh <= hi[1]; ++oh)
      for (I ow = lo[2]; ow <= hi[2]; ++ow) {
        I o = (ot * I(g.out[1]) + oh) * I(g.out[2]) + ow;
        if (ar[o] == int64_t(xi)) sum += gr[o];
      }
  return sum;
}

}  // namespace rmgait
