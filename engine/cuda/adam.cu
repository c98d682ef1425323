// Adam / AdamW in place: one thread per element running the rule of engine/math/adam.h.
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"

namespace rmgait::cuda {

namespace {
__global__ void adam_kernel(float* p, const float* g, float* m, float* v, int64_t n,
                            AdamScalars s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    rmgait::adam_update(p[i], g[i], m[i], v[i], s);
}
}  // namespace

void CudaBackend::adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                              const Tensor& exp_avg_sq, const AdamScalars& s) {
  const int64_t n = param.numel();
  if (n == 0) return;
  adam_kernel<<<blocks_for(n), 256, 0, context().stream>>>(param.data<float>(), grad.data<float>(),
                                                           exp_avg.data<float>(),
                                                           exp_avg_sq.data<float>(), n, s);
  CUDA_LAUNCH_CHECK("adam_update " + shape_str(param.shape()));
}

}  // namespace rmgait::cuda
