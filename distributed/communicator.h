#pragma once
// Collectives over the processes ("ranks") of a data-parallel job: one small interface, three
// implementations: one process (local.cpp), Open MPI (mpi.cpp: host tensors, any number of
// nodes) and NCCL (nccl_module.cpp: CUDA tensors, loaded at run time). Every rank must call the
// same collectives in the same order with the same shapes; the engine never includes this.
#include <memory>

#include "engine/tensor.h"

namespace rmgait::dist {

// A collective started with all_reduce_sum_async.
class Work {
 public:
  virtual ~Work() = default;
  virtual bool test() { return false; }  // lets it progress; true once it has completed
  virtual void wait() = 0;               // blocks until the result is in place
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* name() const = 0;  // "local", "mpi", "nccl"
  virtual Device device() const = 0;     // where its tensors live

  // Sums t (contiguous; f32, f64 or i64) over all ranks, in place.
  virtual void all_reduce_sum(const Tensor& t) = 0;
  // The same, started now: t must stay alive and untouched until wait(). Default: synchronous.
  virtual std::unique_ptr<Work> all_reduce_sum_async(const Tensor& t);
  // Every rank's t (the same shape everywhere), concatenated along dim 0 in rank order.
  virtual Tensor all_gather(const Tensor& t) = 0;
  // Rank root's t into every rank's t (same shape and dtype), in place.
  virtual void broadcast(const Tensor& t, int root) = 0;
  // Every rank's t [n_r, ...] (n_r may differ, the rest the same) concatenated along dim 0 on
  // root, in rank order; undefined elsewhere.
  virtual Tensor gather_rows(const Tensor& t, int root) = 0;
  virtual void barrier() = 0;
};

std::unique_ptr<Communicator> make_local(Device device = Device::cpu);  // one rank

// The rows [begin, end) of an n-row global batch that `rank` of `size` owns (contiguous blocks,
// the first n % size ranks one row more).
struct Rows {
  int64_t begin, end;
  int64_t count() const { return end - begin; }
};
Rows rows_of(int64_t n, int rank, int size);

}  // namespace rmgait::dist
