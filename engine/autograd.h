#pragma once
// Reverse-mode autograd, micrograd-sized: every differentiable op records a Node holding an edge
// per input (the node that produced it, or the leaf to accumulate into) and a backward closure;
// Tensor::backward() runs the nodes in reverse topological order and accumulates gradients, then
// frees the graph. A node keeps no input's data alive: only what its closure saves.
//
// Rule for op authors: the closure must not capture the op's own output tensor (that would be a
// reference cycle); capture `out.detach()` instead.
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace rmgait {

// Given d(loss)/d(output), returns d(loss)/d(input i) for each recorded input (an undefined
// Tensor where the input needs no gradient).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_out)>;

// Where the gradient of one input goes: its producer's node, or the leaf itself. Empty (no
// gradient) when the input does not require one.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  Shape shape;  // the input's shape, to check the gradient against
  bool requires_grad() const { return node || leaf; }
};

struct Node {
  const char* name;
  std::vector<Edge> next;  // one per recorded input
  BackwardFn backward;
};

bool grad_enabled();

// Disables graph recording in its scope (evaluation allocates no graph).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Turns recording on in its scope (a backward pass records nothing otherwise).
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

// True when recording is on and any input requires a gradient.
bool needs_grad(const std::vector<Tensor>& inputs);
// Attaches a node to `out` when needs_grad(inputs); returns out.
Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn backward);

// Called in the outermost backward() once per leaf reached by the graph, as soon as every edge
// into that leaf has run: its gradient for this backward is then final (it may be undefined when
// no gradient flowed). Data-parallel training starts the all-reduce of a bucket of gradients
// there, while backward goes on. One hook per thread, installed for the guard's scope.
using LeafReadyHook = std::function<void(const Tensor& leaf)>;
class LeafReadyHookGuard {
 public:
  explicit LeafReadyHookGuard(LeafReadyHook hook);
  ~LeafReadyHookGuard();
  LeafReadyHookGuard(const LeafReadyHookGuard&) = delete;
  LeafReadyHookGuard& operator=(const LeafReadyHookGuard&) = delete;

 private:
  LeafReadyHook prev_;
};

// Sums a gradient of a broadcast result back to `shape` (the input's shape).
Tensor sum_to(const Tensor& grad, const Shape& shape);

// Activation checkpointing: runs f(inputs) without recording and records one node whose backward
// runs f again, recording, on detached copies of the inputs (in the compute precision of the
// forward) and backpropagates through that graph; parameters receive their gradients there, as
// the leaves they are. Autograd keeps only the inputs; the price is a second forward of f. f must
// give the same result both times (restore any random state it draws from) and may read, besides
// its inputs, only the leaf tensors listed in params.
Tensor checkpoint(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                  const std::vector<Tensor>& inputs, const std::vector<Tensor>& params);

}  // namespace rmgait
