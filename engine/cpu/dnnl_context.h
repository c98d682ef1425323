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

// Cache of per-shape state (primitive descriptors, primitives, reordered weights), least
// recently used first out past `capacity` entries: a long-running process that meets ever new
// shapes (evaluation of sequences of every length) keeps a bounded set. A reference from get()
// stays valid until `capacity` other keys have been inserted (an op holds it for its own call).
// RMGAIT_PRIMITIVE_CACHE sets the capacity (default 256 per cache).
size_t primitive_cache_capacity();

template <class Entry>
class PrimitiveCache {
 public:
  Entry& get(const std::string& key, const std::function<Entry()>& make) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      order_.splice(order_.begin(), order_, it->second.second);  // most recent first
      return *it->second.first;
    }
    auto entry = std::make_unique<Entry>(make());
    order_.push_front(key);
    Entry& e = *entry;
    map_.emplace(key, std::make_pair(std::move(entry), order_.begin()));
    while (map_.size() > std::max<size_t>(2, primitive_cache_capacity())) {
      map_.erase(order_.back());
      order_.pop_back();
    }
    return e;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return map_.size();
  }

 private:
  std::mutex mu_;
  std::list<std::string> order_;
  std::unordered_map<std::string,
                     std::pair<std::unique_ptr<Entry>, std::list<std::string>::iterator>>
      map_;
};

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
