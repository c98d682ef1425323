#include "nn/layers.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::nn {

Conv3d::Conv3d(int64_t in, int64_t out, Int3 kernel, Int3 stride, Int3 padding, bool with_bias) {
  weight = register_parameter("weight", Tensor::zeros({out, in, kernel[0], kernel[1], kernel[2]}));
  if (with_bias) bias = register_parameter("bias", Tensor::zeros({out}));
  params = {stride, padding};
}

Tensor Conv3d::forward(const Tensor& x) {
  return conv3d(x, weight, bias, params);
}

Tensor Conv3d::forward_leaky_relu(const Tensor& x, float negative_slope,
                                  std::function<Tensor()> recompute_x) {
  Conv3dParams p = params;
  p.leaky_relu = true;
  p.negative_slope = negative_slope;
  return conv3d(x, weight, bias, p, std::move(recompute_x));
}

BatchNorm::BatchNorm(int64_t c, int dmin, int dmax, float eps_, float momentum_)
    : eps(eps_), momentum(momentum_), min_dims_(dmin), max_dims_(dmax) {
  weight = register_parameter("weight", Tensor::ones({c}));
  bias = register_parameter("bias", Tensor::zeros({c}));
  running_mean = register_buffer("running_mean", Tensor::zeros({c}));
  running_var = register_buffer("running_var", Tensor::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64));
}

Tensor BatchNorm::forward(const Tensor& x) {
  RM_CHECK(x.dim() >= min_dims_ && x.dim() <= max_dims_, "BatchNorm: input ", shape_str(x.shape()),
           " should have ", min_dims_,
           (min_dims_ == max_dims_ ? "" : " or " + std::to_string(max_dims_)), " dims");
  if (is_training()) count_batch();
  if (is_training() && sync_gather) {
    const int64_t n = x.size(0);
    Tensor all = sync_gather(x);  // [replicas * n, C, *]
    return batch_norm(all, weight, bias, running_mean, running_var, true, momentum, eps)
        .narrow(0, sync_rank * n, n);
  }
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

void BatchNorm::count_batch() {
  const Storage& st = *num_batches_tracked.storage();
  if (st.id() != tracked_storage_ || st.version() != tracked_version_)  // loaded, moved, reset
    tracked_ = num_batches_tracked.to(Device::cpu).data<int64_t>()[0];
  num_batches_tracked.fill_(double(++tracked_));
  tracked_storage_ = st.id(), tracked_version_ = st.version();
}

std::shared_ptr<BatchNorm> BatchNorm1d(int64_t c) {
  return std::make_shared<BatchNorm>(c, 2, 3);
}
std::shared_ptr<BatchNorm> BatchNorm2d(int64_t c) {
  return std::make_shared<BatchNorm>(c, 4, 4);
}
std::shared_ptr<BatchNorm> BatchNorm3d(int64_t c) {
  return std::make_shared<BatchNorm>(c, 5, 5);
}

Tensor LeakyReLU::forward(const Tensor& x) {
  return leaky_relu(x, slope);
}

MaxPool3d::MaxPool3d(Int3 kernel, Int3 stride, Int3 padding) : params{kernel, stride, padding} {}

Tensor MaxPool3d::forward(const Tensor& x) {
  return max_pool3d(x, params);
}

Linear::Linear(int64_t in, int64_t out, bool with_bias) {
  weight = register_parameter("weight", Tensor::zeros({out, in}));
  if (with_bias) bias = register_parameter("bias", Tensor::zeros({out}));
}

Tensor Linear::forward(const Tensor& x) {
  RM_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "Linear: input ", shape_str(x.shape()),
           " does not end in ", weight.size(1), " features");
  Tensor x2 = x.dim() == 1 ? x.unsqueeze(0) : x;
  Tensor y = matmul(x2, weight, false, true);
  if (bias.defined()) y = add(y, bias);
  return x.dim() == 1 ? y.squeeze(0) : y;
}

Sequential::Sequential(std::vector<std::shared_ptr<UnaryModule>> layers) {
  for (auto& l : layers) push_back(l);
}

void Sequential::push_back(std::shared_ptr<UnaryModule> m) {
  register_module(std::to_string(layers_.size()), m);
  layers_.push_back(std::move(m));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& l : layers_) h = l->forward(h);
  return h;
}

}  // namespace rmgait::nn
