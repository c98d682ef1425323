#include "engine/cpu/conv3d_winograd.h"

#include <algorithm>

#include "engine/cpu/conv3d_cache.h"
#include "engine/cpu/dnnl_context.h"
#include "engine/cpu/frame_stacks.h"

namespace rmgait::cpu {

using dnnl::memory;

namespace {

constexpr int64_t kLanes = 16;   // nChw16c's channel block
constexpr int64_t kMaxTaps = 8;  // temporal taps (KT) handled

bool has_form(const Shape& x, const Shape& w, const Conv3dParams& p) {
  return p.winograd && !p.bf16 && stackable(w, p, kMaxTaps) && x[1] % kLanes == 0 &&
         w[0] % kLanes == 0;
}

// out[(i * to + f) * kt + dt][cb][hw][lane] = in[i][cb * 16 + lane][f + dt - pt][hw], zero where
// that frame is outside [0, t): in [n, c, t, hw] -> frame stacks [n * to][kt * c / 16][hw][16].
void stack_frames(const float* in, int64_t n, int64_t c, int64_t t, int64_t hw, int64_t kt,
                  int64_t pt, int64_t to, float* out) {
  const int64_t cbs = c / kLanes, blocks = n * to * kt * cbs;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t cb = b % cbs, dt = b / cbs % kt, f = b / (cbs * kt) % to, i = b / (cbs * kt * to);
    float* dst = out + b * hw * kLanes;
    const int64_t src_t = f + dt - pt;
    if (src_t < 0 || src_t >= t) {
      std::fill(dst, dst + hw * kLanes, 0.f);
      continue;
    }
    const float* src = in + ((i * c + cb * kLanes) * t + src_t) * hw;  // lane l at l * t * hw
    const int64_t lane_stride = t * hw;
    for (int64_t j = 0; j < hw; ++j)
      for (int64_t l = 0; l < kLanes; ++l) dst[j * kLanes + l] = src[l * lane_stride + j];
  }
}

// The adjoint of stack_frames: out[i][c][s][hw] = sum of in's entries that stack_frames would
// fill from it (the frames f = s - dt + pt in [0, to)). With kt = 1, pt = 0 it moves a
// [n * t][c / 16][hw][16] result back to [n, c, t, hw], through leaky_relu when slope >= 0.
void unstack_frames(const float* in, int64_t n, int64_t c, int64_t t, int64_t hw, int64_t kt,
                    int64_t pt, int64_t to, float* out, float slope = -1.f) {
  const int64_t cbs = c / kLanes, blocks = n * cbs * t;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t s = b % t, cb = b / t % cbs, i = b / (t * cbs);
    const float* src[kMaxTaps];
    int64_t k = 0;
    for (int64_t dt = 0; dt < kt; ++dt) {
      const int64_t f = s - dt + pt;
      if (f >= 0 && f < to) src[k++] = in + (((i * to + f) * kt + dt) * cbs + cb) * hw * kLanes;
    }
    float* dst = out + ((i * c + cb * kLanes) * t + s) * hw;  // lane l at l * t * hw
    const int64_t lane_stride = t * hw;
    for (int64_t j = 0; j < hw; ++j)
      for (int64_t l = 0; l < kLanes; ++l) {
        float v = 0.f;
        for (int64_t q = 0; q < k; ++q) v += src[q][j * kLanes + l];
        if (slope >= 0.f && v < 0.f) v *= slope;
        dst[l * lane_stride + j] = v;
      }
  }
}

memory::desc frame_stacks(int64_t frames, int64_t c, const Frames& g) {
  return memory::desc({frames, c, g.h, g.w}, memory::data_type::f32, memory::format_tag::nChw16c);
}

// Samples per oneDNN call: at most 64 MiB of frame stacks for one pass (x' and y', or their
// gradients), or one sample.
constexpr int64_t kChunkBytes = int64_t(64) << 20;
int64_t chunk_of(const Frames& g) {
  const int64_t per_sample = g.to * (g.kt * g.ci + g.co) * g.hw * int64_t(sizeof(float));
  return sample_group(g.n, per_sample, kChunkBytes);
}

// Primitives of one conv shape, for chunk_of() samples a call (all three passes, or none when
// oneDNN has no Winograd kernel for it), and w' in the forward's and backward-data's layouts.
struct WinogradConv {
  bool ok = false;
  ConvFwdPd fpd;
  dnnl::convolution_forward fprim;
  dnnl::convolution_backward_data::primitive_desc dpd;
  dnnl::convolution_backward_data dprim;
  dnnl::convolution_backward_weights::primitive_desc wpd;
  dnnl::convolution_backward_weights wprim;
  std::unique_ptr<std::mutex> mu = std::make_unique<std::mutex>();  // guards the rest
  Tensor stacked_w;
  Stamp stacked_from;
  WeightCache fwd_w, bwd_w;

  memory weights(const Tensor& w, const Frames& g, bool for_forward) {
    if (!stacked_w.defined() || stacked_from != Stamp::of(w)) {
      stacked_w = Tensor::empty({g.co, g.kt * g.ci, 3, 3});  // a new storage: both caches refresh
      stack_weights(w.data<float>(), g.co, g.ci, g.kt, stacked_w.data<float>());
      stacked_from = Stamp::of(w);
    }
    WeightCache& c = for_forward ? fwd_w : bwd_w;
    return c.get(stacked_w, for_forward ? fpd.weights_desc() : dpd.weights_desc());
  }
};

WinogradConv* entry_for(const Shape& xs, const Shape& ws, bool bias, const Conv3dParams& p) {
  if (!has_form(xs, ws, p)) return nullptr;
  static PrimitiveCache<WinogradConv> cache;
  const std::string key =
      shape_str(xs) + shape_str(ws) + (bias ? "b" : "") + "/" + std::to_string(p.padding[0]);
  WinogradConv& e = cache.get(key, [&] {
    const Frames g = frames_of(xs, ws, p);
    const int64_t frames = chunk_of(g) * g.to;
    const memory::desc src = frame_stacks(frames, g.kt * g.ci, g),
                       dst = frame_stacks(frames, g.co, g);
    const memory::desc wd({g.co, g.kt * g.ci, 3, 3}, memory::data_type::f32,
                          memory::format_tag::any);
    const memory::desc bd =
        bias ? memory::desc({g.co}, memory::data_type::f32, memory::format_tag::a) : memory::desc();
    const memory::dims strides{1, 1}, pad{1, 1};
    const auto wino = dnnl::algorithm::convolution_winograd;
    WinogradConv en;
    try {
      en.fpd = conv_forward_pd(src, wd, bd, dst, strides, pad, pad, dnnl::primitive_attr(), wino);
      en.dpd = conv_backward_data_pd(src, wd, dst, strides, pad, pad, en.fpd, wino);
      en.wpd = conv_backward_weights_pd(src, wd, bd, dst, strides, pad, pad, en.fpd, wino);
    } catch (const dnnl::error&) {  // no Winograd kernel here (e.g. no AVX-512): direct runs
      return en;
    }
    en.fprim = dnnl::convolution_forward(en.fpd);
    en.dprim = dnnl::convolution_backward_data(en.dpd);
    en.wprim = dnnl::convolution_backward_weights(en.wpd);
    en.ok = true;
    return en;
  });
  return e.ok ? &e : nullptr;
}

}  // namespace

bool winograd_conv3d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                             const Conv3dParams& p) {
  bool done = false;
  DNNL_CHECK("conv3d_forward (winograd)", shapes3(x, w, y), {
    WinogradConv* e = entry_for(x.shape(), w.shape(), bias.defined(), p);
    if (!e) return false;
    const Frames g = frames_of(x.shape(), w.shape(), p);
    const int64_t c = chunk_of(g);
    std::lock_guard<std::mutex> lock(*e->mu);
    Tensor xs = scratch_for(e->fpd.src_desc()), ys = scratch_for(e->fpd.dst_desc());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(e->fpd.src_desc(), xs)},
                                         {DNNL_ARG_WEIGHTS, e->weights(w, g, true)},
                                         {DNNL_ARG_DST, wrap(e->fpd.dst_desc(), ys)}};
    if (bias.defined()) args[DNNL_ARG_BIAS] = wrap_plain(bias);
    for (int64_t i = 0; i < g.n; i += c) {
      stack_frames(x.data<float>() + i * g.ci * g.t * g.hw, c, g.ci, g.t, g.hw, g.kt, g.pt, g.to,
                   xs.data<float>());
      e->fprim.execute(dnnl_stream(), args);
      dnnl_stream().wait();
      unstack_frames(ys.data<float>(), c, g.co, g.to, g.hw, 1, 0, g.to,
                     y.data<float>() + i * g.co * g.to * g.hw,
                     p.leaky_relu ? p.negative_slope : -1.f);
    }
    done = true;
  });
  return done;
}

bool winograd_conv3d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                   const Conv3dParams& p) {
  bool done = false;
  DNNL_CHECK("conv3d_backward_data (winograd)", shapes3(gy, w, gx), {
    WinogradConv* e = entry_for(gx.shape(), w.shape(), false, p);
    if (!e) return false;
    const Frames g = frames_of(gx.shape(), w.shape(), p);
    const int64_t c = chunk_of(g);
    std::lock_guard<std::mutex> lock(*e->mu);
    Tensor gys = scratch_for(e->dpd.diff_dst_desc()), gxs = scratch_for(e->dpd.diff_src_desc());
    std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, wrap(e->dpd.diff_dst_desc(), gys)},
                                         {DNNL_ARG_WEIGHTS, e->weights(w, g, false)},
                                         {DNNL_ARG_DIFF_SRC, wrap(e->dpd.diff_src_desc(), gxs)}};
    for (int64_t i = 0; i < g.n; i += c) {
      stack_frames(gy.data<float>() + i * g.co * g.to * g.hw, c, g.co, g.to, g.hw, 1, 0, g.to,
                   gys.data<float>());
      e->dprim.execute(dnnl_stream(), args);
      dnnl_stream().wait();
      unstack_frames(gxs.data<float>(), c, g.ci, g.t, g.hw, g.kt, g.pt, g.to,
                     gx.data<float>() + i * g.ci * g.t * g.hw);
    }
    done = true;
  });
  return done;
}

bool winograd_conv3d_backward_weights(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                      const Tensor& gbias, const Conv3dParams& p) {
  bool done = false;
  DNNL_CHECK("conv3d_backward_weights (winograd)", shapes3(x, gy, gw), {
    WinogradConv* e = entry_for(x.shape(), gw.shape(), gbias.defined(), p);
    if (!e) return false;
    const Frames g = frames_of(x.shape(), gw.shape(), p);
    const int64_t c = chunk_of(g);
    Tensor xs = scratch_for(e->wpd.src_desc()), gys = scratch_for(e->wpd.diff_dst_desc());
    // w' summed over the sample groups: the first writes gwp and gbias, the others part and
    // part_bias, added in
    Tensor gwp = Tensor::empty({g.co, g.kt * g.ci, 3, 3}), part, part_bias;
    for (int64_t i = 0; i < g.n; i += c) {
      stack_frames(x.data<float>() + i * g.ci * g.t * g.hw, c, g.ci, g.t, g.hw, g.kt, g.pt, g.to,
                   xs.data<float>());
      stack_frames(gy.data<float>() + i * g.co * g.to * g.hw, c, g.co, g.to, g.hw, 1, 0, g.to,
                   gys.data<float>());
      if (i > 0 && !part.defined()) {
        part = Tensor::empty(gwp.shape());
        if (gbias.defined()) part_bias = Tensor::empty(gbias.shape());
      }
      into_plain(e->wpd.diff_weights_desc(), i == 0 ? gwp : part, [&](memory& gwm) {
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(e->wpd.src_desc(), xs)},
                                             {DNNL_ARG_DIFF_DST, wrap(e->wpd.diff_dst_desc(), gys)},
                                             {DNNL_ARG_DIFF_WEIGHTS, gwm}};
        if (gbias.defined()) args[DNNL_ARG_DIFF_BIAS] = wrap_plain(i == 0 ? gbias : part_bias);
        e->wprim.execute(dnnl_stream(), args);
      });
      dnnl_stream().wait();
      if (i == 0) continue;
      add_into(gwp, part);
      if (gbias.defined()) add_into(gbias, part_bias);
    }
    unstack_weights(gwp.data<float>(), g.co, g.ci, g.kt, gw.data<float>());
    done = true;
  });
  return done;
}

}  // namespace rmgait::cpu
