// 3-D max pooling with the shared first-maximum rule (engine/math/max_pool3d.h), as the CUDA backend
// computes it. Training keeps, per output, the in-plane index of its window's first maximum (i32:
// a quarter of the input for 2 x 2 windows, so x itself need not be kept); backward scatters the
// output gradients there, in output order per plane. oneDNN's pooling on plain NCDHW tensors is
// its reference implementation (48 ms for the Inception model's A0 pooling at batch 4; this loop:
// a few).
#include <algorithm>
#include <limits>

#include "engine/cpu/cpu_backend.h"
#include "engine/error.h"
#include "engine/math/max_pool3d.h"

namespace rmgait::cpu {

namespace {
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
