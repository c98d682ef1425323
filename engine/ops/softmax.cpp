// softmax and log_softmax over one dim: that dim moved last, the rows to the backend's kernel
// (cpu/softmax.cpp, cuda/softmax.cu), the output kept for backward.
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait {

namespace {
Tensor softmax_impl(const Tensor& x, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  check_dtype(x, DType::f32, name);
  dim = wrap_dim(dim, x.dim(), name);
  int64_t last = x.dim() - 1;
  Tensor xt = x.detach().transpose(dim, last).contiguous();
  Shape tshape = xt.shape();
  int64_t len = tshape.back(), rows = len ? xt.numel() / len : 0;
  Tensor y = Tensor::empty({rows, len}, DType::f32, x.device());
  backend(x.device()).softmax_rows(xt.view({rows, len}), y, log);
  Tensor out = y.view(tshape).transpose(dim, last).contiguous();
  Tensor yd = y.detach();
  return record(name, out, {x}, [yd, dim, last, tshape, rows, len, log](const Tensor& g) {
    Tensor gt = g.transpose(dim, last).contiguous().view({rows, len});
    Tensor gx = Tensor::empty({rows, len}, DType::f32, g.device());
    backend(g.device()).softmax_rows_backward(gt, yd, gx, log);
    return std::vector<Tensor>{gx.view(tshape).transpose(dim, last).contiguous()};
  });
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  return softmax_impl(x, dim, false);
}
Tensor log_softmax(const Tensor& x, int64_t dim) {
  return softmax_impl(x, dim, true);
}

}  // namespace rmgait
