#pragma once
// The four interchangeable stage blocks of the skeleton (plain, GaitGL's GLConv, plain RMB,
// Inception-like RMB) plus DropBlock-regularized convs for Table 5. All map
// x [N, Ci, T, H, W] -> [N, Co, T, m*H, W]; m > 1 only at the last stage (concat along H).
#include <memory>
#include <string>
#include <vector>

#include "gait/regularizers.h"
#include "gait/reverse_mask.h"
#include "nn/layers.h"

namespace rmgait::gait {

// OpenGait's BasicConv3d: a bias-free Conv3d held as child "conv3d" (keys "<name>.conv3d.weight").
class BasicConv3d : public nn::UnaryModule {
 public:
  BasicConv3d(int64_t in, int64_t out, nn::Int3 kernel = {3, 3, 3}, nn::Int3 stride = {1, 1, 1},
              nn::Int3 padding = {1, 1, 1});
  Tensor forward(const Tensor& x) override { return conv->forward(x); }
  std::shared_ptr<nn::Conv3d> conv;
};

class Block : public nn::UnaryModule {
 public:
  // How many branch outputs this block concatenates along H (1 unless last stage).
  virtual int64_t height_multiplier() const { return 1; }
  // The generators of this block's random masks (for reproducible checks and exact resume).
  virtual std::vector<Generator*> generators() { return {}; }
  // Data-parallel training: the batch is rows [offset, offset + n) of a global batch. Per-sample
  // masks (DropBlock) are drawn for the global batch and sliced, as one process draws them;
  // ReverseMask's masks are shared by the batch and need nothing.
  virtual void set_batch_slice(const BatchSlice&) {}
};

// Plain conv: F = lrelu(W x). Keys: conv3d.conv3d.weight.
class PlainBlock : public Block {
 public:
  PlainBlock(int64_t in, int64_t out);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<BasicConv3d> conv3d;
};

// GaitGL's GLConv: global W_g x; local W_l on 2^halving horizontal strips (torch.split sizes).
// Not last: lrelu(G) + lrelu(L); last: lrelu(cat_H(G, L)).
class GLConv : public Block {
 public:
  GLConv(int64_t in, int64_t out, int halving, bool last_stage);
  Tensor forward(const Tensor& x) override;
  int64_t height_multiplier() const override { return last_ ? 2 : 1; }
  int halving() const { return halving_; }
  std::shared_ptr<BasicConv3d> global_conv3d, local_conv3d;

 private:
  Tensor local_strips(const Tensor& x, int64_t strips);
  int halving_;
  bool last_;
};

// Plain RMB: RM + RMFE, one branch (dropping or scaling). Key: rm_conv3d.conv3d.weight.
class PlainRMBlock : public Block {
 public:
  PlainRMBlock(int64_t in, int64_t out, ReverseMaskConfig cfg, uint64_t seed);
  Tensor forward(const Tensor& x) override;
  std::vector<Generator*> generators() override { return {&rm.generator()}; }
  std::shared_ptr<BasicConv3d> rm_conv3d;
  ReverseMask rm;
};

// Inception-like RMB: Fg = lrelu(W_g x), Fd = RMFE_drop, Fs = RMFE_scale, each with its own W
// and mask. Not last: Fg + Fd + Fs (Eq. 9); last: cat_H(Fg, Fd, Fs) (Eq. 10).
class InceptionRMBlock : public Block {
 public:
  InceptionRMBlock(int64_t in, int64_t out, ReverseMaskConfig drop_cfg, ReverseMaskConfig scale_cfg,
                   bool last_stage, uint64_t seed);
  Tensor forward(const Tensor& x) override;
  int64_t height_multiplier() const override { return last_ ? 3 : 1; }
  std::vector<Generator*> generators() override {
    return {&drop_rm.generator(), &scale_rm.generator()};
  }
  std::shared_ptr<BasicConv3d> global_conv3d, drop_conv3d, scale_conv3d;
  ReverseMask drop_rm, scale_rm;

 private:
  bool last_;
};

// lrelu(W DropBlock(x)) for the Table 5 comparison. Key: conv3d.conv3d.weight.
class DropBlockConv : public Block {
 public:
  DropBlockConv(int64_t in, int64_t out, DropBlockConfig cfg, uint64_t seed);
  Tensor forward(const Tensor& x) override;
  std::vector<Generator*> generators() override { return {&gen}; }
  void set_batch_slice(const BatchSlice& s) override { slice = s; }
  std::shared_ptr<BasicConv3d> conv3d;
  DropBlockConfig cfg;
  Generator gen;
  BatchSlice slice;
};

}  // namespace rmgait::gait
