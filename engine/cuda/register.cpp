// Makes the CUDA backend and its allocator known to the engine when a device is present.
#include "engine/cuda/register.h"

#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"

namespace rmgait::cuda {

bool register_cuda_backend() {
  if (!device_present()) return false;
  static CudaBackend backend;
  register_allocator(Device::cuda, {device_alloc, device_free});
  register_backend(Device::cuda, &backend);
  return true;
}

}  // namespace rmgait::cuda
