// Binary elementwise ops and where(), over broadcast (stride-0) views.
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/strided.h"

namespace rmgait::cpu {

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const float* ap = static_cast<const float*>(a.storage()->data());
  const float* bp = static_cast<const float*>(b.storage()->data());
  float* op_ = out.data<float>();
  for_each_row<2>(out.shape(), {&a.strides(), &b.strides()}, {a.offset(), b.offset()},
                  [&](int64_t o, auto offs, int64_t len, auto inner) {
                    const float* x = ap + offs[0];
                    const float* y = bp + offs[1];
                    for (int64_t i = 0; i < len; ++i)
                      op_[o + i] = binary_forward(op, x[i * inner[0]], y[i * inner[1]]);
                  });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const float* ap = static_cast<const float*>(a.storage()->data());
  const float* bp = static_cast<const float*>(b.storage()->data());
  float* op_ = out.data<float>();
  dispatch(cond.dtype(), [&](auto z) {
    using C = decltype(z);
    const C* cp = static_cast<const C*>(cond.storage()->data());
    for_each_row<3>(out.shape(), {&cond.strides(), &a.strides(), &b.strides()},
                    {cond.offset(), a.offset(), b.offset()},
                    [&](int64_t o, auto offs, int64_t len, auto inner) {
                      for (int64_t i = 0; i < len; ++i)
                        op_[o + i] = cp[offs[0] + i * inner[0]] != C(0)
                                         ? ap[offs[1] + i * inner[1]]
                                         : bp[offs[2] + i * inner[2]];
                    });
  });
}

}  // namespace rmgait::cpu
