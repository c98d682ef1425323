#include "gait/heads.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::gait {

Tensor temporal_max(const Tensor& x) {
  RM_CHECK(x.dim() == 5, "temporal_max: input ", shape_str(x.shape()), " must be [N, C, T, H, W]");
  return max(x, {2});
}

GeMHPP::GeMHPP(float p0, float eps_) : eps(eps_) {
  p = register_parameter("p", Tensor::full({1}, p0));
}

Tensor GeMHPP::forward(const Tensor& x) {
  RM_CHECK(x.dim() == 4, "GeMHPP: input ", shape_str(x.shape()), " must be [N, C, H, W]");
  return gem_pool(x, p, eps);  // over W: [N, C, H]
}

SeparateFCs::SeparateFCs(int64_t parts, int64_t in, int64_t out) {
  fc_bin = register_parameter("fc_bin", Tensor::zeros({parts, in, out}));
}

Tensor SeparateFCs::forward(const Tensor& x) {
  RM_CHECK(x.dim() == 3 && x.size(1) == fc_bin.size(1) && x.size(2) == fc_bin.size(0),
           "SeparateFCs: input ", shape_str(x.shape()), " does not match fc_bin ",
           shape_str(fc_bin.shape()), " (expected [N, ", fc_bin.size(1), ", ", fc_bin.size(0),
           "])");
  return matmul(x.permute({2, 0, 1}), fc_bin).permute({1, 2, 0});
}

}  // namespace rmgait::gait
