#pragma once
// bf16 copies of f32 device data for the bf16 paths of conv3d and matmul (engine/precision.h):
// round to nearest even on the way in (denormals to zeros, as on the CPU: engine/math/bf16.h),
// exact on the way out. Buffers from the caching allocator.
#include <cstdint>

#include "engine/cuda/context.h"
#include "engine/tensor.h"

namespace rmgait::cuda {

// A bf16 device buffer of n elements, released at scope exit.
class Bf16Buffer {
 public:
  explicit Bf16Buffer(int64_t n) : n_(n), ws_(size_t(n) * 2) {}
  void* get() const { return ws_.get(); }
  int64_t size() const { return n_; }

 private:
  int64_t n_;
  Workspace ws_;
};

// A bf16 copy of the contiguous f32 tensor t.
Bf16Buffer to_bf16(const Tensor& t);
// out (contiguous f32) = the bf16 values of b, widened.
void from_bf16(const Bf16Buffer& b, const Tensor& out);
// out = leaky_relu(the bf16 values of b, widened), in one pass.
void from_bf16_leaky_relu(const Bf16Buffer& b, const Tensor& out, float slope);

}  // namespace rmgait::cuda
