// conv3d on cuDNN's legacy API: descriptors and the fastest algorithm of each direction are found
// once per shape (cudnnFind*) and cached; workspaces come from the caching allocator. FMA math
// (no TF32) unless RMGAIT_TF32=1.
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
  bool have_fwd = false, have_bwd_data = false, have_bwd_filter = false;
  cudnnConvolutionFwdAlgo_t fwd;
  cudnnConvolutionBwdDataAlgo_t bwd_data;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter;
  size_t ws_fwd = 0, ws_data = 0, ws_filter = 0;
  ~Conv() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

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
    CUDNN_CHECK(
        cudnnSetConvolutionMathType(
            c->conv, context().tf32 ? CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION : CUDNN_FMA_MATH),
        "conv3d");
    return c;
  });
}

// Runs cuDNN's algorithm search the first time a shape is seen and keeps the fastest.
template <class Perf, class Algo, class Find>
void find_once(bool& have, Algo& algo, size_t& workspace, const std::string& what, Find find) {
  if (have) return;
  int n = 0;
  Perf perf[8];
  CUDNN_CHECK(find(8, &n, perf), what);
  RM_CHECK(n > 0 && perf[0].status == CUDNN_STATUS_SUCCESS, what, ": no cuDNN algorithm");
  algo = perf[0].algo, workspace = perf[0].memory, have = true;
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
  find_once<cudnnConvolutionFwdAlgoPerf_t>(
      c.have_fwd, c.fwd, c.ws_fwd, what, [&](int k, int* n, auto* perf) {
        return cudnnFindConvolutionForwardAlgorithm(h, c.x->d, c.w->d, c.conv, c.y->d, k, n, perf);
      });
  Workspace ws(c.ws_fwd);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(
      cudnnConvolutionForward(h, &one, c.x->d, x.data<float>(), c.w->d, w.data<float>(), c.conv,
                              c.fwd, ws.get(), ws.size(), &zero, c.y->d, y.data<float>()),
      what);
  if (bias.defined())
    CUDNN_CHECK(
        cudnnAddTensor(h, &one, c.bias->d, bias.data<float>(), &one, c.y->d, y.data<float>()),
        what);
}

void CudaBackend::conv3d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                       const Conv3dParams& p) {
  const std::string what = "conv3d_backward_data " + shapes(gy, w, gx);
  Conv& c = entry(gx.shape(), w.shape(), gy.shape(), p);
  cudnnHandle_t h = context().cudnn;
  find_once<cudnnConvolutionBwdDataAlgoPerf_t>(c.have_bwd_data, c.bwd_data, c.ws_data, what,
                                               [&](int k, int* n, auto* perf) {
                                                 return cudnnFindConvolutionBackwardDataAlgorithm(
                                                     h, c.w->d, c.y->d, c.conv, c.x->d, k, n, perf);
                                               });
  Workspace ws(c.ws_data);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, c.w->d, w.data<float>(), c.y->d,
                                           gy.data<float>(), c.conv, c.bwd_data, ws.get(),
                                           ws.size(), &zero, c.x->d, gx.data<float>()),
              what);
}

void CudaBackend::conv3d_backward_weights(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                          const Tensor& gbias, const Conv3dParams& p) {
  const std::string what = "conv3d_backward_weights " + shapes(x, gy, gw);
  Conv& c = entry(x.shape(), gw.shape(), gy.shape(), p);
  cudnnHandle_t h = context().cudnn;
  find_once<cudnnConvolutionBwdFilterAlgoPerf_t>(
      c.have_bwd_filter, c.bwd_filter, c.ws_filter, what, [&](int k, int* n, auto* perf) {
        return cudnnFindConvolutionBackwardFilterAlgorithm(h, c.x->d, c.y->d, c.conv, c.w->d, k, n,
                                                           perf);
      });
  Workspace ws(c.ws_filter);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, c.x->d, x.data<float>(), c.y->d,
                                             gy.data<float>(), c.conv, c.bwd_filter, ws.get(),
                                             ws.size(), &zero, c.w->d, gw.data<float>()),
              what);
  if (gbias.defined())
    CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, c.y->d, gy.data<float>(), &zero, c.bias->d,
                                             gbias.data<float>()),
                what);
}

}  // namespace rmgait::cuda
