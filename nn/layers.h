#pragma once
// Basic layers. Shapes: Conv3d x [N, Ci, T, H, W]; BatchNorm over [N, C, *]; Linear x [..., in].
#include <array>
#include <functional>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "nn/module.h"

namespace rmgait::nn {

using Int3 = std::array<int64_t, 3>;

// Conv3d, no bias by default. weight [Co, Ci, kt, kh, kw] ("weight"), bias [Co] ("bias").
class Conv3d : public UnaryModule {
 public:
  Conv3d(int64_t in, int64_t out, Int3 kernel, Int3 stride = {1, 1, 1}, Int3 padding = {0, 0, 0},
         bool bias = false);
  Tensor forward(const Tensor& x) override;
  // leaky_relu(conv(x)) as one fused op (no pre-activation tensor, one pass less); recompute_x as
  // for conv3d.
  Tensor forward_leaky_relu(const Tensor& x, float negative_slope = 0.01f,
                            std::function<Tensor()> recompute_x = {});
  Tensor weight, bias;
  Conv3dParams params;
};

// BatchNorm over channel dim 1 of a (2 + spatial_dims)-d input, PyTorch semantics: eps 1e-5,
// momentum 0.1, unbiased running variance; buffers running_mean, running_var,
// num_batches_tracked (i64 scalar).
class BatchNorm : public UnaryModule {
 public:
  BatchNorm(int64_t channels, int spatial_dims_min, int spatial_dims_max, float eps = 1e-5f,
            float momentum = 0.1f);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  float eps, momentum;
  // Synchronised batch norm (data-parallel training): sync_gather concatenates every replica's
  // x along dim 0, differentiably (dist::all_gather, whose backward sums over replicas), and this
  // replica's rows are [sync_rank * n, (sync_rank + 1) * n). Training then normalises the global
  // batch with the ordinary op, so outputs and running statistics are one process's, bit for bit.
  std::function<Tensor(const Tensor&)> sync_gather;
  int sync_rank = 0;

 private:
  void count_batch();
  int min_dims_, max_dims_;
  // Host copy of num_batches_tracked, valid while the buffer's storage (id, version) is the one
  // this module last wrote: reading a GPU buffer back every layer would stall the stream.
  int64_t tracked_ = 0;
  uint64_t tracked_storage_ = 0, tracked_version_ = 0;
};
// BatchNorm1d: [N, C] or [N, C, L]; 2d: [N, C, H, W]; 3d: [N, C, T, H, W].
std::shared_ptr<BatchNorm> BatchNorm1d(int64_t c);
std::shared_ptr<BatchNorm> BatchNorm2d(int64_t c);
std::shared_ptr<BatchNorm> BatchNorm3d(int64_t c);

class LeakyReLU : public UnaryModule {
 public:
  explicit LeakyReLU(float slope = 0.01f) : slope(slope) {}
  Tensor forward(const Tensor& x) override;
  float slope;
};

class MaxPool3d : public UnaryModule {
 public:
  MaxPool3d(Int3 kernel, Int3 stride, Int3 padding = {0, 0, 0});
  Tensor forward(const Tensor& x) override;
  Pool3dParams params;
};

// y = x W^T + b; weight [out, in], bias [out].
class Linear : public UnaryModule {
 public:
  Linear(int64_t in, int64_t out, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
};

// Children named "0", "1", ... as PyTorch's nn.Sequential names them.
class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<UnaryModule>> layers);
  void push_back(std::shared_ptr<UnaryModule> m);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }
  UnaryModule& operator[](size_t i) { return *layers_[i]; }

 private:
  std::vector<std::shared_ptr<UnaryModule>> layers_;
};

}  // namespace rmgait::nn
