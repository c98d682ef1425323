// Unary elementwise ops and their backward: the per-element rules of engine/math/elementwise.h.
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

__global__ void unary_backward_kernel(UnaryOp op, const float* gy, const float* x, const float* y,
                                      float* gx, int64_t n, float a, float b) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    gx[i] = rmgait::unary_backward(op, gy[i], x[i], y[i], a, b);
}
}  // namespace

void CudaBackend::unary(UnaryOp op, const Tensor& x, const Tensor& y, float a, float b) {
  if (x.numel() == 0) return;
  unary_kernel<<<blocks_for(x.numel()), 256, 0, context().stream>>>(
      op, x.data<float>(), y.data<float>(), x.numel(), a, b);
  CUDA_LAUNCH_CHECK("unary " + shape_str(x.shape()));
}

void CudaBackend::unary_backward(UnaryOp op, const Tensor& gy, const Tensor& x, const Tensor& y,
                                 const Tensor& gx, float a, float b) {
  if (x.numel() == 0) return;
  unary_backward_kernel<<<blocks_for(x.numel()), 256, 0, context().stream>>>(
      op, gy.data<float>(), x.data<float>(), y.data<float>(), gx.data<float>(), x.numel(), a, b);
  CUDA_LAUNCH_CHECK("unary_backward " + shape_str(x.shape()));
}

}  // namespace rmgait::cuda
