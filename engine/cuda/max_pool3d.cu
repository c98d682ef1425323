// 3-D max pooling. Forward on cuDNN; backward by two small kernels that give each window's
// gradient to its first maximum in (t, h, w) scan order, the CPU backend's (oneDNN's) rule.
// cuDNN's own backward picks one of several equal maxima without saying which, and binary
// silhouettes make ties common, so the gradients would differ from the CPU's. No state is kept:
// backward rescans the windows of x.
#include <math.h>

#include <memory>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/descriptors.h"

namespace rmgait::cuda {

namespace {
struct Pool {
  std::unique_ptr<TensorDesc> x, y;
  cudnnPoolingDescriptor_t pool = nullptr;
  ~Pool() {
    if (pool) cudnnDestroyPoolingDescriptor(pool);
  }
};

Pool& entry(const Shape& xs, const Shape& ys, const Pool3dParams& p) {
  static ShapeCache<Pool> cache;
  std::string key = shape_str(xs) + shape_str(ys);
  for (int i = 0; i < 3; ++i)
    key += "/" + std::to_string(p.kernel[i]) + "," + std::to_string(p.stride[i]) + "," +
           std::to_string(p.padding[i]);
  return cache.get(key, [&] {
    auto e = std::make_unique<Pool>();
    e->x = std::make_unique<TensorDesc>(xs);
    e->y = std::make_unique<TensorDesc>(ys);
    int win[3], pad[3], st[3];
    for (int i = 0; i < 3; ++i)
      win[i] = int(p.kernel[i]), pad[i] = int(p.padding[i]), st[i] = int(p.stride[i]);
    CUDNN_CHECK(cudnnCreatePoolingDescriptor(&e->pool), "max_pool3d");
    CUDNN_CHECK(cudnnSetPoolingNdDescriptor(e->pool, CUDNN_POOLING_MAX_DETERMINISTIC,
                                            CUDNN_NOT_PROPAGATE_NAN, 3, win, pad, st),
                "max_pool3d " + shape_str(xs));
    return e;
  });
}

// Sizes of one pooling: input plane [T, H, W], output plane [OT, OH, OW] per (n, c) row.
struct PoolGeom {
  int64_t rows;
  int64_t in[3], out[3], k[3], s[3], pad[3];
};

// arg[row, o] = in-plane index of the first maximum of output o's window, -1 if the window
// holds no number greater than -inf.
__global__ void argmax_kernel(const float* x, int64_t* arg, PoolGeom g) {
  const int64_t plane_out = g.out[0] * g.out[1] * g.out[2];
  const int64_t plane_in = g.in[0] * g.in[1] * g.in[2];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.rows * plane_out;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t row = i / plane_out, o = i % plane_out;
    int64_t ow = o % g.out[2], oh = (o / g.out[2]) % g.out[1], ot = o / (g.out[2] * g.out[1]);
    const float* xr = x + row * plane_in;
    float best = -INFINITY;
    int64_t best_i = -1;
    for (int64_t kt = 0; kt < g.k[0]; ++kt) {
      int64_t t = ot * g.s[0] - g.pad[0] + kt;
      if (t < 0 || t >= g.in[0]) continue;
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        int64_t h = oh * g.s[1] - g.pad[1] + kh;
        if (h < 0 || h >= g.in[1]) continue;
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          int64_t w = ow * g.s[2] - g.pad[2] + kw;
          if (w < 0 || w >= g.in[2]) continue;
          int64_t xi = (t * g.in[1] + h) * g.in[2] + w;
          if (xr[xi] > best) best = xr[xi], best_i = xi;  // strict: the first maximum stays
        }
      }
    }
    arg[i] = best_i;
  }
}

// Output positions along one dim whose windows cover input position i: [lo, hi].
__device__ void covering(int64_t i, int64_t k, int64_t s, int64_t pad, int64_t out, int64_t& lo,
                         int64_t& hi) {
  int64_t first = i + pad - k + 1;  // o * s >= first
  lo = first <= 0 ? 0 : (first + s - 1) / s;
  hi = (i + pad) / s;
  if (hi > out - 1) hi = out - 1;
}

// gx[row, xi] = sum of gy over the windows covering xi whose first maximum is xi, summed in
// output order (deterministic; no atomics even when windows overlap).
__global__ void gather_grad_kernel(const float* gy, const int64_t* arg, float* gx, PoolGeom g) {
  const int64_t plane_out = g.out[0] * g.out[1] * g.out[2];
  const int64_t plane_in = g.in[0] * g.in[1] * g.in[2];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.rows * plane_in;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t row = i / plane_in, xi = i % plane_in;
    int64_t w = xi % g.in[2], h = (xi / g.in[2]) % g.in[1], t = xi / (g.in[2] * g.in[1]);
    int64_t lo[3], hi[3];
    covering(t, g.k[0], g.s[0], g.pad[0], g.out[0], lo[0], hi[0]);
    covering(h, g.k[1], g.s[1], g.pad[1], g.out[1], lo[1], hi[1]);
    covering(w, g.k[2], g.s[2], g.pad[2], g.out[2], lo[2], hi[2]);
    const int64_t* ar = arg + row * plane_out;
    const float* gr = gy + row * plane_out;
    float sum = 0.f;
    for (int64_t ot = lo[0]; ot <= hi[0]; ++ot)
      for (int64_t oh = lo[1]; oh <= hi[1]; ++oh)
        for (int64_t ow = lo[2]; ow <= hi[2]; ++ow) {
          int64_t o = (ot * g.out[1] + oh) * g.out[2] + ow;
          if (ar[o] == xi) sum += gr[o];
        }
    gx[i] = sum;
  }
}
}  // namespace

Tensor CudaBackend::max_pool3d_forward(const Tensor& x, const Tensor& y, const Pool3dParams& p,
                                       bool training) {
  (void)training;
  Pool& e = entry(x.shape(), y.shape(), p);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnPoolingForward(context().cudnn, e.pool, &one, e.x->d, x.data<float>(), &zero,
                                  e.y->d, y.data<float>()),
              "max_pool3d_forward " + shape_str(x.shape()));
  return Tensor();
}

void CudaBackend::max_pool3d_backward(const Tensor& gy, const Tensor& x, const Tensor& y,
                                      const Tensor& state, const Tensor& gx,
                                      const Pool3dParams& p) {
  (void)y, (void)state;
  PoolGeom g;
  g.rows = x.size(0) * x.size(1);
  for (int d = 0; d < 3; ++d) {
    g.in[d] = x.size(2 + d), g.out[d] = gy.size(2 + d);
    g.k[d] = p.kernel[d], g.s[d] = p.stride[d], g.pad[d] = p.padding[d];
  }
  if (x.numel() == 0) return;
  const std::string what =
      "max_pool3d_backward " + shape_str(gy.shape()) + " -> " + shape_str(gx.shape());
  Workspace arg(size_t(gy.numel()) * sizeof(int64_t));
  cudaStream_t stream = context().stream;
  if (gy.numel() > 0) {
    argmax_kernel<<<blocks_for(gy.numel()), 256, 0, stream>>>(x.data<float>(),
                                                              static_cast<int64_t*>(arg.get()), g);
    CUDA_LAUNCH_CHECK(what);
  }
  gather_grad_kernel<<<blocks_for(x.numel()), 256, 0, stream>>>(
      gy.data<float>(), static_cast<const int64_t*>(arg.get()), gx.data<float>(), g);
  CUDA_LAUNCH_CHECK(what);
}

}  // namespace rmgait::cuda
