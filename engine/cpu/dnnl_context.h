#pragma once
// The process-wide oneDNN engine and stream, a primitive cache keyed by op and shapes, and
// DNNL_CHECK, which rethrows oneDNN errors with the op name and shapes.
#include <algorithm>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>

#include "engine/error.h"
#include "engine/lru_cache.h"
#include "engine/tensor.h"

namespace rmgait::cpu {

dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();

dnnl::memory::dims to_dims(const Shape& s);
// Plain row-major tag for 1-d to 5-d tensors (a, ab, abc, abcd, abcde).
dnnl::memory::format_tag plain_tag(int64_t ndim);
dnnl::memory::desc plain_desc(const Shape& s);
// A dnnl::memory over a dense f32 or bf16 tensor (no copy): row-major when contiguous, else in
// its memory order (a channels-last tensor as oneDNN's acdeb).
dnnl::memory wrap_plain(const Tensor& t);
// A dnnl::memory over a tensor's data in the given layout (no copy).
dnnl::memory wrap(const dnnl::memory::desc& md, const Tensor& t);

// An f32 tensor of at least md's bytes, to hold a memory of layout md.
Tensor scratch_for(const dnnl::memory::desc& md);

// Runs `src -> dst` reorder when the layouts differ; returns the memory to compute on.
// `scratch` keeps a temporary buffer alive while it is in use.
dnnl::memory to_layout(const dnnl::memory& src, const dnnl::memory::desc& want, Tensor& scratch);
void reorder_into(const dnnl::memory& src, const dnnl::memory& dst);

// Primitive descriptors, written once for the oneDNN 2 API (an op descriptor, then the primitive
// descriptor) and the oneDNN 3 one (the primitive descriptor alone, engine first): the ops call
// these. bias, or a conv's hint, may be an empty memory::desc / primitive_desc; `alg` is
// convolution_direct or convolution_winograd.
using ConvFwdPd = dnnl::convolution_forward::primitive_desc;
constexpr dnnl::algorithm kDirect = dnnl::algorithm::convolution_direct;
ConvFwdPd conv_forward_pd(const dnnl::memory::desc& src, const dnnl::memory::desc& weights,
                          const dnnl::memory::desc& bias, const dnnl::memory::desc& dst,
                          const dnnl::memory::dims& strides, const dnnl::memory::dims& pad_l,
                          const dnnl::memory::dims& pad_r,
                          const dnnl::primitive_attr& attr = dnnl::primitive_attr(),
                          dnnl::algorithm alg = kDirect);
dnnl::convolution_backward_data::primitive_desc conv_backward_data_pd(
    const dnnl::memory::desc& diff_src, const dnnl::memory::desc& weights,
    const dnnl::memory::desc& diff_dst, const dnnl::memory::dims& strides,
    const dnnl::memory::dims& pad_l, const dnnl::memory::dims& pad_r, const ConvFwdPd& hint,
    dnnl::algorithm alg = kDirect);
dnnl::convolution_backward_weights::primitive_desc conv_backward_weights_pd(
    const dnnl::memory::desc& src, const dnnl::memory::desc& diff_weights,
    const dnnl::memory::desc& diff_bias, const dnnl::memory::desc& diff_dst,
    const dnnl::memory::dims& strides, const dnnl::memory::dims& pad_l,
    const dnnl::memory::dims& pad_r, const ConvFwdPd& hint, dnnl::algorithm alg = kDirect);
// y = x >= 0 ? x : slope * x, as a post-op
void append_leaky_relu(dnnl::post_ops& ops, float slope);
dnnl::batch_normalization_forward::primitive_desc batch_norm_forward_pd(
    dnnl::prop_kind kind, const dnnl::memory::desc& md, float eps, dnnl::normalization_flags flags);
dnnl::batch_normalization_backward::primitive_desc batch_norm_backward_pd(
    const dnnl::memory::desc& md, float eps, dnnl::normalization_flags flags,
    const dnnl::batch_normalization_forward::primitive_desc& hint);
// md's type, and md with another type (same dims and strides)
dnnl::memory::data_type type_of(const dnnl::memory::desc& md);
dnnl::memory::desc with_type(const dnnl::memory::desc& md, dnnl::memory::data_type type);
dnnl::matmul::primitive_desc matmul_pd(const dnnl::memory::desc& a, const dnnl::memory::desc& b,
                                       const dnnl::memory::desc& c);

// Per-shape state of the CPU ops, bounded (engine/lru_cache.h).
template <class Entry>
using PrimitiveCache = LruCache<Entry>;

}  // namespace rmgait::cpu

// Wraps a oneDNN call: errors become rmgait::Error naming the op and its shapes.
#define DNNL_CHECK(op, shapes, ...)                                                         \
  do {                                                                                      \
    try {                                                                                   \
      __VA_ARGS__;                                                                          \
    } catch (const dnnl::error& e) {                                                        \
      RM_FAIL("oneDNN ", op, " ", shapes, ": ", e.what(), " (status ", int(e.status), ")"); \
    }                                                                                       \
  } while (0)
