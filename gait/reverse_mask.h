#pragma once
// The ReverseMask layer (paper Eq. 1-7) and RMFE (Eq. 8).
// M ~ Bernoulli(p) over (h, w), shared by the channels and frames of a feature map and by the
// whole batch; R = 1 - M; X1 = alpha x M + beta x R, X2 = (1 - alpha) x M + (1 - beta) x R.
// Dropping: alpha = 1, beta = 0. Scaling: alpha, beta ~ U(0, 1) per forward call.
#include <string>
#include <utility>

#include "engine/random.h"
#include "nn/layers.h"

namespace rmgait::gait {

enum class MaskStrategy { unit, row, block, constant };
enum class RMVariant { dropping, scaling };

MaskStrategy parse_mask_strategy(const std::string& s);  // "unit", "row", "block", "constant"
const char* mask_strategy_name(MaskStrategy s);

struct ReverseMaskConfig {
  RMVariant variant = RMVariant::dropping;
  float p = 0.5f;        // probability that a mask element is 1
  float reg_prob = 1.f;  // probability that a training forward call applies RM at all
  MaskStrategy strategy = MaskStrategy::unit;
  int64_t block_size = 4;  // side of the square cells of the `block` strategy
};

// Draws the masks. No parameters; owns its generator so that runs are reproducible.
class ReverseMask {
 public:
  ReverseMask(ReverseMaskConfig cfg, uint64_t seed) : cfg_(cfg), gen_(seed) {}
  // The per-pixel weights of X1 and X2 (X1 = x * w1, X2 = x * w2, w2 = 1 - w1), each
  // [1, 1, 1, H, W], or nothing when RM is not applied this call (eval, or reg_prob).
  struct Weights {
    bool applied = false;
    Tensor w1, w2;
    float alpha = 1.f, beta = 0.f;
    Tensor mask;  // M [1, 1, 1, H, W]
  };
  Weights draw(int64_t h, int64_t w, Device device);
  const ReverseMaskConfig& config() const { return cfg_; }
  Generator& generator() { return gen_; }

 private:
  ReverseMaskConfig cfg_;
  Generator gen_;
};

// F = lrelu(W X1) + lrelu(W X2), both convs as one call on the pair stacked along N.
// Without the inner lrelu the two terms would sum to W x and the regularizer would vanish.
Tensor rmfe(nn::Conv3d& conv, const Tensor& x, const ReverseMask::Weights& w, float slope = 0.01f);

}  // namespace rmgait::gait
