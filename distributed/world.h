#pragma once
// The processes of this job. Under mpirun (or a launcher that sets OMPI_COMM_WORLD_SIZE or
// PMI_SIZE > 1, or Slurm's srun with PMI / PMIx and SLURM_NTASKS > 1) they are MPI's COMM_WORLD,
// initialised on first use and finalised at exit; otherwise one process. A build without MPI
// refuses to run under a multi-rank launcher.
#include "distributed/communicator.h"

namespace rmgait::dist {

bool launched_by_mpi();  // the environment names more than one rank
// This process's rank as the launcher set it (Open MPI, PMIx, PMI, Slurm), without starting MPI;
// -1 where none did.
int launch_rank();
Communicator& world();  // host tensors
int local_rank();       // this rank's index among the ranks on its node (its GPU)

// The communicator for tensors on `device`: world() for the CPU; for CUDA, NCCL over world()'s
// ranks (its unique id broadcast from rank 0 over MPI), or the local one with one rank.
Communicator& for_device(Device device);

// Under mpirun with --device cuda: one GPU per rank, the local_rank()-th of those visible
// (CUDA_VISIBLE_DEVICES narrowed to it). Call before anything touches CUDA.
void select_local_gpu();

// Ends every rank of the job (an error on one rank would leave the others waiting in a
// collective). With one process: exit(code).
[[noreturn]] void abort_job(int code);

bool built_with_mpi();
bool built_with_nccl();

}  // namespace rmgait::dist
