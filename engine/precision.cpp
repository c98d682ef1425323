#include "engine/precision.h"

#include "engine/backend.h"
#include "engine/error.h"

namespace rmgait {

namespace {
thread_local Precision g_precision = Precision::f32;
}

Precision compute_precision() {
  return g_precision;
}

const char* precision_name(Precision p) {
  return p == Precision::bf16 ? "bf16" : "f32";
}

Precision parse_precision(const std::string& s) {
  if (s == "f32") return Precision::f32;
  if (s == "bf16") return Precision::bf16;
  RM_FAIL("precision '", s, "': expected f32 or bf16");
}

void check_precision(Precision p, Device device) {
  if (p == Precision::f32) return;
  RM_CHECK(backend(device).has_bf16(), "precision bf16 on ", device_name(device), ": ",
           device == Device::cpu
               ? "this CPU has neither AVX512-BF16 nor AMX-BF16, so bf16 would be emulated and "
                 "slower than f32; use precision f32"
               : "this GPU has no bf16 tensor cores (compute capability 8.0 or newer needed)");
}

PrecisionGuard::PrecisionGuard(Precision p) : prev_(g_precision) {
  g_precision = p;
}
PrecisionGuard::~PrecisionGuard() {
  g_precision = prev_;
}

}  // namespace rmgait
