// The NCCL communicator (module librmgait_nccl.so, loaded by nccl_loader.cpp). Collectives are
// enqueued on the engine's CUDA stream; asynchronous sums on a stream of their own, ordered after
// the engine's work by an event, and the engine's stream waits for them in Work::wait() (the host
// does not block).
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <vector>

#include "distributed/communicator.h"
#include "engine/backend.h"
#include "engine/error.h"

namespace rmgait::dist {

namespace {

void check(ncclResult_t rc, const char* what) {
  RM_CHECK(rc == ncclSuccess, "NCCL ", what, ": ", ncclGetErrorString(rc));
}
void check(cudaError_t rc, const char* what) {
  RM_CHECK(rc == cudaSuccess, "NCCL ", what, ": ", cudaGetErrorString(rc));
}

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32:
      return ncclFloat32;
    case DType::i64:
      return ncclInt64;
    case DType::i32:
      return ncclInt32;
    case DType::u8:
      return ncclUint8;
    case DType::bf16:  // only conv inputs kept for backward are bf16; what ranks exchange is f32
      break;
  }
  RM_FAIL("NCCL: unsupported dtype ", dtype_name(t), " (f32, i64, i32 and u8 are communicated)");
}

void check_device(const Tensor& t, const char* op) {
  RM_CHECK(t.device() == Device::cuda, "NCCL ", op, ": tensor on ", device_name(t.device()),
           "; NCCL communicates CUDA tensors");
  RM_CHECK(t.is_contiguous(), "NCCL ", op, ": tensor ", shape_str(t.shape()), " not contiguous");
}

struct NcclWork : Work {
  Tensor keep;  // the buffer stays allocated until the sum is done
  cudaEvent_t done = nullptr;
  cudaStream_t compute = nullptr;
  bool test() override { return cudaEventQuery(done) == cudaSuccess; }
  void wait() override {
    check(cudaStreamWaitEvent(compute, done, 0), "wait");
    keep = Tensor();
  }
  ~NcclWork() override {
    if (keep.defined()) cudaStreamWaitEvent(compute, done, 0);
    cudaEventDestroy(done);
  }
};

class Nccl : public Communicator {
 public:
  explicit Nccl(Communicator& host) : host_(host) {
    stream_ = static_cast<cudaStream_t>(backend(Device::cuda).native_stream());
    ncclUniqueId id;
    Tensor bytes = Tensor::zeros({int64_t(sizeof id)}, DType::u8);
    if (host.rank() == 0) {
      check(ncclGetUniqueId(&id), "unique id");
      std::memcpy(bytes.raw_data(), &id, sizeof id);
    }
    host.broadcast(bytes, 0);
    std::memcpy(&id, bytes.raw_data(), sizeof id);
    check(ncclCommInitRank(&comm_, host.size(), id, host.rank()), "init");
    check(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking), "stream");
  }
  ~Nccl() override {
    cudaStreamSynchronize(side_);
    ncclCommDestroy(comm_);
    cudaStreamDestroy(side_);
  }
  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  const char* name() const override { return "nccl"; }
  Device device() const override { return Device::cuda; }

  void all_reduce_sum(const Tensor& t) override {
    check_device(t, "all_reduce");
    check(ncclAllReduce(t.raw_data(), t.raw_data(), size_t(t.numel()), nccl_type(t.dtype()),
                        ncclSum, comm_, stream_),
          "all_reduce");
  }
  std::unique_ptr<Work> all_reduce_sum_async(const Tensor& t) override {
    check_device(t, "all_reduce");
    auto w = std::make_unique<NcclWork>();
    w->keep = t;
    w->compute = stream_;
    cudaEvent_t ready;
    check(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "event");
    check(cudaEventCreateWithFlags(&w->done, cudaEventDisableTiming), "event");
    check(cudaEventRecord(ready, stream_), "event");
    check(cudaStreamWaitEvent(side_, ready, 0), "event");
    cudaEventDestroy(ready);
    check(ncclAllReduce(t.raw_data(), t.raw_data(), size_t(t.numel()), nccl_type(t.dtype()),
                        ncclSum, comm_, side_),
          "all_reduce");
    check(cudaEventRecord(w->done, side_), "event");
    return w;
  }
  Tensor all_gather(const Tensor& t) override {
    check_device(t, "all_gather");
    Shape s = t.shape();
    RM_CHECK(!s.empty(), "NCCL all_gather: a scalar has no rows");
    s[0] *= size();
    Tensor out = Tensor::empty(s, t.dtype(), Device::cuda);
    check(ncclAllGather(t.raw_data(), out.raw_data(), size_t(t.numel()), nccl_type(t.dtype()),
                        comm_, stream_),
          "all_gather");
    return out;
  }
  void broadcast(const Tensor& t, int root) override {
    check_device(t, "broadcast");
    check(ncclBroadcast(t.raw_data(), t.raw_data(), size_t(t.numel()), nccl_type(t.dtype()), root,
                        comm_, stream_),
          "broadcast");
  }
  Tensor gather_rows(const Tensor& t, int root) override {
    check_device(t, "gather_rows");
    RM_CHECK(t.dim() >= 1, "NCCL gather_rows: a scalar has no rows");
    int64_t row = 1;
    for (int64_t d = 1; d < t.dim(); ++d) row *= t.size(d);
    // the row counts travel over the host communicator
    Tensor n = Tensor::full({1}, double(t.size(0)), DType::i64);
    Tensor counts = host_.all_gather(n);
    Tensor out;
    if (rank() == root) {
      int64_t total = 0;
      for (int r = 0; r < size(); ++r) total += counts.data<int64_t>()[r];
      Shape s = t.shape();
      s[0] = total;
      out = Tensor::empty(s, t.dtype(), Device::cuda);
    }
    const size_t esize = dtype_size(t.dtype());
    check(ncclGroupStart(), "group");
    if (rank() == root) {
      int64_t at = 0;
      for (int r = 0; r < size(); ++r) {
        const int64_t c = counts.data<int64_t>()[r] * row;
        char* dst = static_cast<char*>(out.raw_data()) + size_t(at) * esize;
        if (r == root)
          check(cudaMemcpyAsync(dst, t.raw_data(), size_t(c) * esize, cudaMemcpyDeviceToDevice,
                                stream_),
                "copy");
        else if (c > 0)
          check(ncclRecv(dst, size_t(c), nccl_type(t.dtype()), r, comm_, stream_), "recv");
        at += c;
      }
    } else if (t.numel() > 0) {
      check(ncclSend(t.raw_data(), size_t(t.numel()), nccl_type(t.dtype()), root, comm_, stream_),
            "send");
    }
    check(ncclGroupEnd(), "group");
    return out;
  }
  void barrier() override {
    check(cudaStreamSynchronize(stream_), "synchronize");
    host_.barrier();
  }

 private:
  Communicator& host_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr, side_ = nullptr;
};

}  // namespace

}  // namespace rmgait::dist

extern "C" rmgait::dist::Communicator* rmgait_create_nccl_communicator(
    rmgait::dist::Communicator& host) {
  return new rmgait::dist::Nccl(host);
}
