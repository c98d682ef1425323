// gem_pool: generalized-mean pooling over the last dim with a learnable exponent p.
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait {

Tensor gem_pool(const Tensor& x, const Tensor& p, float eps) {
  check_dtype(x, DType::f32, "gem_pool");
  check_dtype(p, DType::f32, "gem_pool", "p");
  check_same_device(x, p, "gem_pool");
  RM_CHECK(x.dim() >= 1 && x.size(-1) > 0, "gem_pool: input ", shape_str(x.shape()),
           " needs a non-empty last dim to pool");
  RM_CHECK(p.numel() == 1, "gem_pool: p must hold one value, got ", shape_str(p.shape()));
  RM_CHECK(eps > 0.f, "gem_pool: eps must be positive, got ", eps);
  const int64_t len = x.size(-1), rows = x.numel() / len;
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  Tensor xr = x.detach().contiguous().reshape({rows, len}).detach();
  Tensor pc = p.detach().contiguous();
  Tensor y = Tensor::empty({rows}, DType::f32, x.device());
  backend(x.device()).gem_rows(xr, pc, eps, y);
  const bool rp = p.requires_grad();
  const Shape x_shape = x.shape(), p_shape = p.shape();
  return record("gem_pool", y.reshape(out_shape).detach(), {x, p}, [=](const Tensor& g) {
    Tensor gx = Tensor::empty({rows, len}, DType::f32, g.device());
    Tensor gp_rows = Tensor::empty({rows}, DType::f32, g.device());
    backend(g.device()).gem_rows_backward(g.contiguous().reshape({rows}), xr, pc, eps, gx, gp_rows);
    return std::vector<Tensor>{gx.reshape(x_shape), rp ? sum(gp_rows).reshape(p_shape) : Tensor()};
  });
}

}  // namespace rmgait
