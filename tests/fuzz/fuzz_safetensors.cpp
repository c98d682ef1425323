// safetensors checkpoints: header length, JSON, dtypes, shapes, offsets, metadata.
#include "formats/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rmgait::fuzz::to_file(data, size, ".safetensors");
  rmgait::fuzz::expect_clear_error([&] { rmgait::formats::load_safetensors(path); });
  return 0;
}
