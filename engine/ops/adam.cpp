// adam_step: checks -> the backend's fused update (cpu/adam.cpp, cuda/adam.cu) -> versions.
#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait {

void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, int64_t t, const AdamConfig& c) {
  RM_CHECK(t >= 1, "adam_step: step ", t, ": steps count from 1");
  for (const Tensor* x : {&grad, &exp_avg, &exp_avg_sq})
    RM_CHECK(
        x->shape() == param.shape() && x->device() == param.device() && x->dtype() == DType::f32,
        "adam_step: param ", shape_str(param.shape()), " on ", device_name(param.device()),
        " with a tensor of ", shape_str(x->shape()), " ", dtype_name(x->dtype()), " on ",
        device_name(x->device()));
  RM_CHECK(param.dtype() == DType::f32 && param.is_contiguous() && exp_avg.is_contiguous() &&
               exp_avg_sq.is_contiguous(),
           "adam_step: the parameter and its state must be contiguous f32");
  NoGradGuard ng;
  const float bc1 = 1.f - std::pow(c.beta1, float(t));
  const float bc2 = 1.f - std::pow(c.beta2, float(t));
  const AdamScalars s{c.beta1,
                      1.f - c.beta1,
                      c.beta2,
                      1.f - c.beta2,
                      c.eps,
                      c.weight_decay,
                      c.decoupled,
                      1.f - c.lr * c.weight_decay,
                      1.f / std::sqrt(bc2),
                      c.lr / bc1};
  backend(param.device()).adam_update(param, grad.contiguous(), exp_avg, exp_avg_sq, s);
  // in-place writes: caches keyed on a tensor's version (reordered weights) refresh
  param.storage()->bump_version();
  exp_avg.storage()->bump_version();
  exp_avg_sq.storage()->bump_version();
}

}  // namespace rmgait
