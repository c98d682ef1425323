#include "gait/reverse_mask.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::gait {

MaskStrategy parse_mask_strategy(const std::string& s) {
  if (s == "unit") return MaskStrategy::unit;
  if (s == "row") return MaskStrategy::row;
  if (s == "block") return MaskStrategy::block;
  if (s == "constant") return MaskStrategy::constant;
  RM_FAIL("mask strategy '", s, "': expected unit, row, block or constant");
}

const char* mask_strategy_name(MaskStrategy s) {
  switch (s) {
    case MaskStrategy::unit:
      return "unit";
    case MaskStrategy::row:
      return "row";
    case MaskStrategy::block:
      return "block";
    case MaskStrategy::constant:
      return "constant";
  }
  return "?";
}

namespace {

// [0, 0, .., 1, 1, ..] (i / div), on the host: index_select takes host indices on any device.
Tensor index_range(int64_t n, int64_t div) {
  Tensor t = Tensor::empty({n}, DType::i64);
  for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = i / div;
  return t;
}

Tensor draw_mask(const ReverseMaskConfig& cfg, Generator& gen, int64_t h, int64_t w,
                 Device device) {
  switch (cfg.strategy) {
    case MaskStrategy::unit:
      return bernoulli({h, w}, cfg.p, gen, device);
    case MaskStrategy::row:
      return bernoulli({h, 1}, cfg.p, gen, device).expand({h, w}).contiguous();
    case MaskStrategy::block: {
      const int64_t b = cfg.block_size;
      RM_CHECK(b > 0, "ReverseMask: block_size must be positive, got ", b);
      Tensor cells = bernoulli({(h + b - 1) / b, (w + b - 1) / b}, cfg.p, gen, device);
      return index_select(index_select(cells, 0, index_range(h, b)), 1, index_range(w, b));
    }
    case MaskStrategy::constant: {  // fixed halves: top rows kept, bottom rows reversed
      Tensor m = Tensor::zeros({h, w});
      std::fill(m.data<float>(), m.data<float>() + (h / 2) * w, 1.f);
      return m.to(device);
    }
  }
  RM_FAIL("ReverseMask: unknown mask strategy");
}
}  // namespace

ReverseMask::Weights ReverseMask::draw(int64_t h, int64_t w, Device device) {
  Weights out;
  if (cfg_.reg_prob < 1.f && host_uniform(gen_) >= cfg_.reg_prob) return out;
  out.applied = true;
  out.mask = draw_mask(cfg_, gen_, h, w, device).reshape({1, 1, 1, h, w});
  if (cfg_.variant == RMVariant::scaling) {
    out.alpha = host_uniform(gen_);
    out.beta = host_uniform(gen_);
  }
  // w1 = alpha M + beta (1 - M) = beta + (alpha - beta) M
  out.w1 = add(mul(out.mask, out.alpha - out.beta), out.beta);
  out.w2 = sub(1.f, out.w1);
  return out;
}

Tensor rmfe(nn::Conv3d& conv, const Tensor& x, const ReverseMask::Weights& w, float slope) {
  if (!w.applied) return conv.forward_leaky_relu(x, slope);
  Shape pair_shape = x.shape(), halves = x.shape();
  pair_shape[0] *= 2;
  // [2, 1, 1, 1, H, W]: the pair is one broadcast product [2, N, C, T, H, W] = [X1; X2], written
  // once (no cat copy) and not kept for backward: the conv rebuilds it from x and the weights.
  Tensor w12 = stack({w.w1, w.w2}, 0).detach();
  // Under bf16 the rebuild starts from x's bf16 copy, shared with the block's other convs
  // (engine/ops.h bf16_copy), so x itself need not outlive the forward: bf16(bf16(x) w) where the
  // forward multiplied bf16(x w), as autocast's bf16 activations would (a second rounding, u).
  Tensor pair = mul(x.unsqueeze(0), w12).view(pair_shape);
  Tensor xk = conv_rebuild_source(x, conv.weight);
  Tensor f = conv.forward_leaky_relu(pair, slope, [xk, w12, pair_shape] {
    return mul(xk.to(DType::f32).unsqueeze(0), w12).view(pair_shape);
  });                       // [2N, Co, T', H', W']
  Shape split = f.shape();  // [2, N, Co, T', H', W']
  split[0] = x.size(0);
  split.insert(split.begin(), 2);
  return sum(f.view(split), {0});  // lrelu(W X1) + lrelu(W X2): one pass, no narrow copies
}

}  // namespace rmgait::gait
