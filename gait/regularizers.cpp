#include "gait/regularizers.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::gait {

Tensor drop_block(const Tensor& x, const DropBlockConfig& cfg, Generator& gen,
                  const BatchSlice& slice) {
  RM_CHECK(x.dim() == 5, "drop_block: input ", shape_str(x.shape()), " must be [N, C, T, H, W]");
  const int64_t global = slice.global ? slice.global : x.size(0);
  RM_CHECK(slice.offset >= 0 && slice.offset + x.size(0) <= global, "drop_block: rows [",
           slice.offset, ", ", slice.offset + x.size(0), ") outside a batch of ", global);
  if (cfg.reg_prob < 1.f && host_uniform(gen) >= cfg.reg_prob) return x;
  const int64_t n = global, h = x.size(3), w = x.size(4), b = cfg.block_size;
  RM_CHECK(b >= 1 && b <= std::min(h, w), "drop_block: block_size ", b, " does not fit ",
           shape_str(x.shape()));
  Tensor block;
  {
    NoGradGuard ng;
    float gamma = cfg.drop_prob / float(b * b) * float(h * w) / float((h - b + 1) * (w - b + 1));
    Tensor seeds = bernoulli({n, 1, 1, h, w}, std::min(gamma, 1.f), gen, x.device());
    // grow each seed to a b x b block (centred), as a max pool with stride 1
    Tensor grown = max_pool3d(seeds, {{1, b, b}, {1, 1, 1}, {0, b / 2, b / 2}});
    block = grown.narrow(3, 0, h).narrow(4, 0, w).contiguous();
  }
  auto rows = [&](const Tensor& m) { return m.narrow(0, slice.offset, x.size(0)); };
  if (cfg.scaling) {
    float s = host_uniform(gen);
    return mul(x, rows(add(mul(block, s - 1.f), 1.f)));  // 1 outside, s inside the blocks
  }
  Tensor keep = sub(1.f, block);
  float kept = sum(keep).item();  // over the global batch
  float scale = kept > 0 ? float(keep.numel()) / kept : 0.f;
  return mul(x, rows(mul(keep, scale)));
}

Tensor random_erasing(const Tensor& sils, const RandomErasingConfig& cfg, Generator& gen) {
  RM_CHECK(sils.dim() == 4, "random_erasing: input ", shape_str(sils.shape()),
           " must be [N, T, H, W]");
  Tensor mask = random_erasing_mask(sils.size(0), sils.size(2), sils.size(3), cfg, gen);
  NoGradGuard ng;
  return mul(sils, mask.to(sils.device()));
}

Tensor random_erasing_mask(int64_t n, int64_t h, int64_t w, const RandomErasingConfig& cfg,
                           Generator& gen) {
  Tensor mask = Tensor::ones({n, 1, h, w});
  float* m = mask.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    if (host_uniform(gen) >= cfg.prob) continue;
    for (int attempt = 0; attempt < 100; ++attempt) {  // Zhong et al.'s rejection loop
      float area =
          float(h * w) * (cfg.area_min + (cfg.area_max - cfg.area_min) * host_uniform(gen));
      float aspect = cfg.aspect_min + (1.f / cfg.aspect_min - cfg.aspect_min) * host_uniform(gen);
      int64_t eh = std::lround(std::sqrt(area * aspect)),
              ew = std::lround(std::sqrt(area / aspect));
      if (eh >= h || ew >= w || eh < 1 || ew < 1) continue;
      int64_t y0 = int64_t(host_uniform(gen) * float(h - eh + 1));
      int64_t x0 = int64_t(host_uniform(gen) * float(w - ew + 1));
      for (int64_t y = y0; y < y0 + eh; ++y)
        for (int64_t x = x0; x < x0 + ew; ++x) m[(i * h + y) * w + x] = 0.f;
      break;
    }
  }
  return mask;
}

}  // namespace rmgait::gait
