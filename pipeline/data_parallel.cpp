#include "pipeline/data_parallel.h"

#include <algorithm>
#include <map>

#include "distributed/ops.h"
#include "distributed/world.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::pipeline {

void DataParallel::check_split(int64_t p, int64_t k, int ranks) {
  RM_CHECK((p * k) % ranks == 0, "trainer_cfg.sampler: the global batch P x K = ", p, " x ", k,
           " = ", p * k, " sequences does not split evenly over N = ", ranks, " ranks");
}

namespace {
// Facts as "name\tvalue\twhere\n" lines (none of them holds a tab or a newline).
std::string join_facts(const std::vector<DataParallel::Fact>& facts) {
  std::string s;
  for (const auto& f : facts) s += f.name + "\t" + f.value + "\t" + f.where + "\n";
  return s;
}
std::map<std::string, DataParallel::Fact> split_facts(const std::string& s) {
  std::map<std::string, DataParallel::Fact> out;
  size_t at = 0;
  while (at < s.size()) {
    const size_t nl = s.find('\n', at), t1 = s.find('\t', at);
    const size_t t2 = t1 == std::string::npos ? t1 : s.find('\t', t1 + 1);
    if (nl == std::string::npos || t2 == std::string::npos || t2 > nl) break;
    DataParallel::Fact f{s.substr(at, t1 - at), s.substr(t1 + 1, t2 - t1 - 1),
                         s.substr(t2 + 1, nl - t2 - 1)};
    out[f.name] = f;
    at = nl + 1;
  }
  return out;
}
std::string shown(const DataParallel::Fact& f) {
  return f.value + (f.where.empty() ? "" : " (" + f.where + ")");
}
}  // namespace

void DataParallel::check_same_job(dist::Communicator& world, const std::vector<Fact>& facts) {
  if (world.size() == 1) return;
  const std::string mine = join_facts(facts);
  // every rank's facts everywhere: the lengths, then the texts padded to the longest
  Tensor lens = world.all_gather(Tensor::full({1}, double(mine.size()), DType::i64));
  int64_t longest = 1;
  for (int64_t i = 0; i < lens.numel(); ++i) longest = std::max(longest, lens.data<int64_t>()[i]);
  Tensor text = Tensor::zeros({longest}, DType::u8);
  std::copy(mine.begin(), mine.end(), text.data<uint8_t>());
  const Tensor all = world.all_gather(text);
  auto facts_of = [&](int64_t r) {
    const char* p = reinterpret_cast<const char*>(all.data<uint8_t>()) + r * longest;
    return split_facts(std::string(p, size_t(lens.data<int64_t>()[r])));
  };
  const std::map<std::string, Fact> first = facts_of(0);
  std::string why;
  for (int64_t r = 1; r < lens.numel(); ++r) {
    const std::map<std::string, Fact> other = facts_of(r);
    const std::string who = "\n  rank " + std::to_string(r) + ": ";
    for (const auto& [k, f] : first) {
      auto it = other.find(k);
      if (it == other.end())
        why += who + k + " is missing (rank 0: " + shown(f) + ")";
      else if (it->second.value != f.value)
        why += who + k + " is " + shown(it->second) + " (rank 0: " + shown(f) + ")";
    }
    for (const auto& [k, f] : other)
      if (!first.count(k)) why += who + k + " is " + shown(f) + " (rank 0: missing)";
  }
  RM_CHECK(why.empty(),
           "the ranks were started with different jobs (every rank must run the same "
           "configuration on the same dataset):",
           why);
}

DataParallel::DataParallel(gait::ReverseMaskModel& model, Device device, int64_t p, int64_t k,
                           bool sync_bn)
    : world_(dist::world()), comm_(dist::for_device(device)) {
  rank_ = world_.rank(), ranks_ = world_.size();
  check_split(p, k, ranks_);
  const int64_t global_batch = p * k;
  rows_ = global_batch / ranks_, first_ = rank_ * rows_;
  if (ranks_ == 1) return;
  model.set_batch_slice({first_, global_batch});
  if (sync_bn) {
    model.bn->sync_gather = [c = &comm_](const Tensor& t) { return dist::all_gather(*c, t); };
    model.bn->sync_rank = rank_;
  }
  for (const Tensor& p : model.parameters()) comm_.broadcast(p, 0);  // one start everywhere
  reducer_ = std::make_unique<dist::GradientReducer>(comm_, model.parameters());
}

StepLosses DataParallel::losses(const gait::ModelOutput& out, const std::vector<int64_t>& labels,
                                const TrainConfig& cfg) {
  Tensor emb = out.embedding;
  std::vector<int64_t> all = labels;
  if (ranks_ > 1) {  // Batch-All mining over the global batch
    emb = dist::all_gather(comm_, emb);
    Tensor l = Tensor::empty({int64_t(labels.size())}, DType::i64);
    std::copy(labels.begin(), labels.end(), l.data<int64_t>());
    l = world_.all_gather(l);
    all.assign(l.data<int64_t>(), l.data<int64_t>() + l.numel());
  }
  StepLosses s{nn::triplet_loss(emb, all, cfg.margin),
               nn::cross_entropy(out.logits, labels, cfg.label_smoothing), Tensor()};
  // each rank's share of one process's loss: the global triplet loss (computed on every rank)
  // and the mean cross entropy, each weighted 1 / N; summed over ranks, they are that loss
  const float share = 1.f / float(ranks_);
  s.loss = ranks_ == 1 ? add(mul(s.triplet.loss, cfg.triplet_weight), mul(s.ce.loss, cfg.ce_weight))
                       : add(mul(s.triplet.loss, cfg.triplet_weight * share),
                             mul(s.ce.loss, cfg.ce_weight * share));
  return s;
}

void DataParallel::backward(const Tensor& loss) {
  {
    LeafReadyHookGuard hook(reducer_ ? reducer_->hook() : LeafReadyHook());
    loss.backward();
  }
  if (reducer_) reducer_->finish();
}

std::pair<float, float> DataParallel::global_ce(const nn::CrossEntropyResult& ce) {
  float cv = ce.loss.item(), acc = ce.accuracy;
  if (ranks_ == 1) return {cv, acc};
  Tensor m = Tensor::from_vector({cv, acc}, {2});
  world_.all_reduce_sum(m);
  return {m.data<float>()[0] / float(ranks_), m.data<float>()[1] / float(ranks_)};
}

}  // namespace rmgait::pipeline
