// Loads librmgait_nccl.so (next to this library, else from the loader's path) on first use.
#include <dlfcn.h>

#include <string>

#include "distributed/nccl.h"
#include "distributed/world.h"
#include "engine/backend.h"
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
    std::string error;
    void* m =
        load_module_beside(reinterpret_cast<const void*>(&make_nccl), RMGAIT_NCCL_MODULE, &error);
    RM_CHECK(m, "NCCL: the module could not be loaded: ", error);
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
