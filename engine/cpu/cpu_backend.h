#pragma once
// The CPU backend: oneDNN 2.6 primitives for conv3d, batch norm, max pooling and matmul;
// OpenMP loops for the rest. One op per file in engine/cpu/.
#include "engine/backend.h"

namespace rmgait::cpu {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu; }
  bool has_bf16() const override;
#define RMGAIT_KERNEL(name, ret, params, args) ret name params override;
#include "engine/kernels.def"
#undef RMGAIT_KERNEL
};

}  // namespace rmgait::cpu
