#pragma once
// The entry point of the CUDA backend module (librmgait_cuda.so), looked up with dlsym by
// engine/backend.cpp: registers the backend and its allocator when a GPU is usable and returns
// true; false otherwise (any cudaGetDeviceCount error means no GPU).
extern "C" bool rmgait_register_cuda_backend();
