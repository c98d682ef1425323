#include "engine/cuda/context.h"

#include <cuda_profiler_api.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/cuda/cuda_backend.h"

namespace rmgait::cuda {

bool device_present() {
  static int present = -1;
  if (present < 0) {
    int n = 0;
    present = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    cudaGetLastError();  // clear a sticky "no device" error
  }
  return present == 1;
}

Context& context() {
  static Context* ctx = [] {
    auto* c = new Context();
    CUDA_CHECK(cudaSetDevice(0), "context");
    CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "context");
    CUDNN_CHECK(cudnnCreate(&c->cudnn), "context");
    CUDNN_CHECK(cudnnSetStream(c->cudnn, c->stream), "context");
    CUBLAS_CHECK(cublasCreate(&c->cublas), "context");
    CUBLAS_CHECK(cublasSetStream(c->cublas, c->stream), "context");
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0), "context");
    c->compute_major = prop.major;
    const char* tf32 = std::getenv("RMGAIT_TF32");
    c->tf32 = tf32 && std::string(tf32) == "1";
    CUBLAS_CHECK(
        cublasSetMathMode(c->cublas, c->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
        "context");
    return c;
  }();
  return *ctx;
}

namespace {
// Blocks are kept per rounded size and reused in stream order (one stream: a block freed after
// its last use on the stream can be handed out for later work on the same stream).
struct Cache {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free;
  size_t in_use = 0, peak_in_use = 0, reserved = 0;  // rounded bytes (device_memory())
};
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}
size_t round_size(size_t n) {
  if (n <= (size_t(1) << 20)) return (n + 511) / 512 * 512;
  size_t p = 1;
  while (p * 2 <= n) p *= 2;
  size_t step = p / 8;
  return (n + step - 1) / step * step;
}
}  // namespace

void* device_alloc(size_t nbytes) {
  size_t n = round_size(nbytes ? nbytes : 1);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free.find(n);
    if (it != c.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.in_use += n, c.peak_in_use = std::max(c.peak_in_use, c.in_use);
      return p;
    }
  }
  context();
  void* p = nullptr;
  if (cudaMalloc(&p, n) != cudaSuccess) {  // out of memory: return cached blocks, retry once
    cudaGetLastError();
    CUDA_CHECK(cudaStreamSynchronize(context().stream), "allocator");
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& [size, v] : c.free) {
      for (void* q : v) cudaFree(q);
      c.reserved -= size * v.size();
    }
    c.free.clear();
    CUDA_CHECK(cudaMalloc(&p, n), "allocator (" + std::to_string(n) + " bytes)");
  }
  std::lock_guard<std::mutex> lock(c.mu);
  c.reserved += n, c.in_use += n, c.peak_in_use = std::max(c.peak_in_use, c.in_use);
  return p;
}

void device_free(void* p, size_t nbytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  const size_t n = round_size(nbytes ? nbytes : 1);
  c.free[n].push_back(p);
  c.in_use -= n;
}

}  // namespace rmgait::cuda

namespace rmgait::cuda {
void CudaBackend::synchronize() {
  CUDA_CHECK(cudaStreamSynchronize(context().stream), "synchronize");
}
void* CudaBackend::native_stream() {
  return context().stream;
}
Backend::DeviceMemory CudaBackend::device_memory() const {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return {c.peak_in_use, c.reserved};
}
void CudaBackend::reset_peak_memory() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.peak_in_use = c.in_use;
}
void CudaBackend::profile_range(bool begin) {
  synchronize();
  CUDA_CHECK(begin ? cudaProfilerStart() : cudaProfilerStop(), "profile_range");
}
bool CudaBackend::has_bf16() const {
  return context().compute_major >= 8;  // bf16 tensor cores: Ampere and later
}

}  // namespace rmgait::cuda
