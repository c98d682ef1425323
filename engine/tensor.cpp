#include "engine/tensor.h"

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <numeric>
#include <optional>
#include <ostream>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops/layout.h"

namespace rmgait {

void check_dtype(const Tensor& t, DType dt, const char* op, const char* what) {
  RM_CHECK(t.defined(), op, ": ", what, " is undefined");
  RM_CHECK(t.dtype() == dt, op, ": ", what, " has dtype ", dtype_name(t.dtype()), ", expected ",
           dtype_name(dt), " (shape ", shape_str(t.shape()), ")");
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  RM_CHECK(a.device() == b.device(), op, ": tensors on ", device_name(a.device()), " and ",
           device_name(b.device()), "; move one with .to(device)");
}

Tensor make_view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) RM_CHECK(s >= 0, "Tensor::empty: negative size in ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(numel_of(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend(device).fill(t, value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  Tensor t = empty({n}, DType::i64);
  std::iota(t.data<int64_t>(), t.data<int64_t>() + n, int64_t(0));
  return t.to(dtype).to(device);
}

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& shape, Device device) {
  RM_CHECK(int64_t(v.size()) == numel_of(shape), "Tensor::from_vector: ", v.size(),
           " values for shape ", shape_str(shape));
  Tensor t = empty(shape, DType::f32);
  if (!v.empty()) std::memcpy(t.data<float>(), v.data(), v.size() * sizeof(float));
  return t.to(device);
}

int64_t Tensor::size(int64_t d) const {
  return impl_->shape[wrap_dim(d, dim(), "size")];
}

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expect) return false;
    expect *= impl_->shape[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * dtype_size(dtype());
}

float Tensor::item() const {
  RM_CHECK(numel() == 1, "item: tensor of shape ", shape_str(shape()), " has ", numel(),
           " elements, expected 1");
  return to_vector()[0];
}

std::vector<float> Tensor::to_vector() const {
  Tensor c = to(Device::cpu).to(DType::f32).contiguous();
  const float* p = c.data<float>();
  return std::vector<float>(p, p + c.numel());
}

// ---- autograd accessors ----
Tensor& Tensor::set_requires_grad(bool on) {
  RM_CHECK(!on || dtype() == DType::f32, "set_requires_grad: only f32 tensors take gradients, got ",
           dtype_name(dtype()));
  RM_CHECK(!impl_->grad_fn, "set_requires_grad: only leaves can be marked; call detach() first");
  impl_->requires_grad = on;
  return *this;
}
Tensor Tensor::grad() const {
  return impl_->grad ? Tensor(impl_->grad) : Tensor();
}
void Tensor::set_grad(const Tensor& g) const {
  impl_->grad = g.defined() ? g.impl_ptr() : nullptr;
}
void Tensor::zero_grad() const {
  impl_->grad = nullptr;
}
bool Tensor::is_leaf() const {
  return !impl_->grad_fn;
}
Tensor Tensor::detach() const {
  return make_view(*this, shape(), strides(), offset());
}

// ---- views ----
namespace {
// new_shape with its -1 (at most one) inferred from numel; throws naming `op` when it does not fit.
Shape resolve_shape(const Shape& new_shape, const Shape& old, int64_t numel, const char* op) {
  Shape s = new_shape;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      RM_CHECK(infer < 0, op, ": more than one -1 in ", shape_str(new_shape));
      infer = int64_t(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    RM_CHECK(known > 0 && numel % known == 0, op, ": cannot infer -1 in ", shape_str(new_shape),
             " for ", numel, " elements");
    s[infer] = numel / known;
  }
  RM_CHECK(numel_of(s) == numel, op, ": shape ", shape_str(new_shape), " does not fit ",
           shape_str(old), " (", numel, " elements)");
  return s;
}
}  // namespace

Tensor Tensor::view(const Shape& new_shape) const {
  const Shape s = resolve_shape(new_shape, shape(), numel(), "view");
  std::optional<Shape> st = view_strides(shape(), strides(), s);
  RM_CHECK(st, "view: tensor ", shape_str(shape()), " with strides ", shape_str(strides()),
           " cannot be viewed as ", shape_str(s), " without a copy; use reshape()");
  Tensor out = make_view(*this, s, *st, offset());
  Shape in_shape = shape();
  return record("view", out, {*this},
                [in_shape](const Tensor& g) { return std::vector<Tensor>{g.reshape(in_shape)}; });
}

Tensor Tensor::reshape(const Shape& s) const {
  const Shape want = resolve_shape(s, shape(), numel(), "reshape");
  return view_strides(shape(), strides(), want) ? view(want) : contiguous().view(want);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  int64_t s = wrap_dim(start, dim(), "flatten"), e = wrap_dim(end, dim(), "flatten");
  Shape ns(shape().begin(), shape().begin() + s);
  int64_t m = 1;
  for (int64_t i = s; i <= e; ++i) m *= shape()[i];
  ns.push_back(m);
  ns.insert(ns.end(), shape().begin() + e + 1, shape().end());
  return reshape(ns);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  RM_CHECK(int64_t(dims.size()) == dim(), "permute: ", dims.size(), " dims for a ", dim(),
           "-d tensor");
  Shape ns(dim()), nst(dim());
  std::vector<int64_t> inverse(dim(), -1);
  for (int64_t i = 0; i < dim(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    RM_CHECK(inverse[d] < 0, "permute: dim ", d, " repeated");
    inverse[d] = i;
    ns[i] = shape()[d];
    nst[i] = strides()[d];
  }
  Tensor out = make_view(*this, ns, nst, offset());
  return record("permute", out, {*this},
                [inverse](const Tensor& g) { return std::vector<Tensor>{g.permute(inverse)}; });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> p(dim());
  std::iota(p.begin(), p.end(), int64_t(0));
  std::swap(p[wrap_dim(d0, dim(), "transpose")], p[wrap_dim(d1, dim(), "transpose")]);
  return permute(p);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  RM_CHECK(start >= 0 && length >= 0 && start + length <= shape()[d], "narrow: [", start, ", ",
           start + length, ") out of range for dim ", d, " of ", shape_str(shape()));
  Shape ns = shape();
  ns[d] = length;
  Tensor out = make_view(*this, ns, strides(), offset() + start * strides()[d]);
  Shape in_shape = shape();
  return record("narrow", out, {*this}, [in_shape, d, start, length](const Tensor& g) {
    Tensor gx = Tensor::zeros(in_shape, DType::f32, g.device());
    gx.narrow(d, start, length).copy_(g);
    return std::vector<Tensor>{gx};
  });
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  return narrow(d, index, 1).squeeze(d);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  RM_CHECK(shape()[d] == 1, "squeeze: dim ", d, " of ", shape_str(shape()), " is not 1");
  Shape ns = shape(), nst = strides();
  ns.erase(ns.begin() + d);
  nst.erase(nst.begin() + d);
  Tensor out = make_view(*this, ns, nst, offset());
  Shape in_shape = shape();
  return record("squeeze", out, {*this},
                [in_shape](const Tensor& g) { return std::vector<Tensor>{g.reshape(in_shape)}; });
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape ns = shape(), nst = strides();
  int64_t st = d < dim() ? strides()[d] * shape()[d] : 1;
  ns.insert(ns.begin() + d, 1);
  nst.insert(nst.begin() + d, st);
  Tensor out = make_view(*this, ns, nst, offset());
  return record("unsqueeze", out, {*this},
                [d](const Tensor& g) { return std::vector<Tensor>{g.squeeze(d)}; });
}

Tensor Tensor::expand(const Shape& target) const {
  RM_CHECK(target.size() >= shape().size(), "expand: cannot expand ", shape_str(shape()), " to ",
           shape_str(target));
  size_t lead = target.size() - shape().size();
  Shape nst(target.size(), 0);
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) continue;
    int64_t s = shape()[i - lead];
    RM_CHECK(s == target[i] || s == 1, "expand: cannot expand ", shape_str(shape()), " to ",
             shape_str(target));
    nst[i] = s == target[i] ? strides()[i - lead] : 0;
  }
  if (target == shape()) return *this;
  Tensor out = make_view(*this, target, nst, offset());
  Shape in_shape = shape();
  return record("expand", out, {*this},
                [in_shape](const Tensor& g) { return std::vector<Tensor>{sum_to(g, in_shape)}; });
}

Tensor Tensor::contiguous() const {
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape(), dtype(), device());
  backend(device()).copy(*this, out);
  return record("clone", out, {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor src = contiguous();
  Tensor out = Tensor::empty(shape(), dtype(), d);
  // The non-CPU side owns cross-device copies.
  backend(d == Device::cpu ? device() : d).copy(src.detach(), out);
  Device from = device();
  return record("to_device", out, {*this},
                [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
}

Tensor Tensor::to(DType dt) const {
  if (dt == dtype()) return *this;
  const Order order = result_order(shape(), {this});  // a dense tensor keeps its layout
  Tensor out = empty_in_order(shape(), order, dt, device());
  backend(device()).copy(in_order(*this, order), kernel_view(out, order));
  return out;
}

void Tensor::copy_(const Tensor& src) const {
  check_same_device(*this, src, "copy_");
  Tensor s = src.expand(shape()).detach();
  backend(device()).copy(s, *this);
  storage()->bump_version();
}

void Tensor::fill_(double value) const {
  if (is_contiguous()) {
    backend(device()).fill(*this, value);
  } else {
    copy_(Tensor::full({}, value, dtype(), device()));
  }
  storage()->bump_version();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(" << dtype_name(t.dtype()) << ", " << device_name(t.device()) << ", "
     << shape_str(t.shape());
  if (t.requires_grad()) os << ", requires_grad";
  os << ")\n";
  std::vector<float> v = t.to_vector();
  int64_t last = t.dim() ? t.shape().back() : 1;
  const int64_t limit = 64;
  os << std::setprecision(5);
  for (int64_t i = 0; i < int64_t(v.size()) && i < limit; ++i)
    os << v[i] << ((i + 1) % last == 0 ? "\n" : " ");
  if (int64_t(v.size()) > limit) os << "... (" << v.size() << " elements)\n";
  return os;
}

}  // namespace rmgait
