#pragma once
// The CUDA backend: cuDNN (legacy API) for conv3d, batch norm and max pooling, cuBLAS for
// matmul, small kernels for the rest. One op per file in engine/cuda/.
#include "engine/backend.h"

namespace rmgait::cuda {

class CudaBackend final : public Backend {
 public:
  Device device() const override { return Device::cuda; }
  void synchronize() override;
  void* native_stream() override;
  bool has_bf16() const override;
  DeviceMemory device_memory() const override;
  void reset_peak_memory() override;
  void profile_range(bool begin) override;
#define RMGAIT_KERNEL(name, ret, params, args) ret name params override;
#include "engine/kernels.def"
#undef RMGAIT_KERNEL
};

}  // namespace rmgait::cuda
