#include "distributed/reducer.h"

#include <algorithm>

#include "engine/error.h"

namespace rmgait::dist {

GradientReducer::GradientReducer(Communicator& comm, std::vector<Tensor> params,
                                 int64_t bucket_bytes)
    : comm_(comm),
      params_(std::move(params)),
      bucket_of_(params_.size()),
      seen_(params_.size()),
      had_grad_(params_.size()) {
  for (size_t i = params_.size(); i-- > 0;) {  // backward reaches the last layers first
    const Tensor& p = params_[i];
    RM_CHECK(p.dtype() == DType::f32 && p.device() == comm.device(), "GradientReducer: parameter ",
             i, " is ", dtype_name(p.dtype()), " on ", device_name(p.device()), ", ", comm.name(),
             " sums f32 ", device_name(comm.device()), " tensors");
    // the first bucket small (1 MiB, as PyTorch's DDP): it fills early in backward, so its sum
    // starts while most of backward is still to run
    const int64_t cap =
        buckets_.size() <= 1 ? std::min<int64_t>(bucket_bytes, 1 << 20) : bucket_bytes;
    if (buckets_.empty() || buckets_.back().numel * 4 >= cap) buckets_.emplace_back();
    buckets_.back().params.push_back(i);
    buckets_.back().numel += p.numel();
    bucket_of_[i] = buckets_.size() - 1;
    index_[p.impl()] = i;
  }
}

LeafReadyHook GradientReducer::hook() {
  return [this](const Tensor& leaf) {
    auto it = index_.find(leaf.impl());
    if (it != index_.end()) ready(it->second);
  };
}

void GradientReducer::ready(size_t i) {
  if (seen_[i]) return;
  seen_[i] = true;
  Bucket& b = buckets_[bucket_of_[i]];
  if (++b.ready == b.params.size()) launch(b);
  for (Bucket& o : buckets_)  // MPI progresses non-blocking collectives inside its calls
    if (o.work) o.work->test();
}

void GradientReducer::launch(Bucket& b) {
  NoGradGuard ng;
  b.flat = Tensor::empty({b.numel}, DType::f32, comm_.device());
  int64_t at = 0;
  for (size_t i : b.params) {
    const Tensor& p = params_[i];
    Tensor dst = b.flat.narrow(0, at, p.numel());
    Tensor g = p.grad();
    had_grad_[i] = g.defined();
    if (g.defined())
      dst.copy_(g.reshape({p.numel()}));
    else
      dst.fill_(0);  // the ranks run the same graph: none of them has a gradient here
    at += p.numel();
  }
  b.work = comm_.all_reduce_sum_async(b.flat);
}

void GradientReducer::finish() {
  for (Bucket& b : buckets_)  // in a fixed order on every rank: the collectives must match
    if (!b.work) launch(b);
  auto t0 = std::chrono::steady_clock::now();
  for (Bucket& b : buckets_) b.work->wait();
  wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (Bucket& b : buckets_) {
    int64_t at = 0;
    for (size_t i : b.params) {
      const Tensor& p = params_[i];
      // no gradient stays no gradient (optimizers skip such a parameter, as in one process)
      if (had_grad_[i]) p.set_grad(b.flat.narrow(0, at, p.numel()).view(p.shape()));
      at += p.numel();
    }
    b.work.reset();
    b.flat = Tensor();
    b.ready = 0;
  }
  std::fill(seen_.begin(), seen_.end(), false);
}

}  // namespace rmgait::dist
