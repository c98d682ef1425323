#include "nn/module.h"

#include <set>

#include "engine/autograd.h"
#include "engine/error.h"

namespace rmgait::nn {

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, t);
  return t;
}

void Module::collect(const std::string& prefix, bool params, NamedTensors& out) const {
  for (const auto& [n, t] : params ? params_ : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", params, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  on_train(on);
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (const Tensor& t : parameters()) t.zero_grad();
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> sd;
  for (auto& [n, t] : named_parameters()) sd[n] = t.detach();
  for (auto& [n, t] : named_buffers()) sd[n] = t.detach();
  return sd;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& sd, bool strict) {
  NamedTensors mine = named_parameters();
  for (auto& nb : named_buffers()) mine.push_back(nb);
  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> known;
  for (auto& [n, t] : mine) {
    known.insert(n);
    auto it = sd.find(n);
    if (it == sd.end()) {
      missing.push_back(n);
      continue;
    }
    const Tensor& src = it->second;
    if (src.shape() != t.shape() || src.dtype() != t.dtype())
      mismatched.push_back(n + " (checkpoint " + dtype_name(src.dtype()) + " " +
                           shape_str(src.shape()) + ", model " + dtype_name(t.dtype()) + " " +
                           shape_str(t.shape()) + ")");
  }
  for (auto& [n, t] : sd)
    if (!known.count(n)) unexpected.push_back(n);
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  std::string err;
  if (!mismatched.empty()) err += " mis-shaped: " + list(mismatched) + ";";
  if (strict && !missing.empty()) err += " missing: " + list(missing) + ";";
  if (strict && !unexpected.empty()) err += " unexpected: " + list(unexpected) + ";";
  RM_CHECK(err.empty(), "load_state_dict:", err);
  NoGradGuard ng;
  for (auto& [n, t] : mine) {
    auto it = sd.find(n);
    if (it != sd.end()) t.copy_(it->second.to(t.device()));
  }
}

void Module::to(Device device) {
  NamedTensors all = named_parameters();
  for (auto& nb : named_buffers()) all.push_back(nb);
  for (auto& [n, t] : all) {
    if (t.device() == device) continue;
    Tensor moved = t.detach().to(device);
    TensorImpl* impl = t.impl();  // swap the storage under the variable
    impl->storage = moved.storage();
    impl->strides = moved.strides();
    impl->offset = moved.offset();
    impl->grad = nullptr;
  }
}

}  // namespace rmgait::nn
