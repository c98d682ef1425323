// copy (strided, with dtype conversion) and fill.
#include <algorithm>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dnnl_context.h"
#include "engine/cpu/strided.h"
#include "engine/dispatch.h"
#include "engine/error.h"

namespace rmgait::cpu {

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  RM_CHECK(src.shape() == dst.shape(), "copy: source ", shape_str(src.shape()), " and destination ",
           shape_str(dst.shape()), " differ");
  RM_CHECK(src.device() == Device::cpu && dst.device() == Device::cpu,
           "copy: the CPU backend copies between CPU tensors only");
  const bool f32_bf16 = (src.dtype() == DType::f32 && dst.dtype() == DType::bf16) ||
                        (src.dtype() == DType::bf16 && dst.dtype() == DType::f32);
  if (f32_bf16 && has_bf16() && src.is_contiguous() && dst.is_contiguous() && src.numel() > 0) {
    // oneDNN's reorder: vectorised, threaded, and the very rounding of the conv reorders, so a
    // tensor cast to bf16 here multiplies exactly as the f32 tensor would under bf16. Only with
    // AVX512-BF16: oneDNN's emulation elsewhere rounds denormals instead of flushing them, and
    // the rule (engine/math/bf16.h) must hold on every CPU.
    Tensor s = src.detach().reshape({src.numel()}), d = dst.detach().reshape({dst.numel()});
    DNNL_CHECK("copy", shape_str(src.shape()), {
      reorder_into(wrap_plain(s), wrap_plain(d));
      dnnl_stream().wait();
    });
    return;
  }
  // Walk the destination in its memory order (dims by its strides, outermost first), so that a
  // narrowed or channels-last destination gets long rows and merged dims.
  // (Dims of size 1 are left out: they move nothing.)
  std::vector<int64_t> order;
  for (int64_t d = 0; d < dst.dim(); ++d)
    if (dst.size(d) != 1) order.push_back(d);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return dst.strides()[size_t(a)] > dst.strides()[size_t(b)];
  });
  auto permuted = [&](const Tensor& t) {
    Shape shape, strides;
    for (int64_t d : order) shape.push_back(t.size(d)), strides.push_back(t.strides()[size_t(d)]);
    return make_view(t, shape, strides, t.offset());
  };
  const Tensor from = permuted(src), to = permuted(dst);
  dispatch(src.dtype(), [&](auto s) {
    dispatch(dst.dtype(), [&](auto d) {
      using S = decltype(s);
      using D = decltype(d);
      const S* sp = static_cast<const S*>(src.storage()->data());
      D* dp = static_cast<D*>(dst.storage()->data());
      for_each_row(strided_view<2>(from.shape(), {&from, &to}),
                   [&](int64_t, auto offs, int64_t len, auto inner) {
                     const S* a = sp + offs[0];
                     D* b = dp + offs[1];
                     if (inner[0] == 1 && inner[1] == 1) {  // rows of both (a vectorised loop)
                       for (int64_t i = 0; i < len; ++i) b[i] = D(a[i]);
                     } else {
                       for (int64_t i = 0; i < len; ++i) b[i * inner[1]] = D(a[i * inner[0]]);
                     }
                   });
    });
  });
}

void CpuBackend::fill(const Tensor& dst, double value) {
  RM_CHECK(dst.is_contiguous(), "fill: destination must be contiguous");
  dispatch(dst.dtype(), [&](auto z) {
    using T = decltype(z);
    T* p = dst.data<T>();
    std::fill(p, p + dst.numel(), T(value));
  });
}

}  // namespace rmgait::cpu
