#pragma once
// The heads after the last block: temporal max pooling, GeM horizontal pooling, SeparateFCs.
#include "nn/module.h"

namespace rmgait::gait {

// x [N, C, T, H, W] -> [N, C, H, W]: max over frames.
Tensor temporal_max(const Tensor& x);

// GeM over W per row: [N, C, H, W] -> [N, C, H]; p learnable ("p", [1], starts at 6.5).
class GeMHPP : public nn::Module {
 public:
  explicit GeMHPP(float p = 6.5f, float eps = 1e-6f);
  Tensor forward(const Tensor& x);
  Tensor p;
  float eps;
};

// out[n, o, p] = sum_i x[n, i, p] * W[p, i, o]; "fc_bin" [P, in, out].
class SeparateFCs : public nn::Module {
 public:
  SeparateFCs(int64_t parts, int64_t in, int64_t out);
  Tensor forward(const Tensor& x);  // x [N, in, P] -> [N, out, P]
  Tensor fc_bin;
};

}  // namespace rmgait::gait
