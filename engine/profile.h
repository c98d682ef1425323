#pragma once
// Kernel timing: while a KernelProfile lives, every kernel the device's backend runs (the list
// of engine/kernels.def) is timed, wall clock, the device synchronised after each one so that
// the times add up. For finding where a step's time goes (`rmgait bench --breakdown`); it slows
// what it measures on a GPU, whose kernels it serialises. One profile per device at a time.
#include <array>
#include <cstdint>
#include <memory>

#include "engine/backend.h"

namespace rmgait {

class KernelProfile {
 public:
  struct Entry {
    int64_t calls = 0;
    double seconds = 0;
  };
  explicit KernelProfile(Device device);
  ~KernelProfile();  // the device's own backend runs untimed again
  KernelProfile(const KernelProfile&) = delete;
  KernelProfile& operator=(const KernelProfile&) = delete;

  const Entry& operator[](Kernel k) const;  // totals so far
  void reset();

 private:
  struct Timed;
  std::unique_ptr<Timed> timed_;
};

}  // namespace rmgait
