// Batched matmul on cuBLAS (strided batched SGEMM). Row-major C = op(A) op(B) is computed as
// column-major C^T = op(B)^T op(A)^T; a broadcast operand has batch stride 0. bf16: the operands
// are converted to bf16 copies and multiplied by cublasGemmStridedBatchedEx with f32 compute.
#include "engine/cuda/bf16.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/cuda_backend.h"

namespace rmgait::cuda {

void CudaBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& c, bool ta, bool tb,
                         bool bf16) {
  const int64_t batch = c.size(0), m = c.size(1), n = c.size(2), k = ta ? a.size(1) : a.size(2);
  if (batch * m * n == 0) return;
  if (k == 0) {
    fill(c, 0.0);
    return;
  }
  const float one = 1.f, zero = 0.f;
  cublasOperation_t op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  int ldb = int(tb ? k : n), lda = int(ta ? m : k);
  long long stride_a = a.size(0) == 1 ? 0 : m * k, stride_b = b.size(0) == 1 ? 0 : k * n;
  const std::string what = "matmul " + shape_str(a.shape()) + " x " + shape_str(b.shape());
  if (bf16) {  // bf16 copies of the operands, f32 accumulation and result
    Bf16Buffer ab = to_bf16(a), bb = to_bf16(b);
    CUBLAS_CHECK(
        cublasGemmStridedBatchedEx(context().cublas, op_b, op_a, int(n), int(m), int(k), &one,
                                   bb.get(), CUDA_R_16BF, ldb, stride_b, ab.get(), CUDA_R_16BF, lda,
                                   stride_a, &zero, c.data<float>(), CUDA_R_32F, int(n), m * n,
                                   int(batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        what);
    return;
  }
  CUBLAS_CHECK(
      cublasSgemmStridedBatched(context().cublas, op_b, op_a, int(n), int(m), int(k), &one,
                                b.data<float>(), ldb, stride_b, a.data<float>(), lda, stride_a,
                                &zero, c.data<float>(), int(n), m * n, int(batch)),
      what);
}

}  // namespace rmgait::cuda
