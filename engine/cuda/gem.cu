// GeM pooling of rows: one thread per row running the rule of engine/math/gem.h (rows are short
// in gait models: the width of a feature map).
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/math/gem.h"

namespace rmgait::cuda {

namespace {
__global__ void gem_kernel(const float* x, const float* p, float eps, float* y, int64_t rows,
                           int64_t len) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows;
       r += int64_t(gridDim.x) * blockDim.x)
    y[r] = gem_row_forward(x + r * len, len, 1, p[0], eps);
}

__global__ void gem_backward_kernel(const float* gy, const float* x, const float* p, float eps,
                                    float* gx, float* gp_rows, int64_t rows, int64_t len) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows;
       r += int64_t(gridDim.x) * blockDim.x)
    gp_rows[r] = gem_row_backward(gy[r], x + r * len, len, 1, p[0], eps, gx + r * len);
}
}  // namespace

void CudaBackend::gem_rows(const Tensor& x, const Tensor& p, float eps, const Tensor& y) {
  const int64_t rows = x.size(0), len = x.size(1);
  if (rows == 0) return;
  gem_kernel<<<blocks_for(rows), 256, 0, context().stream>>>(x.data<float>(), p.data<float>(), eps,
                                                             y.data<float>(), rows, len);
  CUDA_LAUNCH_CHECK("gem_rows " + shape_str(x.shape()));
}

void CudaBackend::gem_rows_backward(const Tensor& gy, const Tensor& x, const Tensor& p, float eps,
                                    const Tensor& gx, const Tensor& gp_rows) {
  const int64_t rows = x.size(0), len = x.size(1);
  if (rows == 0) return;
  gem_backward_kernel<<<blocks_for(rows), 256, 0, context().stream>>>(
      gy.data<float>(), x.data<float>(), p.data<float>(), eps, gx.data<float>(),
      gp_rows.data<float>(), rows, len);
  CUDA_LAUNCH_CHECK("gem_rows_backward " + shape_str(x.shape()));
}

}  // namespace rmgait::cuda
