// The packed dataset: open and validate, then touch every sequence's first and last byte (the
// validation must have made every frame pointer safe).
#include "data/packed.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rmgait::fuzz::to_file(data, size, ".pack");
  rmgait::fuzz::expect_clear_error([&] {
    rmgait::data::PackedDataset ds(path);
    unsigned sum = 0;
    const size_t frame = size_t(ds.height()) * ds.width();
    for (size_t i = 0; i < ds.size(); ++i) {
      const size_t bytes = frame * ds.info(i).frames;
      if (bytes) sum += ds.frames(i)[0] + ds.frames(i)[bytes - 1];
      sum += unsigned(ds.info(i).name().size());
    }
    if (sum == 0xdeadbeef) std::abort();  // keeps the reads
  });
  return 0;
}
