#pragma once
// Losses of the paper's training (OpenGait's TripletLoss and CrossEntropyLoss).
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace rmgait::nn {

struct TripletResult {
  Tensor loss;             // scalar: mean over parts of the per-part BA+ loss
  float nonzero_fraction;  // share of (a, p, n) terms with non-zero loss, over all parts
  float mean_distance;     // mean pairwise distance over parts and pairs
};

// Separate Batch-All triplet loss per part. embeddings [N, C, P], labels N ids.
// Per part: Euclidean (not squared) distance sqrt(relu(|x|^2 + |y|^2 - 2 x.y)); positives
// include the anchor itself, at distance exactly 0 (not the root of rounding noise); two equal
// embeddings (u = 0) get a zero gradient from the relu's backward, which selects 0 where its
// output is 0 and so drops sqrt's infinite slope there; every (a, p, n) term is relu(d_ap - d_an +
// margin); the part's loss is sum / (non-zero terms + 1e-9); the result is the mean over parts.
// Every anchor must have the same number of positives (P x K batches).
TripletResult triplet_loss(const Tensor& embeddings, const std::vector<int64_t>& labels,
                           float margin = 0.2f);

struct CrossEntropyResult {
  Tensor loss;     // scalar, mean over the N * P (sample, part) pairs
  float accuracy;  // share of (sample, part) pairs whose argmax is the label
};

// logits [N, classes, P] (or [N, classes]); labels N class indices in [0, classes).
CrossEntropyResult cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels,
                                 float label_smoothing = 0.f, float scale = 1.f);

}  // namespace rmgait::nn
