// Counter-based random fill: the same per-element Philox functions as the CPU backend, so the
// numbers (and ReverseMask's masks) are bit-identical for the same seed and offset.
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/math/random.h"

namespace rmgait::cuda {

namespace {
__global__ void random_kernel(RandomKind kind, uint64_t seed, uint64_t offset, float a, float b,
                              float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = philox::sample(kind, seed, offset + uint64_t(i), a, b);
  }
}
}  // namespace

void CudaBackend::random(RandomKind kind, uint64_t seed, uint64_t offset, float a, float b,
                         const Tensor& out) {
  if (out.numel() == 0) return;
  random_kernel<<<blocks_for(out.numel()), 256, 0, context().stream>>>(
      kind, seed, offset, a, b, out.data<float>(), out.numel());
  CUDA_LAUNCH_CHECK("random " + shape_str(out.shape()));
}

}  // namespace rmgait::cuda
