// copy: strided device-to-device with dtype conversion, and host <-> device transfers; fill.
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/dispatch.h"
#include "engine/strided_view.h"

namespace rmgait::cuda {

namespace {
// I: uint32_t where the geometry fits_32bit(), else int64_t (engine/math/strided.h)
template <class S, class D, class I>
__global__ void copy_kernel(const S* src, D* dst, Strided<2> g) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < I(g.n); i += I(gridDim.x) * blockDim.x) {
    I o[2];
    g.offsets(i, o);
    dst[o[1]] = D(src[o[0]]);
  }
}

template <class T>
__global__ void fill_kernel(T* dst, int64_t n, T v) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = v;
}

}  // namespace

void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  RM_CHECK(src.shape() == dst.shape(), "copy: source ", shape_str(src.shape()), " and destination ",
           shape_str(dst.shape()), " differ");
  Context& ctx = context();
  if (src.device() != dst.device()) {  // host <-> device: contiguous, same dtype
    RM_CHECK(src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous(),
             "copy: host <-> device copies need contiguous tensors of one dtype");
    size_t bytes = size_t(src.numel()) * dtype_size(src.dtype());
    bool to_host = dst.device() == Device::cpu;
    CUDA_CHECK(
        cudaMemcpyAsync(dst.raw_data(), src.raw_data(), bytes,
                        to_host ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice, ctx.stream),
        "copy " + shape_str(src.shape()));
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream), "copy");  // the host buffer is usable after
    return;
  }
  if (src.numel() == 0) return;
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(),
                               size_t(src.numel()) * dtype_size(src.dtype()),
                               cudaMemcpyDeviceToDevice, ctx.stream),
               "copy " + shape_str(src.shape()));
    return;
  }
  Strided<2> g = strided_view<2>(src.shape(), {&src, &dst});
  dispatch(src.dtype(), [&](auto s) {
    dispatch(dst.dtype(), [&](auto d) {
      using S = decltype(s);
      using D = decltype(d);
      with_index_type<uint32_t>(g.fits_32bit(), [&](auto i) {
        copy_kernel<S, D, decltype(i)>
            <<<blocks_for(g.n), 256, 0, ctx.stream>>>(static_cast<const S*>(src.storage()->data()),
                                                      static_cast<D*>(dst.storage()->data()), g);
      });
    });
  });
  CUDA_LAUNCH_CHECK("copy " + shape_str(src.shape()));
}

void CudaBackend::fill(const Tensor& dst, double value) {
  RM_CHECK(dst.is_contiguous(), "fill: destination must be contiguous");
  if (dst.numel() == 0) return;
  dispatch(dst.dtype(), [&](auto z) {
    using T = decltype(z);
    fill_kernel<T><<<blocks_for(dst.numel()), 256, 0, context().stream>>>(
        static_cast<T*>(dst.raw_data()), dst.numel(), T(value));
  });
  CUDA_LAUNCH_CHECK("fill " + shape_str(dst.shape()));
}

}  // namespace rmgait::cuda
