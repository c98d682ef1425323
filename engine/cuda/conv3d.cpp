// conv3d on cuDNN's legacy API: descriptors and the fastest algorithm of each direction are found
// once per shape (cudnnFind*) and cached with the math type cuDNN timed it with; workspaces come
// from the caching allocator. FMA math (no TF32, exact f32 like the CPU) unless RMGAIT_TF32=1,
// which allows tensor-op math (TF32 on Ampere and later; never CUDNN_TENSOR_OP_MATH_ALLOW_
// CONVERSION, which would also allow f16).
#include <memory>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/descriptors.h"

namespace rmgait::cuda {

namespace {

struct Conv {
  std::unique_ptr<TensorDesc> x, y, bias;
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

cudnnMathType_t configured_math() {
  return context().tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
}

std::string key_of(const Shape& x, const Shape& w, const Shape& y, const Conv3dParams& p) {
  std::string k = shape_str(x) + shape_str(w) + shape_str(y);
  for (int i = 0; i < 3; ++i)
    k += "/" + std::to_string(p.stride[i]) + "," + std::to_string(p.padding[i]);
  return k;
}

Conv& entry(const Shape& xs, const Shape& ws, const Shape& ys, const Conv3dParams& p) {
  static ShapeCache<Conv> cache;
  return cache.get(key_of(xs, ws, ys, p), [&] {
    auto c = std::make_unique<Conv>();
    c->x = std::make_unique<TensorDesc>(xs);
    c->y = std::make_unique<TensorDesc>(ys);
    c->bias = std::make_unique<TensorDesc>(Shape{1, ws[0], 1, 1, 1});
    c->w = std::make_unique<FilterDesc>(ws);
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
void find_once(Conv::Choice<Algo>& choice, cudnnConvolutionDescriptor_t conv,
               const std::string& what, Find find) {
  if (!choice.found) {
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv, configured_math()), what);  // search within it
    int n = 0;
    Perf perf[8];
    CUDNN_CHECK(find(8, &n, perf), what);
    int best = 0;
    while (best < n && perf[best].status != CUDNN_STATUS_SUCCESS) ++best;
    RM_CHECK(best < n, what, ": cuDNN found no algorithm that runs");
    choice.algo = perf[best].algo, choice.workspace = perf[best].memory;
    // Exact mode keeps FMA math whatever cuDNN reports (its DEFAULT_MATH would permit TF32).
    choice.math = context().tf32 ? perf[best].mathType : CUDNN_FMA_MATH;
    choice.found = true;
  }
  CUDNN_CHECK(cudnnSetConvolutionMathType(conv, choice.math), what);
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
  find_once<cudnnConvolutionFwdAlgoPerf_t>(c.fwd, c.conv, what, [&](int k, int* n, auto* perf) {
    return cudnnFindConvolutionForwardAlgorithm(h, c.x->d, c.w->d, c.conv, c.y->d, k, n, perf);
  });
  Workspace ws(c.fwd.workspace);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(
      cudnnConvolutionForward(h, &one, c.x->d, x.data<float>(), c.w->d, w.data<float>(), c.conv,
                              c.fwd.algo, ws.get(), ws.size(), &zero, c.y->d, y.data<float>()),
      what);
  if (bias.defined())
    CUDNN_CHECK(
        cudnnAddTensor(h, &one, c.bias->d, bias.data<float>(), &one, c.y->d, y.data<float>()),
        what);
  if (p.leaky_relu) unary(UnaryOp::leaky_relu, y, y, p.negative_slope, 0.f);  // in place
}

void CudaBackend::conv3d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                       const Conv3dParams& p) {
  const std::string what = "conv3d_backward_data " + shapes(gy, w, gx);
  Conv& c = entry(gx.shape(), w.shape(), gy.shape(), p);
  cudnnHandle_t h = context().cudnn;
  find_once<cudnnConvolutionBwdDataAlgoPerf_t>(c.bwd_data, c.conv, what,
                                               [&](int k, int* n, auto* perf) {
                                                 return cudnnFindConvolutionBackwardDataAlgorithm(
                                                     h, c.w->d, c.y->d, c.conv, c.x->d, k, n, perf);
                                               });
  Workspace ws(c.bwd_data.workspace);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, c.w->d, w.data<float>(), c.y->d,
                                           gy.data<float>(), c.conv, c.bwd_data.algo, ws.get(),
                                           ws.size(), &zero, c.x->d, gx.data<float>()),
              what);
}

void CudaBackend::conv3d_backward_weights(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                          const Tensor& gbias, const Conv3dParams& p) {
  const std::string what = "conv3d_backward_weights " + shapes(x, gy, gw);
  Conv& c = entry(x.shape(), gw.shape(), gy.shape(), p);
  cudnnHandle_t h = context().cudnn;
  find_once<cudnnConvolutionBwdFilterAlgoPerf_t>(
      c.bwd_filter, c.conv, what, [&](int k, int* n, auto* perf) {
        return cudnnFindConvolutionBackwardFilterAlgorithm(h, c.x->d, c.y->d, c.conv, c.w->d, k, n,
                                                           perf);
      });
  Workspace ws(c.bwd_filter.workspace);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, c.x->d, x.data<float>(), c.y->d,
                                             gy.data<float>(), c.conv, c.bwd_filter.algo, ws.get(),
                                             ws.size(), &zero, c.w->d, gw.data<float>()),
              what);
  if (gbias.defined())
    CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, c.y->d, gy.data<float>(), &zero, c.bias->d,
                                             gbias.data<float>()),
                what);
}

}  // namespace rmgait::cuda
