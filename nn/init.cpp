#include "nn/init.h"

#include <cmath>

#include "engine/error.h"

namespace rmgait::nn {

void xavier_uniform_(const Tensor& t, Generator& gen) {
  RM_CHECK(t.dim() >= 2, "xavier_uniform_: needs at least 2 dims, got ", shape_str(t.shape()));
  int64_t receptive = 1;
  for (int64_t i = 2; i < t.dim(); ++i) receptive *= t.size(i);
  double fan_in = double(t.size(1) * receptive), fan_out = double(t.size(0) * receptive);
  float bound = float(std::sqrt(6.0 / (fan_in + fan_out)));
  uniform_(t, -bound, bound, gen);
}

void normal_(const Tensor& t, float mean, float std, Generator& gen) {
  t.copy_(randn(t.shape(), gen, mean, std, t.device()));
}

void uniform_(const Tensor& t, float lo, float hi, Generator& gen) {
  t.copy_(rand(t.shape(), gen, lo, hi, t.device()));
}

}  // namespace rmgait::nn
