#pragma once
// Open MPI's COMM_WORLD as a Communicator of host tensors (built when ENABLE_MPI finds MPI).
#include "distributed/communicator.h"

namespace rmgait::dist {

// Initialises MPI (MPI_THREAD_FUNNELED: only the main thread communicates) and wraps
// COMM_WORLD; finalises MPI when destroyed.
std::unique_ptr<Communicator> make_mpi_world();
int mpi_local_rank();  // rank among the ranks sharing this node (MPI_COMM_TYPE_SHARED)
[[noreturn]] void mpi_abort(int code);

}  // namespace rmgait::dist
