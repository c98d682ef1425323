#pragma once
// RAII wrappers for cuDNN descriptors, and a per-shape cache.
#include <cudnn.h>

#include <list>
#include <cstdlib>
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/shape.h"

namespace rmgait::cuda {

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  // Fully packed NCDHW-style descriptor; fewer than 4 dims are padded with trailing 1s.
  explicit TensorDesc(const Shape& s, cudnnDataType_t type = CUDNN_DATA_FLOAT) {
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&d), "tensor descriptor");
    std::vector<int> dims(s.begin(), s.end());
    while (dims.size() < 4) dims.push_back(1);
    std::vector<int> strides(dims.size());
    int st = 1;
    for (int i = int(dims.size()) - 1; i >= 0; --i) strides[i] = st, st *= dims[i];
    CUDNN_CHECK(cudnnSetTensorNdDescriptor(d, type, int(dims.size()), dims.data(), strides.data()),
                "tensor descriptor " + shape_str(s));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  explicit FilterDesc(const Shape& s, cudnnDataType_t type = CUDNN_DATA_FLOAT) {
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&d), "filter descriptor");
    std::vector<int> dims(s.begin(), s.end());
    CUDNN_CHECK(
        cudnnSetFilterNdDescriptor(d, type, CUDNN_TENSOR_NCHW, int(dims.size()), dims.data()),
        "filter descriptor " + shape_str(s));
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};

// Descriptors and chosen algorithms per shape, least recently used first out past 256 entries
// (RMGAIT_PRIMITIVE_CACHE, as the CPU's primitive cache): evaluating sequences of ever new
// lengths keeps a bounded set. A reference from get() stays valid for the op that asked for it.
template <class Entry>
class ShapeCache {
 public:
  Entry& get(const std::string& key, const std::function<std::unique_ptr<Entry>()>& make) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      order_.splice(order_.begin(), order_, it->second.second);
      return *it->second.first;
    }
    std::unique_ptr<Entry> entry = make();
    Entry& e = *entry;
    order_.push_front(key);
    map_.emplace(key, std::make_pair(std::move(entry), order_.begin()));
    while (map_.size() > capacity()) {
      map_.erase(order_.back());
      order_.pop_back();
    }
    return e;
  }

 private:
  static size_t capacity() {
    static const size_t n = [] {
      const char* v = std::getenv("RMGAIT_PRIMITIVE_CACHE");
      return v ? size_t(std::max(2L, std::atol(v))) : size_t(256);
    }();
    return n;
  }
  std::mutex mu_;
  std::list<std::string> order_;
  std::map<std::string, std::pair<std::unique_ptr<Entry>, std::list<std::string>::iterator>> map_;
};

}  // namespace rmgait::cuda
