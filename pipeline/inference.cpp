#include "pipeline/inference.h"

#include <algorithm>
#include <filesystem>

#include "data/image_io.h"
#include "data/loader.h"
#include "data/pretreat.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/npy.h"
#include "engine/ops.h"

namespace rmgait::pipeline {

Sequence read_sequence(const std::string& npy, const std::string& png_dir) {
  RM_CHECK(npy.empty() != png_dir.empty(), "a sequence is a .npy or a folder of PNG frames");
  Sequence s;
  Tensor x;
  if (!npy.empty()) {
    x = load_npy(npy);
    RM_CHECK(x.dim() == 3, npy, ": expected [T, H, W], got ", shape_str(x.shape()));
    x = x.dtype() == DType::u8 ? mul(x.to(DType::f32), 1.f / 255.f) : x.to(DType::f32);
  } else {
    std::vector<std::string> files;
    for (auto& e : std::filesystem::directory_iterator(png_dir))
      if (e.path().extension() == ".png") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    std::vector<float> frames;
    for (const auto& f : files) {
      data::GrayImage g = data::read_gray(f);
      data::PretreatResult r = data::pretreat_frame(g.pixels.data(), g.height, g.width);
      if (!r.dropped.empty()) {
        s.dropped.push_back(f + ": " + r.dropped);
        continue;
      }
      for (uint8_t v : r.image) frames.push_back(float(v) / 255.f);
    }
    RM_CHECK(!frames.empty(), png_dir, ": no usable PNG frames");
    x = Tensor::from_vector(frames, {int64_t(frames.size() / 4096), 64, 64});
  }
  const auto [left, cols] = data::model_columns(x.size(2));
  s.frames = x.narrow(2, left, cols).contiguous().unsqueeze(0);
  return s;
}

Tensor embed(LoadedModel& lm, const Tensor& frames, Precision precision, Device device) {
  check_precision(precision, device);
  lm.model->to(device);
  lm.model->eval();
  NoGradGuard ng;
  PrecisionGuard pg(precision);
  return lm.model->forward(frames.to(device)).embedding.squeeze(0);  // [C, P]
}

}  // namespace rmgait::pipeline
