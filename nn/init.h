#pragma once
// Seeded initialisers, with PyTorch's fan rules (fan_in = size(1) * prod(size[2:]),
// fan_out = size(0) * prod(size[2:])), as OpenGait's init_parameters uses them.
#include "engine/random.h"
#include "engine/tensor.h"

namespace rmgait::nn {

void xavier_uniform_(const Tensor& t, Generator& gen);
void normal_(const Tensor& t, float mean, float std, Generator& gen);
void uniform_(const Tensor& t, float lo, float hi, Generator& gen);

}  // namespace rmgait::nn
