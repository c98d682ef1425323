#pragma once
// 8-bit grayscale image files through stb_image (Debian libstb-dev).
#include <cstdint>
#include <string>
#include <vector>

namespace rmgait::data {

struct GrayImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

// Reads any image stb_image reads, as 8-bit gray. Throws naming the file and stb's reason.
GrayImage read_gray(const std::string& path);
// Writes an 8-bit gray PNG atomically.
void write_png(const std::string& path, const uint8_t* pixels, int width, int height);

}  // namespace rmgait::data
