// mean_pairwise_distance: squared norms and dot products with the engine's own ops, then the
// backend's fused per-element rule (engine/math/distance.h).
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait {

Tensor mean_pairwise_distance(const Tensor& x, const Tensor& y) {
  check_dtype(x, DType::f32, "mean_pairwise_distance", "first operand");
  check_dtype(y, DType::f32, "mean_pairwise_distance", "second operand");
  check_same_device(x, y, "mean_pairwise_distance");
  RM_CHECK(x.dim() == 3 && y.dim() == 3 && x.size(0) == y.size(0) && x.size(2) == y.size(2),
           "mean_pairwise_distance: operands ", shape_str(x.shape()), " and ", shape_str(y.shape()),
           " must be [B, N, C] and [B, M, C] with equal B and C");
  RM_CHECK(x.size(0) > 0, "mean_pairwise_distance: no slices to average over");
  NoGradGuard ng;
  Tensor xc = x.detach().contiguous(), yc = y.detach().contiguous();
  Tensor x2 = sum(mul(xc, xc), {2});        // [B, N]
  Tensor y2 = sum(mul(yc, yc), {2});        // [B, M]
  Tensor xy = matmul(xc, yc, false, true);  // [B, N, M]
  Tensor out = Tensor::empty({x.size(1), y.size(1)}, DType::f32, x.device());
  backend(x.device()).gram_distance_mean(x2, y2, xy, out);
  return out;
}

}  // namespace rmgait
