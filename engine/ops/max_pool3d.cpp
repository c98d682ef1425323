// max_pool3d: floor-mode output size, padding counts as -inf.
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/ops/layout.h"

namespace rmgait {

Tensor max_pool3d(const Tensor& x, const Pool3dParams& p) {
  check_dtype(x, DType::f32, "max_pool3d");
  RM_CHECK(x.dim() == 5, "max_pool3d: input ", shape_str(x.shape()),
           " must be 5-d [N, C, T, H, W]");
  Shape ys = {x.size(0), x.size(1), 0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    RM_CHECK(
        p.kernel[i] > 0 && p.stride[i] > 0 && p.padding[i] >= 0 && 2 * p.padding[i] <= p.kernel[i],
        "max_pool3d: bad kernel/stride/padding in dim ", i,
        " (padding must be at most half the kernel)");
    int64_t span = x.size(2 + i) + 2 * p.padding[i] - p.kernel[i];
    RM_CHECK(span >= 0, "max_pool3d: kernel larger than padded input ", shape_str(x.shape()));
    ys[2 + i] = span / p.stride[i] + 1;
  }
  // A channels-last x stays so where the backend takes it (engine/backend.h), and so does y.
  Backend& be = backend(x.device());
  Order order = be.takes_dense_layouts() ? result_order(x.shape(), {&x}) : Order();
  if (order != Order{0, 2, 3, 4, 1}) order.clear();
  Tensor xc = order.empty() ? x.contiguous().detach() : x.detach();
  Tensor y = empty_in_order(ys, order, DType::f32, x.device());
  bool training = needs_grad({x});
  Tensor state = be.max_pool3d_forward(xc, y, p, training);
  if (!training) return y;
  // a backend that keeps its own state (the CPU's argmax) needs neither x nor y in backward
  Tensor x_kept = state.defined() ? Tensor() : xc, y_kept = state.defined() ? Tensor() : y.detach();
  Shape in_shape = x.shape();
  return record("max_pool3d", y, {x}, [x_kept, y_kept, state, p, in_shape, order](const Tensor& g) {
    Tensor gx = empty_in_order(in_shape, order, DType::f32, g.device());
    backend(g.device()).max_pool3d_backward(as_order(g, order), x_kept, y_kept, state, gx, p);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace rmgait
