#pragma once
// The backend interface: everything an op needs from a device. The CPU backend (oneDNN + OpenMP)
// and the CUDA backend (cuDNN + cuBLAS + small kernels) each implement it, one op per file.
// Outputs are allocated by the caller (contiguous unless said otherwise); kernels overwrite them.
#include <array>
#include <cstdint>
#include <string>

#include "engine/math/adam.h"
#include "engine/math/binary.h"
#include "engine/math/random.h"
#include "engine/math/reduce.h"
#include "engine/math/unary.h"
#include "engine/tensor.h"

namespace rmgait {

// 3D convolution, no dilation, no groups. Weights [Co, Ci, kt, kh, kw]. bf16: products in bf16
// with f32 accumulation (weights, outputs and gradients stay f32; engine/precision.h), and x may
// then be a bf16 tensor (the conv op keeps its input for backward in bf16). leaky_relu: the
// forward's output is leaky_relu(conv, negative_slope >= 0), fused into the convolution where the
// backend can (oneDNN post-op); the backward passes take the gradient of the conv itself.
// winograd: the CPU may run an f32 conv as Winograd F(4x4, 3x3) (engine/precision.h).
struct Conv3dParams {
  std::array<int64_t, 3> stride{1, 1, 1};
  std::array<int64_t, 3> padding{0, 0, 0};
  bool bf16 = false;
  bool winograd = false;
  bool leaky_relu = false;
  float negative_slope = 0.f;
};

// 3D max pooling. Padding counts as -inf.
struct Pool3dParams {
  std::array<int64_t, 3> kernel{1, 1, 1};
  std::array<int64_t, 3> stride{1, 1, 1};
  std::array<int64_t, 3> padding{0, 0, 0};
};

// The kernels by name, in engine/kernels.def's order.
enum class Kernel : int {
#define RMGAIT_KERNEL(name, ret, params, args) name,
#include "engine/kernels.def"
#undef RMGAIT_KERNEL
  count
};
const char* kernel_name(Kernel k);  // "conv3d_forward", ...

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  // Waits for all queued work (timing, host reads of raw pointers). A no-op on the CPU.
  virtual void synchronize() {}
  // The queue this backend's work runs on (a cudaStream_t on CUDA; null on the CPU): libraries
  // that enqueue their own kernels on device tensors (NCCL) order them after the engine's work.
  virtual void* native_stream() { return nullptr; }
  // Whether conv3d and matmul can multiply in bf16 in hardware (engine/precision.h).
  virtual bool has_bf16() const = 0;
  // Memory layouts (engine/ops/layout.h). A backend whose kernels write some conv's output or
  // input gradient faster in another memory order than row-major names that order (dims
  // outermost first; empty: row-major) for the conv of shapes x, w -> y; takes_dense_layouts()
  // says that its conv3d kernels take dense tensors in any order, and its max_pool3d kernels
  // channels-last ones (output and input gradient channels-last too) as well as row-major. The
  // CPU's bf16 conv kernels write channels-last ({0, 2, 3, 4, 1}).
  virtual std::vector<int64_t> conv3d_output_order(const Shape& x, const Shape& w, const Shape& y,
                                                   bool bias, const Conv3dParams& p) {
    (void)x, (void)w, (void)y, (void)bias, (void)p;
    return {};
  }
  virtual std::vector<int64_t> conv3d_grad_input_order(const Shape& x, const Shape& w,
                                                       const Shape& y, const Conv3dParams& p) {
    (void)x, (void)w, (void)y, (void)p;
    return {};
  }
  virtual bool takes_dense_layouts() const { return false; }
  // Device memory of a device backend, in bytes: the most held by tensors at once since the last
  // reset_peak_memory() and what the allocator took from the driver (its cache included). The
  // CPU reports its memory through cpu_memory_stats() (engine/storage.h) instead.
  struct DeviceMemory {
    size_t peak_in_use = 0, reserved = 0;
  };
  virtual DeviceMemory device_memory() const { return {}; }
  virtual void reset_peak_memory() {}
  // Marks the work a profiler should record (CUDA: cudaProfilerStart / Stop, which
  // `ncu --profile-from-start off` honours). A no-op on the CPU.
  virtual void profile_range(bool begin) { (void)begin; }

  // The kernels (engine/kernels.def): each a virtual function whose default throws a clear
  // error ("<kernel> is not supported on <device>"), so that a backend without one still builds.
#define RMGAIT_KERNEL(name, ret, params, args) virtual ret name params;
#include "engine/kernels.def"
#undef RMGAIT_KERNEL

 protected:
  [[noreturn]] void unsupported(Kernel k) const;
};

// In a backend class: the overrides of every kernel of engine/kernels.def, for a backend that
// implements them all (the CPU's and the CUDA one):
//   #define RMGAIT_KERNEL(name, ret, params, args) ret name params override;
//   #include "engine/kernels.def"
//   #undef RMGAIT_KERNEL

Backend& backend(Device device);
void register_backend(Device device, Backend* b);
bool device_available(Device device);
// Why device_available(device) is false, in words ("no usable GPU was found", ...).
std::string device_unavailable_reason(Device device);

// dlopen()s the module `name` from the folder of the shared library that holds `anchor` (the
// address of one of its functions), else from the loader's search path. Null on failure, with
// dlerror()'s text in *error. (The CUDA backend and the NCCL communicator are such modules.)
void* load_module_beside(const void* anchor, const char* name, std::string* error);

}  // namespace rmgait
