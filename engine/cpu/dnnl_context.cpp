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
  RM_CHECK(t.is_contiguous(), "oneDNN: a strided tensor ", shape_str(t.shape()),
           " where a contiguous one was expected");
  const auto type = t.dtype() == DType::bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  return wrap(memory::desc(to_dims(t.shape()), type, plain_tag(t.dim())), t);
}

void reorder_into(const memory& src, const memory& dst) {
  dnnl::reorder(src, dst).execute(dnnl_stream(), const_cast<memory&>(src),
                                  const_cast<memory&>(dst));
}

memory to_layout(const memory& src, const memory::desc& want, Tensor& scratch) {
  if (src.get_desc() == want) return src;
  scratch = Tensor::empty({int64_t((want.get_size() + 3) / 4)}, DType::f32);
  memory dst(want, dnnl_engine(), scratch.raw_data());
  reorder_into(src, dst);
  return dst;
}

// bf16 products in hardware: oneDNN's effective ISA (which DNNL_MAX_CPU_ISA may lower) includes
// AVX512-BF16 (AMX's ISA value contains its bits).
bool CpuBackend::has_bf16() const {
  const int isa = int(dnnl::get_effective_cpu_isa()), bf16 = int(dnnl_cpu_isa_avx512_core_bf16);
  return (isa & bf16) == bf16;
}

}  // namespace rmgait::cpu
