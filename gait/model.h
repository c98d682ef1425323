#pragma once
// The ReverseMask model family on GaitGL's skeleton (docs/model.md):
// conv3d -> LTA -> A0 -> MaxPool0 -> A1 -> B2 -> TP -> HPP -> Head0 -> Bn -> Head1.
// Parameter names follow OpenGait's GaitGL (see the spec's table).
#include <array>
#include <memory>
#include <string>

#include "gait/blocks.h"
#include "gait/heads.h"
#include "nn/layers.h"

namespace rmgait::gait {

enum class BlockKind { plain, gl, rm_drop, rm_scale, inception, dropblock, scaling_dropblock };
BlockKind parse_block_kind(const std::string& s);
const char* block_kind_name(BlockKind k);

struct ModelConfig {
  BlockKind block = BlockKind::inception;
  std::array<int64_t, 3> channels{32, 64, 128};  // (c0, c1, c2); OU-MVLP doubles them
  int64_t height = 64, width = 44;               // input silhouettes
  int64_t num_classes = 74;
  int halving = 3;       // GLConv strips: 2^halving
  ReverseMaskConfig rm;  // p, reg_prob, strategy (variant set per block)
  DropBlockConfig dropblock;
  uint64_t seed = 0;  // init and mask generators
  // Training keeps only the input of the stem + LTA and of each block and recomputes their
  // activations in backward (same masks): less memory for a second forward.
  bool recompute = false;
};

struct ModelOutput {
  Tensor embedding;  // Bn output [N, c2, P]: triplet loss and test features
  Tensor logits;     // Head1 [N, classes, P]
};

class ReverseMaskModel : public nn::Module {
 public:
  explicit ReverseMaskModel(const ModelConfig& cfg);
  // sils [N, T, H, W] f32 in [0, 1]. T < 3 is tiled in time.
  ModelOutput forward(const Tensor& sils);
  // OpenGait's init_parameters: Xavier-uniform conv and fc_bin weights, BN weight ~ N(1, 0.02).
  void reset_parameters(uint64_t seed);
  int64_t parts() const { return parts_; }
  // (seed, offset) of every mask generator, in a fixed order; restoring them replays the masks.
  std::vector<std::pair<uint64_t, uint64_t>> rng_state() const;
  void set_rng_state(const std::vector<std::pair<uint64_t, uint64_t>>& state);
  const ModelConfig& config() const { return cfg_; }
  // Data-parallel training: the batches this replica sees are rows [offset, offset + n) of
  // global batches of `global` rows (per-sample masks are drawn for the global batch).
  void set_batch_slice(const BatchSlice& slice);
  // stem[0] and LTA[0] (exporters read their weights and geometry)
  const BasicConv3d& stem_conv() const { return *stem_conv_; }
  const BasicConv3d& lta_conv() const { return *lta_conv_; }

  std::shared_ptr<nn::Sequential> stem, lta;
  std::shared_ptr<Block> a0, a1, b2;
  std::shared_ptr<nn::MaxPool3d> pool0;
  std::shared_ptr<GeMHPP> hpp;
  std::shared_ptr<SeparateFCs> head0, head1;
  std::shared_ptr<nn::BatchNorm> bn;

 private:
  std::shared_ptr<Block> make_block(const std::string& stage, int64_t in, int64_t out, bool last,
                                    uint64_t seed);
  Tensor run_block(Block& b, const Tensor& x);
  ModelConfig cfg_;
  int64_t parts_ = 0;
  std::shared_ptr<BasicConv3d> stem_conv_, lta_conv_;  // stem[0] and lta[0], run fused with lrelu
};

}  // namespace rmgait::gait
