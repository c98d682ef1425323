#pragma once
// What the CPU conv3d paths (engine/cpu/conv3d.cpp, conv3d_winograd.cpp, conv3d_bf16_weights.cpp)
// share: which values a tensor holds, weights reordered into a primitive's layout (cached between
// calls), results moved from a primitive's layout into a plain tensor, the output gradient that
// backward-data reordered for backward-weights, and the shapes in error messages.
#include "engine/cpu/dnnl_context.h"

namespace rmgait::cpu {

// Which values a tensor holds, for the caches below: its storage (ids are never reused), the
// storage's version (bumped by in-place writes), offset, shape and dtype. A default stamp
// matches no tensor.
struct Stamp {
  uint64_t id = 0, version = 0;
  int64_t offset = -1;
  Shape shape;
  DType dtype = DType::f32;

  static Stamp of(const Tensor& t) {
    return {t.storage()->id(), t.storage()->version(), t.offset(), t.shape(), t.dtype()};
  }
  bool operator==(const Stamp& o) const {
    return id == o.id && version == o.version && offset == o.offset && shape == o.shape &&
           dtype == o.dtype;
  }
  bool operator!=(const Stamp& o) const { return !(*this == o); }
};

// Weights reordered (and converted) into a primitive's layout, refreshed when the weight tensor
// changes (storage, version or offset).
struct WeightCache {
  std::unique_ptr<std::mutex> mu = std::make_unique<std::mutex>();
  Tensor reordered;
  Stamp source;

  // Returns the weights in `want` (w itself when its plain layout already is that). Call under mu.
  dnnl::memory get(const Tensor& w, const dnnl::memory::desc& want) {
    dnnl::memory wm = wrap(plain_desc(w.shape()), w);
    if (want == wm.get_desc()) return wm;
    if (!reordered.defined() || source != Stamp::of(w)) {
      reordered = scratch_for(want);
      reorder_into(wm, wrap(want, reordered));
      source = Stamp::of(w);
    }
    return wrap(want, reordered);
  }
};

// "[x] [w] -> [y]", for DNNL_CHECK's messages
inline std::string shapes3(const Tensor& a, const Tensor& b, const Tensor& c) {
  return shape_str(a.shape()) + " " + shape_str(b.shape()) + " -> " + shape_str(c.shape());
}

// Runs `compute(out_mem)` then moves the result into the plain tensor `out`.
template <class F>
void into_plain(const dnnl::memory::desc& chosen, const Tensor& out, F compute) {
  dnnl::memory plain = wrap_plain(out);  // out as laid out (a dense order, engine/ops/layout.h)
  if (chosen == plain.get_desc()) {
    compute(plain);
    return;
  }
  Tensor scratch = scratch_for(chosen);
  dnnl::memory tmp(chosen, dnnl_engine(), scratch.raw_data());
  compute(tmp);
  reorder_into(tmp, plain);
}

// The output gradient reordered for backward-data, handed to the backward-weights call that
// follows it on the same gradient (both passes want the same blocked layout): one reorder of gy
// per conv instead of two. Keyed by gy's Stamp, so an in-place write in between or another
// gradient misses it; taken (or dropped) by the next backward-weights call, and replaced by the
// next backward-data call, so at most one such copy lives at a time.
class ReorderedGrad {
 public:
  static ReorderedGrad& get() {
    static ReorderedGrad r;
    return r;
  }
  void put(const Tensor& gy, const dnnl::memory::desc& md, Tensor blocked) {
    std::lock_guard<std::mutex> lock(mu_);
    of_ = Stamp::of(gy), md_ = md, blocked_ = std::move(blocked);
  }
  // gy in layout md: the kept copy when it is gy's, else a fresh reorder into scratch.
  dnnl::memory take(const Tensor& gy, const dnnl::memory::desc& md, Tensor& scratch) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      Tensor kept = std::move(blocked_);
      blocked_ = Tensor();
      if (kept.defined() && of_ == Stamp::of(gy) && md_ == md) {
        scratch = kept;
        return wrap(md, scratch);
      }
    }
    return to_layout(wrap_plain(gy), md, scratch);
  }

 private:
  std::mutex mu_;
  Stamp of_;
  dnnl::memory::desc md_;
  Tensor blocked_;
};

}  // namespace rmgait::cpu
