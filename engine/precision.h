#pragma once
// Compute precision of the dense ops (conv3d, matmul), autocast-style: under
// PrecisionGuard(Precision::bf16) they multiply in bf16 with f32 accumulation, while weights,
// the ops' outputs and every other op stay f32 (a conv keeps its input for backward, and takes
// the gradient through its fused leaky_relu, in bf16: engine/ops/conv3d.cpp). The mode is per
// thread and captured by each op at forward time, so its backward passes run in the same precision.
#include <cstdint>
#include <string>

#include "engine/dtype.h"

namespace rmgait {

enum class Precision : uint8_t { f32, bf16 };

Precision compute_precision();
const char* precision_name(Precision p);          // "f32", "bf16"
Precision parse_precision(const std::string& s);  // throws naming the value

// Throws a clear error unless `device` computes `p` in hardware (bf16 on the CPU: AVX512-BF16
// or AMX-BF16; without them oneDNN would emulate it, slower than f32).
void check_precision(Precision p, Device device);

class PrecisionGuard {
 public:
  explicit PrecisionGuard(Precision p);
  ~PrecisionGuard();
  PrecisionGuard(const PrecisionGuard&) = delete;
  PrecisionGuard& operator=(const PrecisionGuard&) = delete;

 private:
  Precision prev_;
};

// The CPU's algorithm for f32 convolutions, per thread and captured at forward time like the
// precision. winograd: convs with 3x3 spatial taps, stride 1, spatial padding 1 and channels
// in multiples of 16 run as Winograd F(4x4, 3x3) over frame stacks (engine/cpu/
// conv3d_winograd.h): 4x fewer multiplies, results within ~2e-6 of the largest value of direct's.
// The rest, bf16, and the GPU (cuDNN chooses its own) run direct.
enum class ConvAlgorithm : uint8_t { direct, winograd };

ConvAlgorithm conv_algorithm();
const char* conv_algorithm_name(ConvAlgorithm a);          // "direct", "winograd"
ConvAlgorithm parse_conv_algorithm(const std::string& s);  // throws naming the value

class ConvAlgorithmGuard {
 public:
  explicit ConvAlgorithmGuard(ConvAlgorithm a);
  ~ConvAlgorithmGuard();
  ConvAlgorithmGuard(const ConvAlgorithmGuard&) = delete;
  ConvAlgorithmGuard& operator=(const ConvAlgorithmGuard&) = delete;

 private:
  ConvAlgorithm prev_;
};

}  // namespace rmgait
