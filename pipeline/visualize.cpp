#include "pipeline/visualize.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "data/image_io.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::pipeline {

namespace {

namespace fs = std::filesystem;
constexpr int kScale = 4;  // output pixels per input pixel

// A map [H, W] in f32 on the host.
struct Map {
  int64_t h = 0, w = 0;
  std::vector<float> v;
};

// Channel mean of activation [1, C, T, H, W] at time t.
Map channel_mean(const Tensor& a, int64_t t) {
  Tensor m = mean(a.narrow(2, std::min(t, a.size(2) - 1), 1), {0, 1, 2}).to(Device::cpu);
  return {m.size(0), m.size(1), m.contiguous().to_vector()};
}

// Dark blue -> red -> yellow for t in [0, 1].
void heat_rgb(float t, uint8_t* rgb) {
  t = std::clamp(t, 0.f, 1.f);
  rgb[0] = uint8_t(255 * std::min(1.f, 2 * t));
  rgb[1] = uint8_t(255 * std::max(0.f, 2 * t - 1));
  rgb[2] = uint8_t(255 * std::max(0.f, 0.5f - t));
}

// The map normalised to its range, upscaled by an integer factor to about 44 * kScale columns,
// blended with the silhouette where the two have the same shape.
void write_heatmap(const std::string& path, const Map& m, const Map* sil) {
  const auto [lo, hi] = std::minmax_element(m.v.begin(), m.v.end());
  const float range = *hi > *lo ? *hi - *lo : 1.f;
  const int s = int(std::max<int64_t>(1, 44 * kScale / m.w));
  const int W = int(m.w) * s, H = int(m.h) * s;
  const bool over = sil && sil->h == m.h && sil->w == m.w;
  std::vector<uint8_t> rgb(size_t(W) * H * 3);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const size_t i = size_t(y / s) * m.w + x / s;
      uint8_t* p = &rgb[(size_t(y) * W + x) * 3];
      heat_rgb((m.v[i] - *lo) / range, p);
      if (over)  // 60% activation, 40% silhouette
        for (int c = 0; c < 3; ++c) p[c] = uint8_t(0.6f * p[c] + 0.4f * 255.f * sil->v[i]);
    }
  data::write_png_rgb(path, rgb.data(), W, H);
}

void write_gray(const std::string& path, const Map& m) {
  const int s = kScale, W = int(m.w) * s, H = int(m.h) * s;
  std::vector<uint8_t> g(size_t(W) * H);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      g[size_t(y) * W + x] =
          uint8_t(255.f * std::clamp(m.v[size_t(y / s) * m.w + x / s], 0.f, 1.f));
  data::write_png(path, g.data(), W, H);
}

}  // namespace

std::vector<std::string> visualize(gait::ReverseMaskModel& model, const Tensor& sils, int64_t frame,
                                   const std::string& out_dir, uint64_t seed) {
  RM_CHECK(sils.dim() == 4 && sils.size(0) == 1, "visualize: one sequence [1, T, H, W], got ",
           shape_str(sils.shape()));
  RM_CHECK(frame >= 0 && frame < sils.size(1), "visualize: --frame ", frame, " outside 0..",
           sils.size(1) - 1);
  fs::create_directories(out_dir);
  std::vector<std::string> files;
  auto out = [&](const std::string& name) {
    files.push_back((fs::path(out_dir) / name).string());
    return files.back();
  };
  NoGradGuard ng;
  const bool was_training = model.is_training();
  model.eval();
  const Device dev = model.parameters().front().device();
  Tensor x = sils.to(dev).unsqueeze(1);  // [1, 1, T, H, W]
  if (x.size(2) < 3) x = cat(std::vector<Tensor>(x.size(2) == 1 ? 3 : 2, x), 2);
  const Map sil = channel_mean(x, frame);
  write_gray(out("input.png"), sil);
  // the stages, as the model's forward runs them
  const Tensor stem = model.stem->forward(x), lta = model.lta->forward(stem);
  const Tensor a0 = model.a0->forward(lta), a1 = model.a1->forward(model.pool0->forward(a0));
  const Tensor b2 = model.b2->forward(a1);
  const int64_t t = frame / 3;  // LTA pools time by 3
  write_heatmap(out("stage_stem.png"), channel_mean(stem, frame), &sil);
  const std::pair<const char*, const Tensor*> stages[] = {
      {"stage_lta.png", &lta}, {"stage_A0.png", &a0}, {"stage_A1.png", &a1}, {"stage_B2.png", &b2}};
  for (auto [name, a] : stages) write_heatmap(out(name), channel_mean(*a, t), &sil);
  // RMFE's two branches at A0 under each mask strategy (Inception-like: the dropping branch)
  nn::Conv3d* conv = nullptr;
  gait::ReverseMaskConfig cfg;
  if (auto* p = dynamic_cast<gait::PlainRMBlock*>(model.a0.get()))
    conv = p->rm_conv3d->conv.get(), cfg = p->rm.config();
  else if (auto* q = dynamic_cast<gait::InceptionRMBlock*>(model.a0.get()))
    conv = q->drop_conv3d->conv.get(), cfg = q->drop_rm.config();
  if (conv) {
    cfg.reg_prob = 1.f;
    for (const char* name : {"unit", "row", "block", "constant"}) {
      cfg.strategy = gait::parse_mask_strategy(name);
      gait::ReverseMask rm(cfg, seed);
      const gait::ReverseMask::Weights w = rm.draw(lta.size(3), lta.size(4), dev);
      const std::string stem_name = std::string("rm_") + name;
      const Tensor f1 = conv->forward_leaky_relu(mul(lta, w.w1));
      const Tensor f2 = conv->forward_leaky_relu(mul(lta, w.w2));
      write_gray(out(stem_name + "_mask.png"), channel_mean(w.mask, 0));
      write_heatmap(out(stem_name + "_branch1.png"), channel_mean(f1, t), &sil);
      write_heatmap(out(stem_name + "_branch2.png"), channel_mean(f2, t), &sil);
    }
  }
  model.train(was_training);
  return files;
}

}  // namespace rmgait::pipeline
