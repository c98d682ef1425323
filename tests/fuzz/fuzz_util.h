#pragma once
// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.cpp). Each target defines
// LLVMFuzzerTestOneInput; built with clang's -fsanitize=fuzzer by tools/fuzz.sh, and with
// replay_main.cpp by the normal build, where CTest replays the committed corpus and every input
// that once crashed (tests/fuzz/regressions/<target>/).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/error.h"

namespace rmgait::fuzz {

// The readers take paths: the input goes to a temporary file of this process (removed at exit).
inline std::string to_file(const uint8_t* data, size_t size, const char* ext) {
  static const std::string path = [ext] {
    // the process id zero-padded: paths of one length whatever the id, so that the messages
    // and allocations naming them, and so the run, are the same in every process
    char id[16];
    std::snprintf(id, sizeof id, "%010d", int(getpid()));
    std::string p = std::string("/tmp/rmgait-fuzz-") + id + ext;
    static std::string keep;
    keep = p;
    std::atexit([] { std::remove(keep.c_str()); });
    return p;
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

// Bad bytes must end in rmgait's clear error (rmgait::Error, naming the file and what was
// expected); anything else (a crash, another exception, a hang, a huge allocation) is a bug.
template <class F>
void expect_clear_error(F f) {
  try {
    f();
  } catch (const Error&) {
  }
}

}  // namespace rmgait::fuzz
