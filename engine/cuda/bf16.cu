// f32 <-> bf16 conversions of contiguous device data (engine/cuda/bf16.h).
#include <cuda_bf16.h>

#include "engine/cuda/bf16.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/math/bf16.h"
#include "engine/math/unary.h"

namespace rmgait::cuda {

namespace {
__global__ void to_bf16_kernel(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = bf16_bits_from_float(x[i]);  // the CPU's rule (engine/math/bf16.h)
}

// leaky: y = leaky_relu(widened x) with the elementwise rule (engine/math/unary.h), in
// the same pass (a conv's fused activation: no second pass over its f32 output)
template <bool leaky>
__global__ void from_bf16_kernel(const __nv_bfloat16* x, float* y, int64_t n, float slope) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = __bfloat162float(x[i]);
    y[i] = leaky ? unary_forward(UnaryOp::leaky_relu, v, slope, 0.f) : v;
  }
}
}  // namespace

Bf16Buffer to_bf16(const Tensor& t) {
  Bf16Buffer b(t.numel());
  if (t.numel() == 0) return b;
  to_bf16_kernel<<<blocks_for(t.numel()), 256, 0, context().stream>>>(
      t.data<float>(), static_cast<uint16_t*>(b.get()), t.numel());
  CUDA_LAUNCH_CHECK("to_bf16 " + shape_str(t.shape()));
  return b;
}

namespace {
template <bool leaky>
void widen(const Bf16Buffer& b, const Tensor& out, float slope, const char* what) {
  if (out.numel() == 0) return;
  from_bf16_kernel<leaky><<<blocks_for(out.numel()), 256, 0, context().stream>>>(
      static_cast<const __nv_bfloat16*>(b.get()), out.data<float>(), out.numel(), slope);
  CUDA_LAUNCH_CHECK(what + shape_str(out.shape()));
}
}  // namespace

void from_bf16(const Bf16Buffer& b, const Tensor& out) {
  widen<false>(b, out, 0.f, "from_bf16 ");
}

void from_bf16_leaky_relu(const Bf16Buffer& b, const Tensor& out, float slope) {
  widen<true>(b, out, slope, "from_bf16_leaky_relu ");
}

}  // namespace rmgait::cuda
