// index_select: the picked dim is moved last and handled as columns of [rows, len].
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait {

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_dtype(x, DType::f32, "index_select");
  check_dtype(index, DType::i64, "index_select", "index");
  RM_CHECK(index.device() == Device::cpu || index.device() == x.device(), "index_select: index on ",
           device_name(index.device()), ", input on ", device_name(x.device()),
           "; the index must be on the CPU or the input's device");
  RM_CHECK(index.dim() == 1, "index_select: index must be 1-d, got ", shape_str(index.shape()));
  dim = wrap_dim(dim, x.dim(), "index_select");
  const int64_t len = x.size(dim), m = index.numel();
  Tensor idx = index.contiguous().to(Device::cpu);  // checked on the host (no read-back if there)
  std::vector<bool> seen(size_t(len), false);
  bool unique = true;
  for (int64_t i = 0; i < m; ++i) {
    int64_t k = idx.data<int64_t>()[i];
    RM_CHECK(k >= 0 && k < len, "index_select: index ", k, " out of range for dim ", dim, " of ",
             shape_str(x.shape()));
    unique = unique && !seen[size_t(k)];
    seen[size_t(k)] = true;
  }
  Tensor xi = index.device() == x.device() ? index.contiguous().detach() : idx.to(x.device());
  int64_t last = x.dim() - 1;
  Tensor xt = x.detach().transpose(dim, last).contiguous();
  Shape tshape = xt.shape();
  int64_t rows = len ? xt.numel() / len : 0;
  Tensor out = Tensor::empty({rows, m}, DType::f32, x.device());
  backend(x.device()).gather_columns(xt.view({rows, len}), xi, out);
  Shape oshape = tshape;
  oshape.back() = m;
  Tensor y = out.view(oshape).transpose(dim, last).contiguous();
  return record("index_select", y, {x}, [=](const Tensor& g) {
    Tensor gt = g.transpose(dim, last).contiguous().view({rows, m});
    Tensor gx = Tensor::empty({rows, len}, DType::f32, g.device());
    backend(g.device()).scatter_add_columns(gt, xi, gx, unique);
    return std::vector<Tensor>{gx.view(tshape).transpose(dim, last).contiguous()};
  });
}

}  // namespace rmgait
