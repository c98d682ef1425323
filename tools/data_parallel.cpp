#include "tools/data_parallel.h"

#include <algorithm>

#include "dist/ops.h"
#include "dist/world.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::tools {

void DataParallel::check_split(int64_t p, int64_t k, int ranks) {
  RM_CHECK((p * k) % ranks == 0, "trainer_cfg.sampler: the global batch P x K = ", p, " x ", k,
           " = ", p * k, " sequences does not split evenly over N = ", ranks, " ranks");
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

}  // namespace rmgait::tools
