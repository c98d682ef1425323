// Batch normalization on oneDNN (plain layouts, separate scale and shift). oneDNN returns the
// biased batch variance and keeps no running statistics: the op layer updates those.
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dnnl_context.h"

namespace rmgait::cpu {

using dnnl::memory;
using dnnl::normalization_flags;

namespace {
struct BnFwd {
  dnnl::batch_normalization_forward::primitive_desc pd;
  dnnl::batch_normalization_forward prim;
};
struct BnBwd {
  dnnl::batch_normalization_backward::primitive_desc pd;
  dnnl::batch_normalization_backward prim;
};

const normalization_flags kAffine = normalization_flags::use_scale | normalization_flags::use_shift;

BnFwd& forward_entry(const Shape& s, float eps, bool training) {
  static PrimitiveCache<BnFwd> cache;
  std::string key = shape_str(s) + std::to_string(eps) + (training ? "T" : "I");
  return cache.get(key, [&] {
    auto kind = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    auto flags = training ? kAffine : kAffine | normalization_flags::use_global_stats;
    BnFwd f;
    f.pd = batch_norm_forward_pd(kind, plain_desc(s), eps, flags);
    f.prim = dnnl::batch_normalization_forward(f.pd);
    return f;
  });
}

memory vec(const Tensor& t) {
  return wrap(plain_desc(t.shape()), t);
}
}  // namespace

void CpuBackend::batch_norm_forward_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                          const Tensor& y, const Tensor& mean, const Tensor& var,
                                          float eps) {
  DNNL_CHECK("batch_norm_forward_train", shape_str(x.shape()), {
    BnFwd& f = forward_entry(x.shape(), eps, true);
    memory::desc md = plain_desc(x.shape());
    f.prim.execute(dnnl_stream(), {{DNNL_ARG_SRC, wrap(md, x)},
                                   {DNNL_ARG_DST, wrap(md, y)},
                                   {DNNL_ARG_SCALE, vec(weight)},
                                   {DNNL_ARG_SHIFT, vec(bias)},
                                   {DNNL_ARG_MEAN, vec(mean)},
                                   {DNNL_ARG_VARIANCE, vec(var)}});
    dnnl_stream().wait();
  });
}

void CpuBackend::batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                         const Tensor& mean, const Tensor& var, const Tensor& y,
                                         float eps) {
  DNNL_CHECK("batch_norm_forward_eval", shape_str(x.shape()), {
    BnFwd& f = forward_entry(x.shape(), eps, false);
    memory::desc md = plain_desc(x.shape());
    f.prim.execute(dnnl_stream(), {{DNNL_ARG_SRC, wrap(md, x)},
                                   {DNNL_ARG_DST, wrap(md, y)},
                                   {DNNL_ARG_SCALE, vec(weight)},
                                   {DNNL_ARG_SHIFT, vec(bias)},
                                   {DNNL_ARG_MEAN, vec(mean)},
                                   {DNNL_ARG_VARIANCE, vec(var)}});
    dnnl_stream().wait();
  });
}

void CpuBackend::batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                                     const Tensor& mean, const Tensor& var, const Tensor& gx,
                                     const Tensor& gweight, const Tensor& gbias, float eps) {
  static PrimitiveCache<BnBwd> cache;
  DNNL_CHECK("batch_norm_backward", shape_str(x.shape()), {
    BnFwd& f = forward_entry(x.shape(), eps, true);
    BnBwd& b = cache.get(shape_str(x.shape()) + std::to_string(eps), [&] {
      memory::desc md = plain_desc(x.shape());
      BnBwd e;
      e.pd = batch_norm_backward_pd(md, eps, kAffine, f.pd);
      e.prim = dnnl::batch_normalization_backward(e.pd);
      return e;
    });
    memory::desc md = plain_desc(x.shape());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, wrap(md, x)},         {DNNL_ARG_DIFF_DST, wrap(md, gy)},
        {DNNL_ARG_MEAN, vec(mean)},          {DNNL_ARG_VARIANCE, vec(var)},
        {DNNL_ARG_SCALE, vec(weight)},       {DNNL_ARG_DIFF_SRC, wrap(md, gx)},
        {DNNL_ARG_DIFF_SCALE, vec(gweight)}, {DNNL_ARG_DIFF_SHIFT, vec(gbias)}};
#if DNNL_VERSION_MAJOR < 3
    // oneDNN 2 asks for the shift as an input although the gradients do not depend on it
    Tensor unused_shift = Tensor::zeros(weight.shape());
    args[DNNL_ARG_SHIFT] = vec(unused_shift);
#endif
    b.prim.execute(dnnl_stream(), args);
    dnnl_stream().wait();
  });
}

}  // namespace rmgait::cpu
