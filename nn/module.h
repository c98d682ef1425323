#pragma once
// Module: a tree of named parameters, buffers and child modules, PyTorch-style names
// ("GLConvA0.global_conv3d.conv3d.weight") so that weights can be exchanged with other frameworks.
// Members hold Tensor copies of what they register: copies share the variable, and
// load_state_dict() / to() update it in place, so those members stay valid.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace rmgait::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;

  NamedTensors named_parameters() const;  // recursive, in registration order
  NamedTensors named_buffers() const;
  std::vector<Tensor> parameters() const;
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  int64_t parameter_count() const;

  // Parameters and buffers by full name.
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in. strict: missing or unexpected keys are errors; shapes and dtypes must
  // match always. The error lists every offending key.
  void load_state_dict(const std::map<std::string, Tensor>& sd, bool strict = true);
  // Moves parameters and buffers to a device, keeping the variables (and members) valid.
  void to(Device device);

 protected:
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }
  virtual void on_train(bool) {}

 private:
  void collect(const std::string& prefix, bool params, NamedTensors& out) const;
  bool training_ = true;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A module with one input and one output, for Sequential.
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace rmgait::nn
