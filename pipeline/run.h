#pragma once
// What a program's main() does around the pipeline, the rmgait CLI's and any other's: under
// mpirun with CUDA, each rank takes its own GPU before anything touches CUDA; an error is
// printed as "PROGRAM: error: ..." (with the rank under mpirun) and, under mpirun, ends every
// rank, since one rank's error would leave the others waiting in a collective.
#include <functional>

namespace rmgait::pipeline {

// Runs `command` and returns its exit status, or 1 after an error (printed to stderr);
// `cuda`: the command will use CUDA devices.
int run_main(const char* program, bool cuda, const std::function<int()>& command);

}  // namespace rmgait::pipeline
