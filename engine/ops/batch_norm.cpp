// batch_norm: training uses batch statistics and updates the running ones PyTorch's way;
// eval uses the running statistics (its backward is composed from elementwise ops).
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait {

namespace {
void check_param(const Tensor& t, int64_t c, const char* what) {
  if (!t.defined()) return;
  check_dtype(t, DType::f32, "batch_norm", what);
  RM_CHECK(t.dim() == 1 && t.size(0) == c, "batch_norm: ", what, " ", shape_str(t.shape()),
           " does not match ", c, " channels");
}
}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  float momentum, float eps) {
  check_dtype(x, DType::f32, "batch_norm");
  RM_CHECK(x.dim() >= 2 && x.dim() <= 5, "batch_norm: input ", shape_str(x.shape()),
           " must be [N, C], [N, C, L], [N, C, H, W] or [N, C, T, H, W]");
  const int64_t c = x.size(1);
  check_param(weight, c, "weight");
  check_param(bias, c, "bias");
  check_param(running_mean, c, "running_mean");
  check_param(running_var, c, "running_var");
  Device dev = x.device();
  Backend& be = backend(dev);
  Tensor w = weight.defined() ? weight.detach() : Tensor::ones({c}, DType::f32, dev);
  Tensor b = bias.defined() ? bias.detach() : Tensor::zeros({c}, DType::f32, dev);
  Tensor xc = x.contiguous().detach();
  Tensor y = Tensor::empty(x.shape(), DType::f32, dev);
  bool rx = x.requires_grad(), rw = weight.defined() && weight.requires_grad();
  bool rb = bias.defined() && bias.requires_grad();

  if (!training) {
    RM_CHECK(running_mean.defined() && running_var.defined(),
             "batch_norm: eval mode needs running_mean and running_var");
    Tensor rm = running_mean.detach(), rv = running_var.detach();
    be.batch_norm_forward_eval(xc, w, b, rm, rv, y, eps);
    Shape bshape(x.dim(), 1);
    bshape[1] = c;
    return record("batch_norm_eval", y, {x, weight, bias}, [=](const Tensor& g) {
      Tensor inv_std = pow(add(rv, eps), -0.5f).reshape(bshape);
      Tensor xhat = mul(sub(xc, rm.reshape(bshape)), inv_std);
      std::vector<int64_t> dims;
      for (int64_t i = 0; i < g.dim(); ++i)
        if (i != 1) dims.push_back(i);
      return std::vector<Tensor>{rx ? mul(g, mul(w.reshape(bshape), inv_std)) : Tensor(),
                                 rw ? sum(mul(g, xhat), dims) : Tensor(),
                                 rb ? sum(g, dims) : Tensor()};
    });
  }

  const int64_t count = x.numel() / c;
  RM_CHECK(count > 1, "batch_norm: training needs more than one value per channel, got input ",
           shape_str(x.shape()));
  Tensor mean = Tensor::empty({c}, DType::f32, dev), var = Tensor::empty({c}, DType::f32, dev);
  be.batch_norm_forward_train(xc, w, b, y, mean, var, eps);
  if (running_mean.defined() && running_var.defined()) {
    NoGradGuard no_grad;
    running_mean.copy_(add(mul(running_mean, 1.f - momentum), mul(mean, momentum)));
    float unbias = float(count) / float(count - 1);
    running_var.copy_(add(mul(running_var, 1.f - momentum), mul(var, momentum * unbias)));
  }
  return record("batch_norm", y, {x, weight, bias}, [=](const Tensor& g) {
    Tensor gx = Tensor::empty(xc.shape(), DType::f32, g.device());
    Tensor gw = Tensor::empty({c}, DType::f32, g.device());
    Tensor gb = Tensor::empty({c}, DType::f32, g.device());
    backend(g.device()).batch_norm_backward(g.contiguous(), xc, w, mean, var, gx, gw, gb, eps);
    return std::vector<Tensor>{rx ? gx : Tensor(), rw ? gw : Tensor(), rb ? gb : Tensor()};
  });
}

}  // namespace rmgait
