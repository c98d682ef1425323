// The backend registry: the one place that knows which backends this build has.
#include "engine/backend.h"

#include <dlfcn.h>

#include <string>

#include "engine/cpu/cpu_backend.h"
#include "engine/error.h"

namespace rmgait {

namespace {
Backend* g_backends[2] = {nullptr, nullptr};
std::string g_cuda_missing = "this build has no CUDA backend";  // why there is none
}  // namespace

void* load_module_beside(const void* anchor, const char* name, std::string* error) {
  Dl_info self;
  std::string dir;
  if (dladdr(anchor, &self) && self.dli_fname) {
    dir = self.dli_fname;
    dir = dir.substr(0, dir.find_last_of('/') + 1);
  }
  void* h = dlopen((dir + name).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!h && error) *error = dlerror();
  return h;
}

void register_backend(Device device, Backend* b) {
  g_backends[int(device)] = b;
}

namespace {
#ifdef RMGAIT_WITH_CUDA  // the one place that knows the CUDA backend exists
// Loads the CUDA backend module from this library's own folder (else the loader's search path)
// and runs its registration.
void load_cuda_module() {
  std::string error;
  void* h = load_module_beside(reinterpret_cast<const void*>(&load_cuda_module), RMGAIT_CUDA_MODULE,
                               &error);
  if (!h) {
    g_cuda_missing = "the CUDA backend module could not be loaded: " + error;
    return;
  }
  auto reg = reinterpret_cast<bool (*)()>(dlsym(h, "rmgait_register_cuda_backend"));
  if (!reg) {
    g_cuda_missing = std::string(RMGAIT_CUDA_MODULE) + " has no rmgait_register_cuda_backend";
    return;
  }
  if (!reg()) g_cuda_missing = "no usable GPU was found";
}
#endif

// Registers the optional backends once, on first use.
void register_optional_backends() {
#ifdef RMGAIT_WITH_CUDA
  static bool once = (load_cuda_module(), true);
  (void)once;
#endif
}
}  // namespace

Backend& backend(Device device) {
  static cpu::CpuBackend cpu_backend;
  // the CPU's own backend unless another was registered in its place (engine/profile.h)
  if (device == Device::cpu) return g_backends[0] ? *g_backends[0] : cpu_backend;
  register_optional_backends();
  RM_CHECK(g_backends[int(device)], "no ", device_name(device), " backend: ", g_cuda_missing);
  return *g_backends[int(device)];
}

bool device_available(Device device) {
  if (device == Device::cpu) return true;
  register_optional_backends();
  return g_backends[int(device)] != nullptr;
}

std::string device_unavailable_reason(Device device) {
  return device_available(device) ? "" : g_cuda_missing;
}

namespace {
const char* const kKernelNames[] = {
#define RMGAIT_KERNEL(name, ret, params, args) #name,
#include "engine/kernels.def"
#undef RMGAIT_KERNEL
};
static_assert(sizeof(kKernelNames) / sizeof(kKernelNames[0]) == size_t(Kernel::count),
              "one name per kernel of engine/kernels.def");
}  // namespace

const char* kernel_name(Kernel k) {
  return kKernelNames[int(k)];
}

void Backend::unsupported(Kernel k) const {
  RM_FAIL(kernel_name(k), " is not supported on ", device_name(device()));
}

// The default of every kernel: the clear error above.
#define RMGAIT_KERNEL(name, ret, params, args) \
  ret Backend::name params {                   \
    unsupported(Kernel::name);                 \
  }
#include "engine/kernels.def"
#undef RMGAIT_KERNEL

}  // namespace rmgait
