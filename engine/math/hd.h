#pragma once
// RM_HD marks per-element math shared by the CPU backend and the CUDA kernels, so the CPU test
// suite exercises the code the GPU runs.
#if defined(__CUDACC__)
#define RM_HD __host__ __device__ __forceinline__
#else
#define RM_HD inline
#endif
