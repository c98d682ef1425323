#pragma once
// NCCL (shipped with the CUDA toolkit) as a Communicator of CUDA tensors, built as the module
// librmgait_nccl.so when ENABLE_NCCL finds NCCL (a CPU run never maps NCCL or CUDA). Its
// collectives run on the engine's CUDA stream, ordered after the work that produced the tensors;
// all_reduce_sum_async runs on a stream of its own, so a bucket of gradients is summed while
// backward goes on.
#include "distributed/communicator.h"

namespace rmgait::dist {

// NCCL over the ranks of `host` (rank r of host is rank r of NCCL): rank 0 creates the unique
// id and host broadcasts it. Each rank uses the engine's CUDA device (select_local_gpu).
std::unique_ptr<Communicator> make_nccl(Communicator& host);

}  // namespace rmgait::dist
