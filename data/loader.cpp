#include "data/loader.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "data/pretreat.h"
#include "engine/error.h"
#include "engine/math/random.h"

namespace rmgait::data {

namespace {
struct SamplerRng {
  uint64_t seed, n = 0;
  uint32_t below(uint32_t m) {
    return std::min<uint32_t>(m - 1, uint32_t(philox::uniform(seed, n++) * float(m)));
  }
};

// Copies frame f of sequence i, columns [10, 54), scaled to [0, 1].
void copy_frame(const PackedDataset& ds, size_t i, uint32_t f, float* dst, bool flip) {
  const uint32_t h = ds.height(), w = ds.width();
  const uint8_t* src = ds.frames(i) + size_t(f) * h * w;
  const auto [left, cols] = model_columns(w);
  for (uint32_t y = 0; y < h; ++y)
    for (int x = 0; x < cols; ++x)
      dst[y * cols + x] = float(src[y * w + left + (flip ? cols - 1 - x : x)]) * (1.f / 255.f);
}

int model_width(const PackedDataset& ds) {
  return model_columns(ds.width()).second;
}
}  // namespace

std::pair<int, int> model_columns(int64_t width) {
  return width == 64 ? std::pair<int, int>{kCutLeft, kModelWidth}
                     : std::pair<int, int>{0, int(width)};
}

TrainSampler::TrainSampler(const PackedDataset& ds, std::vector<size_t> indices, SamplerOptions opt)
    : ds_(ds), opt_(opt) {
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i : indices)
    if (ds.info(i).frames > 0) groups[ds.info(i).subject].push_back(i);
  for (auto& [s, v] : groups) {
    subjects_.push_back(s);
    by_subject_.push_back(v);
  }
  RM_CHECK(int(subjects_.size()) >= opt.p, ds.path(), ": ", subjects_.size(),
           " training subjects, fewer than P = ", opt.p);
  RM_CHECK(opt.k >= 1 && opt.frames >= 1, "sampler: K and frames must be positive");
  const int64_t n = int64_t(opt.p) * opt.k;
  if (opt_.rows < 0) opt_.rows = n - opt_.first_row;
  RM_CHECK(opt_.first_row >= 0 && opt_.rows >= 1 && opt_.first_row + opt_.rows <= n,
           "sampler: rows [", opt_.first_row, ", ", opt_.first_row + opt_.rows,
           ") outside a batch of P x K = ", n);
}

Batch TrainSampler::batch(int64_t b) const {
  SamplerRng rng{opt_.seed * 1000003ull + uint64_t(b) * 7919ull + 11};
  // P subjects without replacement (partial Fisher-Yates)
  std::vector<size_t> order(subjects_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (int i = 0; i < opt_.p; ++i)
    std::swap(order[i], order[i + rng.below(uint32_t(order.size() - i))]);
  const int hgt = int(ds_.height()), wid = model_width(ds_);
  const int64_t lo = opt_.first_row, hi = lo + opt_.rows;
  Batch out;
  out.sils = Tensor::empty({opt_.rows, opt_.frames, hgt, wid});
  float* dst = out.sils.data<float>();
  const size_t frame_size = size_t(hgt) * wid;
  for (int pi = 0; pi < opt_.p; ++pi) {
    const std::vector<size_t>& seqs = by_subject_[order[pi]];
    std::vector<size_t> pick;
    if (int(seqs.size()) >= opt_.k) {  // K without replacement
      std::vector<size_t> pool = seqs;
      for (int j = 0; j < opt_.k; ++j) {
        std::swap(pool[j], pool[j + rng.below(uint32_t(pool.size() - j))]);
        pick.push_back(pool[j]);
      }
    } else {
      for (int j = 0; j < opt_.k; ++j) pick.push_back(seqs[rng.below(uint32_t(seqs.size()))]);
    }
    for (int j = 0; j < opt_.k; ++j) {
      const size_t s = pick[size_t(j)];
      const uint32_t len = ds_.info(s).frames;
      const uint32_t tiled = len * uint32_t((opt_.frames + len - 1) / len);  // fixed_ordered
      const uint32_t start = rng.below(tiled - uint32_t(opt_.frames) + 1);
      const bool flip = opt_.flip && rng.below(2) == 1;
      const int64_t row = int64_t(pi) * opt_.k + j;
      if (row < lo || row >= hi) continue;  // another rank's row: drawn, not loaded
      for (int f = 0; f < opt_.frames; ++f, dst += frame_size)
        copy_frame(ds_, s, (start + uint32_t(f)) % len, dst, flip);
      out.labels.push_back(int64_t(order[pi]));
      out.sequences.push_back(s);
    }
  }
  return out;
}

Tensor load_sequence(const PackedDataset& ds, size_t index) {
  const uint32_t t = ds.info(index).frames;
  RM_CHECK(t > 0, ds.path(), ": sequence ", ds.info(index).name(), " has no frames");
  const int wid = model_width(ds);
  Tensor out = Tensor::empty({1, int64_t(t), int64_t(ds.height()), wid});
  for (uint32_t f = 0; f < t; ++f)
    copy_frame(ds, index, f, out.data<float>() + size_t(f) * ds.height() * wid, false);
  return out;
}

Prefetcher::Prefetcher(const TrainSampler& sampler, int64_t first, int threads, int depth)
    : sampler_(sampler), next_out_(first), next_in_(first), depth_(depth) {
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void Prefetcher::work() {
  for (;;) {
    int64_t b;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || next_in_ < next_out_ + depth_; });
      if (stop_) return;
      b = next_in_++;
    }
    Batch batch;
    std::exception_ptr error;
    try {
      batch = sampler_.batch(b);
    } catch (...) {  // std::bad_alloc included: a thread must not end the process
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (error) {
        if (!failed_) failed_ = error;
        stop_ = true;
      } else {
        ready_.emplace(b, std::move(batch));
      }
    }
    cv_.notify_all();
    if (error) return;
  }
}

Batch Prefetcher::next() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return ready_.count(next_out_) > 0 || failed_; });
  if (!ready_.count(next_out_)) std::rethrow_exception(failed_);
  Batch b = std::move(ready_.at(next_out_));
  ready_.erase(next_out_++);
  cv_.notify_all();
  return b;
}

}  // namespace rmgait::data
