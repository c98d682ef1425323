#pragma once
// The CPU backend: oneDNN 2.6 primitives for conv3d, batch norm, max pooling and matmul;
// OpenMP loops for the rest. One op per file in engine/cpu/.
#include "engine/backend.h"

namespace rmgait::cpu {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu; }
  bool has_bf16() const override;
  std::vector<int64_t> conv3d_output_order(const Shape& x, const Shape& w, const Shape& y,
                                           bool bias, const Conv3dParams& p) override;
  std::vector<int64_t> conv3d_grad_input_order(const Shape& x, const Shape& w, const Shape& y,
                                               const Conv3dParams& p) override;
  bool takes_dense_layouts() const override { return true; }
#define RMGAIT_KERNEL(name, ret, params, args) ret name params override;
#include "engine/kernels.def"
#undef RMGAIT_KERNEL
};

}  // namespace rmgait::cpu
