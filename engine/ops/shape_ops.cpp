// cat / stack / split / chunk.
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/ops/layout.h"

namespace rmgait {

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  RM_CHECK(!xs.empty(), "cat: no tensors");
  const Tensor& first = xs[0];
  dim = wrap_dim(dim, first.dim(), "cat");
  Shape s = first.shape();
  s[dim] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    RM_CHECK(x.dtype() == first.dtype() && x.device() == first.device() && x.dim() == first.dim(),
             "cat: tensor ", i, " ", shape_str(x.shape()), " (", dtype_name(x.dtype()),
             ") does not match tensor 0 ", shape_str(first.shape()));
    for (int64_t d = 0; d < x.dim(); ++d)
      RM_CHECK(d == dim || x.size(d) == first.size(d), "cat: tensor ", i, " ", shape_str(x.shape()),
               " differs from tensor 0 ", shape_str(first.shape()), " outside dim ", dim);
    s[dim] += x.size(dim);
  }
  // inputs that share one dense memory order (channels-last activations) give a result in it
  Order order = result_order(first.shape(), {&first});
  for (const Tensor& x : xs)
    if (!order.empty() && dense_order(x.shape(), x.strides()) != std::optional<Order>(order))
      order.clear();
  Tensor out = empty_in_order(s, order, first.dtype(), first.device());
  std::vector<int64_t> sizes;
  int64_t off = 0;
  for (const Tensor& x : xs) {
    out.narrow(dim, off, x.size(dim)).copy_(x.detach());
    off += x.size(dim);
    sizes.push_back(x.size(dim));
  }
  return record("cat", out, xs, [sizes, dim](const Tensor& g) {
    std::vector<Tensor> gs;
    int64_t o = 0;
    for (int64_t n : sizes) {
      gs.push_back(g.narrow(dim, o, n));
      o += n;
    }
    return gs;
  });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  RM_CHECK(!xs.empty(), "stack: no tensors");
  dim = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> u;
  for (const Tensor& x : xs) {
    RM_CHECK(x.shape() == xs[0].shape(), "stack: shapes ", shape_str(x.shape()), " and ",
             shape_str(xs[0].shape()), " differ");
    u.push_back(x.unsqueeze(dim));
  }
  return cat(u, dim);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  dim = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t n : sizes) total += n;
  RM_CHECK(total == x.size(dim), "split: sizes add up to ", total, " but dim ", dim, " of ",
           shape_str(x.shape()), " is ", x.size(dim));
  std::vector<Tensor> out;
  int64_t off = 0;
  for (int64_t n : sizes) {
    out.push_back(x.narrow(dim, off, n));
    off += n;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  dim = wrap_dim(dim, x.dim(), "chunk");
  RM_CHECK(chunks > 0 && x.size(dim) % chunks == 0, "chunk: dim ", dim, " of ",
           shape_str(x.shape()), " does not split into ", chunks, " equal chunks");
  return split(x, std::vector<int64_t>(chunks, x.size(dim) / chunks), dim);
}

}  // namespace rmgait
