#pragma once
// Optimizers with PyTorch's update rules, LR schedules and gradient clipping. State is keyed by
// parameter name so that checkpoints can hold it.
#include <map>
#include <string>
#include <vector>

#include "nn/module.h"

namespace rmgait::nn {

class Optimizer {
 public:
  explicit Optimizer(NamedTensors params) : params_(std::move(params)) {}
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  float lr() const { return lr_; }
  void set_lr(float lr) { lr_ = lr; }
  int64_t steps() const { return steps_; }
  // "<param>.<slot>" -> tensor, plus "__step__" (i64 scalar).
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& sd);

 protected:
  Tensor& slot(const std::string& param, const std::string& name, const Tensor& like);
  NamedTensors params_;
  std::map<std::string, Tensor> state_;
  float lr_ = 1e-3f;
  int64_t steps_ = 0;
};

// Adam: weight decay as L2 added to the gradient (PyTorch Adam), or decoupled (AdamW).
class Adam : public Optimizer {
 public:
  Adam(NamedTensors params, float lr = 1e-3f, float weight_decay = 0.f, float beta1 = 0.9f,
       float beta2 = 0.999f, float eps = 1e-8f, bool decoupled = false);
  void step() override;
  float weight_decay, beta1, beta2, eps;
  bool decoupled;
};

// SGD with momentum (dampening 0), L2 weight decay.
class SGD : public Optimizer {
 public:
  SGD(NamedTensors params, float lr, float momentum = 0.f, float weight_decay = 0.f);
  void step() override;
  float momentum, weight_decay;
};

// lr = base * gamma^(number of milestones <= iteration); with `gammas` (one per milestone), each
// milestone passed multiplies by its own factor (OU-MVLP: 1e-4 -> 1e-5 -> 5e-6).
struct MultiStepLR {
  float base_lr;
  std::vector<int64_t> milestones;
  float gamma = 0.1f;
  std::vector<float> gammas;
  float lr_at(int64_t iteration) const;
};

// Scales all gradients so that their global L2 norm is at most max_norm; returns the norm
// before clipping.
float clip_grad_norm(const std::vector<Tensor>& params, float max_norm);

}  // namespace rmgait::nn
