// Binary elementwise ops and where() over broadcast (stride-0) views.
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/strided_view.h"

namespace rmgait::cuda {

namespace {
// I: uint32_t where the geometry fits_32bit(), else int64_t (engine/math/strided.h)
template <class I>
__global__ void binary_kernel(BinaryOp op, const float* a, const float* b, float* out,
                              Strided<2> g) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < I(g.n); i += I(gridDim.x) * blockDim.x) {
    I o[2];
    g.offsets(i, o);
    out[i] = binary_forward(op, a[o[0]], b[o[1]]);
  }
}

template <class C, class I>
__global__ void where_kernel(const C* cond, const float* a, const float* b, float* out,
                             Strided<3> g) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < I(g.n); i += I(gridDim.x) * blockDim.x) {
    I o[3];
    g.offsets(i, o);
    out[i] = cond[o[0]] != C(0) ? a[o[1]] : b[o[2]];
  }
}
}  // namespace

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (out.numel() == 0) return;
  Strided<2> g = strided_view<2>(out.shape(), {&a, &b});
  const float* ap = static_cast<const float*>(a.storage()->data());
  const float* bp = static_cast<const float*>(b.storage()->data());
  with_index_type<uint32_t>(g.fits_32bit(), [&](auto i) {
    binary_kernel<decltype(i)>
        <<<blocks_for(g.n), 256, 0, context().stream>>>(op, ap, bp, out.data<float>(), g);
  });
  CUDA_LAUNCH_CHECK("binary " + shape_str(out.shape()));
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (out.numel() == 0) return;
  Strided<3> g = strided_view<3>(out.shape(), {&cond, &a, &b});
  const float* ap = static_cast<const float*>(a.storage()->data());
  const float* bp = static_cast<const float*>(b.storage()->data());
  auto launch = [&](auto c) {
    using C = decltype(c);
    with_index_type<uint32_t>(g.fits_32bit(), [&](auto i) {
      where_kernel<C, decltype(i)><<<blocks_for(g.n), 256, 0, context().stream>>>(
          static_cast<const C*>(cond.storage()->data()), ap, bp, out.data<float>(), g);
    });
  };
  if (cond.dtype() == DType::u8)
    launch(uint8_t());
  else
    launch(float());
  CUDA_LAUNCH_CHECK("where " + shape_str(out.shape()));
}

}  // namespace rmgait::cuda
