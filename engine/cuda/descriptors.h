#pragma once
// RAII wrappers for cuDNN descriptors, and a per-shape cache.
#include <cudnn.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/lru_cache.h"
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

// Descriptors and chosen algorithms per shape, bounded (engine/lru_cache.h).
template <class Entry>
using ShapeCache = LruCache<Entry>;

}  // namespace rmgait::cuda
