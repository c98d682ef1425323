// 3-D max pooling. Forward on cuDNN; backward by two small kernels over engine/math/max_pool3d.h that
// give each window's gradient to its first maximum in (t, h, w) scan order, the CPU's rule.
// cuDNN's own backward picks one of several equal maxima without saying which, and binary
// silhouettes make ties common, so the gradients would differ from the CPU's. No state is kept:
// backward rescans the windows of x.
#include <memory>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/descriptors.h"
#include "engine/math/max_pool3d.h"

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

// arg[row, o] = in-plane index of the first maximum of output o's window (or -1). I: int32_t
// where pool_fits_32bit(g), else int64_t (engine/math/max_pool3d.h).
template <class I>
__global__ void argmax_kernel(const float* x, int64_t* arg, PoolGeom g) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < I(g.rows * g.plane_out);
       i += I(gridDim.x) * I(blockDim.x)) {
    I o[3];
    I row = pool_split(i, g.out, o);
    arg[i] = pool_first_argmax(x + row * I(g.plane_in), g, o);
  }
}

// gx[row, xi]: a gather over the covering windows (deterministic; no atomics when they overlap).
template <class I>
__global__ void gather_grad_kernel(const float* gy, const int64_t* arg, float* gx, PoolGeom g) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < I(g.rows * g.plane_in);
       i += I(gridDim.x) * I(blockDim.x)) {
    I c[3];
    I row = pool_split(i, g.in, c);
    const I plane_out = I(g.plane_out);
    gx[i] = pool_input_grad(gy + row * plane_out, arg + row * plane_out, g, c, i % I(g.plane_in));
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
  PoolGeom g = make_pool_geom(x.shape().data(), gy.shape().data(), p.kernel.data(), p.stride.data(),
                              p.padding.data());
  if (x.numel() == 0) return;
  const std::string what =
      "max_pool3d_backward " + shape_str(gy.shape()) + " -> " + shape_str(gx.shape());
  Workspace arg(size_t(gy.numel()) * sizeof(int64_t));
  cudaStream_t stream = context().stream;
  int64_t* ap = static_cast<int64_t*>(arg.get());
  with_index_type<int32_t>(pool_fits_32bit(g), [&](auto i) {
    using I = decltype(i);
    if (gy.numel() > 0) {
      argmax_kernel<I><<<blocks_for(gy.numel()), 256, 0, stream>>>(x.data<float>(), ap, g);
      CUDA_LAUNCH_CHECK(what);
    }
    gather_grad_kernel<I>
        <<<blocks_for(x.numel()), 256, 0, stream>>>(gy.data<float>(), ap, gx.data<float>(), g);
  });
  CUDA_LAUNCH_CHECK(what);
}

}  // namespace rmgait::cuda
