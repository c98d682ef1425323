#include "data/image_io.h"

#include <cstdio>

#include "engine/atomic_file.h"
#include "engine/error.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_JPEG
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace rmgait::data {

GrayImage read_gray(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  unsigned char* p = stbi_load(path.c_str(), &w, &h, &channels, 1);
  RM_CHECK(p, path, ": cannot read image: ", stbi_failure_reason());
  GrayImage img;
  img.width = w, img.height = h;
  img.pixels.assign(p, p + size_t(w) * h);
  stbi_image_free(p);
  return img;
}

void write_png(const std::string& path, const uint8_t* pixels, int width, int height) {
  const std::string tmp = temp_path(path);
  RM_CHECK(stbi_write_png(tmp.c_str(), width, height, 1, pixels, width) != 0, path,
           ": cannot write PNG");
  commit_temp(path);
}

}  // namespace rmgait::data
