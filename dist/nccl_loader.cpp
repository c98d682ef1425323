// Loads librmgait_nccl.so (next to this library, else from the loader's path) on first use.
#include <dlfcn.h>

#include <string>

#include "dist/nccl.h"
#include "dist/world.h"
#include "engine/error.h"

namespace rmgait::dist {

bool built_with_nccl() {
#ifdef RMGAIT_NCCL_MODULE
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Communicator> make_nccl(Communicator& host) {
#ifdef RMGAIT_NCCL_MODULE
  static void* h = [] {
    Dl_info self;
    std::string dir;
    if (dladdr(reinterpret_cast<void*>(&make_nccl), &self) && self.dli_fname) {
      dir = self.dli_fname;
      dir = dir.substr(0, dir.find_last_of('/') + 1);
    }
    void* m = dlopen((dir + RMGAIT_NCCL_MODULE).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!m) m = dlopen(RMGAIT_NCCL_MODULE, RTLD_NOW | RTLD_LOCAL);
    RM_CHECK(m, "NCCL: the module could not be loaded: ", dlerror());
    return m;
  }();
  using Create = Communicator* (*)(Communicator&);
  auto create = reinterpret_cast<Create>(dlsym(h, "rmgait_create_nccl_communicator"));
  RM_CHECK(create, RMGAIT_NCCL_MODULE, " has no rmgait_create_nccl_communicator");
  return std::unique_ptr<Communicator>(create(host));
#else
  RM_FAIL(
      "CUDA tensors over several ranks need NCCL, and this rmgait was built without it "
      "(CUDA toolkit with NCCL, cmake -DENABLE_NCCL=ON)");
#endif
}

}  // namespace rmgait::dist
