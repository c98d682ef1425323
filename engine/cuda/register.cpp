// Makes the CUDA backend and its allocator known to the engine when a device is present.
#include "engine/cuda/register.h"

#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"

extern "C" __attribute__((visibility("default"))) bool rmgait_register_cuda_backend() {
  using namespace rmgait;
  if (!cuda::device_present()) return false;
  static cuda::CudaBackend backend;
  register_allocator(Device::cuda, {cuda::device_alloc, cuda::device_free});
  register_backend(Device::cuda, &backend);
  return true;
}
