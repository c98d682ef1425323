// Unary elementwise ops, their backward and the sign bits of relu / leaky_relu: the per-element
// rules of engine/math/unary.h.
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"

namespace rmgait::cuda {

namespace {
__global__ void unary_kernel(UnaryOp op, const float* x, float* y, int64_t n, float a, float b) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = unary_forward(op, x[i], a, b);
}

__global__ void unary_backward_kernel(UnaryOp op, const float* gy, const float* saved, float* gx,
                                      int64_t n, float a, float b) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    gx[i] = rmgait::unary_backward(op, gy[i], saved[i], a, b);
}

// One thread per byte of bits: 8 consecutive elements.
__global__ void sign_bits_kernel(const float* y, uint8_t* bits, int64_t n) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < (n + 7) / 8;
       k += int64_t(gridDim.x) * blockDim.x) {
    uint8_t m = 0;
    for (int64_t j = 0; j < 8 && 8 * k + j < n; ++j) m |= uint8_t(y[8 * k + j] > 0.f) << j;
    bits[k] = m;
  }
}

template <class Out>  // float, or BFloat16 (the CPU's rounding: engine/math/bf16.h)
__global__ void leaky_relu_backward_bits_kernel(const float* gy, const uint8_t* bits, Out* gx,
                                                int64_t n, float slope) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    gx[i] = Out(leaky_relu_backward_bit(gy[i], (bits[i / 8] >> (i % 8)) & 1, slope));
}
}  // namespace

void CudaBackend::unary(UnaryOp op, const Tensor& x, const Tensor& y, float a, float b) {
  if (x.numel() == 0) return;
  unary_kernel<<<blocks_for(x.numel()), 256, 0, context().stream>>>(
      op, x.data<float>(), y.data<float>(), x.numel(), a, b);
  CUDA_LAUNCH_CHECK("unary " + shape_str(x.shape()));
}

void CudaBackend::unary_backward(UnaryOp op, const Tensor& gy, const Tensor& saved,
                                 const Tensor& gx, float a, float b) {
  const int64_t n = saved.numel();
  if (n == 0) return;
  unary_backward_kernel<<<blocks_for(n), 256, 0, context().stream>>>(
      op, gy.data<float>(), saved.data<float>(), gx.data<float>(), n, a, b);
  CUDA_LAUNCH_CHECK("unary_backward " + shape_str(saved.shape()));
}

void CudaBackend::sign_bits(const Tensor& y, const Tensor& bits) {
  const int64_t n = y.numel();
  if (n == 0) return;
  sign_bits_kernel<<<blocks_for((n + 7) / 8), 256, 0, context().stream>>>(y.data<float>(),
                                                                          bits.data<uint8_t>(), n);
  CUDA_LAUNCH_CHECK("sign_bits " + shape_str(y.shape()));
}

void CudaBackend::leaky_relu_backward_bits(const Tensor& gy, const Tensor& bits, const Tensor& gx,
                                           float slope) {
  const int64_t n = gy.numel();
  if (n == 0) return;
  if (gx.dtype() == DType::bf16)
    leaky_relu_backward_bits_kernel<<<blocks_for(n), 256, 0, context().stream>>>(
        gy.data<float>(), bits.data<uint8_t>(), gx.data<BFloat16>(), n, slope);
  else
    leaky_relu_backward_bits_kernel<<<blocks_for(n), 256, 0, context().stream>>>(
        gy.data<float>(), bits.data<uint8_t>(), gx.data<float>(), n, slope);
  CUDA_LAUNCH_CHECK("leaky_relu_backward_bits " + shape_str(gy.shape()));
}

}  // namespace rmgait::cuda
