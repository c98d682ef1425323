#include "nn/optim.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::nn {

void Optimizer::zero_grad() {
  for (auto& [n, p] : params_) p.zero_grad();
}

Tensor& Optimizer::slot(const std::string& param, const std::string& name, const Tensor& like) {
  auto it = state_.find(param + "." + name);
  if (it == state_.end())
    it = state_.emplace(param + "." + name, Tensor::zeros(like.shape(), DType::f32, like.device()))
             .first;
  return it->second;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> sd = state_;
  Tensor s = Tensor::empty({}, DType::i64);
  s.data<int64_t>()[0] = steps_;
  sd["__step__"] = s;
  return sd;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& sd) {
  auto it = sd.find("__step__");
  RM_CHECK(it != sd.end() && it->second.dtype() == DType::i64 && it->second.numel() == 1,
           "optimizer state: missing or malformed key '__step__'");
  std::map<std::string, Tensor> next;
  for (auto& [k, v] : sd) {
    if (k == "__step__") continue;
    bool found = false;
    for (auto& [n, p] : params_) {
      if (k.rfind(n + ".", 0) != 0 || k.find('.', n.size() + 1) != std::string::npos) continue;
      RM_CHECK(v.shape() == p.shape(), "optimizer state: '", k, "' has shape ",
               shape_str(v.shape()), " but parameter '", n, "' is ", shape_str(p.shape()));
      next[k] = v.to(p.device()).clone();
      found = true;
    }
    RM_CHECK(found, "optimizer state: key '", k, "' names no parameter of this model");
  }
  state_ = std::move(next);
  steps_ = it->second.to(Device::cpu).data<int64_t>()[0];
}

Adam::Adam(NamedTensors params, float lr, float wd, float b1, float b2, float e, bool dec)
    : Optimizer(std::move(params)), weight_decay(wd), beta1(b1), beta2(b2), eps(e), decoupled(dec) {
  lr_ = lr;
}

void Adam::step() {
  NoGradGuard ng;
  ++steps_;
  const AdamConfig c{lr_, beta1, beta2, eps, weight_decay, decoupled};
  for (auto& [name, p] : params_) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    RM_CHECK(p.is_contiguous(), "Adam: parameter '", name, "' is not contiguous");
    Tensor& m = slot(name, "exp_avg", p);
    Tensor& v = slot(name, "exp_avg_sq", p);
    adam_step(p, g, m, v, steps_, c);  // one pass, in place
  }
}

SGD::SGD(NamedTensors params, float lr, float mom, float wd)
    : Optimizer(std::move(params)), momentum(mom), weight_decay(wd) {
  lr_ = lr;
}

void SGD::step() {
  NoGradGuard ng;
  ++steps_;
  for (auto& [name, p] : params_) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (weight_decay != 0.f) g = add(g, mul(p, weight_decay));
    if (momentum != 0.f) {
      bool fresh = !state_.count(name + ".momentum_buffer");
      Tensor& buf = slot(name, "momentum_buffer", p);
      buf.copy_(fresh ? g : add(mul(buf, momentum), g));
      g = buf;
    }
    p.copy_(sub(p, mul(g, lr_)));
  }
}

float MultiStepLR::lr_at(int64_t iteration) const {
  RM_CHECK(gammas.empty() || gammas.size() == milestones.size(), "MultiStepLR: ", gammas.size(),
           " gammas for ", milestones.size(), " milestones");
  float lr = base_lr;
  for (size_t i = 0; i < milestones.size(); ++i)
    if (iteration >= milestones[i]) lr *= gammas.empty() ? gamma : gammas[i];
  return lr;
}

float clip_grad_norm(const std::vector<Tensor>& params, float max_norm) {
  NoGradGuard ng;
  double total = 0;
  for (const Tensor& p : params)
    if (p.grad().defined()) total += sum(mul(p.grad(), p.grad())).item();
  float norm = float(std::sqrt(total));
  float coef = max_norm / (norm + 1e-6f);
  if (coef < 1.f)
    for (const Tensor& p : params)
      if (p.grad().defined()) p.grad().copy_(mul(p.grad(), coef));
  return norm;
}

}  // namespace rmgait::nn
