#pragma once
// One check macro per library; each names the call, the op and the shapes.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "engine/error.h"

#define CUDA_CHECK(call, what)                                               \
  do {                                                                       \
    cudaError_t err_ = (call);                                               \
    if (err_ != cudaSuccess)                                                 \
      RM_FAIL("CUDA ", #call, " in ", what, ": ", cudaGetErrorString(err_)); \
  } while (0)

#define CUDNN_CHECK(call, what)                                               \
  do {                                                                        \
    cudnnStatus_t st_ = (call);                                               \
    if (st_ != CUDNN_STATUS_SUCCESS)                                          \
      RM_FAIL("cuDNN ", #call, " in ", what, ": ", cudnnGetErrorString(st_)); \
  } while (0)

#define CUBLAS_CHECK(call, what)                                      \
  do {                                                                \
    cublasStatus_t st_ = (call);                                      \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                 \
      RM_FAIL("cuBLAS ", #call, " in ", what, ": status ", int(st_)); \
  } while (0)

// After a kernel launch.
#define CUDA_LAUNCH_CHECK(what) CUDA_CHECK(cudaGetLastError(), what)
