#pragma once
// 8-bit image files through stb_image / stb_image_write (Debian libstb-dev).
// Limits (read_gray): PNG only, at most 1 GiB of file and 8,192 pixels a side; chunk lengths
// inside the file; the IHDR's rows within what the IDAT can inflate to (1032-fold), and what stb
// expands them to at most 16 MiB more; all checked before stb decodes.
#include <cstdint>
#include <string>
#include <vector>

namespace rmgait::data {

struct GrayImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

// Reads a PNG (any bit depth and colour type) as 8-bit gray. Throws naming the file and the
// reason (not a PNG, a chunk past the end, stb's reason).
GrayImage read_gray(const std::string& path);
// Writes an 8-bit gray PNG atomically.
void write_png(const std::string& path, const uint8_t* pixels, int width, int height);
// The PNG bytes of an 8-bit image of 1 (gray) or 3 (RGB) channels, in memory.
std::string encode_png(const uint8_t* pixels, int width, int height, int channels);
// Writes an 8-bit RGB PNG (rows of width x 3 bytes) atomically.
void write_png_rgb(const std::string& path, const uint8_t* rgb, int width, int height);

}  // namespace rmgait::data
