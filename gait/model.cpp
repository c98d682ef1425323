#include "gait/model.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "nn/init.h"

namespace rmgait::gait {

namespace {
const char* kKindNames[] = {"plain",     "gl",        "rm_drop",          "rm_scale",
                            "inception", "dropblock", "scaling_dropblock"};
}

BlockKind parse_block_kind(const std::string& s) {
  for (int i = 0; i < 7; ++i)
    if (s == kKindNames[i]) return BlockKind(i);
  RM_FAIL("block kind '", s,
          "': expected plain, gl, rm_drop, rm_scale, inception, dropblock or scaling_dropblock");
}

const char* block_kind_name(BlockKind k) {
  return kKindNames[int(k)];
}

std::shared_ptr<Block> ReverseMaskModel::make_block(const std::string& stage, int64_t in,
                                                    int64_t out, bool last, uint64_t seed) {
  ReverseMaskConfig drop = cfg_.rm, scale = cfg_.rm;
  drop.variant = RMVariant::dropping;
  scale.variant = RMVariant::scaling;
  DropBlockConfig db = cfg_.dropblock;
  switch (cfg_.block) {
    case BlockKind::plain:
      return register_module("Conv" + stage, std::make_shared<PlainBlock>(in, out));
    case BlockKind::gl:
      return register_module("GLConv" + stage,
                             std::make_shared<GLConv>(in, out, cfg_.halving, last));
    case BlockKind::rm_drop:
      return register_module("RMBlock" + stage,
                             std::make_shared<PlainRMBlock>(in, out, drop, seed));
    case BlockKind::rm_scale:
      return register_module("RMBlock" + stage,
                             std::make_shared<PlainRMBlock>(in, out, scale, seed));
    case BlockKind::inception:
      return register_module("RMBlock" + stage,
                             std::make_shared<InceptionRMBlock>(in, out, drop, scale, last, seed));
    case BlockKind::dropblock:
    case BlockKind::scaling_dropblock:
      db.scaling = cfg_.block == BlockKind::scaling_dropblock;
      return register_module("Conv" + stage, std::make_shared<DropBlockConv>(in, out, db, seed));
  }
  RM_FAIL("unknown block kind");
}

ReverseMaskModel::ReverseMaskModel(const ModelConfig& cfg) : cfg_(cfg) {
  const auto [c0, c1, c2] = cfg.channels;
  RM_CHECK(c0 > 0 && c1 > 0 && c2 > 0 && cfg.num_classes > 0, "model: channels and num_classes ",
           "must be positive");
  RM_CHECK(cfg.height >= 2 && cfg.height % 2 == 0 && cfg.width >= 2, "model: input ", cfg.height,
           "x", cfg.width, " must have an even height >= 2");
  stem = register_module("conv3d", std::make_shared<nn::Sequential>());
  stem_conv_ = std::make_shared<BasicConv3d>(1, c0);
  stem->push_back(stem_conv_);
  stem->push_back(std::make_shared<nn::LeakyReLU>());
  lta = register_module("LTA", std::make_shared<nn::Sequential>());
  lta_conv_ = std::make_shared<BasicConv3d>(c0, c0, nn::Int3{3, 1, 1}, nn::Int3{3, 1, 1},
                                            nn::Int3{0, 0, 0});
  lta->push_back(lta_conv_);
  lta->push_back(std::make_shared<nn::LeakyReLU>());
  a0 = make_block("A0", c0, c1, false, cfg.seed * 16 + 1);
  pool0 = register_module("MaxPool0",
                          std::make_shared<nn::MaxPool3d>(nn::Int3{1, 2, 2}, nn::Int3{1, 2, 2}));
  a1 = make_block("A1", c1, c2, false, cfg.seed * 16 + 3);
  b2 = make_block("B2", c2, c2, true, cfg.seed * 16 + 5);
  parts_ = b2->height_multiplier() * (cfg.height / 2);
  hpp = register_module("HPP", std::make_shared<GeMHPP>());
  head0 = register_module("Head0", std::make_shared<SeparateFCs>(parts_, c2, c2));
  bn = register_module("Bn", nn::BatchNorm1d(c2));
  head1 = register_module("Head1", std::make_shared<SeparateFCs>(parts_, c2, cfg.num_classes));
  reset_parameters(cfg.seed);
}

void ReverseMaskModel::reset_parameters(uint64_t seed) {
  Generator gen(seed * 7919 + 17);
  for (auto& [name, t] : named_parameters()) {
    auto ends = [&](const std::string& s) {
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (t.dim() == 5 || ends("fc_bin"))
      nn::xavier_uniform_(t, gen);
    else if (ends("Bn.weight"))
      nn::normal_(t, 1.f, 0.02f, gen);
    else if (ends("Bn.bias"))
      t.fill_(0);
  }
}

ModelOutput ReverseMaskModel::forward(const Tensor& sils) {
  RM_CHECK(sils.dim() == 4 && sils.size(2) == cfg_.height && sils.size(3) == cfg_.width,
           "model: silhouettes ", shape_str(sils.shape()), " should be [N, T, ", cfg_.height, ", ",
           cfg_.width, "]");
  RM_CHECK(sils.size(1) >= 1, "model: a sequence needs at least one frame");
  Tensor x = sils.unsqueeze(1);  // [N, 1, T, H, W]
  if (x.size(2) < 3) {
    int64_t reps = x.size(2) == 1 ? 3 : 2;
    x = cat(std::vector<Tensor>(reps, x), 2);
  }
  // stem and LTA as fused conv + lrelu (the Sequentials keep OpenGait's parameter names); with
  // recompute, the stem's output (the largest saved activation: all T frames) is not kept
  auto stem_lta = [this](const std::vector<Tensor>& in) {
    return lta_conv_->conv->forward_leaky_relu(stem_conv_->conv->forward_leaky_relu(in[0]));
  };
  if (cfg_.recompute && is_training() && grad_enabled()) {
    std::vector<Tensor> params = stem->parameters(), lta_params = lta->parameters();
    params.insert(params.end(), lta_params.begin(), lta_params.end());
    x = checkpoint(stem_lta, {x}, params);
  } else {
    x = stem_lta({x});  // [N, c0, T/3, H, W]
  }
  x = pool0->forward(run_block(*a0, x));
  x = run_block(*b2, run_block(*a1, x));     // [N, c2, T/3, m*H/2, W/2]
  Tensor f = hpp->forward(temporal_max(x));  // [N, c2, P]
  ModelOutput out;
  out.embedding = bn->forward(head0->forward(f));
  out.logits = head1->forward(out.embedding);
  return out;
}

}  // namespace rmgait::gait

namespace rmgait::gait {

// With cfg.recompute (training, recording): the block runs under engine checkpointing, its mask
// generators rewound for the recomputation in backward so that it draws the same masks, then put
// back where backward found them.
Tensor ReverseMaskModel::run_block(Block& b, const Tensor& x) {
  if (!cfg_.recompute || !is_training() || !grad_enabled()) return b.forward(x);
  using States = std::vector<std::pair<uint64_t, uint64_t>>;
  auto states = [](const std::vector<Generator*>& gens) {
    States s;
    for (Generator* g : gens) s.emplace_back(g->seed(), g->offset());
    return s;
  };
  auto set = [](const std::vector<Generator*>& gens, const States& s) {
    for (size_t i = 0; i < gens.size(); ++i) gens[i]->set_state(s[i].first, s[i].second);
  };
  std::vector<Generator*> gens = b.generators();
  const States before = states(gens);
  auto first = std::make_shared<bool>(true);
  Block* block = &b;
  return checkpoint(
      [=](const std::vector<Tensor>& in) {
        const States entry = states(gens);
        set(gens, before);
        Tensor y = block->forward(in[0]);
        if (!*first) set(gens, entry);
        *first = false;
        return y;
      },
      {x}, b.parameters());
}

void ReverseMaskModel::set_batch_slice(const BatchSlice& slice) {
  for (const auto& b : {a0, a1, b2}) b->set_batch_slice(slice);
}

std::vector<std::pair<uint64_t, uint64_t>> ReverseMaskModel::rng_state() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& b : {a0, a1, b2})
    for (Generator* g : b->generators()) out.emplace_back(g->seed(), g->offset());
  return out;
}

void ReverseMaskModel::set_rng_state(const std::vector<std::pair<uint64_t, uint64_t>>& state) {
  size_t i = 0;
  for (const auto& b : {a0, a1, b2})
    for (Generator* g : b->generators()) {
      RM_CHECK(i < state.size(), "set_rng_state: ", state.size(), " states for more generators");
      g->set_state(state[i].first, state[i].second);
      ++i;
    }
  RM_CHECK(i == state.size(), "set_rng_state: ", state.size(), " states for ", i, " generators");
}

}  // namespace rmgait::gait
