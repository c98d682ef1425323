// bf16_copy: one bf16 copy of an activation for every reader that keeps it in bf16.
#include <algorithm>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/precision.h"

namespace rmgait {

namespace {
// Keyed by what fixes the values: the storage (ids are never reused), its version (in-place
// writes bump it), the view's offset, shape and strides. Entries only point at the copies, which
// live as long as their readers hold them; dead entries are swept as the map grows.
struct Bf16Copies {
  std::mutex mu;
  std::unordered_map<std::string, std::weak_ptr<TensorImpl>> map;
  size_t sweep_at = 64;
};

std::string key_of(const Tensor& x) {
  return std::to_string(x.storage()->id()) + "/" + std::to_string(x.storage()->version()) + "/" +
         std::to_string(x.offset()) + "/" + shape_str(x.shape()) + shape_str(x.strides()) +
         device_name(x.device());
}
}  // namespace

Tensor bf16_copy(const Tensor& x) {
  RM_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::bf16, "bf16_copy: got a ",
           dtype_name(x.dtype()), " tensor ", shape_str(x.shape()), "; expected f32 or bf16");
  if (x.dtype() == DType::bf16)  // already bf16: as it is when dense, else packed
    return dense_order(x.shape(), x.strides()) ? x.detach() : x.detach().contiguous();
  static Bf16Copies copies;
  const std::string key = key_of(x);
  {
    std::lock_guard<std::mutex> lock(copies.mu);
    auto it = copies.map.find(key);
    if (it != copies.map.end())
      if (std::shared_ptr<TensorImpl> impl = it->second.lock()) return Tensor(impl);
  }
  // A dense x keeps its layout (a channels-last activation gives a channels-last copy).
  Tensor c =
      (dense_order(x.shape(), x.strides()) ? x.detach() : x.detach().contiguous()).to(DType::bf16);
  std::lock_guard<std::mutex> lock(copies.mu);
  copies.map[key] = c.impl_ptr();
  if (copies.map.size() >= copies.sweep_at) {
    for (auto it = copies.map.begin(); it != copies.map.end();)
      it = it->second.expired() ? copies.map.erase(it) : std::next(it);
    copies.sweep_at = std::max<size_t>(64, 2 * copies.map.size());
  }
  return c;
}

Tensor conv_rebuild_source(const Tensor& x, const Tensor& weight) {
  const bool bf16 = compute_precision() == Precision::bf16 && needs_grad({weight});
  return bf16 ? bf16_copy(x) : x.detach();
}

}  // namespace rmgait
