// Batched matmul on oneDNN's matmul primitive; transposes are expressed as strides, batch
// broadcasting (Ba or Bb = 1) is native to the primitive.
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
memory::desc strided_desc(int64_t b, int64_t r, int64_t c, bool transposed) {
  memory::dims strides = transposed ? memory::dims{r * c, 1, r} : memory::dims{r * c, c, 1};
  return memory::desc({b, r, c}, memory::data_type::f32, strides);
}
}  // namespace

void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& c, bool ta, bool tb) {
  static PrimitiveCache<Entry> cache;
  const int64_t m = c.size(1), n = c.size(2), k = ta ? a.size(1) : a.size(2);
  const int64_t ba = a.size(0), bb = b.size(0), bc = c.size(0);
  std::string key = shape_str(a.shape()) + shape_str(b.shape()) + shape_str(c.shape()) +
                    (ta ? "T" : "N") + (tb ? "T" : "N");
  DNNL_CHECK("matmul", key, {
    Entry& e = cache.get(key, [&] {
      Entry en;
      en.a_md = strided_desc(ba, m, k, ta);
      en.b_md = strided_desc(bb, k, n, tb);
      en.c_md = strided_desc(bc, m, n, false);
      en.pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(en.a_md, en.b_md, en.c_md),
                                           dnnl_engine());
      en.prim = dnnl::matmul(en.pd);
      return en;
    });
    e.prim.execute(dnnl_stream(), {{DNNL_ARG_SRC, wrap(e.a_md, a)},
                                   {DNNL_ARG_WEIGHTS, wrap(e.b_md, b)},
                                   {DNNL_ARG_DST, wrap(e.c_md, c)}});
    dnnl_stream().wait();
  });
}

}  // namespace rmgait::cpu
