// .npy (embed --sils, saved embeddings): header dict, dtype, shape, data size.
#include "engine/npy.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rmgait::fuzz::to_file(data, size, ".npy");
  rmgait::fuzz::expect_clear_error([&] { rmgait::load_npy(path); });
  return 0;
}
