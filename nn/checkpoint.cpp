#include "nn/checkpoint.h"

#include "engine/error.h"
#include "formats/safetensors.h"

namespace rmgait::nn {

namespace {
const std::string kOpt = "optimizer/";  // the optimizer state's keys: "optimizer/<key>"
}

void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer,
                     const CheckpointInfo& info, const std::function<void()>& before_commit) {
  std::map<std::string, Tensor> all = model.state_dict();
  if (optimizer)
    for (auto& [k, v] : optimizer->state_dict()) all[kOpt + k] = v;
  std::map<std::string, std::string> meta = info.metadata;
  meta["iteration"] = std::to_string(info.iteration);
  meta["format"] = "rmgait-checkpoint-1";
  formats::save_safetensors(path, all, meta, before_commit);
}

CheckpointInfo load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer) {
  formats::SafetensorsFile f = formats::load_safetensors(path);
  std::map<std::string, Tensor> model_sd, opt_sd;
  for (auto& [k, v] : f.tensors)
    (k.rfind(kOpt, 0) == 0 ? opt_sd[k.substr(kOpt.size())] : model_sd[k]) = v;
  try {
    model.load_state_dict(model_sd);
    if (optimizer) {
      RM_CHECK(!opt_sd.empty(), "no optimizer state (a weights-only file?)");
      optimizer->load_state_dict(opt_sd);
    }
  } catch (const Error& e) {
    RM_FAIL(path, ": ", e.what());
  }
  CheckpointInfo info;
  info.metadata = f.metadata;
  auto it = f.metadata.find("iteration");
  if (it != f.metadata.end()) {
    try {
      info.iteration = std::stoll(it->second);
    } catch (const std::exception&) {
      RM_FAIL(path, ": metadata 'iteration' is '", it->second, "', expected an integer");
    }
  }
  return info;
}

std::map<std::string, Tensor> model_tensors(const std::map<std::string, Tensor>& checkpoint) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, v] : checkpoint)
    if (k.rfind(kOpt, 0) != 0) out[k] = v;
  return out;
}

}  // namespace rmgait::nn
