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
// A dnnl::memory over a contiguous f32 or bf16 tensor in its plain layout (no copy).
dnnl::memory wrap_plain(const Tensor& t);
// A dnnl::memory over a tensor's data in the given layout (no copy).
dnnl::memory wrap(const dnnl::memory::desc& md, const Tensor& t);

// Runs `src -> dst` reorder when the layouts differ; returns the memory to compute on.
// `scratch` keeps a temporary buffer alive while it is in use.
dnnl::memory to_layout(const dnnl::memory& src, const dnnl::memory::desc& want, Tensor& scratch);
void reorder_into(const dnnl::memory& src, const dnnl::memory& dst);

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
