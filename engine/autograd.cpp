#include "engine/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/precision.h"

namespace rmgait {

namespace {
thread_local bool g_grad_enabled = true;
thread_local LeafReadyHook g_leaf_ready;
thread_local int g_backward_depth = 0;  // hooks run in the outermost backward only

struct DepthGuard {
  DepthGuard() { ++g_backward_depth; }
  ~DepthGuard() { --g_backward_depth; }
};

// Non-leaf gradients may alias each other (identity backward passes them through).
void accumulate(Tensor& slot, const Tensor& g) {
  slot = slot.defined() ? add(slot, g) : g;
}
// Leaf gradients are owned by their leaf, so optimizers may modify them in place.
void accumulate_leaf(const Tensor& leaf, const Tensor& g) {
  Tensor slot = leaf.grad();
  leaf.set_grad(slot.defined() ? add(slot, g) : g.clone());
}
}  // namespace

bool grad_enabled() {
  return g_grad_enabled;
}
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) {
  g_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  g_grad_enabled = prev_;
}
EnableGradGuard::EnableGradGuard() : prev_(g_grad_enabled) {
  g_grad_enabled = true;
}
EnableGradGuard::~EnableGradGuard() {
  g_grad_enabled = prev_;
}

LeafReadyHookGuard::LeafReadyHookGuard(LeafReadyHook hook) : prev_(std::move(g_leaf_ready)) {
  g_leaf_ready = std::move(hook);
}
LeafReadyHookGuard::~LeafReadyHookGuard() {
  g_leaf_ready = std::move(prev_);
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->next.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    if (!in.defined() || !in.requires_grad()) continue;
    Edge& e = node->next[i];
    e.shape = in.shape();
    if (in.impl()->grad_fn)
      e.node = in.impl()->grad_fn;
    else
      e.leaf = in.impl_ptr();
  }
  node->backward = std::move(backward);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  int64_t lead = grad.dim() - int64_t(shape.size());
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < grad.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && grad.size(i) != 1)) dims.push_back(i);
  Tensor s = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return s.reshape(shape);
}

void Tensor::backward(const Tensor& grad) const {
  RM_CHECK(requires_grad(), "backward: tensor ", shape_str(shape()), " does not require grad");
  Tensor g = grad;
  if (!g.defined()) {
    RM_CHECK(numel() == 1, "backward: implicit gradient needs a one-element tensor, got ",
             shape_str(shape()));
    g = Tensor::ones(shape(), DType::f32, device());
  }
  RM_CHECK(g.shape() == shape(), "backward: gradient ", shape_str(g.shape()),
           " does not match tensor ", shape_str(shape()));
  NoGradGuard no_grad;  // gradients of gradients are not recorded
  DepthGuard depth;
  const bool hooks = g_leaf_ready && g_backward_depth == 1;
  if (!impl_->grad_fn) {  // a leaf
    accumulate_leaf(*this, g);
    if (hooks) g_leaf_ready(*this);
    return;
  }
  // Topological order by iterative DFS. `order` owns the nodes: freeing a node's edges below
  // may drop the last other reference to a node not yet run.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{impl_->grad_fn, 0}};
  seen.insert(impl_->grad_fn.get());
  while (!stack.empty()) {
    Node* node = stack.back().first.get();
    size_t& next = stack.back().second;
    RM_CHECK(node->backward, "backward: the graph through '", node->name,
             "' was already freed by an earlier backward()");
    if (next < node->next.size()) {
      const std::shared_ptr<Node>& child = node->next[next++].node;
      if (child && seen.insert(child.get()).second) stack.push_back({child, 0});
    } else {
      order.push_back(std::move(stack.back().first));
      stack.pop_back();
    }
  }
  // Edges into each leaf not yet run (for the ready hook); nodes no gradient reaches count too.
  std::unordered_map<TensorImpl*, int> pending;
  if (hooks)
    for (const auto& node : order)
      for (const Edge& e : node->next)
        if (e.leaf) ++pending[e.leaf.get()];
  auto edge_done = [&](const Edge& e) {
    if (hooks && e.leaf && --pending[e.leaf.get()] == 0) g_leaf_ready(Tensor(e.leaf));
  };
  std::unordered_map<Node*, Tensor> grads;
  grads[impl_->grad_fn.get()] = g;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = it->get();
    auto found = grads.find(node);
    if (found == grads.end()) {  // no gradient flows here
      for (const Edge& e : node->next) edge_done(e);
      continue;
    }
    Tensor gout = found->second;
    grads.erase(found);
    std::vector<Tensor> gin = node->backward(gout);
    RM_CHECK(gin.size() == node->next.size(), "backward of '", node->name, "' returned ",
             gin.size(), " gradients for ", node->next.size(), " inputs");
    for (size_t i = 0; i < gin.size(); ++i) {
      const Edge& e = node->next[i];
      if (e.requires_grad() && gin[i].defined()) {
        RM_CHECK(gin[i].shape() == e.shape, "backward of '", node->name, "': gradient ",
                 shape_str(gin[i].shape()), " for input ", i, " of shape ", shape_str(e.shape));
        if (e.node)
          accumulate(grads[e.node.get()], gin[i]);
        else
          accumulate_leaf(Tensor(e.leaf), gin[i]);
      }
      edge_done(e);
    }
    node->backward = nullptr;  // free saved tensors and the graph behind this node
    node->next.clear();
  }
}

Tensor checkpoint(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                  const std::vector<Tensor>& inputs, const std::vector<Tensor>& params) {
  std::vector<Tensor> all = inputs;
  all.insert(all.end(), params.begin(), params.end());
  if (!needs_grad(all)) return f(inputs);
  Tensor out;
  {
    NoGradGuard ng;
    out = f(inputs);
  }
  std::vector<Tensor> kept;
  std::vector<bool> wants;
  for (const Tensor& in : inputs) {
    kept.push_back(in.detach());
    wants.push_back(in.requires_grad());
  }
  const Precision prec = compute_precision();
  const size_t n_params = params.size();
  return record("checkpoint", out, all, [f, kept, wants, prec, n_params](const Tensor& g) {
    EnableGradGuard eg;
    PrecisionGuard pg(prec);
    std::vector<Tensor> leaves;
    for (size_t i = 0; i < kept.size(); ++i) {
      leaves.push_back(kept[i].detach());
      if (wants[i]) leaves.back().set_requires_grad(true);
    }
    Tensor y = f(leaves);
    RM_CHECK(y.shape() == g.shape(), "checkpoint: the recomputation gave ", shape_str(y.shape()),
             ", the forward ", shape_str(g.shape()));
    if (y.requires_grad()) y.backward(g);
    std::vector<Tensor> grads;
    for (const Tensor& l : leaves) grads.push_back(l.requires_grad() ? l.grad() : Tensor());
    grads.resize(grads.size() + n_params);  // the parameters got theirs inside
    return grads;
  });
}

}  // namespace rmgait
