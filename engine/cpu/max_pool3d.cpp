// 3-D max pooling on oneDNN; training keeps oneDNN's workspace (argmax positions) as state.
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dnnl_context.h"

namespace rmgait::cpu {

using dnnl::memory;

namespace {
struct Fwd {
  dnnl::pooling_forward::primitive_desc pd;
  dnnl::pooling_forward prim;
  memory::dims strides, kernel, pad_l, pad_r;
};
struct Bwd {
  dnnl::pooling_backward::primitive_desc pd;
  dnnl::pooling_backward prim;
};

std::string pool_key(const Shape& x, const Shape& y, const Pool3dParams& p, bool training) {
  std::string k = shape_str(x) + shape_str(y) + (training ? "T" : "I");
  for (int i = 0; i < 3; ++i)
    k += "/" + std::to_string(p.kernel[i]) + "," + std::to_string(p.stride[i]) + "," +
         std::to_string(p.padding[i]);
  return k;
}

Fwd& forward_entry(const Shape& x, const Shape& y, const Pool3dParams& p, bool training) {
  static PrimitiveCache<Fwd> cache;
  return cache.get(pool_key(x, y, p, training), [&] {
    Fwd f;
    for (int i = 0; i < 3; ++i) {
      f.strides.push_back(p.stride[i]);
      f.kernel.push_back(p.kernel[i]);
      f.pad_l.push_back(p.padding[i]);
      f.pad_r.push_back((y[2 + i] - 1) * p.stride[i] + p.kernel[i] - x[2 + i] - p.padding[i]);
    }
    auto kind = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    f.pd = dnnl::pooling_forward::primitive_desc(
        dnnl::pooling_forward::desc(kind, dnnl::algorithm::pooling_max, plain_desc(x),
                                    plain_desc(y), f.strides, f.kernel, f.pad_l, f.pad_r),
        dnnl_engine());
    f.prim = dnnl::pooling_forward(f.pd);
    return f;
  });
}
}  // namespace

Tensor CpuBackend::max_pool3d_forward(const Tensor& x, const Tensor& y, const Pool3dParams& p,
                                      bool training) {
  Tensor workspace;
  DNNL_CHECK("max_pool3d_forward", shape_str(x.shape()) + " -> " + shape_str(y.shape()), {
    Fwd& f = forward_entry(x.shape(), y.shape(), p, training);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(plain_desc(x.shape()), x)},
                                         {DNNL_ARG_DST, wrap(plain_desc(y.shape()), y)}};
    if (training) {
      memory::desc ws = f.pd.workspace_desc();
      workspace = Tensor::empty({int64_t(ws.get_size())}, DType::u8);
      args[DNNL_ARG_WORKSPACE] = wrap(ws, workspace);
    }
    f.prim.execute(dnnl_stream(), args);
    dnnl_stream().wait();
  });
  return workspace;
}

void CpuBackend::max_pool3d_backward(const Tensor& gy, const Tensor& x, const Tensor& y,
                                     const Tensor& state, const Tensor& gx, const Pool3dParams& p) {
  static PrimitiveCache<Bwd> cache;
  (void)y;
  DNNL_CHECK("max_pool3d_backward", shape_str(gy.shape()) + " -> " + shape_str(gx.shape()), {
    RM_CHECK(state.defined(), "max_pool3d_backward: no workspace (forward ran in inference mode)");
    Fwd& f = forward_entry(x.shape(), gy.shape(), p, true);
    Bwd& b = cache.get(pool_key(x.shape(), gy.shape(), p, true), [&] {
      Bwd e;
      e.pd = dnnl::pooling_backward::primitive_desc(
          dnnl::pooling_backward::desc(dnnl::algorithm::pooling_max, plain_desc(x.shape()),
                                       plain_desc(gy.shape()), f.strides, f.kernel, f.pad_l,
                                       f.pad_r),
          dnnl_engine(), f.pd);
      e.prim = dnnl::pooling_backward(e.pd);
      return e;
    });
    b.prim.execute(dnnl_stream(), {{DNNL_ARG_DIFF_DST, wrap(plain_desc(gy.shape()), gy)},
                                   {DNNL_ARG_DIFF_SRC, wrap(plain_desc(gx.shape()), gx)},
                                   {DNNL_ARG_WORKSPACE, wrap(f.pd.workspace_desc(), state)}});
    dnnl_stream().wait();
  });
}

}  // namespace rmgait::cpu
