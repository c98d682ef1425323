#pragma once
// The backend interface: everything an op needs from a device. The CPU backend (oneDNN + OpenMP)
// and the CUDA backend (cuDNN + cuBLAS + small kernels) each implement it, one op per file.
// Outputs are allocated by the caller (contiguous unless said otherwise); kernels overwrite them.
#include <array>
#include <cstdint>
#include <string>

#include "engine/math/adam.h"
#include "engine/math/elementwise.h"
#include "engine/math/philox.h"
#include "engine/math/reduce.h"
#include "engine/tensor.h"

namespace rmgait {

// 3D convolution, no dilation, no groups. Weights [Co, Ci, kt, kh, kw]. bf16: products in bf16
// with f32 accumulation (weights, outputs and gradients stay f32; engine/precision.h), and x may
// then be a bf16 tensor (the conv op keeps its input for backward in bf16). leaky_relu: the
// forward's output is leaky_relu(conv, negative_slope >= 0), fused into the convolution where the
// backend can (oneDNN post-op); the backward passes take the gradient of the conv itself.
struct Conv3dParams {
  std::array<int64_t, 3> stride{1, 1, 1};
  std::array<int64_t, 3> padding{0, 0, 0};
  bool bf16 = false;
  bool leaky_relu = false;
  float negative_slope = 0.f;
};

// 3D max pooling. Padding counts as -inf.
struct Pool3dParams {
  std::array<int64_t, 3> kernel{1, 1, 1};
  std::array<int64_t, 3> stride{1, 1, 1};
  std::array<int64_t, 3> padding{0, 0, 0};
};

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

  // memory: dst and src have the same shape; either may be strided. cast converts dtypes.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  virtual void fill(const Tensor& dst, double value) = 0;  // dst contiguous

  // elementwise (f32). unary: x, y contiguous, same shape.
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& y, float a, float b) = 0;
  // saved: y where unary_backward_reads_output(op, a), else x.
  virtual void unary_backward(UnaryOp op, const Tensor& gy, const Tensor& saved, const Tensor& gx,
                              float a, float b) = 0;
  // bits (u8 [ceil(n / 8)]) = the signs y > 0 of a contiguous y, one bit each; and the backward
  // of leaky_relu (relu: slope 0) from them: gx = bit ? gy : gy * slope, f32 or rounded to bf16
  // (gx bf16: for a conv that multiplies it in bf16). gx may be gy itself.
  virtual void sign_bits(const Tensor& y, const Tensor& bits) = 0;
  virtual void leaky_relu_backward_bits(const Tensor& gy, const Tensor& bits, const Tensor& gx,
                                        float slope) = 0;
  // a, b: views already expanded to out's shape (stride 0 on broadcast dims); out contiguous.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // cond (u8 or f32, non-zero = true), a, b expanded to out's shape.
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // Reduces the middle dim of a contiguous x [outer, len, inner] -> out [outer, inner], in order
  // of the middle index (sums in double); for max/min, index (i64 [outer, inner], may be
  // undefined) receives the first position of the extreme.
  virtual void reduce(ReduceOp op, const Tensor& x, const Tensor& out, const Tensor& index) = 0;
  // gx [outer, len, inner] = 0 except gx[o, index[o, k], k] = gy[o, k].
  virtual void scatter_index(const Tensor& gy, const Tensor& index, const Tensor& gx) = 0;
  // out [outer, m, inner] = x [outer, len, inner] at positions index (i64 [m]) of the middle
  // dim; and its adjoint, which adds g [outer, m, inner] into gx [outer, len, inner] (gx zeroed
  // first). `unique`: no position repeats in index. All contiguous.
  virtual void index_gather(const Tensor& x, const Tensor& index, const Tensor& out) = 0;
  virtual void index_scatter_add(const Tensor& g, const Tensor& index, const Tensor& gx,
                                 bool unique) = 0;
  // softmax (or log_softmax) over the rows of a contiguous [rows, len] tensor, and backward.
  virtual void softmax_rows(const Tensor& x, const Tensor& y, bool log) = 0;
  virtual void softmax_rows_backward(const Tensor& gy, const Tensor& y, const Tensor& gx,
                                     bool log) = 0;

  // GeM pooling of the rows of a contiguous x [rows, len] -> y [rows] with exponent p (f32 [1]
  // on the backend's device, read there: no host read-back), and its backward: gx [rows, len]
  // and gp_rows [rows], each row's gy * dy/dp (summed by the caller). engine/math/gem.h.
  virtual void gem_rows(const Tensor& x, const Tensor& p, float eps, const Tensor& y) = 0;
  virtual void gem_rows_backward(const Tensor& gy, const Tensor& x, const Tensor& p, float eps,
                                 const Tensor& gx, const Tensor& gp_rows) = 0;

  // Mean over B slices of Euclidean distances from Gram terms (engine/math/distance.h):
  // x2 [B, N] and y2 [B, M] squared norms, xy [B, N, M] dot products -> out [N, M]; contiguous.
  virtual void gram_distance_mean(const Tensor& x2, const Tensor& y2, const Tensor& xy,
                                  const Tensor& out) = 0;

  // c[b] = op(a[b]) x op(b[b]): a [Ba, M, K] (or [Ba, K, M] when ta), b [Bb, K, N] (or [Bb, N, K]
  // when tb), c [B, M, N] contiguous; Ba and Bb are B or 1 (broadcast). a and b contiguous.
  // bf16: products in bf16, f32 accumulation.
  virtual void matmul(const Tensor& a, const Tensor& b, const Tensor& c, bool ta, bool tb,
                      bool bf16) = 0;

  // x [N, Ci, T, H, W] (f32, or bf16 when p.bf16), w [Co, Ci, kt, kh, kw], bias [Co] or
  // undefined, y [N, Co, T', H', W'].
  virtual void conv3d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                              const Conv3dParams& p) = 0;
  virtual void conv3d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                    const Conv3dParams& p) = 0;
  // gbias may be undefined; x as in forward. gy [N, Co, T', H', W'] (both passes): f32, or bf16
  // when p.bf16 and no bias gradient is asked for.
  virtual void conv3d_backward_weights(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                       const Tensor& gbias, const Conv3dParams& p) = 0;

  // Batch norm over x [N, C, *]: statistics per channel over N and the trailing dims.
  // Training: mean, var [C] receive the batch mean and the biased variance.
  virtual void batch_norm_forward_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                        const Tensor& y, const Tensor& mean, const Tensor& var,
                                        float eps) = 0;
  virtual void batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                       const Tensor& mean, const Tensor& var, const Tensor& y,
                                       float eps) = 0;
  virtual void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& var, const Tensor& gx,
                                   const Tensor& gweight, const Tensor& gbias, float eps) = 0;

  // x [N, C, T, H, W] -> y. Returns backend-specific saved state for backward (may be empty);
  // when the state is defined, backward gets undefined x and y (they are not kept).
  virtual Tensor max_pool3d_forward(const Tensor& x, const Tensor& y, const Pool3dParams& p,
                                    bool training) = 0;
  virtual void max_pool3d_backward(const Tensor& gy, const Tensor& x, const Tensor& y,
                                   const Tensor& state, const Tensor& gx,
                                   const Pool3dParams& p) = 0;

  // Adam / AdamW in place (engine/math/adam.h): param, grad, exp_avg, exp_avg_sq contiguous, of
  // one shape; param, exp_avg and exp_avg_sq are updated.
  virtual void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                           const Tensor& exp_avg_sq, const AdamScalars& s) = 0;

  // Counter-based random numbers (Philox 4x32-10): element i of out depends only on
  // (seed, offset + i). uniform in [a, b); normal(mean a, std b); bernoulli: 1 with prob. a.
  virtual void random(RandomKind kind, uint64_t seed, uint64_t offset, float a, float b,
                      const Tensor& out) = 0;
};

// The override declarations every backend class repeats, kept in one place.
#define RMGAIT_BACKEND_OVERRIDES                                                                   \
  void copy(const Tensor& src, const Tensor& dst) override;                                        \
  void fill(const Tensor& dst, double value) override;                                             \
  void unary(UnaryOp op, const Tensor& x, const Tensor& y, float a, float b) override;             \
  void unary_backward(UnaryOp op, const Tensor& gy, const Tensor& saved, const Tensor& gx,         \
                      float a, float b) override;                                                  \
  void sign_bits(const Tensor& y, const Tensor& bits) override;                                    \
  void leaky_relu_backward_bits(const Tensor& gy, const Tensor& bits, const Tensor& gx,            \
                                float slope) override;                                             \
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;          \
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;    \
  void reduce(ReduceOp op, const Tensor& x, const Tensor& out, const Tensor& index) override;      \
  void scatter_index(const Tensor& gy, const Tensor& index, const Tensor& gx) override;            \
  void index_gather(const Tensor& x, const Tensor& index, const Tensor& out) override;             \
  void index_scatter_add(const Tensor& g, const Tensor& index, const Tensor& gx, bool unique)      \
      override;                                                                                    \
  void softmax_rows(const Tensor& x, const Tensor& y, bool log) override;                          \
  void softmax_rows_backward(const Tensor& gy, const Tensor& y, const Tensor& gx, bool log)        \
      override;                                                                                    \
  void gem_rows(const Tensor& x, const Tensor& p, float eps, const Tensor& y) override;            \
  void gem_rows_backward(const Tensor& gy, const Tensor& x, const Tensor& p, float eps,            \
                         const Tensor& gx, const Tensor& gp_rows) override;                        \
  void gram_distance_mean(const Tensor& x2, const Tensor& y2, const Tensor& xy, const Tensor& out) \
      override;                                                                                    \
  void matmul(const Tensor& a, const Tensor& b, const Tensor& c, bool ta, bool tb, bool bf16)      \
      override;                                                                                    \
  void conv3d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,       \
                      const Conv3dParams& p) override;                                             \
  void conv3d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx,                   \
                            const Conv3dParams& p) override;                                       \
  void conv3d_backward_weights(const Tensor& x, const Tensor& gy, const Tensor& gw,                \
                               const Tensor& gbias, const Conv3dParams& p) override;               \
  void batch_norm_forward_train(const Tensor& x, const Tensor& weight, const Tensor& bias,         \
                                const Tensor& y, const Tensor& mean, const Tensor& var, float eps) \
      override;                                                                                    \
  void batch_norm_forward_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,          \
                               const Tensor& mean, const Tensor& var, const Tensor& y, float eps)  \
      override;                                                                                    \
  void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,                \
                           const Tensor& mean, const Tensor& var, const Tensor& gx,                \
                           const Tensor& gweight, const Tensor& gbias, float eps) override;        \
  Tensor max_pool3d_forward(const Tensor& x, const Tensor& y, const Pool3dParams& p,               \
                            bool training) override;                                               \
  void max_pool3d_backward(const Tensor& gy, const Tensor& x, const Tensor& y,                     \
                           const Tensor& state, const Tensor& gx, const Pool3dParams& p) override; \
  void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,                 \
                   const Tensor& exp_avg_sq, const AdamScalars& s) override;                       \
  void random(RandomKind kind, uint64_t seed, uint64_t offset, float a, float b,                   \
              const Tensor& out) override;

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
