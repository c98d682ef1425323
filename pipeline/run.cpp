#include "pipeline/run.h"

#include <csignal>
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "distributed/world.h"

namespace rmgait::pipeline {

int run_main(const char* program, bool cuda, const std::function<int()>& command) {
  // a file-size limit (RLIMIT_FSIZE) makes writes fail with EFBIG, reported with the file's name,
  // instead of killing the process mid-write
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    if (cuda) dist::select_local_gpu();  // under mpirun: one GPU per rank
    return command();
  } catch (const std::exception& e) {
    const std::string why = dynamic_cast<const std::bad_alloc*>(&e)
                                ? "out of memory (the job asks for more than this machine gives it)"
                                : e.what();
    if (!dist::launched_by_mpi()) {
      std::fprintf(stderr, "%s: error: %s\n", program, why.c_str());
      return 1;
    }
    std::fprintf(stderr, "%s: error (rank %d): %s\n", program, dist::launch_rank(), why.c_str());
    dist::abort_job(1);
  }
}

}  // namespace rmgait::pipeline
