// 3-D max pooling with the shared first-maximum rule (engine/math/max_pool3d.h), as the CUDA
// backend computes it. Training keeps, per output, the in-plane index of its window's first maximum
// (i32: a quarter of the input for 2 x 2 windows, so x itself need not be kept); backward scatters
// the output gradients there, in output order per plane. oneDNN's pooling on plain NCDHW tensors is
// its reference implementation (48 ms for the Inception model's A0 pooling at batch 4; this loop:
// a few). A channels-last input (the bf16 convs' outputs) is pooled as it lies, with the state
// and the gradients in its order.
#include "engine/math/max_pool3d.h"

#include <algorithm>
#include <limits>

#include "engine/cpu/cpu_backend.h"
#include "engine/error.h"

namespace rmgait::cpu {

namespace {
// Whether t [N, C, T, H, W] lies channels-last (the op passes row-major or channels-last).
bool channels_last(const Tensor& t) {
  const Shape cl = strides_in_order(t.shape(), {0, 2, 3, 4, 1});
  if (t.is_contiguous()) return false;
  for (int64_t d = 0; d < 5; ++d)
    if (t.size(d) != 1 && t.strides()[size_t(d)] != cl[size_t(d)]) return false;
  return true;
}

// Channels-last forward: per sample and output position, each channel's window scanned C
// elements apart; the state keeps the in-plane index per output element, in y's order.
Tensor forward_cl(const Tensor& x, const Tensor& y, const PoolGeom& g, bool training) {
  const int64_t n = x.size(0), c = x.size(1);
  Tensor state = training ? Tensor::empty({n * c * g.plane_out}, DType::i32) : Tensor();
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  int32_t* sp = training ? state.data<int32_t>() : nullptr;
#pragma omp parallel for schedule(static) if (n * c * g.plane_in > 32768)
  for (int64_t no = 0; no < n * g.plane_out; ++no) {
    const int64_t i = no / g.plane_out, o = no % g.plane_out;
    int64_t at[3] = {o / (g.out[1] * g.out[2]), o / g.out[2] % g.out[1], o % g.out[2]};
    const float* xr = xp + i * g.plane_in * c;
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t k = pool_first_argmax(xr + ch, g, at, c);
      yp[no * c + ch] = k < 0 ? -INFINITY : xr[k * c + ch];
      if (sp) sp[no * c + ch] = int32_t(k);
    }
  }
  return state;
}

// Channels-last backward: per sample (outputs in order, so each input sums them in output
// order as the row-major loop does).
void backward_cl(const Tensor& gy, const Tensor& state, const Tensor& gx, const PoolGeom& g) {
  const int64_t n = gx.size(0), c = gx.size(1);
  const float* gp = gy.data<float>();
  const int32_t* sp = state.data<int32_t>();
  float* gxp = gx.data<float>();
#pragma omp parallel for schedule(static) if (n * c * g.plane_in > 32768 && n > 1)
  for (int64_t i = 0; i < n; ++i) {
    float* gr = gxp + i * g.plane_in * c;
    std::fill(gr, gr + g.plane_in * c, 0.f);
    for (int64_t e = i * g.plane_out * c; e < (i + 1) * g.plane_out * c; ++e)
      if (sp[e] >= 0) gr[int64_t(sp[e]) * c + e % c] += gp[e];
  }
}

PoolGeom geom(const Tensor& x, const Shape& y, const Pool3dParams& p) {
  return make_pool_geom(x.shape().data(), y.data(), p.kernel.data(), p.stride.data(),
                        p.padding.data());
}
}  // namespace

Tensor CpuBackend::max_pool3d_forward(const Tensor& x, const Tensor& y, const Pool3dParams& p,
                                      bool training) {
  const PoolGeom g = geom(x, y.shape(), p);
  RM_CHECK(g.plane_in <= std::numeric_limits<int32_t>::max(), "max_pool3d: an input plane of ",
           g.plane_in, " elements is too large for the CPU backend's i32 argmax");
  if (channels_last(x)) return forward_cl(x, y, g, training);
  Tensor state = training ? Tensor::empty({g.rows * g.plane_out}, DType::i32) : Tensor();
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  int32_t* sp = training ? state.data<int32_t>() : nullptr;
#pragma omp parallel for schedule(static) if (g.rows * g.plane_in > 32768 && g.rows > 1)
  for (int64_t r = 0; r < g.rows; ++r) {
    const float* xr = xp + r * g.plane_in;
    int64_t o = r * g.plane_out, c[3];
    for (c[0] = 0; c[0] < g.out[0]; ++c[0])
      for (c[1] = 0; c[1] < g.out[1]; ++c[1])
        for (c[2] = 0; c[2] < g.out[2]; ++c[2], ++o) {
          const int64_t i = pool_first_argmax(xr, g, c);
          yp[o] = i < 0 ? -INFINITY : xr[i];
          if (sp) sp[o] = int32_t(i);
        }
  }
  return state;
}

void CpuBackend::max_pool3d_backward(const Tensor& gy, const Tensor& x, const Tensor& y,
                                     const Tensor& state, const Tensor& gx, const Pool3dParams& p) {
  (void)x, (void)y;
  RM_CHECK(state.defined(), "max_pool3d_backward: no argmax state (forward ran in inference mode)");
  const PoolGeom g = geom(gx, gy.shape(), p);
  if (channels_last(gx)) return backward_cl(gy, state, gx, g);
  const float* gp = gy.data<float>();
  const int32_t* sp = state.data<int32_t>();
  float* gxp = gx.data<float>();
#pragma omp parallel for schedule(static) if (g.rows * g.plane_in > 32768 && g.rows > 1)
  for (int64_t r = 0; r < g.rows; ++r) {
    float* gr = gxp + r * g.plane_in;
    std::fill(gr, gr + g.plane_in, 0.f);
    for (int64_t o = r * g.plane_out; o < (r + 1) * g.plane_out; ++o)
      if (sp[o] >= 0) gr[sp[o]] += gp[o];
  }
}

}  // namespace rmgait::cpu
