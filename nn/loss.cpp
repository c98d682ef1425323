#include "nn/loss.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::nn {

namespace {
// A host index (index_select moves it to the input's device after its range check).
Tensor index_tensor(const std::vector<int64_t>& v) {
  Tensor t = Tensor::empty({int64_t(v.size())}, DType::i64);
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}
}  // namespace

TripletResult triplet_loss(const Tensor& embeddings, const std::vector<int64_t>& labels,
                           float margin) {
  RM_CHECK(embeddings.dim() == 3, "triplet_loss: embeddings ", shape_str(embeddings.shape()),
           " must be [N, C, P]");
  const int64_t n = embeddings.size(0), parts = embeddings.size(2);
  RM_CHECK(int64_t(labels.size()) == n, "triplet_loss: ", labels.size(), " labels for ", n,
           " embeddings");
  // Positions (a * n + j) of each anchor's positives and negatives in the flattened [n, n] map.
  std::vector<int64_t> ap, an;
  int64_t k = -1;
  for (int64_t a = 0; a < n; ++a) {
    int64_t pos = 0;
    for (int64_t j = 0; j < n; ++j) {
      bool same = labels[a] == labels[j];
      (same ? ap : an).push_back(a * n + j);
      pos += same;
    }
    RM_CHECK(k < 0 || pos == k, "triplet_loss: anchor ", a, " (label ", labels[a], ") has ", pos,
             " positives but anchor 0 has ", k, "; batches must be P x K");
    k = pos;
  }
  RM_CHECK(k < n, "triplet_loss: the batch holds a single identity: no negatives");
  Device dev = embeddings.device();
  Tensor x = embeddings.permute({2, 0, 1});  // [P, N, C]
  Tensor x2 = sum(mul(x, x), {2}, true);     // [P, N, 1]
  Tensor inner = matmul(x, x, false, true);  // [P, N, N]
  // A sample's distance to itself is 0, exactly. Computed, it is the square root of rounding
  // noise, whose gradient 1/(2 sqrt(noise)) is arbitrary: it would differ between one process
  // and a data-parallel run of the same batch. So the diagonal is 1 under the root (a finite
  // gradient) and masked to 0 after it.
  Tensor eye = Tensor::zeros({1, n, n});
  for (int64_t i = 0; i < n; ++i) eye.data<float>()[i * n + i] = 1.f;
  eye = eye.to(dev);
  Tensor u = relu(sub(add(x2, x2.transpose(1, 2)), mul(inner, 2.f)));
  Tensor d = mul(sqrt(add(u, eye)), sub(1.f, eye));
  Tensor flat = d.reshape({parts, n * n});
  Tensor dap = index_select(flat, 1, index_tensor(ap)).reshape({parts, n, k, 1});
  Tensor dan = index_select(flat, 1, index_tensor(an)).reshape({parts, n, 1, n - k});
  Tensor terms = relu(add(sub(dap, dan), margin)).reshape({parts, -1});  // [P, n k (n-k)]
  Tensor nonzero, part_loss;
  {
    NoGradGuard ng;
    nonzero = sum(compare(BinaryOp::gt, terms, Tensor::zeros({}, DType::f32, dev)), {1});
  }
  part_loss = div(sum(terms, {1}), add(nonzero, 1e-9f));  // 0 where no term is non-zero
  TripletResult r;
  r.loss = mean(part_loss);
  NoGradGuard ng;
  r.nonzero_fraction = sum(nonzero).item() / float(terms.numel());
  r.mean_distance = mean(d).item();
  return r;
}

CrossEntropyResult cross_entropy(const Tensor& logits_in, const std::vector<int64_t>& labels,
                                 float label_smoothing, float scale) {
  Tensor logits = logits_in.dim() == 2 ? logits_in.unsqueeze(2) : logits_in;
  RM_CHECK(logits.dim() == 3, "cross_entropy: logits ", shape_str(logits_in.shape()),
           " must be [N, classes, P] or [N, classes]");
  const int64_t n = logits.size(0), classes = logits.size(1), parts = logits.size(2);
  RM_CHECK(int64_t(labels.size()) == n, "cross_entropy: ", labels.size(), " labels for ", n,
           " samples");
  Tensor onehot = Tensor::zeros({n, classes, parts});
  float* oh = onehot.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    RM_CHECK(labels[i] >= 0 && labels[i] < classes, "cross_entropy: label ", labels[i],
             " of sample ", i, " outside [0, ", classes, ")");
    for (int64_t p = 0; p < parts; ++p) oh[(i * classes + labels[i]) * parts + p] = 1.f;
  }
  onehot = onehot.to(logits.device());
  Tensor lsm = log_softmax(scale == 1.f ? logits : mul(logits, scale), 1);
  const float pairs = float(n * parts);
  Tensor nll = mul(sum(mul(lsm, onehot)), -1.f / pairs);
  CrossEntropyResult r;
  r.loss = label_smoothing > 0.f ? add(mul(nll, 1.f - label_smoothing),
                                       mul(sum(lsm), -label_smoothing / (pairs * float(classes))))
                                 : nll;
  NoGradGuard ng;
  std::vector<float> pred = argmax(logits, 1).to(DType::f32).to_vector();  // [N * P]
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < parts; ++p) hits += int64_t(pred[i * parts + p]) == labels[i];
  r.accuracy = float(hits) / pairs;
  return r;
}

}  // namespace rmgait::nn
