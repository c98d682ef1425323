#pragma once
// Sums the parameters' gradients over ranks after backward, in buckets (1 MiB, then about
// 25 MiB, in reverse registration order, as PyTorch's DDP): a bucket's all-reduce starts as soon as
// its last gradient is final (engine's LeafReadyHook), while backward computes the rest, and
// finish() waits for them and writes the sums back.
#include <chrono>
#include <unordered_map>
#include <vector>

#include "distributed/communicator.h"
#include "engine/autograd.h"

namespace rmgait::dist {

class GradientReducer {
 public:
  GradientReducer(Communicator& comm, std::vector<Tensor> params,
                  int64_t bucket_bytes = int64_t(25) << 20);
  // Install for the scope of loss.backward().
  LeafReadyHook hook();
  // Starts the buckets still waiting, waits for all and sets every parameter's gradient to the
  // sum over ranks (a parameter without a gradient keeps none).
  void finish();
  // Seconds finish() spent waiting for communication, summed over calls.
  double wait_seconds() const { return wait_s_; }
  size_t buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    int64_t numel = 0;
    size_t ready = 0;
    Tensor flat;  // the gradients, concatenated, being summed
    std::unique_ptr<Work> work;
  };
  void ready(size_t param);
  void launch(Bucket& b);

  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;
  std::unordered_map<const TensorImpl*, size_t> index_;
  std::vector<bool> seen_;      // per parameter, this step
  std::vector<bool> had_grad_;  // per parameter: a gradient existed when its bucket started
  double wait_s_ = 0;
};

}  // namespace rmgait::dist
