// Communicator over MPI_COMM_WORLD. Tensors are host memory; a device tensor is refused (device
// tensors go through NCCL). Asynchronous sums are MPI_Iallreduce, progressed by Work::test().
#include "distributed/mpi.h"

#include <mpi.h>

#include <cstdlib>
#include <vector>

#include "engine/error.h"

namespace rmgait::dist {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  RM_FAIL("MPI ", what, ": ", std::string(msg, size_t(len)));
}

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::i64:
      return MPI_INT64_T;
    case DType::i32:
      return MPI_INT32_T;
    case DType::u8:
      return MPI_UINT8_T;
    case DType::bf16:  // only conv inputs kept for backward are bf16; what ranks exchange is f32
      break;
  }
  RM_FAIL("MPI: unsupported dtype ", dtype_name(t), " (f32, i64, i32 and u8 are communicated)");
}

// MPI counts are int: a larger tensor is an error, not a silent overflow.
int count_of(int64_t n, const char* op) {
  RM_CHECK(n <= INT32_MAX, "MPI ", op, ": ", n, " elements, more than MPI's int count allows");
  return int(n);
}

void check_host(const Tensor& t, const char* op) {
  RM_CHECK(t.device() == Device::cpu, "MPI ", op, ": tensor on ", device_name(t.device()),
           "; MPI communicates host tensors (device tensors go through NCCL)");
  RM_CHECK(t.is_contiguous(), "MPI ", op, ": tensor ", shape_str(t.shape()), " not contiguous");
}

struct MpiWork : Work {
  MPI_Request req = MPI_REQUEST_NULL;
  bool test() override {
    int done = 0;
    if (req != MPI_REQUEST_NULL) check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "test");
    return req == MPI_REQUEST_NULL || done;
  }
  void wait() override { check(MPI_Wait(&req, MPI_STATUS_IGNORE), "wait"); }
  ~MpiWork() override {
    if (req != MPI_REQUEST_NULL) MPI_Wait(&req, MPI_STATUS_IGNORE);
  }
};

class Mpi : public Communicator {
 public:
  Mpi() {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init");
      owns_ = true;
      RM_CHECK(provided >= MPI_THREAD_FUNNELED, "MPI: this MPI provides thread level ", provided,
               ", rmgait needs MPI_THREAD_FUNNELED (loader threads run beside the main thread)");
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~Mpi() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_ && !finalized) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "mpi"; }
  Device device() const override { return Device::cpu; }

  void all_reduce_sum(const Tensor& t) override {
    check_host(t, "all_reduce");
    check(MPI_Allreduce(MPI_IN_PLACE, t.raw_data(), count_of(t.numel(), "collective"),
                        mpi_type(t.dtype()), MPI_SUM, MPI_COMM_WORLD),
          "all_reduce");
  }
  std::unique_ptr<Work> all_reduce_sum_async(const Tensor& t) override {
    check_host(t, "all_reduce");
    auto w = std::make_unique<MpiWork>();
    check(MPI_Iallreduce(MPI_IN_PLACE, t.raw_data(), count_of(t.numel(), "collective"),
                         mpi_type(t.dtype()), MPI_SUM, MPI_COMM_WORLD, &w->req),
          "iallreduce");
    return w;
  }
  Tensor all_gather(const Tensor& t) override {
    check_host(t, "all_gather");
    Shape s = t.shape();
    RM_CHECK(!s.empty(), "MPI all_gather: a scalar has no rows");
    s[0] *= size_;
    Tensor out = Tensor::empty(s, t.dtype());
    check(MPI_Allgather(t.raw_data(), count_of(t.numel(), "collective"), mpi_type(t.dtype()),
                        out.raw_data(), count_of(t.numel(), "collective"), mpi_type(t.dtype()),
                        MPI_COMM_WORLD),
          "all_gather");
    return out;
  }
  void broadcast(const Tensor& t, int root) override {
    check_host(t, "broadcast");
    check(MPI_Bcast(t.raw_data(), count_of(t.numel(), "collective"), mpi_type(t.dtype()), root,
                    MPI_COMM_WORLD),
          "broadcast");
  }
  Tensor gather_rows(const Tensor& t, int root) override {
    check_host(t, "gather_rows");
    RM_CHECK(t.dim() >= 1, "MPI gather_rows: a scalar has no rows");
    int64_t row = 1;  // elements per row
    for (int64_t d = 1; d < t.dim(); ++d) row *= t.size(d);
    int count = count_of(t.numel(), "collective");
    std::vector<int> counts(static_cast<size_t>(size_)), displs(static_cast<size_t>(size_));
    check(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, MPI_COMM_WORLD),
          "gather (counts)");
    Tensor out;
    if (rank_ == root) {
      int64_t total = 0;
      for (int r = 0; r < size_; ++r) {
        RM_CHECK(counts[r] % row == 0, "MPI gather_rows: rank ", r, " sent ", counts[r],
                 " elements, not whole rows of ", row);
        displs[r] = count_of(total, "gather_rows (offsets)");
        total += counts[r];
      }
      Shape s = t.shape();
      s[0] = total / row;
      out = Tensor::empty(s, t.dtype());
    }
    check(MPI_Gatherv(t.raw_data(), count, mpi_type(t.dtype()),
                      out.defined() ? out.raw_data() : nullptr, counts.data(), displs.data(),
                      mpi_type(t.dtype()), root, MPI_COMM_WORLD),
          "gather");
    return out;
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "barrier"); }

 private:
  int rank_ = 0, size_ = 1;
  bool owns_ = false;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_world() {
  return std::make_unique<Mpi>();
}

int mpi_local_rank() {
  MPI_Comm node;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node),
        "split by node");
  int r = 0;
  MPI_Comm_rank(node, &r);
  MPI_Comm_free(&node);
  return r;
}

void mpi_abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace rmgait::dist
