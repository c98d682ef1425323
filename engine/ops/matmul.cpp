// matmul with batch broadcasting and transposes; backward by the usual identities.
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/flops.h"
#include "engine/ops.h"
#include "engine/precision.h"

namespace rmgait {

namespace {
// Lays out x [..., R, C] as contiguous [B or 1, R, C] for the batch shape `batch`.
Tensor as_batched(const Tensor& x, const Shape& batch) {
  Shape tail(x.shape().end() - 2, x.shape().end());
  bool broadcast = true;  // all of x's batch dims are 1: pass one matrix and let it broadcast
  for (int64_t i = 0; i < x.dim() - 2; ++i) broadcast &= x.size(i) == 1;
  if (broadcast) return x.detach().contiguous().reshape({1, tail[0], tail[1]});
  Shape full = batch;
  full.insert(full.end(), tail.begin(), tail.end());
  return x.detach().expand(full).contiguous().reshape({numel_of(batch), tail[0], tail[1]});
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  check_dtype(a, DType::f32, "matmul", "first operand");
  check_dtype(b, DType::f32, "matmul", "second operand");
  check_same_device(a, b, "matmul");
  RM_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: operands ", shape_str(a.shape()), " and ",
           shape_str(b.shape()), " need at least 2 dims");
  int64_t m = ta ? a.size(-1) : a.size(-2), k = ta ? a.size(-2) : a.size(-1);
  int64_t kb = tb ? b.size(-1) : b.size(-2), n = tb ? b.size(-2) : b.size(-1);
  RM_CHECK(k == kb, "matmul: inner sizes differ: ", shape_str(a.shape()), (ta ? "^T" : ""), " x ",
           shape_str(b.shape()), (tb ? "^T" : ""));
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  Tensor a3 = as_batched(a, batch), b3 = as_batched(b, batch);
  Tensor c = Tensor::empty({numel_of(batch), m, n}, DType::f32, a.device());
  const Precision prec = compute_precision();  // kept for the backward products
  if (prec == Precision::bf16) check_precision(prec, a.device());
  backend(a.device()).matmul(a3, b3, c, ta, tb, prec == Precision::bf16);
  count_dense_flops(2 * uint64_t(numel_of(batch)) * uint64_t(m) * uint64_t(n) * uint64_t(k));
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = c.view(out_shape);
  Tensor ad = a.detach(), bd = b.detach();
  bool ra = a.requires_grad(), rb = b.requires_grad();
  return record("matmul", out, {a, b}, [=](const Tensor& g) {
    PrecisionGuard pg(prec);
    Tensor ga, gb;  // C = X Y with X = op(A), Y = op(B): dX = dC Y^T, dY = X^T dC
    if (ra) ga = sum_to(ta ? matmul(bd, g, tb, true) : matmul(g, bd, false, !tb), ad.shape());
    if (rb) gb = sum_to(tb ? matmul(g, ad, true, ta) : matmul(ad, g, !ta, false), bd.shape());
    return std::vector<Tensor>{ga, gb};
  });
}

}  // namespace rmgait
