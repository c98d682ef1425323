// Reductions over a set of dims. The reduced dims are moved last and the tensor is laid out as
// contiguous [rows, len] rows for the backend; results come back in the kept dims' order.
#include <algorithm>
#include <numeric>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait {

namespace {

struct Rows {
  Tensor rows;                   // contiguous [rows, len], detached
  Shape permuted_shape;          // x's shape with the reduced dims moved last
  std::vector<int64_t> inverse;  // permutation back to x's order
  Shape out_shape;               // result shape (keepdim respected)
  int64_t len = 1;
};

Rows to_rows(const Tensor& x, std::vector<int64_t> dims, bool keepdim, const char* op) {
  Rows r;
  std::vector<bool> reduced(x.dim(), false);
  for (int64_t& d : dims) {
    d = wrap_dim(d, x.dim(), op);
    RM_CHECK(!reduced[d], op, ": dim ", d, " given twice");
    reduced[d] = true;
  }
  std::vector<int64_t> perm;
  int64_t rows = 1;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (reduced[i]) {
      if (keepdim) r.out_shape.push_back(1);
      continue;
    }
    perm.push_back(i);
    rows *= x.size(i);
    r.out_shape.push_back(x.size(i));
  }
  for (int64_t d : dims) {
    perm.push_back(d);
    r.len *= x.size(d);
  }
  r.inverse.assign(x.dim(), 0);
  for (int64_t i = 0; i < x.dim(); ++i) {
    r.inverse[perm[i]] = i;
    r.permuted_shape.push_back(x.size(perm[i]));
  }
  RM_CHECK(r.len > 0 || rows == 0, op, ": reducing an empty dim of ", shape_str(x.shape()));
  r.rows = x.detach().permute(perm).contiguous().reshape({rows, r.len}).detach();
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
  Rows r = to_rows(x, dims, keepdim, name);
  RM_CHECK(r.len > 0, name, ": reducing an empty dim of ", shape_str(x.shape()));
  int64_t rows = r.rows.size(0);
  Tensor out = Tensor::empty({rows}, DType::f32, x.device());
  Tensor index = Tensor::empty({rows}, DType::i64, x.device());
  backend(x.device()).reduce_rows(op, r.rows, out, index);
  Tensor y = out.view(r.out_shape);
  return record(name, y, {x}, [r, index, rows](const Tensor& g) {
    Tensor gx = Tensor::empty({rows, r.len}, DType::f32, g.device());
    backend(g.device()).scatter_rows(g.contiguous().reshape({rows}), index, gx);
    return std::vector<Tensor>{gx.view(r.permuted_shape).permute(r.inverse).contiguous()};
  });
}

Tensor arg_extreme(ReduceOp op, const char* name, const Tensor& x, int64_t dim, bool keepdim) {
  check_dtype(x, DType::f32, name);
  Rows r = to_rows(x, {dim}, keepdim, name);
  RM_CHECK(r.len > 0, name, ": reducing an empty dim of ", shape_str(x.shape()));
  int64_t rows = r.rows.size(0);
  Tensor out = Tensor::empty({rows}, DType::f32, x.device());
  Tensor index = Tensor::empty({rows}, DType::i64, x.device());
  backend(x.device()).reduce_rows(op, r.rows, out, index);
  return index.view(r.out_shape);
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  check_dtype(x, DType::f32, "sum");
  Rows r = to_rows(x, dims, keepdim, "sum");
  Tensor out = Tensor::empty({r.rows.size(0)}, DType::f32, x.device());
  backend(x.device()).reduce_rows(ReduceOp::sum, r.rows, out, Tensor());
  Tensor y = out.view(r.out_shape);
  Shape in_shape = x.shape(), kept = in_shape;
  for (int64_t d : dims) kept[wrap_dim(d, x.dim(), "sum")] = 1;
  return record("sum", y, {x}, [in_shape, kept](const Tensor& g) {
    return std::vector<Tensor>{g.reshape(kept).expand(in_shape).contiguous()};
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
