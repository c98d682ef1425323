// Reductions over the middle dim of [outer, len, inner]. inner == 1 (rows): one block per row,
// per-thread partials, a shared-memory tree. inner > 1: one thread per output, walking the middle
// dim in order (neighbouring threads read neighbouring inner positions: coalesced). Sums
// accumulate in double (as the CPU backend does); max/min keep the first index of the extreme.
#include <math.h>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"

namespace rmgait::cuda {

namespace {
constexpr int kThreads = 256;

__global__ void reduce_kernel(ReduceOp op, const float* x, float* out, int64_t* index, int64_t rows,
                              int64_t len) {
  __shared__ double ssum[kThreads];
  __shared__ float sval[kThreads];
  __shared__ int64_t sidx[kThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* row = x + r * len;
    double s = 0;
    float best = 0;
    int64_t bi = -1;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      if (op == ReduceOp::sum) {
        s += row[i];
      } else if (bi < 0 || extreme_replaces(op, row[i], i, best, bi)) {
        best = row[i], bi = i;
      }
    }
    ssum[threadIdx.x] = s, sval[threadIdx.x] = best, sidx[threadIdx.x] = bi;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
      if (threadIdx.x < w) {
        int o = threadIdx.x + w;
        ssum[threadIdx.x] += ssum[o];
        if (sidx[o] >= 0 &&
            (sidx[threadIdx.x] < 0 ||
             extreme_replaces(op, sval[o], sidx[o], sval[threadIdx.x], sidx[threadIdx.x])))
          sval[threadIdx.x] = sval[o], sidx[threadIdx.x] = sidx[o];
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      out[r] = op == ReduceOp::sum ? float(ssum[0]) : sval[0];
      if (index) index[r] = sidx[0];
    }
    __syncthreads();
  }
}

__global__ void reduce_inner_kernel(ReduceOp op, const float* x, float* out, int64_t* index,
                                    int64_t outer, int64_t len, int64_t inner) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < outer * inner;
       t += int64_t(gridDim.x) * blockDim.x) {
    const float* p = x + (t / inner) * len * inner + t % inner;
    if (op == ReduceOp::sum) {
      double s = 0;
      for (int64_t i = 0; i < len; ++i) s += p[i * inner];
      out[t] = float(s);
      continue;
    }
    float best = p[0];
    int64_t bi = 0;
    for (int64_t i = 1; i < len; ++i)
      if (extreme_replaces(op, p[i * inner], i, best, bi)) best = p[i * inner], bi = i;
    out[t] = best;
    if (index) index[t] = bi;
  }
}

// t runs over gy [outer, inner]; gx was zeroed.
__global__ void scatter_kernel(const float* gy, const int64_t* index, float* gx, int64_t outer,
                               int64_t len, int64_t inner) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < outer * inner;
       t += int64_t(gridDim.x) * blockDim.x)
    gx[((t / inner) * len + index[t]) * inner + t % inner] = gy[t];
}
}  // namespace

void CudaBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out, const Tensor& index) {
  const int64_t outer = x.size(0), len = x.size(1), inner = x.size(2);
  int64_t* ip = index.defined() ? index.data<int64_t>() : nullptr;
  if (outer * inner == 0) return;
  if (inner == 1) {
    unsigned grid = unsigned(outer < 65535 * 4 ? outer : 65535 * 4);
    reduce_kernel<<<grid, kThreads, 0, context().stream>>>(op, x.data<float>(), out.data<float>(),
                                                           ip, outer, len);
  } else {
    reduce_inner_kernel<<<blocks_for(outer * inner), 256, 0, context().stream>>>(
        op, x.data<float>(), out.data<float>(), ip, outer, len, inner);
  }
  CUDA_LAUNCH_CHECK("reduce " + shape_str(x.shape()));
}

void CudaBackend::scatter_index(const Tensor& gy, const Tensor& index, const Tensor& gx) {
  fill(gx, 0.0);
  const int64_t outer = gx.size(0), len = gx.size(1), inner = gx.size(2);
  if (outer * inner == 0) return;
  scatter_kernel<<<blocks_for(outer * inner), 256, 0, context().stream>>>(
      gy.data<float>(), index.data<int64_t>(), gx.data<float>(), outer, len, inner);
  CUDA_LAUNCH_CHECK("scatter_index " + shape_str(gx.shape()));
}

}  // namespace rmgait::cuda
