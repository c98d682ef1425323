#pragma once
// One rank's share of a data-parallel training step (train and bench), as OpenGait trains with
// DDP: the rank takes rows [first_row, first_row + rows) of the global P x K batch; embeddings
// and labels are all-gathered so that Batch-All mining sees the global batch; batch norm is
// synchronised (sync_bn: the BNNeck normalises the gathered global batch); each rank
// backpropagates 1/N of the global triplet loss and of its rows' mean cross entropy, and the
// gradients are summed over ranks in buckets, during backward. N ranks compute one process's
// step. With one process, exactly the single-process step.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "distributed/communicator.h"
#include "distributed/reducer.h"
#include "gait/model.h"
#include "nn/loss.h"
#include "pipeline/config.h"

namespace rmgait::pipeline {

struct StepLosses {
  nn::TripletResult triplet;  // over the global batch
  nn::CrossEntropyResult ce;  // over this rank's rows
  Tensor loss;                // what this rank backpropagates
};

class DataParallel {
 public:
  // Sets up `model` (already on `device`): batch slice, synchronised BN, the same parameters on
  // every rank (broadcast from rank 0). global_batch must split evenly over the ranks.
  DataParallel(gait::ReverseMaskModel& model, Device device, int64_t p, int64_t k, bool sync_bn);
  // A clear error unless the P x K batch splits evenly over `ranks`.
  static void check_split(int64_t p, int64_t k, int ranks);
  // Every rank's facts about its job (its effective settings, what its dataset and checkpoints
  // hold, its build) must have rank 0's values: otherwise every rank fails, before any other
  // collective, with an error naming each rank's differences. A collective of `world`.
  struct Fact {
    std::string name, value;
    std::string where;  // shown beside a difference, not compared (a file's path)
  };
  static void check_same_job(dist::Communicator& world, const std::vector<Fact>& facts);
  int rank() const { return rank_; }
  int ranks() const { return ranks_; }
  int64_t first_row() const { return first_; }
  int64_t rows() const { return rows_; }

  // labels: this rank's rows'.
  StepLosses losses(const gait::ModelOutput& out, const std::vector<int64_t>& labels,
                    const TrainConfig& cfg);
  // loss.backward() with the gradients summed over ranks when it returns.
  void backward(const Tensor& loss);
  // The global batch's cross entropy and accuracy (the mean of the ranks': equal slices).
  std::pair<float, float> global_ce(const nn::CrossEntropyResult& ce);
  double comm_wait_seconds() const { return reducer_ ? reducer_->wait_seconds() : 0.0; }

 private:
  dist::Communicator& world_;
  dist::Communicator& comm_;  // for the model's device
  int rank_, ranks_;
  int64_t first_, rows_;
  std::unique_ptr<dist::GradientReducer> reducer_;
};

}  // namespace rmgait::pipeline
