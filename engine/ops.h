#pragma once
// The differentiable ops of the engine. Each records its backward with autograd when an input
// requires a gradient and grad mode is on. Shapes use NCDHW for 3-D data: x [N, C, T, H, W].
#include <functional>
#include <vector>

#include "engine/backend.h"
#include "engine/tensor.h"

namespace rmgait {

// ---- elementwise (f32, NumPy broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);  // d/db = a^b ln a (0 where a <= 0)
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, float s);
Tensor mul(const Tensor& a, float s);
Tensor sub(float s, const Tensor& a);  // s - a
Tensor div(float s, const Tensor& a);  // s / a
Tensor pow(const Tensor& a, float exponent);
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor clamp(const Tensor& x, float lo, float hi);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, float negative_slope = 0.01f);
// Comparisons give f32 0/1 masks, outside the graph.
Tensor compare(BinaryOp op, const Tensor& a, const Tensor& b);
// out = cond ? a : b (cond: u8 or f32, non-zero = true; broadcasting). Differentiable in a, b.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

inline Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
inline Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
inline Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
inline Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
inline Tensor operator+(const Tensor& a, float s) {
  return add(a, s);
}
inline Tensor operator-(const Tensor& a, float s) {
  return add(a, -s);
}
inline Tensor operator*(const Tensor& a, float s) {
  return mul(a, s);
}
inline Tensor operator/(const Tensor& a, float s) {
  return mul(a, 1.f / s);
}
inline Tensor operator*(float s, const Tensor& a) {
  return mul(a, s);
}
inline Tensor operator-(const Tensor& a) {
  return neg(a);
}

// ---- reductions ----
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor sum(const Tensor& x);  // total, shape []
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
// max/min over dims; the gradient goes to the first extreme element of each reduced slice.
Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor max(const Tensor& x);
Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // i64
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);  // i64
// Generalized mean over the last dim: (mean(max(x, eps)^p))^(1/p), p a learnable f32 [1] tensor
// on x's device. [..., L] -> [...].
Tensor gem_pool(const Tensor& x, const Tensor& p, float eps = 1e-6f);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- shape ----
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);  // equal sizes

// Picks entries along `dim` by an i64 index [M]: out.size(dim) = M. Backward adds into the picked
// positions (repeated indices accumulate). The index may be on the CPU whatever x's device: it is
// range-checked on the host, so a host index saves a device read-back.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);

// ---- dense ----
// [..., M, K] x [..., K, N] -> [..., M, N]; batch dims broadcast; ta/tb transpose the last two.
Tensor matmul(const Tensor& a, const Tensor& b, bool ta = false, bool tb = false);
// x [N, Ci, T, H, W], w [Co, Ci, kt, kh, kw], bias [Co] or undefined. With recompute_x, autograd
// does not keep x for the weight gradient but calls recompute_x() in backward to rebuild it: for
// inputs that are a cheap function of tensors kept anyway (ReverseMask's masked pair).
// Under Precision::bf16 the kept x is a bf16 copy (bf16_copy), and recompute_x may return one.
Tensor conv3d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(),
              const Conv3dParams& p = {}, std::function<Tensor()> recompute_x = {});
// A detached bf16 copy of x in its layout when x is dense (else packed row-major), rounded to
// nearest even (engine/math/bf16.h), one per value of x: every caller gets the same copy while
// any holds it, so the convs and recompute closures that keep one activation for bf16 products
// keep it once, at half its f32 size.
Tensor bf16_copy(const Tensor& x);
// What a conv's recompute_x closure should hold of a tensor x it rebuilds the conv's input from:
// bf16_copy(x) when the conv will want its input in bf16 (Precision::bf16 and a weight gradient
// to take), else x detached.
Tensor conv_rebuild_source(const Tensor& x, const Tensor& weight);
Tensor max_pool3d(const Tensor& x, const Pool3dParams& p);
// x [B, N, C], y [B, M, C] -> [N, M]: the Euclidean distance of x[b, n] and y[b, m] averaged
// over the B slices, through the Gram matrix (sqrt(max(0, |x|^2 + |y|^2 - 2 x.y)), slices summed
// in double). Outside the graph (evaluation).
Tensor mean_pairwise_distance(const Tensor& x, const Tensor& y);
// x [N, C, *] (2-D to 5-D). Training: normalises with the batch statistics and updates the
// running statistics in place PyTorch's way (running = (1 - m) running + m stat, unbiased
// variance). Eval: normalises with the running statistics. weight/bias may be undefined.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  float momentum = 0.1f, float eps = 1e-5f);

// ---- optimizer ----
struct AdamConfig {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.f;  // L2 added to the gradient, or with `decoupled` AdamW's decay
  bool decoupled = false;
};
// One fused Adam (AdamW) step of `param` in place, outside the graph, from its gradient `grad`
// and its state exp_avg and exp_avg_sq (zeros before the first step, updated in place), at step
// `t` (1 for the first): one pass over the elements (engine/math/adam.h). All of one shape and
// device; param and the state contiguous.
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, int64_t t, const AdamConfig& config);
}  // namespace rmgait
