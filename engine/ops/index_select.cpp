// index_select: x viewed as [outer, len, inner] around the picked dim; the backend gathers
// along the middle dim.
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
  // x as [outer, len, inner] around the picked dim: no transpose, inner runs stay contiguous
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  Tensor xc = x.detach().contiguous();
  Shape oshape = x.shape();
  oshape[dim] = m;
  Tensor y = Tensor::empty(oshape, DType::f32, x.device());
  backend(x.device()).index_gather(xc.view({outer, len, inner}), xi, y.view({outer, m, inner}));
  Shape xshape = x.shape();
  return record("index_select", y, {x}, [=](const Tensor& g) {
    Tensor gx = Tensor::empty(xshape, DType::f32, g.device());
    backend(g.device())
        .index_scatter_add(g.contiguous().view({outer, m, inner}), xi, gx.view({outer, len, inner}),
                           unique);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace rmgait
