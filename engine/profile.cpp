#include "engine/profile.h"

#include <chrono>
#include <mutex>

#include "engine/error.h"

namespace rmgait {

// A backend that times each kernel of another, made from the kernel list.
struct KernelProfile::Timed final : Backend {
  Backend& inner;
  std::array<Entry, size_t(Kernel::count)> totals{};
  std::mutex mu;

  explicit Timed(Backend& b) : inner(b) {}

  struct Clock {
    Timed& t;
    Kernel k;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    ~Clock() {
      t.inner.synchronize();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::lock_guard<std::mutex> lock(t.mu);
      t.totals[size_t(k)].calls += 1;
      t.totals[size_t(k)].seconds += s;
    }
  };

  Device device() const override { return inner.device(); }
  void synchronize() override { inner.synchronize(); }
  void* native_stream() override { return inner.native_stream(); }
  bool has_bf16() const override { return inner.has_bf16(); }
  DeviceMemory device_memory() const override { return inner.device_memory(); }
  void reset_peak_memory() override { inner.reset_peak_memory(); }
  void profile_range(bool begin) override { inner.profile_range(begin); }

#define RMGAIT_KERNEL(name, ret, params, args) \
  ret name params override {                   \
    Clock timing_{*this, Kernel::name};        \
    return inner.name args;                    \
  }
#include "engine/kernels.def"
#undef RMGAIT_KERNEL
};

KernelProfile::KernelProfile(Device device) {
  Backend& current = backend(device);
  RM_CHECK(!dynamic_cast<Timed*>(&current), "KernelProfile: the ", device_name(device),
           " backend is already being profiled");
  timed_ = std::make_unique<Timed>(current);
  register_backend(device, timed_.get());
}

KernelProfile::~KernelProfile() {
  register_backend(timed_->inner.device(), &timed_->inner);
}

const KernelProfile::Entry& KernelProfile::operator[](Kernel k) const {
  return timed_->totals[size_t(k)];
}

void KernelProfile::reset() {
  std::lock_guard<std::mutex> lock(timed_->mu);
  timed_->totals = {};
}

}  // namespace rmgait
