// conv3d on cuDNN's legacy API: descriptors and the fastest algorithm of each direction are found
// once per shape (cudnnFind*) and cached with the math type cuDNN timed it with; workspaces come
// from the caching allocator. FMA math (no TF32, exact f32 like the CPU) unless RMGAIT_TF32=1,
// which allows tensor-op math (TF32 on Ampere and later; never CUDNN_TENSOR_OP_MATH_ALLOW_
// CONVERSION, which would also allow f16). bf16 (Conv3dParams): x, w and y are bf16 copies in
// descriptors of cuDNN's BFLOAT16 configuration (f32 compute, tensor-op math), x and gy taken as
// they are when they come in bf16 (the conv op's kept input, the gradient through its fused
// leaky_relu); results are widened back to f32, and the bias added and its gradient taken in f32.
#include <memory>
#include <optional>

#include "engine/cuda/bf16.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/descriptors.h"

namespace rmgait::cuda {

namespace {

struct Conv {
  bool bf16 = false;
  std::unique_ptr<TensorDesc> x, y, bias, y32;  // y32: y in f32 (bf16: for the bias)
  std::unique_ptr<FilterDesc> w;
  cudnnConvolutionDescriptor_t conv = nullptr;
  // One found algorithm per direction, with its workspace size and math type.
  template <class A>
  struct Choice {
    bool found = false;
    A algo{};
    size_t workspace = 0;
    cudnnMathType_t math = CUDNN_FMA_MATH;
  };
  Choice<cudnnConvolutionFwdAlgo_t> fwd;
  Choice<cudnnConvolutionBwdDataAlgo_t> bwd_data;
  Choice<cudnnConvolutionBwdFilterAlgo_t> bwd_filter;
  ~Conv() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

// What a search may use: bf16 needs tensor cores; f32 is exact FMA math unless TF32 is allowed.
cudnnMathType_t configured_math(bool bf16) {
  return bf16 || context().tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
}

std::string key_of(const Shape& x, const Shape& w, const Shape& y, const Conv3dParams& p) {
  std::string k = shape_str(x) + shape_str(w) + shape_str(y) + (p.bf16 ? "h" : "");
  for (int i = 0; i < 3; ++i)
    k += "/" + std::to_string(p.stride[i]) + "," + std::to_string(p.padding[i]);
  return k;
}

Conv& entry(const Shape& xs, const Shape& ws, const Shape& ys, const Conv3dParams& p) {
  static ShapeCache<Conv> cache;
  return cache.get(key_of(xs, ws, ys, p), [&] {
    auto c = std::make_unique<Conv>();
    const cudnnDataType_t type = p.bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    c->bf16 = p.bf16;
    c->x = std::make_unique<TensorDesc>(xs, type);
    c->y = std::make_unique<TensorDesc>(ys, type);
    c->y32 = std::make_unique<TensorDesc>(ys);
    c->bias = std::make_unique<TensorDesc>(Shape{1, ws[0], 1, 1, 1});
    c->w = std::make_unique<FilterDesc>(ws, type);
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&c->conv), "conv3d");
    int pad[3], stride[3], dil[3] = {1, 1, 1};
    for (int i = 0; i < 3; ++i) pad[i] = int(p.padding[i]), stride[i] = int(p.stride[i]);
    CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(c->conv, 3, pad, stride, dil,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                "conv3d " + shape_str(xs));
    return c;
  });
}

// Runs cuDNN's algorithm search the first time a shape is seen and keeps the fastest that ran;
// then sets the math type that algorithm was timed with (the descriptor is shared by the three
// directions, whose choices may differ in math type).
template <class Perf, class Algo, class Find>
void find_once(Conv::Choice<Algo>& choice, const Conv& c, const std::string& what, Find find) {
  cudnnConvolutionDescriptor_t conv = c.conv;
  if (!choice.found) {
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv, configured_math(c.bf16)), what);  // search in it
    int n = 0;
    Perf perf[8];
    CUDNN_CHECK(find(8, &n, perf), what);
    int best = 0;
    while (best < n && perf[best].status != CUDNN_STATUS_SUCCESS) ++best;
    RM_CHECK(best < n, what, ": cuDNN found no algorithm that runs");
    choice.algo = perf[best].algo, choice.workspace = perf[best].memory;
    // Exact mode keeps FMA math whatever cuDNN reports (its DEFAULT_MATH would permit TF32).
    choice.math = c.bf16 || context().tf32 ? perf[best].mathType : CUDNN_FMA_MATH;
    choice.found = true;
  }
  CUDNN_CHECK(cudnnSetConvolutionMathType(conv, choice.math), what);
}

// The device data cuDNN reads for t: t's own (f32, or already bf16), or with bf16 a bf16 copy
// held in keep.
const void* operand(const Tensor& t, bool bf16, std::optional<Bf16Buffer>& keep) {
  if (t.dtype() == DType::bf16) {
    RM_CHECK(bf16, "conv3d: a bf16 operand ", shape_str(t.shape()), " outside bf16 precision");
    return t.raw_data();
  }
  if (!bf16) return t.data<float>();
  keep.emplace(to_bf16(t));
  return keep->get();
}
// Where cuDNN writes t: t itself, or with bf16 a bf16 buffer that widen() copies into t.
void* result(const Tensor& t, bool bf16, std::optional<Bf16Buffer>& keep) {
  if (!bf16) return t.data<float>();
  keep.emplace(t.numel());
  return keep->get();
}
void widen(const std::optional<Bf16Buffer>& keep, const Tensor& t) {
  if (keep) from_bf16(*keep, t);
}

std::string shapes(const Tensor& a, const Tensor& b, const Tensor& c) {
  return shape_str(a.shape()) + " " + shape_str(b.shape()) + " -> " + shape_str(c.shape());
}

}  // namespace

void CudaBackend::conv3d_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                 const Tensor& y, const Conv3dParams& p) {
  const std::string what = "conv3d_forward " + shapes(x, w, y);
  Conv& c = entry(x.shape(), w.shape(), y.shape(), p);
  cudnnHandle_t h = context().cudnn;
  find_once<cudnnConvolutionFwdAlgoPerf_t>(c.fwd, c, what, [&](int k, int* n, auto* perf) {
    return cudnnFindConvolutionForwardAlgorithm(h, c.x->d, c.w->d, c.conv, c.y->d, k, n, perf);
  });
  Workspace ws(c.fwd.workspace);
  const float one = 1.f, zero = 0.f;
  std::optional<Bf16Buffer> xb, wb, yb;
  const void *xp = operand(x, c.bf16, xb), *wp = operand(w, c.bf16, wb);
  void* yp = result(y, c.bf16, yb);
  CUDNN_CHECK(cudnnConvolutionForward(h, &one, c.x->d, xp, c.w->d, wp, c.conv, c.fwd.algo, ws.get(),
                                      ws.size(), &zero, c.y->d, yp),
              what);
  if (yb && p.leaky_relu && !bias.defined()) {  // widened and activated in one pass
    from_bf16_leaky_relu(*yb, y, p.negative_slope);
    return;
  }
  widen(yb, y);
  if (bias.defined())
    CUDNN_CHECK(
        cudnnAddTensor(h, &one, c.bias->d, bias.data<float>(), &one, c.y32->d, y.data<float>()),
        what);
  if (p.leaky_relu) unary(UnaryOp::leaky_relu, y, y, p.negative_slope, 0.f);  // in place
}

void CudaBackend::conv3d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                       const Conv3dParams& p) {
  const std::string what = "conv3d_backward_data " + shapes(gy, w, gx);
  Conv& c = entry(gx.shape(), w.shape(), gy.shape(), p);
  cudnnHandle_t h = context().cudnn;
  find_once<cudnnConvolutionBwdDataAlgoPerf_t>(c.bwd_data, c, what, [&](int k, int* n, auto* perf) {
    return cudnnFindConvolutionBackwardDataAlgorithm(h, c.w->d, c.y->d, c.conv, c.x->d, k, n, perf);
  });
  Workspace ws(c.bwd_data.workspace);
  const float one = 1.f, zero = 0.f;
  std::optional<Bf16Buffer> wb, gyb, gxb;
  const void *wp = operand(w, c.bf16, wb), *gyp = operand(gy, c.bf16, gyb);
  void* gxp = result(gx, c.bf16, gxb);
  CUDNN_CHECK(
      cudnnConvolutionBackwardData(h, &one, c.w->d, wp, c.y->d, gyp, c.conv, c.bwd_data.algo,
                                   ws.get(), ws.size(), &zero, c.x->d, gxp),
      what);
  widen(gxb, gx);
}

void CudaBackend::conv3d_backward_weights(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                          const Tensor& gbias, const Conv3dParams& p) {
  const std::string what = "conv3d_backward_weights " + shapes(x, gy, gw);
  RM_CHECK(!gbias.defined() || gy.dtype() == DType::f32, what,
           ": the bias gradient sums an f32 gradient, got ", dtype_name(gy.dtype()));
  Conv& c = entry(x.shape(), gw.shape(), gy.shape(), p);
  cudnnHandle_t h = context().cudnn;
  find_once<cudnnConvolutionBwdFilterAlgoPerf_t>(
      c.bwd_filter, c, what, [&](int k, int* n, auto* perf) {
        return cudnnFindConvolutionBackwardFilterAlgorithm(h, c.x->d, c.y->d, c.conv, c.w->d, k, n,
                                                           perf);
      });
  Workspace ws(c.bwd_filter.workspace);
  const float one = 1.f, zero = 0.f;
  std::optional<Bf16Buffer> xb, gyb, gwb;
  const void *xp = operand(x, c.bf16, xb), *gyp = operand(gy, c.bf16, gyb);
  void* gwp = result(gw, c.bf16, gwb);
  CUDNN_CHECK(
      cudnnConvolutionBackwardFilter(h, &one, c.x->d, xp, c.y->d, gyp, c.conv, c.bwd_filter.algo,
                                     ws.get(), ws.size(), &zero, c.w->d, gwp),
      what);
  widen(gwb, gw);
  if (gbias.defined())
    CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, c.y32->d, gy.data<float>(), &zero, c.bias->d,
                                             gbias.data<float>()),
                what);
}

}  // namespace rmgait::cuda
