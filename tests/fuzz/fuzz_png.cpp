// PNG decode (stb_image) and pretreatment (crop, align, resize to 64 x 64) of what decodes.
#include "data/image_io.h"
#include "data/pretreat.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rmgait::fuzz::to_file(data, size, ".png");
  rmgait::fuzz::expect_clear_error([&] {
    rmgait::data::GrayImage g = rmgait::data::read_gray(path);
    rmgait::data::pretreat_frame(g.pixels.data(), g.height, g.width);
  });
  return 0;
}
