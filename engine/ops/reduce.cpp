// Reductions over a set of dims. The tensor is laid out as contiguous [outer, len, inner] for the
// backend (len: the reduced elements); reduced dims that are not one block are moved last first.
// A dense tensor in another memory order (channels-last) is reduced in that order: no copy when
// the reduced dims are one block there, and the result and the gradient keep the layout.
#include <algorithm>
#include <numeric>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/ops/layout.h"

namespace rmgait {

namespace {

// x laid out as contiguous [outer, len, inner] for the backend, len = the reduced elements.
struct Layout {
  Tensor x3;                     // detached
  Shape laid_shape;              // x's shape, or x's shape with the reduced dims moved last
  std::vector<int64_t> inverse;  // permutation back to x's order (empty: none was needed)
  Shape out_shape;               // result shape (keepdim respected), in x's memory order
  int64_t outer = 1, len = 1, inner = 1;
  // x dense in memory order `order` (empty: row-major): x_back permutes the tensor reduced
  // (x in that order) back to x's dims, y_back the result back to the result's dims.
  Order order, x_back, y_back;

  // A gradient laid out [outer, len, inner] back in x's shape (and layout).
  Tensor unlaid(const Tensor& g3) const {
    Tensor g = g3.view(laid_shape);
    g = inverse.empty() ? g : g.permute(inverse).contiguous();
    return in_order(g, x_back);
  }
  // The result [outer, inner] in the result's shape (and x's layout).
  Tensor result(const Tensor& out) const { return in_order(out.view(out_shape), y_back); }
  // A result gradient as the backend's [outer, inner].
  Tensor grad_rows(const Tensor& g) const {
    return in_order(g, inverse_of(y_back)).contiguous().view({outer, inner});
  }
  static Order inverse_of(const Order& p) {
    Order inv(p.size());
    for (size_t i = 0; i < p.size(); ++i) inv[size_t(p[i])] = int64_t(i);
    return inv;
  }
};

// Reduced dims that are consecutive and ascending need no copy (a middle dim of x); others are
// moved last (inner = 1), in the order given.
Layout lay_out(const Tensor& x, std::vector<int64_t> dims, bool keepdim, const char* op) {
  const Order order = result_order(x.shape(), {&x});
  if (!order.empty()) {  // reduce x permuted into its memory order, then map back
    Order pos(order.size());
    for (size_t i = 0; i < order.size(); ++i) pos[size_t(order[i])] = int64_t(i);
    std::vector<int64_t> mapped;
    std::vector<bool> seen(size_t(x.dim()), false);
    for (int64_t d : dims) {  // checked here, where the error can name the caller's dim
      d = wrap_dim(d, x.dim(), op);
      RM_CHECK(!seen[size_t(d)], op, ": dim ", d, " given twice");
      seen[size_t(d)] = true;
      mapped.push_back(pos[size_t(d)]);
    }
    Layout r = lay_out(in_order(x, order), mapped, keepdim, op);
    r.order = order;
    r.x_back = Layout::inverse_of(order);
    // the result's dims in memory order (x's order without the dropped dims), ranked logically
    Order kept;
    for (int64_t d : order)
      if (keepdim || std::find(mapped.begin(), mapped.end(), pos[size_t(d)]) == mapped.end())
        kept.push_back(d);
    Order sorted = kept;
    std::sort(sorted.begin(), sorted.end());
    r.y_back.resize(kept.size());
    for (size_t j = 0; j < sorted.size(); ++j)
      r.y_back[j] = std::find(kept.begin(), kept.end(), sorted[j]) - kept.begin();
    return r;
  }
  Layout r;
  std::vector<bool> reduced(x.dim(), false);
  for (int64_t& d : dims) {
    d = wrap_dim(d, x.dim(), op);
    RM_CHECK(!reduced[d], op, ": dim ", d, " given twice");
    reduced[d] = true;
  }
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (reduced[i]) {
      if (keepdim) r.out_shape.push_back(1);
    } else {
      r.out_shape.push_back(x.size(i));
    }
  }
  bool block = !dims.empty();
  for (size_t i = 1; i < dims.size(); ++i) block = block && dims[i] == dims[i - 1] + 1;
  if (block) {
    for (int64_t i = 0; i < x.dim(); ++i)
      (i < dims.front() ? r.outer : i > dims.back() ? r.inner : r.len) *= x.size(i);
    r.laid_shape = x.shape();
    r.x3 = x.detach().contiguous();
  } else {
    std::vector<int64_t> perm;
    for (int64_t i = 0; i < x.dim(); ++i)
      if (!reduced[i]) perm.push_back(i), r.outer *= x.size(i);
    for (int64_t d : dims) perm.push_back(d), r.len *= x.size(d);
    r.inverse.assign(x.dim(), 0);
    for (int64_t i = 0; i < x.dim(); ++i) {
      r.inverse[perm[i]] = i;
      r.laid_shape.push_back(x.size(perm[i]));
    }
    r.x3 = x.detach().permute(perm).contiguous();
  }
  RM_CHECK(r.len > 0 || r.outer * r.inner == 0, op, ": reducing an empty dim of ",
           shape_str(x.shape()));
  r.x3 = r.x3.view({r.outer, r.len, r.inner}).detach();
  return r;
}

std::vector<int64_t> all_dims(const Tensor& x) {
  std::vector<int64_t> d(x.dim());
  std::iota(d.begin(), d.end(), int64_t(0));
  return d;
}

// max or min; the gradient goes to the recorded first extreme.
Tensor extreme(ReduceOp op, const char* name, const Tensor& x, const std::vector<int64_t>& dims,
               bool keepdim) {
  check_dtype(x, DType::f32, name);
  Layout r = lay_out(x, dims, keepdim, name);
  RM_CHECK(r.len > 0, name, ": reducing an empty dim of ", shape_str(x.shape()));
  Tensor out = Tensor::empty({r.outer, r.inner}, DType::f32, x.device());
  Tensor index = Tensor::empty({r.outer, r.inner}, DType::i64, x.device());
  backend(x.device()).reduce(op, r.x3, out, index);
  Tensor y = r.result(out);
  r.x3 = Tensor();  // backward needs the index and the layout, not the data
  return record(name, y, {x}, [r, index](const Tensor& g) {
    Tensor gx = Tensor::empty({r.outer, r.len, r.inner}, DType::f32, g.device());
    backend(g.device()).scatter_index(r.grad_rows(g), index, gx);
    return std::vector<Tensor>{r.unlaid(gx)};
  });
}

Tensor arg_extreme(ReduceOp op, const char* name, const Tensor& x, int64_t dim, bool keepdim) {
  check_dtype(x, DType::f32, name);
  Layout r = lay_out(x, {dim}, keepdim, name);
  RM_CHECK(r.len > 0, name, ": reducing an empty dim of ", shape_str(x.shape()));
  Tensor out = Tensor::empty({r.outer, r.inner}, DType::f32, x.device());
  Tensor index = Tensor::empty({r.outer, r.inner}, DType::i64, x.device());
  backend(x.device()).reduce(op, r.x3, out, index);
  return in_order(index.view(r.out_shape), r.y_back);
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  check_dtype(x, DType::f32, "sum");
  Layout r = lay_out(x, dims, keepdim, "sum");
  Tensor out = Tensor::empty({r.outer, r.inner}, DType::f32, x.device());
  backend(x.device()).reduce(ReduceOp::sum, r.x3, out, Tensor());
  Tensor y = r.result(out);
  Shape in_shape = x.shape(), kept = in_shape;
  for (int64_t d : dims) kept[wrap_dim(d, x.dim(), "sum")] = 1;
  const Order order = r.order;
  return record("sum", y, {x}, [in_shape, kept, order](const Tensor& g) {
    // the broadcast gradient written in x's layout
    Tensor gx = empty_in_order(in_shape, order, DType::f32, g.device());
    backend(g.device())
        .copy(in_order(g.reshape(kept).expand(in_shape), order), in_order(gx, order));
    return std::vector<Tensor>{gx};
  });
}

Tensor sum(const Tensor& x) {
  return sum(x, all_dims(x));
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  int64_t n = 1;
  for (int64_t d : dims) n *= x.size(d);
  RM_CHECK(n > 0, "mean: over an empty dim of ", shape_str(x.shape()));
  return mul(sum(x, dims, keepdim), 1.f / float(n));
}

Tensor mean(const Tensor& x) {
  return mean(x, all_dims(x));
}

Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(ReduceOp::max, "max", x, dims, keepdim);
}
Tensor max(const Tensor& x) {
  return max(x, all_dims(x));
}
Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(ReduceOp::min, "min", x, dims, keepdim);
}
Tensor min(const Tensor& x) {
  return min(x, all_dims(x));
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme(ReduceOp::max, "argmax", x, dim, keepdim);
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme(ReduceOp::min, "argmin", x, dim, keepdim);
}

}  // namespace rmgait
