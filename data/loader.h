#pragma once
// Training batches: P subjects x K sequences, a clip of `frames` consecutive frames from each
// (OpenGait's fixed_ordered: a shorter sequence's frame list is tiled ceil(frames/len) times
// first, so the clip wraps), columns 10..53 cut, divided by 255. Batch b depends only on
// (seed, b): prefetching threads never change the numbers.
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "data/packed.h"
#include "engine/tensor.h"

namespace rmgait::data {

struct Batch {
  Tensor sils;                  // f32 [P*K, frames, 64, 44] in [0, 1] (or the rank's rows)
  std::vector<int64_t> labels;  // class index of each sequence's subject, in [0, classes)
  std::vector<size_t> sequences;
};

struct SamplerOptions {
  int p = 8, k = 16, frames = 30;
  uint64_t seed = 0;
  bool flip = false;  // horizontal flip with probability 0.5 per sequence
  // Data-parallel rank: load only rows [first_row, first_row + rows) of the global P x K batch
  // (-1: all). The draws are the global batch's, so the ranks' slices make up one process's batch.
  int64_t first_row = 0, rows = -1;
};

class TrainSampler {
 public:
  // `indices`: the training sequences of `ds`. Subjects are numbered in sorted order.
  TrainSampler(const PackedDataset& ds, std::vector<size_t> indices, SamplerOptions opt);
  Batch batch(int64_t b) const;
  int64_t num_classes() const { return int64_t(subjects_.size()); }
  const std::vector<std::string>& subjects() const { return subjects_; }

 private:
  const PackedDataset& ds_;
  SamplerOptions opt_;
  std::vector<std::string> subjects_;
  std::vector<std::vector<size_t>> by_subject_;
};

// The columns the model sees of frames `width` wide, {first, count}: [10, 54) of a pretreated
// 64-wide frame (data/pretreat.h), all of any other width.
std::pair<int, int> model_columns(int64_t width);

// A sequence's every frame as f32 [1, T, 64, 44] in [0, 1] (test-time loading).
Tensor load_sequence(const PackedDataset& ds, size_t index);

// Prefetches batches first, first+1, ... on `threads` worker threads, `depth` ahead.
class Prefetcher {
 public:
  Prefetcher(const TrainSampler& sampler, int64_t first, int threads = 2, int depth = 4);
  ~Prefetcher();
  Batch next();

 private:
  void work();
  const TrainSampler& sampler_;
  int64_t next_out_, next_in_;
  int depth_;
  bool stop_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, Batch> ready_;
  std::exception_ptr failed_;  // a worker's error, rethrown by next()
  std::vector<std::thread> workers_;
};

}  // namespace rmgait::data
