// conv3d on oneDNN: format_tag::any lets oneDNN pick blocked layouts; inputs are reordered in,
// outputs reordered back to NCDHW. Primitive descriptors, primitives and reordered weights (for
// forward and for backward-data) are cached per shape (weights keyed by storage id and version,
// so they are reordered once per optimizer step, and eval reuses them). bf16 (Conv3dParams):
// the multiplied operands are bf16 in the blocked layouts (the reorders convert), results and
// gradients f32; x and gy may come in bf16 already. Backward-data of a stride-1 conv runs as a
// forward conv with flipped weights (BwdData); backward-weights reuses the gradient that
// backward-data reordered just before it (ReorderedGrad). Under Conv3dParams::winograd, convs of
// the form engine/cpu/conv3d_winograd.h names run there instead; whatever the algorithm, bf16
// backward-weights of the form engine/cpu/conv3d_bf16_weights.h names runs over frame stacks.
// bf16 forward and backward-weights passes over one or two input channels run in f32 (as_run).
// Tensors may come in any dense layout (wrap_plain describes them as they lie); under bf16 the op
// allocates outputs and input gradients channels-last (conv3d_output_order), the layout the
// bf16 kernels write, so no reorder runs there.
#include "engine/cpu/conv3d_bf16_weights.h"
#include "engine/cpu/conv3d_cache.h"
#include "engine/cpu/conv3d_winograd.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dnnl_context.h"

namespace rmgait::cpu {

using dnnl::memory;
using tag = memory::format_tag;

namespace {

struct ConvGeometry {
  memory::dims strides, pad_l, pad_r;
};

ConvGeometry geometry(const Shape& x, const Shape& w, const Shape& y, const Conv3dParams& p) {
  ConvGeometry g;
  for (int i = 0; i < 3; ++i) {
    g.strides.push_back(p.stride[i]);
    g.pad_l.push_back(p.padding[i]);
    // exact right padding so that oneDNN's size rule gives y
    g.pad_r.push_back((y[2 + i] - 1) * p.stride[i] + w[2 + i] - x[2 + i] - p.padding[i]);
  }
  return g;
}

std::string conv_key(const Shape& x, const Shape& w, const Shape& y, bool bias,
                     const Conv3dParams& p) {
  return shape_str(x) + shape_str(w) + shape_str(y) + (bias ? "b" : "") + (p.bf16 ? "h" : "") +
         (p.leaky_relu ? "L" + std::to_string(p.negative_slope) : "") +
         std::to_string(p.stride[0]) + "," + std::to_string(p.stride[1]) + "," +
         std::to_string(p.stride[2]) + "/" + std::to_string(p.padding[0]) + "," +
         std::to_string(p.padding[1]) + "," + std::to_string(p.padding[2]);
}

// A bf16 forward or backward-weights pass over one or two input channels runs in f32: oneDNN
// 2.6's AMX kernels fill their tiles with 32 channels a row, so one channel wastes most of each
// product, and the f32 kernels take a fifth of the time (an AMX Xeon, 2 threads, bench_conv3d 4
// 5 f32|bf16 1,30,64,44,32: forward 7.6 / 37.0 ms, backward-weights 6.7 / 37.8 ms; with 2
// channels 11.5 / 33.7 and 8.3 / 39.3; with 4, f32's backward-weights is already 2x slower
// than bf16's). The models' first layer, on one silhouette channel, is such a conv. The input
// is multiplied as it comes: the bf16 copy a training step keeps, or the f32 x of an inference.
// Backward-data keeps bf16 (29.8 ms against f32's 77.4).
constexpr int64_t kMaxF32Channels = 2;

Conv3dParams as_run(const Shape& w, const Conv3dParams& p) {
  Conv3dParams q = p;
  if (q.bf16 && w[1] <= kMaxF32Channels) q.bf16 = false;
  return q;
}

// The Winograd kernels read row-major tensors only.
Tensor packed(const Tensor& t) {
  return t.is_contiguous() ? t : t.contiguous();
}

memory::desc any_desc(const Shape& s, bool bf16 = false) {
  return memory::desc(to_dims(s), bf16 ? memory::data_type::bf16 : memory::data_type::f32,
                      tag::any);
}

struct Fwd {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  WeightCache weights;
};

PrimitiveCache<Fwd>& fwd_cache() {
  static PrimitiveCache<Fwd> c;
  return c;
}

Fwd& forward_entry(const Shape& x, const Shape& w, const Shape& y, bool bias,
                   const Conv3dParams& p) {
  return fwd_cache().get(conv_key(x, w, y, bias, p), [&] {
    ConvGeometry g = geometry(x, w, y, p);
    dnnl::primitive_attr attr;
    if (p.leaky_relu) {  // y = max(conv, 0) + slope * min(conv, 0), in the conv's epilogue
      dnnl::post_ops ops;
      append_leaky_relu(ops, p.negative_slope);
      attr.set_post_ops(ops);
    }
    Fwd e;
    e.pd = conv_forward_pd(
        any_desc(x, p.bf16), any_desc(w, p.bf16),
        bias ? memory::desc({w[0]}, memory::data_type::f32, tag::a) : memory::desc(), any_desc(y),
        g.strides, g.pad_l, g.pad_r, attr);
    e.prim = dnnl::convolution_forward(e.pd);
    return e;
  });
}

}  // namespace

// Under bf16 every conv's output is channels-last, the layout the bf16 kernels write: where a
// pass runs in f32 (as_run) or oneDNN picks a blocked layout, the reorder out of it costs the
// same into channels-last as into row-major, and the neighbouring bf16 convs then read and
// write their tensors as they lie.
std::vector<int64_t> CpuBackend::conv3d_output_order(const Shape& x, const Shape& w, const Shape& y,
                                                     bool bias, const Conv3dParams& p) {
  (void)x, (void)w, (void)bias;
  if (!p.bf16 || y.size() != 5) return {};  // f32: blocked layouts, or Winograd's row-major
  return {0, 2, 3, 4, 1};
}

void CpuBackend::conv3d_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                const Tensor& y, const Conv3dParams& params) {
  const Conv3dParams p = as_run(w.shape(), params);
  if (p.winograd && y.is_contiguous() && winograd_conv3d_forward(packed(x), w, bias, y, p)) return;
  DNNL_CHECK("conv3d_forward", shapes3(x, w, y), {
    Fwd& e = forward_entry(x.shape(), w.shape(), y.shape(), bias.defined(), p);
    std::lock_guard<std::mutex> lock(*e.weights.mu);
    Tensor xs;
    memory xm = to_layout(wrap_plain(x), e.pd.src_desc(), xs);
    memory wm = e.weights.get(w, e.pd.weights_desc());
    into_plain(e.pd.dst_desc(), y, [&](memory& ym) {
      std::unordered_map<int, memory> args{
          {DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}};
      if (bias.defined()) args[DNNL_ARG_BIAS] = wrap(plain_desc(bias.shape()), bias);
      e.prim.execute(dnnl_stream(), args);
    });
    dnnl_stream().wait();
  });
}

namespace {
// Backward-data of a stride-1 conv is itself a forward conv: gx = conv(gy, w') with
//   w'[ci, co, a, b, c] = w[co, ci, Ka-1-a, Kb-1-b, Kc-1-c], padding K-1-pad on each side,
// and oneDNN 2.6's forward kernels run it 4-11% faster than its backward-data ones on the
// paper's shapes (jit:avx512_core, 2 threads). Other strides, or padding beyond K-1, take
// oneDNN's backward-data primitive.
struct BwdData {
  bool as_forward = false;
  dnnl::convolution_forward::primitive_desc fpd;
  dnnl::convolution_forward fprim;
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
  WeightCache weights;  // of w, or of `flipped` when as_forward
  Tensor flipped;       // w' for the weights `flipped_from` (under mu)
  Stamp flipped_from;

  memory::desc gy_desc() const { return as_forward ? fpd.src_desc() : pd.diff_dst_desc(); }
  memory::desc gx_desc() const { return as_forward ? fpd.dst_desc() : pd.diff_src_desc(); }
  memory::desc w_desc() const { return as_forward ? fpd.weights_desc() : pd.weights_desc(); }
  // The weights in the layout the primitive reads. Call under *weights.mu.
  memory weights_for(const Tensor& w) {
    if (!as_forward) return weights.get(w, w_desc());
    if (!flipped.defined() || flipped_from != Stamp::of(w)) {
      flipped = flip_transposed(w);  // a new storage: `weights` reorders it afresh
      flipped_from = Stamp::of(w);
    }
    return weights.get(flipped, w_desc());
  }
  // [Co, Ci, Ka, Kb, Kc] -> [Ci, Co, Ka, Kb, Kc], each kernel reversed in all three dims.
  static Tensor flip_transposed(const Tensor& w) {
    const int64_t co_n = w.size(0), ci_n = w.size(1), taps = w.numel() / (co_n * ci_n);
    Tensor out = Tensor::empty({ci_n, co_n, w.size(2), w.size(3), w.size(4)});
    const float* src = w.data<float>();
    float* dst = out.data<float>();
    for (int64_t co = 0; co < co_n; ++co)
      for (int64_t ci = 0; ci < ci_n; ++ci)
        for (int64_t k = 0; k < taps; ++k)  // tap (a, b, c) <- (Ka-1-a, Kb-1-b, Kc-1-c)
          dst[(ci * co_n + co) * taps + k] = src[(co * ci_n + ci) * taps + (taps - 1 - k)];
    return out;
  }
};
struct BwdWeights {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
};

}  // namespace

namespace {
BwdData& bwd_data_entry(const Shape& xs, const Shape& ws, const Shape& ys, const Conv3dParams& p) {
  static PrimitiveCache<BwdData> cache;
  Conv3dParams q = p;
  q.leaky_relu = false;  // the backward passes are those of the conv itself
  return cache.get(conv_key(xs, ws, ys, false, q), [&] {
    ConvGeometry g = geometry(xs, ws, ys, p);
    BwdData b;
    memory::dims flip_l, flip_r;  // the forward form's padding: K-1-pad
    b.as_forward = true;
    for (int i = 0; i < 3; ++i) {
      flip_l.push_back(ws[2 + i] - 1 - g.pad_l[size_t(i)]);
      flip_r.push_back(ws[2 + i] - 1 - g.pad_r[size_t(i)]);
      b.as_forward = b.as_forward && p.stride[i] == 1 && flip_l.back() >= 0 && flip_r.back() >= 0;
    }
    if (b.as_forward) {
      Shape wts = {ws[1], ws[0], ws[2], ws[3], ws[4]};
      b.fpd = conv_forward_pd(any_desc(ys, p.bf16), any_desc(wts, p.bf16), memory::desc(),
                              any_desc(xs), g.strides, flip_l, flip_r);
      b.fprim = dnnl::convolution_forward(b.fpd);
      return b;
    }
    Fwd& f = forward_entry(xs, ws, ys, false, q);
    b.pd = conv_backward_data_pd(any_desc(xs), any_desc(ws, p.bf16), any_desc(ys, p.bf16),
                                 g.strides, g.pad_l, g.pad_r, f.pd);
    b.prim = dnnl::convolution_backward_data(b.pd);
    return b;
  });
}
}  // namespace

std::vector<int64_t> CpuBackend::conv3d_grad_input_order(const Shape& x, const Shape& w,
                                                         const Shape& y, const Conv3dParams& p) {
  return conv3d_output_order(y, w, x, false, p);  // as the forward's output, for the same reason
}

void CpuBackend::conv3d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                      const Conv3dParams& p) {
  if (p.winograd && gx.is_contiguous() && winograd_conv3d_backward_data(packed(gy), w, gx, p))
    return;
  DNNL_CHECK("conv3d_backward_data", shapes3(gy, w, gx), {
    BwdData& e = bwd_data_entry(gx.shape(), w.shape(), gy.shape(), p);
    std::lock_guard<std::mutex> lock(*e.weights.mu);
    Tensor s1;
    memory gym = to_layout(wrap_plain(gy), e.gy_desc(), s1);
    memory wm = e.weights_for(w);
    into_plain(e.gx_desc(), gx, [&](memory& gxm) {
      if (e.as_forward)
        e.fprim.execute(dnnl_stream(),
                        {{DNNL_ARG_SRC, gym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, gxm}});
      else
        e.prim.execute(
            dnnl_stream(),
            {{DNNL_ARG_DIFF_DST, gym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, gxm}});
    });
    dnnl_stream().wait();
    if (s1.defined()) ReorderedGrad::get().put(gy, e.gy_desc(), s1);
  });
}

void CpuBackend::conv3d_backward_weights(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                         const Tensor& gbias, const Conv3dParams& params) {
  const Conv3dParams p = as_run(gw.shape(), params);
  if (p.winograd && winograd_conv3d_backward_weights(packed(x), packed(gy), gw, gbias, p)) return;
  if (bf16_conv3d_backward_weights(x, gy, gw, gbias, p)) return;
  static PrimitiveCache<BwdWeights> cache;
  DNNL_CHECK("conv3d_backward_weights", shapes3(x, gy, gw), {
    const Shape &xs = x.shape(), &ws = gw.shape(), &ys = gy.shape();
    bool bias = gbias.defined();
    RM_CHECK(!bias || gy.dtype() == DType::f32, "conv3d_backward_weights ", shapes3(x, gy, gw),
             ": the bias gradient sums an f32 gradient, got ", dtype_name(gy.dtype()));
    Conv3dParams q = p;
    q.leaky_relu = false;
    Fwd& f = forward_entry(xs, ws, ys, bias, q);
    BwdWeights& e = cache.get(conv_key(xs, ws, ys, bias, q), [&] {
      ConvGeometry g = geometry(xs, ws, ys, p);
      memory::desc bmd =
          bias ? memory::desc({ws[0]}, memory::data_type::f32, tag::a) : memory::desc();
      BwdWeights b;
      b.pd = conv_backward_weights_pd(any_desc(xs, p.bf16), any_desc(ws), bmd, any_desc(ys, p.bf16),
                                      g.strides, g.pad_l, g.pad_r, f.pd);
      b.prim = dnnl::convolution_backward_weights(b.pd);
      return b;
    });
    Tensor s1, s2;
    memory xm = to_layout(wrap_plain(x), e.pd.src_desc(), s1);
    memory gym = ReorderedGrad::get().take(gy, e.pd.diff_dst_desc(), s2);
    into_plain(e.pd.diff_weights_desc(), gw, [&](memory& gwm) {
      std::unordered_map<int, memory> args{
          {DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, gym}, {DNNL_ARG_DIFF_WEIGHTS, gwm}};
      if (bias) args[DNNL_ARG_DIFF_BIAS] = wrap(plain_desc(gbias.shape()), gbias);
      e.prim.execute(dnnl_stream(), args);
    });
    dnnl_stream().wait();
  });
}

}  // namespace rmgait::cpu
