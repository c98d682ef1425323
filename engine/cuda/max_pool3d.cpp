// 3-D max pooling on cuDNN (deterministic max); backward reads x and y, so no extra state.
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
  (void)state;
  Pool& e = entry(x.shape(), y.shape(), p);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnPoolingBackward(context().cudnn, e.pool, &one, e.y->d, y.data<float>(), e.y->d,
                                   gy.data<float>(), e.x->d, x.data<float>(), &zero, e.x->d,
                                   gx.data<float>()),
              "max_pool3d_backward " + shape_str(x.shape()));
}

}  // namespace rmgait::cuda
