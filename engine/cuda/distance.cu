// Distances from Gram terms, averaged over slices (engine/math/distance.h): one thread per
// output element, summing its slices in order.
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/math/distance.h"

namespace rmgait::cuda {

namespace {
__global__ void gram_distance_kernel(const float* x2, const float* y2, const float* xy, float* out,
                                     int64_t slices, int64_t n, int64_t m) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n * m;
       k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = k / m, j = k % m;
    double acc = 0.0;
    for (int64_t b = 0; b < slices; ++b)
      acc += gram_distance_term(x2[b * n + i], y2[b * m + j], xy[(b * n + i) * m + j]);
    out[k] = gram_distance_finish(acc, slices);
  }
}
}  // namespace

void CudaBackend::gram_distance_mean(const Tensor& x2, const Tensor& y2, const Tensor& xy,
                                     const Tensor& out) {
  const int64_t slices = xy.size(0), n = xy.size(1), m = xy.size(2);
  if (n * m == 0) return;
  gram_distance_kernel<<<blocks_for(n * m), 256, 0, context().stream>>>(
      x2.data<float>(), y2.data<float>(), xy.data<float>(), out.data<float>(), slices, n, m);
  CUDA_LAUNCH_CHECK("gram_distance_mean " + shape_str(xy.shape()));
}

}  // namespace rmgait::cuda
