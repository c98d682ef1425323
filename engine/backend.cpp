// The backend registry: the one place that knows which backends this build has.
#include "engine/backend.h"

#include "engine/cpu/cpu_backend.h"
#include "engine/error.h"
#ifdef RMGAIT_WITH_CUDA  // the one place that knows the CUDA backend exists
#include "engine/cuda/register.h"
#endif

namespace rmgait {

namespace {
Backend* g_backends[2] = {nullptr, nullptr};
}

void register_backend(Device device, Backend* b) {
  g_backends[int(device)] = b;
}

namespace {
// Registers the optional backends once, on first use.
void register_optional_backends() {
#ifdef RMGAIT_WITH_CUDA
  static bool once = (cuda::register_cuda_backend(), true);
  (void)once;
#endif
}
}  // namespace

Backend& backend(Device device) {
  static cpu::CpuBackend cpu_backend;
  if (device == Device::cpu) return cpu_backend;
  register_optional_backends();
  RM_CHECK(g_backends[int(device)], "no ", device_name(device),
           " backend: this build has no CUDA support or no GPU was found");
  return *g_backends[int(device)];
}

bool device_available(Device device) {
  if (device == Device::cpu) return true;
  register_optional_backends();
  return g_backends[int(device)] != nullptr;
}

}  // namespace rmgait
