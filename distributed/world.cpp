#include "distributed/world.h"

#include <cstdlib>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "distributed/nccl.h"
#include "engine/error.h"
#ifdef RMGAIT_WITH_MPI
#include "distributed/mpi.h"
#endif

namespace rmgait::dist {

namespace {
int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : -1;
}

std::unique_ptr<Communicator>& world_slot() {
  static std::unique_ptr<Communicator> w;
  return w;
}
}  // namespace

bool launched_by_mpi() {
  // Open MPI's mpirun; PMI (MPICH, Intel MPI); Slurm's srun with PMI or PMIx, which sets the
  // rank variable and SLURM_NTASKS
  const bool slurm_mpi =
      (std::getenv("PMIX_RANK") || std::getenv("PMI_RANK")) && env_int("SLURM_NTASKS") > 1;
  return env_int("OMPI_COMM_WORLD_SIZE") > 1 || env_int("PMI_SIZE") > 1 || slurm_mpi ||
         env_int("MPI_LOCALNRANKS") > 1;
}

int launch_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (env_int(v) >= 0) return env_int(v);
  return -1;
}

bool built_with_mpi() {
#ifdef RMGAIT_WITH_MPI
  return true;
#else
  return false;
#endif
}

Communicator& world() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!launched_by_mpi()) {
      world_slot() = make_local();
      return;
    }
#ifdef RMGAIT_WITH_MPI
    world_slot() = make_mpi_world();
#else
    RM_FAIL("launched with several ranks (mpirun), but this rmgait was built without MPI: "
            "install libopenmpi-dev and rebuild (cmake -DENABLE_MPI=ON)");
#endif
  });
  return *world_slot();
}

int local_rank() {
  if (world().size() == 1) return 0;
  const int ompi = env_int("OMPI_COMM_WORLD_LOCAL_RANK");
  if (ompi >= 0) return ompi;
#ifdef RMGAIT_WITH_MPI
  return mpi_local_rank();
#else
  return 0;
#endif
}

void select_local_gpu() {
  if (!launched_by_mpi()) return;
  const int lr = local_rank();
  std::vector<std::string> visible;
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) {
    std::stringstream ss(v);
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) visible.push_back(item);
    RM_CHECK(lr < int(visible.size()), "rank ", world().rank(), " is local rank ", lr,
             " on its node, but CUDA_VISIBLE_DEVICES='", v, "' lists ", visible.size(),
             " GPUs: run one rank per GPU");
  }
  const std::string gpu = visible.empty() ? std::to_string(lr) : visible[size_t(lr)];
  setenv("CUDA_VISIBLE_DEVICES", gpu.c_str(), 1);
}

Communicator& for_device(Device device) {
  if (device == Device::cpu) return world();
  static std::once_flag once;
  static std::unique_ptr<Communicator> dev;
  std::call_once(once,
                 [&] { dev = world().size() == 1 ? make_local(device) : make_nccl(world()); });
  return *dev;
}

void abort_job(int code) {
#ifdef RMGAIT_WITH_MPI
  if (world_slot() && world_slot()->size() > 1) mpi_abort(code);
#endif
  std::exit(code);
}

}  // namespace rmgait::dist
