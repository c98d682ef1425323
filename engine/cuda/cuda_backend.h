#pragma once
// The CUDA backend: cuDNN (legacy API) for conv3d, batch norm and max pooling, cuBLAS for
// matmul, small kernels for the rest. One op per file in engine/cuda/.
#include "engine/backend.h"

namespace rmgait::cuda {

class CudaBackend final : public Backend {
 public:
  Device device() const override { return Device::cuda; }
  void synchronize() override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& dst, double value) override;
  void unary(UnaryOp op, const Tensor& x, const Tensor& y, float a, float b) override;
  void unary_backward(UnaryOp op, const Tensor& gy, const Tensor& x, const Tensor& y,
                      const Tensor& gx, float a, float b) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void reduce_rows(ReduceOp op, const Tensor& x, const Tensor& out, const Tensor& index) override;
  void scatter_rows(const Tensor& gy, const Tensor& index, const Tensor& gx) override;
  void gather_columns(const Tensor& x, const Tensor& index, const Tensor& out) override;
  void scatter_add_columns(const Tensor& g, const Tensor& index, const Tensor& gx) override;
  void softmax_rows(const Tensor& x, const Tensor& y, bool log) override;
  void softmax_rows_backward(const Tensor& gy, const Tensor& y, const Tensor& gx,
                             bool log) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor& c, bool ta, bool tb) override;
  void conv3d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                      const Conv3dParams& p) override;
  void conv3d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx,
                            const Conv3dParams& p) override;
  void conv3d_backward_weights(const Tensor& x, const Tensor& gy, const Tensor& gw,
                               const Tensor& gbias, const Conv3dParams& p) override;
  void batch_norm_forward_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                const Tensor& y, const Tensor& mean, const Tensor& var,
                                float eps) override;
  void batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& mean, const Tensor& var, const Tensor& y,
                               float eps) override;
  void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                           const Tensor& mean, const Tensor& var, const Tensor& gx,
                           const Tensor& gweight, const Tensor& gbias, float eps) override;
  Tensor max_pool3d_forward(const Tensor& x, const Tensor& y, const Pool3dParams& p,
                            bool training) override;
  void max_pool3d_backward(const Tensor& gy, const Tensor& x, const Tensor& y, const Tensor& state,
                           const Tensor& gx, const Pool3dParams& p) override;
  void random(RandomKind kind, uint64_t seed, uint64_t offset, float a, float b,
              const Tensor& out) override;
};

}  // namespace rmgait::cuda
