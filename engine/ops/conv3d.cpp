// conv3d: shape checks, then the backend's forward / backward-data / backward-weights.
#include <functional>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/flops.h"
#include "engine/ops.h"
#include "engine/ops/layout.h"
#include "engine/precision.h"

namespace rmgait {

Tensor conv3d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv3dParams& p,
              std::function<Tensor()> recompute_x) {
  check_dtype(x, DType::f32, "conv3d", "input");
  check_dtype(w, DType::f32, "conv3d", "weight");
  check_same_device(x, w, "conv3d");
  RM_CHECK(x.dim() == 5 && w.dim() == 5, "conv3d: input ", shape_str(x.shape()), " and weight ",
           shape_str(w.shape()), " must be 5-d: [N, C, T, H, W] and [Co, Ci, kt, kh, kw]");
  RM_CHECK(x.size(1) == w.size(1), "conv3d: input ", shape_str(x.shape()), " has ", x.size(1),
           " channels, weight ", shape_str(w.shape()), " expects ", w.size(1));
  if (bias.defined()) {
    check_dtype(bias, DType::f32, "conv3d", "bias");
    RM_CHECK(bias.dim() == 1 && bias.size(0) == w.size(0), "conv3d: bias ", shape_str(bias.shape()),
             " does not match ", w.size(0), " output channels");
  }
  Shape ys = {x.size(0), w.size(0), 0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    RM_CHECK(p.stride[i] > 0 && p.padding[i] >= 0, "conv3d: bad stride/padding");
    int64_t span = x.size(2 + i) + 2 * p.padding[i] - w.size(2 + i);
    RM_CHECK(span >= 0, "conv3d: kernel ", shape_str(w.shape()), " larger than padded input ",
             shape_str(x.shape()));
    ys[2 + i] = span / p.stride[i] + 1;
  }
  // one pass: 2 flops per (output element, input channel, kernel tap)
  const uint64_t pass_flops = 2 * uint64_t(numel_of(ys)) * uint64_t(w.numel() / w.size(0));
  count_dense_flops(pass_flops);
  RM_CHECK(!p.leaky_relu || p.negative_slope >= 0.f, "conv3d: a fused leaky_relu needs a slope ",
           ">= 0 (its backward reads the output's sign), got ", p.negative_slope);
  Conv3dParams q = p;  // the precision of this call, kept for its backward
  q.bf16 = compute_precision() == Precision::bf16;
  if (q.bf16) check_precision(Precision::bf16, x.device());
  q.winograd = !q.bf16 && conv_algorithm() == ConvAlgorithm::winograd;
  // Layouts (engine/ops/layout.h): a backend that names an output order takes dense tensors as
  // they lie; the output and the input gradient are allocated in the orders it names.
  Backend& be = backend(x.device());
  const bool dense_ok = be.takes_dense_layouts();
  auto packed = [dense_ok](const Tensor& t) {
    return dense_ok && dense_order(t.shape(), t.strides()) ? t.detach() : t.contiguous().detach();
  };
  Tensor xc = packed(x), wc = w.contiguous().detach();
  bool rx = x.requires_grad(), rw = w.requires_grad();
  bool rb = bias.defined() && bias.requires_grad();
  // backward-weights reads x: kept, or rebuilt by recompute_x; nothing when no weight gradient.
  // Under bf16 the kept x is a bf16 copy, which the forward multiplies too: the products see the
  // same bf16 values as from the f32 x (one rounding, the reorders' own), at half the memory;
  // a recomputed x may come in bf16 too. (A backend may run a pass in f32 where that is faster,
  // as the CPU does over 1-2 input channels: it takes the bf16 values as they are.)
  const bool keep_x = (rw || rb) && !recompute_x && needs_grad({x, w, bias});
  if (keep_x && q.bf16) xc = bf16_copy(xc);  // shared with other readers of x
  const Order yo = be.conv3d_output_order(x.shape(), w.shape(), ys, bias.defined(), q);
  Tensor y = empty_in_order(ys, yo, DType::f32, x.device());
  be.conv3d_forward(xc, wc, bias.defined() ? bias.contiguous().detach() : bias, y, q);
  if (!needs_grad({x, w, bias})) return y;
  // A fused leaky_relu keeps the output's sign bits, as leaky_relu itself does.
  Tensor saved_x = keep_x ? xc : Tensor();
  Tensor bits;
  if (q.leaky_relu) {
    bits = Tensor::empty({(y.numel() + 7) / 8}, DType::u8, y.device());
    be.sign_bits(kernel_view(y, yo), bits);  // in y's memory order
  }
  Shape xs = x.shape();
  const Order xo = rx ? be.conv3d_grad_input_order(xs, w.shape(), ys, q) : Order();
  return record("conv3d", y, {x, w, bias}, [=](const Tensor& g) {
    Backend& be = backend(g.device());
    // g is ours to overwrite when nothing else holds it or its storage (autograd's own handle
    // aside), or when it came in another layout than y's and gc is a copy: the fused
    // leaky_relu's backward then runs in place.
    const bool owned = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1;
    Tensor gc = as_order(g, yo), gx, gw, gb;
    if (bits.defined()) {  // through the fused leaky_relu first
      // Under bf16 (no bias gradient, which sums in f32) the result is only ever multiplied in
      // bf16 (or, in a backend's f32 pass, as the bf16 value it is): it is written in bf16 at
      // once, rounded as the conv's reorders would round it.
      const bool half = q.bf16 && !rb;
      Tensor pre = !half && (owned || gc.storage() != g.storage())
                       ? gc
                       : empty_in_order(ys, yo, half ? DType::bf16 : DType::f32, gc.device());
      be.leaky_relu_backward_bits(kernel_view(gc, yo), bits, kernel_view(pre, yo),
                                  q.negative_slope);
      if (pre.storage() == g.storage()) pre.storage()->bump_version();  // written in place
      gc = pre;
    }
    if (rx) {
      gx = empty_in_order(xs, xo, DType::f32, g.device());
      be.conv3d_backward_data(gc, wc, gx, q);
      count_dense_flops(pass_flops);
    }
    if (rw || rb) {
      gw = Tensor::empty(wc.shape(), DType::f32, g.device());
      if (rb) gb = Tensor::empty({wc.size(0)}, DType::f32, g.device());
      Tensor xin = saved_x.defined() ? saved_x : packed(recompute_x());
      RM_CHECK(xin.dtype() == DType::f32 || (q.bf16 && xin.dtype() == DType::bf16),
               "conv3d: the recomputed input is ", dtype_name(xin.dtype()), "; expected f32",
               q.bf16 ? " or bf16" : "");
      RM_CHECK(xin.shape() == xs, "conv3d: the recomputed input ", shape_str(xin.shape()),
               " is not the forward's ", shape_str(xs));
      be.conv3d_backward_weights(xin, gc, gw, gb, q);
      count_dense_flops(pass_flops);
    }
    return std::vector<Tensor>{gx, rw ? gw : Tensor(), gb};
  });
}

}  // namespace rmgait
