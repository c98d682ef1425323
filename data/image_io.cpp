#include "data/image_io.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include "engine/atomic_file.h"
#include "engine/error.h"

#define STB_IMAGE_IMPLEMENTATION
// PNG only: silhouette datasets are PNG, and Debian's stb_image 2.27 JPEG decoder overflows its
// Huffman size table on a DHT segment of more than 256 codes (found by fuzz_png).
#define STBI_ONLY_PNG
// Silhouette frames are a few hundred pixels wide: anything past 8192 per side is refused before
// stb allocates for it.
#define STBI_MAX_DIMENSIONS 8192
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace rmgait::data {

namespace {
// A PNG's chunks must lie inside the file: stb trusts a chunk's declared length and grows its
// buffer to it (a 10-byte file can ask for 2 GB), so the lengths are checked first. An empty IDAT
// chunk before any data makes stb copy 0 bytes to a null buffer (undefined behaviour, found by
// fuzz_png); such chunks carry nothing, so they are dropped from the bytes stb decodes.
// The image's dimensions are checked too: its pixels, at least height * ceil(width * bits / 8)
// bytes once inflated, must fit in what its IDAT chunks can inflate to (deflate expands at most
// 1032-fold), so that stb never allocates for pixels the file cannot hold; and what stb expands
// them to (a byte or two per sample, palettes to RGB(A), transparency to one more channel) at
// most 16 MiB more than that (a silhouette frame of 2048 x 2048 RGBA), so that a few bits per
// pixel cannot ask for gigabytes either.
// Returns the bytes to decode: `bytes` itself, or a copy without the empty IDAT chunks.
std::string checked_png_bytes(std::string bytes, const std::string& path) {
  static const char kSignature[] = "\x89PNG\r\n\x1a\n";
  RM_CHECK(bytes.size() >= 8 && std::memcmp(bytes.data(), kSignature, 8) == 0, path,
           ": not a PNG file (silhouette frames are PNG; the first 8 bytes are not PNG's "
           "signature)");
  auto u32 = [](const unsigned char* b) {
    return (uint64_t(b[0]) << 24) | (uint64_t(b[1]) << 16) | (uint64_t(b[2]) << 8) | b[3];
  };
  uint64_t pixel_bytes = 0, width = 0, height = 0, idat_bytes = 0, depth = 0, type = 0;
  bool transparency = false;
  size_t at = 8;
  while (at + 8 <= bytes.size()) {
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    const uint64_t length = u32(b);
    RM_CHECK(length <= bytes.size() - at - 8, path, ": PNG chunk at byte ", at, " declares ",
             length, " bytes, past the end of the ", bytes.size(), "-byte file");
    if (at == 8) {  // IHDR: width, height, bit depth, colour type
      RM_CHECK(std::memcmp(b + 4, "IHDR", 4) == 0 && length >= 13, path,
               ": not a PNG file (its first chunk is not a 13-byte IHDR)");
      static const int kChannels[7] = {1, 0, 3, 1, 2, 0, 4};  // by colour type
      width = u32(b + 8), height = u32(b + 12);
      depth = b[16], type = b[17];
      const uint64_t channels = type < 7 ? kChannels[type] : 0;
      RM_CHECK(channels > 0 && depth > 0 && depth <= 16, path, ": PNG colour type ", type,
               " with bit depth ", depth, " is not a PNG image type");
      const uint64_t row = (width * channels * depth + 7) / 8;  // < 2^35
      if (__builtin_mul_overflow(height, row, &pixel_bytes)) pixel_bytes = UINT64_MAX;
    }
    if (std::memcmp(b + 4, "IEND", 4) == 0) break;
    if (length == 0 && std::memcmp(b + 4, "IDAT", 4) == 0) {
      bytes.erase(at, std::min<size_t>(12, bytes.size() - at));  // length, type, CRC
      continue;
    }
    if (std::memcmp(b + 4, "IDAT", 4) == 0) idat_bytes += length;
    if (std::memcmp(b + 4, "tRNS", 4) == 0) transparency = true;
    at += 12 + length;  // length, type, data, CRC
  }
  RM_CHECK(pixel_bytes / 1032 <= idat_bytes, path, ": PNG declares ", width, "x", height,
           " pixels (", pixel_bytes, " bytes), more than its ", idat_bytes,
           " bytes of image data can hold (truncated or corrupt)");
  static const int kDecoded[7] = {1, 0, 3, 3, 2, 0, 4};  // channels stb decodes, by colour type
  const uint64_t per_pixel =
      std::min<uint64_t>(4, (type < 7 ? kDecoded[type] : 4) + (transparency ? 1 : 0)) *
      (depth == 16 ? 2 : 1);
  uint64_t decoded = 0;
  if (__builtin_mul_overflow(width * height, per_pixel, &decoded)) decoded = UINT64_MAX;
  constexpr uint64_t kSlack = uint64_t(16) << 20;
  RM_CHECK(decoded - std::min(decoded, kSlack) <= 1032 * idat_bytes, path, ": PNG of ", width, "x",
           height, " pixels would decode to ", decoded, " bytes, more than its ", idat_bytes,
           " bytes of image data can hold plus 16 MiB");
  return bytes;
}
}  // namespace

GrayImage read_gray(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  RM_CHECK(f, path, ": cannot open image");
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  RM_CHECK(bytes.size() <= (size_t(1) << 30), path, ": ", bytes.size(),
           " bytes is not a silhouette frame");
  const std::string png = checked_png_bytes(std::move(bytes), path);
  int w = 0, h = 0, channels = 0;
  unsigned char* p = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(png.data()),
                                           int(png.size()), &w, &h, &channels, 1);
  RM_CHECK(p, path, ": cannot read image: ", stbi_failure_reason());
  GrayImage img;
  img.width = w, img.height = h;
  img.pixels.assign(p, p + size_t(w) * h);
  stbi_image_free(p);
  return img;
}

namespace {
// Written to a temporary file and renamed: a reader never sees half a PNG.
void write_png_channels(const std::string& path, const uint8_t* pixels, int width, int height,
                        int channels) {
  const std::string tmp = temp_path(path);
  RM_CHECK(stbi_write_png(tmp.c_str(), width, height, channels, pixels, width * channels) != 0,
           path, ": cannot write PNG");
  commit_temp(path);
}
}  // namespace

void write_png(const std::string& path, const uint8_t* pixels, int width, int height) {
  write_png_channels(path, pixels, width, height, 1);
}

std::string encode_png(const uint8_t* pixels, int width, int height, int channels) {
  std::string out;
  auto append = [](void* ctx, void* data, int n) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(n));
  };
  RM_CHECK(
      stbi_write_png_to_func(append, &out, width, height, channels, pixels, width * channels) != 0,
      "cannot encode a ", width, "x", height, " PNG");
  return out;
}

void write_png_rgb(const std::string& path, const uint8_t* rgb, int width, int height) {
  write_png_channels(path, rgb, width, height, 3);
}

}  // namespace rmgait::data
