#pragma once
// Registers the CUDA backend when a GPU is usable; false otherwise (any cudaGetDeviceCount error
// means no GPU).
namespace rmgait::cuda {
bool register_cuda_backend();
}
