#pragma once
// Tensor: a small value type over shared storage (shape, strides, offset, dtype, device).
// Copies of a Tensor are the same variable (they share data and autograd state, like
// flashlight's Variable); views share storage but have their own autograd state.
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <vector>

#include "engine/dtype.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace rmgait {

struct Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape, strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  // autograd
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves and for tensors outside the graph
  std::shared_ptr<TensorImpl> grad;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // A new contiguous, uninitialised tensor.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu);
  static Tensor arange(int64_t n, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor from_vector(const std::vector<float>& v, const Shape& shape,
                            Device device = Device::cpu);
  static Tensor scalar(float v, Device device = Device::cpu) {
    return from_vector({v}, {}, device);
  }

  bool defined() const { return bool(impl_); }
  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int64_t dim() const { return int64_t(impl_->shape.size()); }
  int64_t size(int64_t d) const;
  int64_t numel() const { return numel_of(impl_->shape); }
  int64_t offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // Pointer to the first element; checks that T matches the dtype. Code that writes through it
  // into an existing tensor must call storage()->bump_version(): caches keyed by storage and
  // version (reordered and flipped weights, bf16 copies, a conv's reordered output gradient)
  // would otherwise hand back the old values.
  template <class T>
  T* data() const;
  void* raw_data() const;

  // Host access (copies from the device when needed).
  float item() const;
  std::vector<float> to_vector() const;  // f32 only, row-major order of the logical shape

  // autograd
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& set_requires_grad(bool on = true);
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  void zero_grad() const;
  // Reverse-mode from this tensor; grad defaults to 1 for a single-element tensor.
  void backward(const Tensor& grad = Tensor()) const;
  Tensor detach() const;  // same storage, outside the graph
  bool is_leaf() const;

  // Views (differentiable; share storage). contiguous() copies only when needed.
  // Strides permitting (engine/shape.h view_strides), else an error naming the shapes.
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;  // view when possible, otherwise a copy
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;  // narrow + squeeze
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor contiguous() const;
  Tensor clone() const;  // differentiable copy

  // Explicit conversions (not differentiable across dtypes; device copies are).
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;  // a dense tensor keeps its memory layout

  // In-place writes outside autograd (optimizers, initialisers). Bump the storage version.
  void copy_(const Tensor& src) const;  // broadcasting copy into this (possibly strided) tensor
  void fill_(double value) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);
// Makes a view with the given geometry over t's storage (no autograd).
Tensor make_view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset);
// Throws naming `op` unless t is defined and of dtype `dt`.
void check_dtype(const Tensor& t, DType dt, const char* op, const char* what = "input");
void check_same_device(const Tensor& a, const Tensor& b, const char* op);

template <class T>
T* Tensor::data() const {
  check_dtype(*this, dtype_of<T>(), "Tensor::data");
  return static_cast<T*>(impl_->storage->data()) + impl_->offset;
}

}  // namespace rmgait
