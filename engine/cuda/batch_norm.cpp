// Batch norm on cuDNN (spatial mode). [N, C] and [N, C, L] are viewed as [N, C, 1, 1] and
// [N, C, L, 1]. Training: cuDNN's running-statistics outputs with factor 1 give the batch mean
// and the unbiased variance, which is scaled to the biased one the CPU backend returns; backward
// lets cuDNN recompute the statistics.
#include <memory>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/descriptors.h"

namespace rmgait::cuda {

namespace {
struct BN {
  std::unique_ptr<TensorDesc> x;
  cudnnTensorDescriptor_t param = nullptr;
  ~BN() {
    if (param) cudnnDestroyTensorDescriptor(param);
  }
};

BN& entry(const Shape& s) {
  static ShapeCache<BN> cache;
  return cache.get(shape_str(s), [&] {
    auto b = std::make_unique<BN>();
    b->x = std::make_unique<TensorDesc>(s);
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&b->param), "batch_norm");
    CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(b->param, b->x->d, CUDNN_BATCHNORM_SPATIAL),
                "batch_norm " + shape_str(s));
    return b;
  });
}
}  // namespace

void CudaBackend::batch_norm_forward_train(const Tensor& x, const Tensor& weight,
                                           const Tensor& bias, const Tensor& y, const Tensor& mean,
                                           const Tensor& var, float eps) {
  const std::string what = "batch_norm_forward_train " + shape_str(x.shape());
  BN& b = entry(x.shape());
  const float one = 1.f, zero = 0.f;
  // cuDNN updates running = (1 - factor) * running + factor * batch; with factor 1 the old value
  // is multiplied by 0, which is NaN for NaN garbage in a reused block: start from zeros.
  fill(mean, 0.0);
  fill(var, 0.0);
  CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
                  context().cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, b.x->d, x.data<float>(),
                  b.x->d, y.data<float>(), b.param, weight.data<float>(), bias.data<float>(), 1.0,
                  mean.data<float>(), var.data<float>(), double(eps), nullptr, nullptr),
              what);
  const double count = double(x.numel() / x.size(1));
  unary(UnaryOp::mul_scalar, var, var, float((count - 1) / count), 0.f);  // unbiased -> biased
}

void CudaBackend::batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                          const Tensor& mean, const Tensor& var, const Tensor& y,
                                          float eps) {
  BN& b = entry(x.shape());
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
                  context().cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, b.x->d, x.data<float>(),
                  b.x->d, y.data<float>(), b.param, weight.data<float>(), bias.data<float>(),
                  mean.data<float>(), var.data<float>(), double(eps)),
              "batch_norm_forward_eval " + shape_str(x.shape()));
}

void CudaBackend::batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                                      const Tensor& mean, const Tensor& var, const Tensor& gx,
                                      const Tensor& gweight, const Tensor& gbias, float eps) {
  (void)mean, (void)var;  // cuDNN recomputes them from x
  BN& b = entry(x.shape());
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnBatchNormalizationBackward(context().cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero,
                                              &one, &zero, b.x->d, x.data<float>(), b.x->d,
                                              gy.data<float>(), b.x->d, gx.data<float>(), b.param,
                                              weight.data<float>(), gweight.data<float>(),
                                              gbias.data<float>(), double(eps), nullptr, nullptr),
              "batch_norm_backward " + shape_str(x.shape()));
}

}  // namespace rmgait::cuda
