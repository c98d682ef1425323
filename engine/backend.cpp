// The backend registry: the one place that knows which backends this build has.
#include "engine/backend.h"

#include "engine/cpu/cpu_backend.h"
#include "engine/error.h"

namespace rmgait {

namespace {
Backend* g_backends[2] = {nullptr, nullptr};
}

void register_backend(Device device, Backend* b) {
  g_backends[int(device)] = b;
}

Backend& backend(Device device) {
  static cpu::CpuBackend cpu_backend;
  if (device == Device::cpu) return cpu_backend;
  RM_CHECK(g_backends[int(device)], "no ", device_name(device),
           " backend: this build has no CUDA support or no GPU was found");
  return *g_backends[int(device)];
}

bool device_available(Device device) {
  return device == Device::cpu || g_backends[int(device)] != nullptr;
}

}  // namespace rmgait
