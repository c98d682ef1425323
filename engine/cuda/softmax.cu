// softmax / log_softmax over rows: one block per row (max, then a double sum of exponentials).
#include <math.h>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"

namespace rmgait::cuda {

namespace {
constexpr int kThreads = 256;

__device__ double block_sum(double v, double* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
    __syncthreads();
  }
  double r = sh[0];
  __syncthreads();
  return r;
}

__global__ void softmax_kernel(const float* x, float* y, int64_t rows, int64_t len, bool log) {
  __shared__ double sh[kThreads];
  __shared__ float smax[kThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* a = x + r * len;
    float* b = y + r * len;
    float m = -INFINITY;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) m = fmaxf(m, a[i]);
    smax[threadIdx.x] = m;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
      if (threadIdx.x < w) smax[threadIdx.x] = fmaxf(smax[threadIdx.x], smax[threadIdx.x + w]);
      __syncthreads();
    }
    m = smax[0];
    __syncthreads();
    double s = 0;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) s += exp(double(a[i] - m));
    s = block_sum(s, sh);
    float lse = float(::log(s));
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x)
      b[i] = log ? a[i] - m - lse : float(exp(double(a[i] - m)) / s);
  }
}

__global__ void softmax_backward_kernel(const float* gy, const float* y, float* gx, int64_t rows,
                                        int64_t len, bool log) {
  __shared__ double sh[kThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* g = gy + r * len;
    const float* s = y + r * len;
    double dot = 0;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) dot += log ? g[i] : g[i] * s[i];
    dot = block_sum(dot, sh);
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x)
      gx[r * len + i] = log ? g[i] - expf(s[i]) * float(dot) : s[i] * (g[i] - float(dot));
  }
}
}  // namespace

void CudaBackend::softmax_rows(const Tensor& x, const Tensor& y, bool log) {
  const int64_t rows = x.size(0), len = x.size(1);
  if (rows == 0) return;
  unsigned grid = unsigned(rows < 65535 * 4 ? rows : 65535 * 4);
  softmax_kernel<<<grid, kThreads, 0, context().stream>>>(x.data<float>(), y.data<float>(), rows,
                                                          len, log);
  CUDA_LAUNCH_CHECK("softmax_rows " + shape_str(x.shape()));
}

void CudaBackend::softmax_rows_backward(const Tensor& gy, const Tensor& y, const Tensor& gx,
                                        bool log) {
  const int64_t rows = y.size(0), len = y.size(1);
  if (rows == 0) return;
  unsigned grid = unsigned(rows < 65535 * 4 ? rows : 65535 * 4);
  softmax_backward_kernel<<<grid, kThreads, 0, context().stream>>>(
      gy.data<float>(), y.data<float>(), gx.data<float>(), rows, len, log);
  CUDA_LAUNCH_CHECK("softmax_rows_backward " + shape_str(y.shape()));
}

}  // namespace rmgait::cuda
