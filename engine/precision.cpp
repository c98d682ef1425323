#include "engine/precision.h"

#include "engine/backend.h"
#include "engine/error.h"

namespace rmgait {

namespace {
thread_local Precision g_precision = Precision::f32;
thread_local ConvAlgorithm g_conv_algorithm = ConvAlgorithm::direct;
}  // namespace

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

ConvAlgorithm conv_algorithm() {
  return g_conv_algorithm;
}

const char* conv_algorithm_name(ConvAlgorithm a) {
  return a == ConvAlgorithm::winograd ? "winograd" : "direct";
}

ConvAlgorithm parse_conv_algorithm(const std::string& s) {
  if (s == "direct") return ConvAlgorithm::direct;
  if (s == "winograd") return ConvAlgorithm::winograd;
  RM_FAIL("conv algorithm '", s, "': expected direct or winograd");
}

ConvAlgorithmGuard::ConvAlgorithmGuard(ConvAlgorithm a) : prev_(g_conv_algorithm) {
  g_conv_algorithm = a;
}
ConvAlgorithmGuard::~ConvAlgorithmGuard() {
  g_conv_algorithm = prev_;
}

}  // namespace rmgait
