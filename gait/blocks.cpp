#include "gait/blocks.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::gait {

BasicConv3d::BasicConv3d(int64_t in, int64_t out, nn::Int3 k, nn::Int3 s, nn::Int3 p) {
  conv = register_module("conv3d", std::make_shared<nn::Conv3d>(in, out, k, s, p, false));
}

PlainBlock::PlainBlock(int64_t in, int64_t out) {
  conv3d = register_module("conv3d", std::make_shared<BasicConv3d>(in, out));
}

Tensor PlainBlock::forward(const Tensor& x) {
  return conv3d->conv->forward_leaky_relu(x);
}

GLConv::GLConv(int64_t in, int64_t out, int halving, bool last_stage)
    : halving_(halving), last_(last_stage) {
  global_conv3d = register_module("global_conv3d", std::make_shared<BasicConv3d>(in, out));
  local_conv3d = register_module("local_conv3d", std::make_shared<BasicConv3d>(in, out));
}

// lrelu(cat(G, L)) = cat(lrelu(G), lrelu(L)): both cases take the fused conv + lrelu outputs.
Tensor GLConv::forward(const Tensor& x) {
  Tensor g = global_conv3d->conv->forward_leaky_relu(x);
  Tensor l;
  if (halving_ == 0) {
    l = local_conv3d->conv->forward_leaky_relu(x);
  } else {
    const int64_t h = x.size(3), split = h >> halving_;
    RM_CHECK(split > 0, "GLConv: height ", h, " is too small for halving ", halving_);
    if (h % split == 0) {
      l = local_strips(x, h / split);
    } else {  // torch.split: equal strips, a shorter last one
      std::vector<Tensor> strips;
      for (int64_t s = 0; s < h; s += split)
        strips.push_back(
            local_conv3d->conv->forward_leaky_relu(x.narrow(3, s, std::min(split, h - s))));
      l = cat(strips, 3);
    }
  }
  return last_ ? cat({g, l}, 3) : add(g, l);
}

// The local conv on s equal strips at once: the strips become batch entries
// [s N, C, T, H / s, W] (each padded on its own, as separate convs would be), one conv, then back.
// The strip batch is rebuilt from x for the weight gradient instead of being kept. The copies
// keep the layout they are given: channels-last activations (the CPU's bf16 convs write them)
// give channels-last strips, moved as whole rows of channels instead of transposed.
Tensor GLConv::local_strips(const Tensor& x, int64_t s) {
  const int64_t n = x.size(0), c = x.size(1), t = x.size(2), hs = x.size(3) / s, w = x.size(4);
  auto channels_last = [](const Tensor& v) {
    return !v.is_contiguous() && v.permute({0, 2, 3, 4, 1}).is_contiguous();
  };
  auto to_strips = [=](const Tensor& v) {
    if (channels_last(v))  // [n, t, H, w, c] -> [s, n, t, hs, w, c], back to [s n, c, t, hs, w]
      return v.permute({0, 2, 3, 4, 1})
          .view({n, t, s, hs, w, c})
          .permute({2, 0, 1, 3, 4, 5})
          .contiguous()
          .view({s * n, t, hs, w, c})
          .permute({0, 4, 1, 2, 3});
    return v.view({n, c, t, s, hs, w})
        .permute({3, 0, 1, 2, 4, 5})
        .contiguous()
        .view({s * n, c, t, hs, w});
  };
  nn::Conv3d& conv = *local_conv3d->conv;
  // Under bf16 the strips are rebuilt from x's bf16 copy, which the global conv keeps anyway
  // (engine/ops.h bf16_copy): the same bf16 values, and x itself need not outlive the forward.
  Tensor xk = conv_rebuild_source(x, conv.weight);
  Tensor y =
      conv.forward_leaky_relu(to_strips(x), 0.01f, [xk, to_strips] { return to_strips(xk); });
  const int64_t co = y.size(1), ty = y.size(2), hy = y.size(3), wy = y.size(4);
  if (channels_last(y))  // [s n, ty, hy, wy, co] -> [n, ty, s, hy, wy, co] -> [n, co, ty, s hy, wy]
    return y.permute({0, 2, 3, 4, 1})
        .view({s, n, ty, hy, wy, co})
        .permute({1, 2, 0, 3, 4, 5})
        .contiguous()
        .view({n, ty, s * hy, wy, co})
        .permute({0, 4, 1, 2, 3});
  return y.view({s, n, co, ty, hy, wy})
      .permute({1, 2, 3, 0, 4, 5})
      .contiguous()
      .view({n, co, ty, s * hy, wy});
}

PlainRMBlock::PlainRMBlock(int64_t in, int64_t out, ReverseMaskConfig cfg, uint64_t seed)
    : rm(cfg, seed) {
  rm_conv3d = register_module("rm_conv3d", std::make_shared<BasicConv3d>(in, out));
}

Tensor PlainRMBlock::forward(const Tensor& x) {
  ReverseMask::Weights w;
  if (is_training()) w = rm.draw(x.size(3), x.size(4), x.device());
  return rmfe(*rm_conv3d->conv, x, w);
}

InceptionRMBlock::InceptionRMBlock(int64_t in, int64_t out, ReverseMaskConfig drop_cfg,
                                   ReverseMaskConfig scale_cfg, bool last_stage, uint64_t seed)
    : drop_rm(drop_cfg, seed), scale_rm(scale_cfg, seed + 1), last_(last_stage) {
  global_conv3d = register_module("global_conv3d", std::make_shared<BasicConv3d>(in, out));
  drop_conv3d = register_module("drop_conv3d", std::make_shared<BasicConv3d>(in, out));
  scale_conv3d = register_module("scale_conv3d", std::make_shared<BasicConv3d>(in, out));
}

Tensor InceptionRMBlock::forward(const Tensor& x) {
  ReverseMask::Weights wd, ws;
  if (is_training()) {
    wd = drop_rm.draw(x.size(3), x.size(4), x.device());
    ws = scale_rm.draw(x.size(3), x.size(4), x.device());
  }
  Tensor fg = global_conv3d->conv->forward_leaky_relu(x);
  Tensor fd = rmfe(*drop_conv3d->conv, x, wd);
  Tensor fs = rmfe(*scale_conv3d->conv, x, ws);
  return last_ ? cat({fg, fd, fs}, 3) : add(add(fg, fd), fs);
}

DropBlockConv::DropBlockConv(int64_t in, int64_t out, DropBlockConfig c, uint64_t seed)
    : cfg(c), gen(seed) {
  conv3d = register_module("conv3d", std::make_shared<BasicConv3d>(in, out));
}

Tensor DropBlockConv::forward(const Tensor& x) {
  return conv3d->conv->forward_leaky_relu(is_training() ? drop_block(x, cfg, gen, slice) : x);
}

}  // namespace rmgait::gait
