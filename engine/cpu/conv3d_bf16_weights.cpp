#include "engine/cpu/conv3d_bf16_weights.h"

#include <cstring>
#include <string>
#include <type_traits>

#include "engine/cpu/conv3d_cache.h"
#include "engine/cpu/dnnl_context.h"
#include "engine/cpu/frame_stacks.h"
#include "engine/math/bf16.h"

namespace rmgait::cpu {

using dnnl::memory;
using tag = memory::format_tag;

namespace {

constexpr int64_t kMaxStackTaps = 8;
constexpr int64_t kStackBytes = int64_t(32) << 20;  // x' per call
constexpr int64_t kTile = 16;                       // pixels and channels per transpose tile

// Ci >= 64: with fewer input channels the 2D form's gain does not pay for building the stacks
// (bench_conv3d N=8 bf16: [8, 32, 10, 64, 44] -> 64 takes 7% longer than the 3D form;
// 64 -> 128 and 128 -> 128 on [32, 22] frames take 19-25% less).
constexpr int64_t kMinStackChannels = 64;

bool has_bf16_form(const Shape& x, const Shape& w, bool bias, const Conv3dParams& p) {
  return p.bf16 && !bias && stackable(w, p, kMaxStackTaps) && x[1] % 16 == 0 &&
         x[1] >= kMinStackChannels && w[0] % 16 == 0;
}

int64_t group_of(const Frames& g) {
  return sample_group(g.n, g.to * g.hw * g.kt * g.ci * int64_t(sizeof(uint16_t)), kStackBytes);
}

// out[((i - i0) * to + f) * hw + j][dt * ci + c] = bf16(x[i][c][f + dt - pt][j]), zero where that
// frame is outside [0, t), for samples i0 .. i0 + samples: plain x [n, ci, t, hw] (f32 or bf16)
// -> channels-last stacks [samples * to, hw, kt * ci], transposed in 16 x 16 tiles.
template <class In>
void stack_frames_bf16(const In* x, int64_t i0, int64_t samples, const Frames& g, uint16_t* out) {
  const int64_t row = g.kt * g.ci, tiles = (g.hw + kTile - 1) / kTile;
  const int64_t blocks = samples * g.to * g.kt * tiles;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t tile = b % tiles, dt = b / tiles % g.kt, f = b / (tiles * g.kt) % g.to,
                  i = b / (tiles * g.kt * g.to);
    const int64_t j0 = tile * kTile, j1 = std::min(g.hw, j0 + kTile);
    uint16_t* dst = out + (i * g.to + f) * g.hw * row + dt * g.ci;  // pixel j at j * row
    const int64_t s = f + dt - g.pt;
    if (s < 0 || s >= g.t) {
      for (int64_t j = j0; j < j1; ++j) std::fill_n(dst + j * row, g.ci, uint16_t(0));
      continue;
    }
    const In* src = x + ((i0 + i) * g.ci * g.t + s) * g.hw;  // channel c at c * t * hw
    const int64_t channel_stride = g.t * g.hw;
    for (int64_t c0 = 0; c0 < g.ci; c0 += kTile)
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t c = c0; c < c0 + kTile; ++c)
          dst[j * row + c] = bf16_bits_from_float(float(src[c * channel_stride + j]));
  }
}

// The same stacks from channels-last x (memory [n, t, hw, ci]): each pixel's ci values copied as
// one row.
template <class In>
void stack_frames_bf16_cl(const In* x, int64_t i0, int64_t samples, const Frames& g,
                          uint16_t* out) {
  const int64_t row = g.kt * g.ci, blocks = samples * g.to * g.kt;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t dt = b % g.kt, f = b / g.kt % g.to, i = b / (g.kt * g.to);
    uint16_t* dst = out + (i * g.to + f) * g.hw * row + dt * g.ci;  // pixel j at j * row
    const int64_t s = f + dt - g.pt;
    if (s < 0 || s >= g.t) {
      for (int64_t j = 0; j < g.hw; ++j) std::fill_n(dst + j * row, g.ci, uint16_t(0));
      continue;
    }
    const In* src = x + ((i0 + i) * g.t + s) * g.hw * g.ci;
    for (int64_t j = 0; j < g.hw; ++j) {
      if constexpr (std::is_same_v<In, BFloat16>) {
        std::memcpy(dst + j * row, src + j * g.ci, size_t(g.ci) * sizeof(uint16_t));
      } else {
        for (int64_t c = 0; c < g.ci; ++c)
          dst[j * row + c] = bf16_bits_from_float(float(src[j * g.ci + c]));
      }
    }
  }
}

// The 2D backward-weights primitive for group_of() samples a call.
struct StackedWeights {
  bool ok = false;
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
};

StackedWeights* stacked_entry(const Shape& xs, const Shape& ws, const Conv3dParams& p) {
  static PrimitiveCache<StackedWeights> cache;
  const std::string key = shape_str(xs) + shape_str(ws) + "/" + std::to_string(p.padding[0]);
  StackedWeights& e = cache.get(key, [&] {
    const Frames g = frames_of(xs, ws, p);
    const int64_t frames = group_of(g) * g.to;
    const auto bf16 = memory::data_type::bf16, f32 = memory::data_type::f32;
    const memory::dims y_dims{frames, g.co, g.h, g.w};
    const memory::desc src({frames, g.kt * g.ci, g.h, g.w}, bf16, tag::nhwc),
        dst(y_dims, bf16, tag::nhwc), wd({g.co, g.kt * g.ci, 3, 3}, bf16, tag::any),
        gwd({g.co, g.kt * g.ci, 3, 3}, f32, tag::any);
    const memory::dims strides{1, 1}, pad{1, 1};
    StackedWeights en;
    try {
      const ConvFwdPd hint = conv_forward_pd(
          src, wd, memory::desc(), memory::desc(y_dims, f32, tag::any), strides, pad, pad);
      en.pd = conv_backward_weights_pd(src, gwd, memory::desc(), dst, strides, pad, pad, hint);
    } catch (const dnnl::error&) {  // no bf16 kernel for these layouts here: the 3D path runs
      return en;
    }
    // measured faster on AMX only: elsewhere (AVX512-BF16 alone) the 3D path runs
    if (std::string(en.pd.impl_info_str()).find("amx") == std::string::npos) return en;
    en.prim = dnnl::convolution_backward_weights(en.pd);
    en.ok = true;
    return en;
  });
  return e.ok ? &e : nullptr;
}

}  // namespace

bool bf16_conv3d_backward_weights(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                  const Tensor& gbias, const Conv3dParams& p) {
  if (!has_bf16_form(x.shape(), gw.shape(), gbias.defined(), p)) return false;
  bool done = false;
  DNNL_CHECK("conv3d_backward_weights (bf16 frame stacks)", shapes3(x, gy, gw), {
    StackedWeights* e = stacked_entry(x.shape(), gw.shape(), p);
    if (!e) return false;
    const Frames g = frames_of(x.shape(), gw.shape(), p);
    const int64_t group = group_of(g);
    // gy [n, co, to, h, w] as bf16 ndhwc: the bytes of [n * to, h, w, co], a group's frames
    // `group * to * hw * co` elements apart
    Tensor gys;
    const memory gym = ReorderedGrad::get().take(
        gy, memory::desc({g.n, g.co, g.to, g.h, g.w}, memory::data_type::bf16, tag::acdeb), gys);
    const auto* gy_bits = static_cast<const uint16_t*>(gym.get_data_handle());
    Tensor xs = scratch_for(e->pd.src_desc());
    auto* stacks = static_cast<uint16_t*>(xs.raw_data());
    Tensor gwp = Tensor::empty({g.co, g.kt * g.ci, 3, 3}), part;
    // x row-major or channels-last; in any other layout, packed first
    const Shape cl_strides = strides_in_order(x.shape(), {0, 2, 3, 4, 1});
    bool cl = !x.is_contiguous();
    for (int64_t d = 0; d < 5; ++d) cl = cl && (x.size(d) == 1 || x.strides()[d] == cl_strides[d]);
    const Tensor xp = cl || x.is_contiguous() ? x : x.contiguous();
    for (int64_t i = 0; i < g.n; i += group) {
      if (xp.dtype() == DType::bf16)
        cl ? stack_frames_bf16_cl(xp.data<BFloat16>(), i, group, g, stacks)
           : stack_frames_bf16(xp.data<BFloat16>(), i, group, g, stacks);
      else
        cl ? stack_frames_bf16_cl(xp.data<float>(), i, group, g, stacks)
           : stack_frames_bf16(xp.data<float>(), i, group, g, stacks);
      if (i > 0 && !part.defined()) part = Tensor::empty(gwp.shape());
      into_plain(e->pd.diff_weights_desc(), i == 0 ? gwp : part, [&](memory& gwm) {
        memory src = wrap(e->pd.src_desc(), xs);
        memory dst(e->pd.diff_dst_desc(), dnnl_engine(),
                   const_cast<uint16_t*>(gy_bits + i * g.to * g.hw * g.co));
        e->prim.execute(
            dnnl_stream(),
            {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_DIFF_WEIGHTS, gwm}});
      });
      dnnl_stream().wait();
      if (i > 0) add_into(gwp, part);
    }
    unstack_weights(gwp.data<float>(), g.co, g.ci, g.kt, gw.data<float>());
    done = true;
  });
  return done;
}

}  // namespace rmgait::cpu
