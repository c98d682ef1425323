// Column gather and its adjoint. The scatter-add sums each output column's contributions in
// index order (no atomics), so results are deterministic with repeated indices.
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"

namespace rmgait::cuda {

namespace {
__global__ void gather_kernel(const float* x, const int64_t* index, float* out, int64_t rows,
                              int64_t len, int64_t m) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * m;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = x[(i / m) * len + index[i % m]];
}

// Unique indices: each output column has at most one source, so a direct write is exact.
__global__ void scatter_unique_kernel(const float* g, const int64_t* index, float* gx, int64_t rows,
                                      int64_t len, int64_t m) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * m;
       i += int64_t(gridDim.x) * blockDim.x)
    gx[(i / m) * len + index[i % m]] = g[i];
}

__global__ void scatter_add_kernel(const float* g, const int64_t* index, float* gx, int64_t rows,
                                   int64_t len, int64_t m) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * len;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t r = i / len, c = i % len;
    float s = 0.f;
    for (int64_t j = 0; j < m; ++j)
      if (index[j] == c) s += g[r * m + j];
    gx[i] = s;
  }
}
}  // namespace

void CudaBackend::gather_columns(const Tensor& x, const Tensor& index, const Tensor& out) {
  const int64_t rows = x.size(0), len = x.size(1), m = index.numel();
  if (rows * m == 0) return;
  gather_kernel<<<blocks_for(rows * m), 256, 0, context().stream>>>(
      x.data<float>(), index.data<int64_t>(), out.data<float>(), rows, len, m);
  CUDA_LAUNCH_CHECK("gather_columns " + shape_str(x.shape()));
}

void CudaBackend::scatter_add_columns(const Tensor& g, const Tensor& index, const Tensor& gx,
                                      bool unique) {
  const int64_t rows = gx.size(0), len = gx.size(1), m = index.numel();
  if (rows * len == 0) return;
  if (unique) {
    fill(gx, 0.0);
    if (rows * m == 0) return;
    scatter_unique_kernel<<<blocks_for(rows * m), 256, 0, context().stream>>>(
        g.data<float>(), index.data<int64_t>(), gx.data<float>(), rows, len, m);
    CUDA_LAUNCH_CHECK("scatter_add_columns " + shape_str(gx.shape()));
    return;
  }
  scatter_add_kernel<<<blocks_for(rows * len), 256, 0, context().stream>>>(
      g.data<float>(), index.data<int64_t>(), gx.data<float>(), rows, len, m);
  CUDA_LAUNCH_CHECK("scatter_add_columns " + shape_str(gx.shape()));
}

}  // namespace rmgait::cuda
