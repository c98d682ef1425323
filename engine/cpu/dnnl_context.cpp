#include "engine/cpu/dnnl_context.h"

#include <algorithm>
#include <cstdlib>

#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

using dnnl::memory;

dnnl::engine& dnnl_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& dnnl_stream() {
  static dnnl::stream s(dnnl_engine());
  return s;
}

memory::dims to_dims(const Shape& s) {
  return memory::dims(s.begin(), s.end());
}

memory::format_tag plain_tag(int64_t ndim) {
  switch (ndim) {
    case 1:
      return memory::format_tag::a;
    case 2:
      return memory::format_tag::ab;
    case 3:
      return memory::format_tag::abc;
    case 4:
      return memory::format_tag::abcd;
    case 5:
      return memory::format_tag::abcde;
  }
  RM_FAIL("oneDNN: no plain layout for a ", ndim, "-d tensor");
}

memory::desc plain_desc(const Shape& s) {
  return memory::desc(to_dims(s), memory::data_type::f32, plain_tag(int64_t(s.size())));
}

memory wrap(const memory::desc& md, const Tensor& t) {
  return memory(md, dnnl_engine(), t.raw_data());
}

memory wrap_plain(const Tensor& t) {
  RM_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::bf16, "oneDNN: a ", dtype_name(t.dtype()),
           " tensor ", shape_str(t.shape()), " where f32 or bf16 was expected");
  const auto type = t.dtype() == DType::bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  if (t.is_contiguous()) return wrap(memory::desc(to_dims(t.shape()), type, plain_tag(t.dim())), t);
  // Dense in another order (channels-last): its strides, with those of size-1 dims rebuilt as
  // oneDNN's tags give them, so that it compares equal to the layout of the same order.
  const std::optional<std::vector<int64_t>> order = dense_order(t.shape(), t.strides());
  RM_CHECK(order, "oneDNN: a strided tensor ", shape_str(t.shape()), " (strides ",
           shape_str(t.strides()), ") where a dense one was expected");
  return wrap(memory::desc(to_dims(t.shape()), type, to_dims(strides_in_order(t.shape(), *order))),
              t);
}

void reorder_into(const memory& src, const memory& dst) {
  dnnl::reorder(src, dst).execute(dnnl_stream(), const_cast<memory&>(src),
                                  const_cast<memory&>(dst));
}

Tensor scratch_for(const memory::desc& md) {
  return Tensor::empty({int64_t((md.get_size() + 3) / 4)}, DType::f32);
}

memory to_layout(const memory& src, const memory::desc& want, Tensor& scratch) {
  if (src.get_desc() == want) return src;
  scratch = scratch_for(want);
  memory dst(want, dnnl_engine(), scratch.raw_data());
  reorder_into(src, dst);
  return dst;
}

#if DNNL_VERSION_MAJOR >= 3
ConvFwdPd conv_forward_pd(const memory::desc& src, const memory::desc& weights,
                          const memory::desc& bias, const memory::desc& dst,
                          const memory::dims& strides, const memory::dims& pad_l,
                          const memory::dims& pad_r, const dnnl::primitive_attr& attr,
                          dnnl::algorithm alg) {
  return ConvFwdPd(dnnl_engine(), dnnl::prop_kind::forward_training, alg, src, weights, bias, dst,
                   strides, pad_l, pad_r, attr);
}

dnnl::convolution_backward_data::primitive_desc conv_backward_data_pd(
    const memory::desc& diff_src, const memory::desc& weights, const memory::desc& diff_dst,
    const memory::dims& strides, const memory::dims& pad_l, const memory::dims& pad_r,
    const ConvFwdPd& hint, dnnl::algorithm alg) {
  return {dnnl_engine(), alg, diff_src, weights, diff_dst, strides, pad_l, pad_r, hint};
}

dnnl::convolution_backward_weights::primitive_desc conv_backward_weights_pd(
    const memory::desc& src, const memory::desc& diff_weights, const memory::desc& diff_bias,
    const memory::desc& diff_dst, const memory::dims& strides, const memory::dims& pad_l,
    const memory::dims& pad_r, const ConvFwdPd& hint, dnnl::algorithm alg) {
  return {dnnl_engine(), alg, src, diff_weights, diff_bias, diff_dst, strides, pad_l, pad_r, hint};
}

void append_leaky_relu(dnnl::post_ops& ops, float slope) {
  ops.append_eltwise(dnnl::algorithm::eltwise_relu, slope, 0.f);
}

dnnl::batch_normalization_forward::primitive_desc batch_norm_forward_pd(
    dnnl::prop_kind kind, const memory::desc& md, float eps, dnnl::normalization_flags flags) {
  return {dnnl_engine(), kind, md, md, eps, flags};
}

dnnl::batch_normalization_backward::primitive_desc batch_norm_backward_pd(
    const memory::desc& md, float eps, dnnl::normalization_flags flags,
    const dnnl::batch_normalization_forward::primitive_desc& hint) {
  return {dnnl_engine(), dnnl::prop_kind::backward, md, md, md, eps, flags, hint};
}

dnnl::matmul::primitive_desc matmul_pd(const memory::desc& a, const memory::desc& b,
                                       const memory::desc& c) {
  return {dnnl_engine(), a, b, c};
}

memory::data_type type_of(const memory::desc& md) {
  return md.get_data_type();
}

memory::desc with_type(const memory::desc& md, memory::data_type type) {
  return memory::desc(md.get_dims(), type, md.get_strides());
}
#else
ConvFwdPd conv_forward_pd(const memory::desc& src, const memory::desc& weights,
                          const memory::desc& bias, const memory::desc& dst,
                          const memory::dims& strides, const memory::dims& pad_l,
                          const memory::dims& pad_r, const dnnl::primitive_attr& attr,
                          dnnl::algorithm alg) {
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, alg, src, weights, bias, dst,
                                    strides, pad_l, pad_r);
  return ConvFwdPd(d, attr, dnnl_engine());
}

dnnl::convolution_backward_data::primitive_desc conv_backward_data_pd(
    const memory::desc& diff_src, const memory::desc& weights, const memory::desc& diff_dst,
    const memory::dims& strides, const memory::dims& pad_l, const memory::dims& pad_r,
    const ConvFwdPd& hint, dnnl::algorithm alg) {
  dnnl::convolution_backward_data::desc d(alg, diff_src, weights, diff_dst, strides, pad_l, pad_r);
  return {d, dnnl_engine(), hint};
}

dnnl::convolution_backward_weights::primitive_desc conv_backward_weights_pd(
    const memory::desc& src, const memory::desc& diff_weights, const memory::desc& diff_bias,
    const memory::desc& diff_dst, const memory::dims& strides, const memory::dims& pad_l,
    const memory::dims& pad_r, const ConvFwdPd& hint, dnnl::algorithm alg) {
  dnnl::convolution_backward_weights::desc d(alg, src, diff_weights, diff_bias, diff_dst, strides,
                                             pad_l, pad_r);
  return {d, dnnl_engine(), hint};
}

void append_leaky_relu(dnnl::post_ops& ops, float slope) {
  ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, slope, 0.f);
}

dnnl::batch_normalization_forward::primitive_desc batch_norm_forward_pd(
    dnnl::prop_kind kind, const memory::desc& md, float eps, dnnl::normalization_flags flags) {
  return {dnnl::batch_normalization_forward::desc(kind, md, eps, flags), dnnl_engine()};
}

dnnl::batch_normalization_backward::primitive_desc batch_norm_backward_pd(
    const memory::desc& md, float eps, dnnl::normalization_flags flags,
    const dnnl::batch_normalization_forward::primitive_desc& hint) {
  return {dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, md, md, eps, flags),
          dnnl_engine(), hint};
}

dnnl::matmul::primitive_desc matmul_pd(const memory::desc& a, const memory::desc& b,
                                       const memory::desc& c) {
  return {dnnl::matmul::desc(a, b, c), dnnl_engine()};
}

memory::data_type type_of(const memory::desc& md) {
  return md.data_type();
}

memory::desc with_type(const memory::desc& md, memory::data_type type) {
  memory::desc out = md;
  out.data.data_type = dnnl_data_type_t(type);
  return out;
}
#endif

// bf16 products in hardware: oneDNN's effective ISA (which DNNL_MAX_CPU_ISA may lower) includes
// AVX512-BF16 (AMX's ISA value contains its bits).
bool CpuBackend::has_bf16() const {
  const int isa = int(dnnl::get_effective_cpu_isa()), bf16 = int(dnnl_cpu_isa_avx512_core_bf16);
  return (isa & bf16) == bf16;
}

}  // namespace rmgait::cpu
