// Batched matmul on oneDNN's matmul primitive; transposes are expressed as strides, batch
// broadcasting (Ba or Bb = 1) is native to the primitive. bf16: the operands are converted into
// bf16 copies with the same strides, the product accumulates and lands in f32.
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dnnl_context.h"

namespace rmgait::cpu {

using dnnl::memory;

namespace {
struct Entry {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  memory::desc a_md, b_md, c_md;
};

// Logical [B, R, C] over memory laid out [B, R, C] (or [B, C, R] when transposed).
memory::desc strided_desc(int64_t b, int64_t r, int64_t c, bool transposed,
                          memory::data_type dt = memory::data_type::f32) {
  memory::dims strides = transposed ? memory::dims{r * c, 1, r} : memory::dims{r * c, c, 1};
  return memory::desc({b, r, c}, dt, strides);
}

// t (f32) as an operand of type md: itself, or a bf16 copy in `scratch` (same strides).
memory operand(const Tensor& t, const memory::desc& md, Tensor& scratch) {
  if (type_of(md) == memory::data_type::f32) return wrap(md, t);
  return to_layout(wrap(with_type(md, memory::data_type::f32), t), md, scratch);
}
}  // namespace

void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& c, bool ta, bool tb,
                        bool bf16) {
  static PrimitiveCache<Entry> cache;
  const int64_t m = c.size(1), n = c.size(2), k = ta ? a.size(1) : a.size(2);
  const int64_t ba = a.size(0), bb = b.size(0), bc = c.size(0);
  std::string key = shape_str(a.shape()) + shape_str(b.shape()) + shape_str(c.shape()) +
                    (ta ? "T" : "N") + (tb ? "T" : "N") + (bf16 ? "h" : "");
  DNNL_CHECK("matmul", key, {
    Entry& e = cache.get(key, [&] {
      Entry en;
      const auto dt = bf16 ? memory::data_type::bf16 : memory::data_type::f32;
      en.a_md = strided_desc(ba, m, k, ta, dt);
      en.b_md = strided_desc(bb, k, n, tb, dt);
      en.c_md = strided_desc(bc, m, n, false);
      en.pd = matmul_pd(en.a_md, en.b_md, en.c_md);
      en.prim = dnnl::matmul(en.pd);
      return en;
    });
    Tensor sa, sb;
    e.prim.execute(dnnl_stream(), {{DNNL_ARG_SRC, operand(a, e.a_md, sa)},
                                   {DNNL_ARG_WEIGHTS, operand(b, e.b_md, sb)},
                                   {DNNL_ARG_DST, wrap(e.c_md, c)}});
    dnnl_stream().wait();
  });
}

}  // namespace rmgait::cpu
