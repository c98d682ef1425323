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
#include "pipeline/visualize.h"

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
    constexpr int64_t side = data::kFrameSize;
    x = Tensor::from_vector(frames, {int64_t(frames.size()) / (side * side), side, side});
  }
  const auto [left, cols] = data::model_columns(x.size(2));
  s.frames = x.narrow(2, left, cols).contiguous().unsqueeze(0);
  return s;
}

Tensor embed(LoadedModel& lm, const Tensor& frames, Precision precision, Device device,
             ConvAlgorithm algorithm) {
  check_precision(precision, device);
  lm.model->to(device);
  lm.model->eval();
  NoGradGuard ng;
  PrecisionGuard pg(precision);
  ConvAlgorithmGuard ag(algorithm);
  return lm.model->forward(frames.to(device)).embedding.squeeze(0);  // [C, P]
}

Embedding embed_sequence(const SequenceRequest& r) {
  Sequence s = read_sequence(r.npy, r.png_dir);
  LoadedModel lm = load_model(r.checkpoint, r.config);
  return {embed(lm, s.frames, r.precision.value_or(lm.cfg.precision), r.device,
                r.conv_algorithm.value_or(lm.cfg.eval_conv_algorithm)),
          std::move(s.dropped)};
}

std::vector<std::string> visualize_sequence(const SequenceRequest& r, int64_t frame,
                                            const std::string& out_dir, uint64_t seed,
                                            std::vector<std::string>* dropped) {
  Sequence s = read_sequence(r.npy, r.png_dir);
  if (dropped) *dropped = s.dropped;
  LoadedModel lm = load_model(r.checkpoint, r.config);
  return visualize(*lm.model, s.frames, frame >= 0 ? frame : s.frames.size(1) / 2, out_dir, seed);
}

}  // namespace rmgait::pipeline
