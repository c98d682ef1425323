// Gather along the middle dim of [outer, len, inner] and its adjoint. The scatter-add sums each
// destination's contributions in index order (no atomics), so results are deterministic with
// repeated indices.
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"

namespace rmgait::cuda {

namespace {
// i runs over [outer, m, inner]; returns the matching element of [outer, len, inner].
__device__ __forceinline__ int64_t source_of(int64_t i, const int64_t* index, int64_t len,
                                             int64_t m, int64_t inner) {
  const int64_t k = i % inner, j = (i / inner) % m, r = i / (inner * m);
  return (r * len + index[j]) * inner + k;
}

__global__ void gather_kernel(const float* x, const int64_t* index, float* out, int64_t n,
                              int64_t len, int64_t m, int64_t inner) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = x[source_of(i, index, len, m, inner)];
}

// Unique indices: each destination has at most one source, so a direct write is exact.
__global__ void scatter_unique_kernel(const float* g, const int64_t* index, float* gx, int64_t n,
                                      int64_t len, int64_t m, int64_t inner) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    gx[source_of(i, index, len, m, inner)] = g[i];
}

// i runs over gx [outer, len, inner]: sums the picks of its position in index order.
__global__ void scatter_add_kernel(const float* g, const int64_t* index, float* gx, int64_t n,
                                   int64_t len, int64_t m, int64_t inner) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = i % inner, c = (i / inner) % len, r = i / (inner * len);
    float s = 0.f;
    for (int64_t j = 0; j < m; ++j)
      if (index[j] == c) s += g[(r * m + j) * inner + k];
    gx[i] = s;
  }
}
}  // namespace

void CudaBackend::index_gather(const Tensor& x, const Tensor& index, const Tensor& out) {
  const int64_t len = x.size(1), inner = x.size(2), m = index.numel(), n = out.numel();
  if (n == 0) return;
  gather_kernel<<<blocks_for(n), 256, 0, context().stream>>>(x.data<float>(), index.data<int64_t>(),
                                                             out.data<float>(), n, len, m, inner);
  CUDA_LAUNCH_CHECK("index_gather " + shape_str(x.shape()));
}

void CudaBackend::index_scatter_add(const Tensor& g, const Tensor& index, const Tensor& gx,
                                    bool unique) {
  const int64_t len = gx.size(1), inner = gx.size(2), m = index.numel();
  if (gx.numel() == 0) return;
  if (unique) {
    fill(gx, 0.0);
    if (g.numel() == 0) return;
    scatter_unique_kernel<<<blocks_for(g.numel()), 256, 0, context().stream>>>(
        g.data<float>(), index.data<int64_t>(), gx.data<float>(), g.numel(), len, m, inner);
    CUDA_LAUNCH_CHECK("index_scatter_add " + shape_str(gx.shape()));
    return;
  }
  scatter_add_kernel<<<blocks_for(gx.numel()), 256, 0, context().stream>>>(
      g.data<float>(), index.data<int64_t>(), gx.data<float>(), gx.numel(), len, m, inner);
  CUDA_LAUNCH_CHECK("index_scatter_add " + shape_str(gx.shape()));
}

}  // namespace rmgait::cuda
