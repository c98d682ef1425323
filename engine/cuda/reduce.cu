// Reductions over the middle dim of [outer, len, inner]. inner == 1 (rows): blocks of kThreads
// threads with per-thread partials and a shared-memory tree; a few long rows (the sum of a whole
// tensor, say) are cut into chunks, one block each, whose partials a second kernel combines, so
// that the whole GPU works on them rather than one block per row. inner > 1: one thread per
// output, walking the middle dim in order (neighbouring threads read neighbouring inner
// positions: coalesced), with 32-bit index arithmetic where the sizes allow it. Sums accumulate
// in double (as the CPU backend does); max/min keep the first index of the extreme, whatever the
// order in which partials combine (extreme_replaces compares indices on ties).
#include <math.h>
#include <stdint.h>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"

namespace rmgait::cuda {

namespace {
constexpr int kThreads = 256;
constexpr int64_t kChunk = 32 * 1024;  // elements per block when a row is cut into chunks

struct Partial {
  double sum = 0;
  float val = 0;
  int64_t idx = -1;  // < 0: no element seen yet
};

__device__ void take(ReduceOp op, Partial& p, float v, int64_t i) {
  if (op == ReduceOp::sum)
    p.sum += v;
  else if (p.idx < 0 || extreme_replaces(op, v, i, p.val, p.idx))
    p.val = v, p.idx = i;
}

__device__ void merge(ReduceOp op, Partial& p, const Partial& q) {
  p.sum += q.sum;
  if (q.idx >= 0 && (p.idx < 0 || extreme_replaces(op, q.val, q.idx, p.val, p.idx)))
    p.val = q.val, p.idx = q.idx;
}

// The block's partials merged by a shared-memory tree; every thread gets the result.
__device__ Partial block_merge(ReduceOp op, Partial p) {
  __shared__ double ssum[kThreads];
  __shared__ float sval[kThreads];
  __shared__ int64_t sidx[kThreads];
  ssum[threadIdx.x] = p.sum, sval[threadIdx.x] = p.val, sidx[threadIdx.x] = p.idx;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) {
      Partial a{ssum[threadIdx.x], sval[threadIdx.x], sidx[threadIdx.x]};
      merge(op, a, Partial{ssum[threadIdx.x + w], sval[threadIdx.x + w], sidx[threadIdx.x + w]});
      ssum[threadIdx.x] = a.sum, sval[threadIdx.x] = a.val, sidx[threadIdx.x] = a.idx;
    }
    __syncthreads();
  }
  Partial r{ssum[0], sval[0], sidx[0]};
  __syncthreads();  // the shared arrays are reused by the caller's next row
  return r;
}

__device__ void write(ReduceOp op, const Partial& p, float* out, int64_t* index, int64_t r) {
  out[r] = op == ReduceOp::sum ? float(p.sum) : p.val;
  if (index) index[r] = p.idx;
}

// Block b reduces chunk b % chunks of row b / chunks (chunks of `chunk` elements): into out and
// index when a row is one chunk, else into the partials part[b].
__global__ void reduce_kernel(ReduceOp op, const float* x, float* out, int64_t* index,
                              Partial* part, int64_t rows, int64_t len, int64_t chunks,
                              int64_t chunk) {
  for (int64_t b = blockIdx.x; b < rows * chunks; b += gridDim.x) {
    const int64_t r = b / chunks, begin = (b % chunks) * chunk,
                  end = begin + chunk < len ? begin + chunk : len;
    const float* row = x + r * len;
    Partial p;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) take(op, p, row[i], i);
    p = block_merge(op, p);
    if (threadIdx.x == 0) {
      if (part)
        part[b] = p;
      else
        write(op, p, out, index, r);
    }
  }
}

// One block per row: merges the row's chunk partials (in any order: ties keep the first index).
__global__ void merge_kernel(ReduceOp op, const Partial* part, float* out, int64_t* index,
                             int64_t rows, int64_t chunks) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    Partial p;
    for (int64_t c = threadIdx.x; c < chunks; c += blockDim.x) merge(op, p, part[r * chunks + c]);
    p = block_merge(op, p);
    if (threadIdx.x == 0) write(op, p, out, index, r);
  }
}

// I: int64_t, or uint32_t where every index fits (a 64-bit division is a long subroutine on a
// GPU, a 32-bit one a few instructions).
template <class I>
__global__ void reduce_inner_kernel(ReduceOp op, const float* x, float* out, int64_t* index,
                                    I outer, I len, I inner) {
  for (I t = blockIdx.x * I(blockDim.x) + threadIdx.x; t < outer * inner;
       t += I(gridDim.x) * blockDim.x) {
    const float* p = x + (t / inner) * len * inner + t % inner;
    if (op == ReduceOp::sum) {
      double s = 0;
      for (I i = 0; i < len; ++i) s += p[i * inner];
      out[t] = float(s);
      continue;
    }
    float best = p[0];
    int64_t bi = 0;
    for (I i = 1; i < len; ++i)
      if (extreme_replaces(op, p[i * inner], i, best, bi)) best = p[i * inner], bi = i;
    out[t] = best;
    if (index) index[t] = bi;
  }
}

// t runs over gy [outer, inner]; gx was zeroed.
template <class I>
__global__ void scatter_kernel(const float* gy, const int64_t* index, float* gx, I outer, I len,
                               I inner) {
  for (I t = blockIdx.x * I(blockDim.x) + threadIdx.x; t < outer * inner;
       t += I(gridDim.x) * blockDim.x)
    gx[((t / inner) * len + I(index[t])) * inner + t % inner] = gy[t];
}

// [outer, len, inner] in 32-bit arithmetic: every element index below 2^31 (the grid-stride
// loops then stay below 2^32)
bool fits_32bit(int64_t outer, int64_t len, int64_t inner) {
  return outer * len * inner < (int64_t(1) << 31);
}
}  // namespace

void CudaBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out, const Tensor& index) {
  const int64_t outer = x.size(0), len = x.size(1), inner = x.size(2);
  int64_t* ip = index.defined() ? index.data<int64_t>() : nullptr;
  if (outer * inner == 0) return;
  cudaStream_t stream = context().stream;
  if (inner == 1) {
    // Rows of up to 2 chunks, or enough rows to fill the GPU: one block per row. Else each row
    // is cut into chunks of kChunk elements (the partials are 24 bytes per kChunk elements).
    const int64_t chunks = len <= 2 * kChunk || outer >= 1024 ? 1 : (len + kChunk - 1) / kChunk;
    const int64_t blocks = outer * chunks;
    const unsigned grid = unsigned(blocks < 65535 * 4 ? blocks : 65535 * 4);
    if (chunks == 1) {
      reduce_kernel<<<grid, kThreads, 0, stream>>>(op, x.data<float>(), out.data<float>(), ip,
                                                   nullptr, outer, len, 1, len);
    } else {
      Workspace part(size_t(blocks) * sizeof(Partial));
      Partial* pp = static_cast<Partial*>(part.get());
      reduce_kernel<<<grid, kThreads, 0, stream>>>(op, x.data<float>(), nullptr, nullptr, pp, outer,
                                                   len, chunks, kChunk);
      const unsigned rows = unsigned(outer < 65535 * 4 ? outer : 65535 * 4);
      merge_kernel<<<rows, kThreads, 0, stream>>>(op, pp, out.data<float>(), ip, outer, chunks);
    }
  } else {
    with_index_type<uint32_t>(fits_32bit(outer, len, inner), [&](auto i) {
      using I = decltype(i);
      reduce_inner_kernel<I><<<blocks_for(outer * inner), 256, 0, stream>>>(
          op, x.data<float>(), out.data<float>(), ip, I(outer), I(len), I(inner));
    });
  }
  CUDA_LAUNCH_CHECK("reduce " + shape_str(x.shape()));
}

void CudaBackend::scatter_index(const Tensor& gy, const Tensor& index, const Tensor& gx) {
  fill(gx, 0.0);
  const int64_t outer = gx.size(0), len = gx.size(1), inner = gx.size(2);
  if (outer * inner == 0) return;
  cudaStream_t stream = context().stream;
  with_index_type<uint32_t>(fits_32bit(outer, len, inner), [&](auto i) {
    using I = decltype(i);
    scatter_kernel<I><<<blocks_for(outer * inner), 256, 0, stream>>>(
        gy.data<float>(), index.data<int64_t>(), gx.data<float>(), I(outer), I(len), I(inner));
  });
  CUDA_LAUNCH_CHECK("scatter_index " + shape_str(gx.shape()));
}

}  // namespace rmgait::cuda
