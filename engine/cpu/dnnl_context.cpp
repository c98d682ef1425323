#include "engine/cpu/dnnl_context.h"

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

}  // namespace rmgait::cpu
