#pragma once
// The CUDA device context: one device, one stream, the cuDNN and cuBLAS handles, and a caching
// allocator (no cudaMalloc per op in steady state). Created on first use.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <string>

namespace rmgait::cuda {

// False when the build has CUDA but no usable device (any cudaGetDeviceCount error counts).
bool device_present();

struct Context {
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  bool tf32 = false;      // RMGAIT_TF32=1 allows TF32 in cuDNN / cuBLAS (faster, not bit-parity)
  int compute_major = 0;  // compute capability; bf16 tensor cores from 8 (Ampere) on
};
Context& context();

void* device_alloc(size_t nbytes);
void device_free(void* p, size_t nbytes);

// Scratch (workspaces) from the caching allocator, released at scope exit.
class Workspace {
 public:
  explicit Workspace(size_t n) : n_(n), p_(n ? device_alloc(n) : nullptr) {}
  ~Workspace() {
    if (p_) device_free(p_, n_);
  }
  Workspace(const Workspace&) = delete;
  Workspace(Workspace&& o) noexcept : n_(o.n_), p_(o.p_) { o.n_ = 0, o.p_ = nullptr; }
  Workspace& operator=(const Workspace&) = delete;
  void* get() const { return p_; }
  size_t size() const { return n_; }

 private:
  size_t n_;
  void* p_;
};

// Launch geometry for n elements: blocks of 256 threads, grid-stride loops inside kernels.
inline unsigned blocks_for(int64_t n) {
  int64_t b = (n + 255) / 256;
  return unsigned(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

// launch(I()) for kernels templated on their index type: I = Narrow (uint32_t or int32_t) where
// `fits` (every index of the launch fits it: a 64-bit division is a long subroutine on a GPU, a
// 32-bit one a few instructions), else int64_t.
template <class Narrow, class L>
void with_index_type(bool fits, L&& launch) {
  if (fits)
    launch(Narrow());
  else
    launch(int64_t());
}

}  // namespace rmgait::cuda
