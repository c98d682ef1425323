#include "pipeline/model_io.h"

#include "data/pretreat.h"
#include "engine/error.h"
#include "formats/safetensors.h"
#include "formats/torch_pt.h"
#include "nn/checkpoint.h"

namespace rmgait::pipeline {

namespace {
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
// A non-negative integer from a checkpoint's metadata, or an error naming the file and the key.
int64_t parse_count(const std::string& text, const std::string& file, const std::string& what) {
  RM_CHECK(!text.empty() && text.size() < 19 &&
               text.find_first_not_of("0123456789") == std::string::npos,
           file, ": ", what, " is '", text, "', not a count");
  return std::stoll(text);
}
}  // namespace

gait::ModelConfig model_config(const TrainConfig& cfg, int64_t num_classes, int64_t height) {
  gait::ModelConfig m = cfg.model;
  m.num_classes = num_classes;
  m.height = height;
  m.width = data::kModelWidth;
  m.seed = cfg.seed;
  return m;
}

std::map<std::string, Tensor> read_weights(const std::string& path) {
  if (formats::is_torch_checkpoint(path)) return formats::load_torch_checkpoint(path).state;
  return nn::model_tensors(formats::load_safetensors(path).tensors);
}

LoadedModel load_model(const std::string& checkpoint, const std::string& config) {
  LoadedModel lm;
  std::map<std::string, std::string> meta;
  if (!formats::is_torch_checkpoint(checkpoint))
    meta = formats::load_safetensors(checkpoint).metadata;
  auto cfg_it = meta.find("config");
  if (config.empty() || cfg_it != meta.end()) {
    RM_CHECK(
        cfg_it != meta.end(), checkpoint,
        ": no rmgait configuration inside (a PyTorch or converted checkpoint): give the model's "
        "configuration");
    RM_CHECK(config.empty(), checkpoint,
             ": a configuration was given, but the checkpoint carries its own");
    lm.cfg = parse_config(cfg_it->second, checkpoint + " (embedded config)");
    auto need = [&](const char* key) {
      auto it = meta.find(key);
      RM_CHECK(it != meta.end(), checkpoint, ": metadata '", key, "' missing");
      return parse_count(it->second, checkpoint, std::string("metadata '") + key + "'");
    };
    lm.model = std::make_unique<gait::ReverseMaskModel>(
        model_config(lm.cfg, need("num_classes"), need("height")));
    lm.iteration = nn::load_checkpoint(checkpoint, *lm.model, nullptr).iteration;
    return lm;
  }
  lm.cfg = load_config(config, {});
  std::map<std::string, Tensor> w;
  if (formats::is_torch_checkpoint(checkpoint)) {
    formats::TorchCheckpoint ck = formats::load_torch_checkpoint(checkpoint);
    w = std::move(ck.state);
    lm.iteration = ck.iteration.value_or(0);
  } else {
    w = read_weights(checkpoint);
  }
  auto fc = w.find("Head1.fc_bin");
  RM_CHECK(fc != w.end() && fc->second.dim() == 3, checkpoint,
           ": no Head1.fc_bin [parts, channels, classes] to read the class count from");
  lm.model = std::make_unique<gait::ReverseMaskModel>(
      model_config(lm.cfg, fc->second.size(2), data::kFrameSize));
  try {
    lm.model->load_state_dict(w);
  } catch (const Error& e) {
    RM_FAIL(checkpoint, " with ", config, ": ", e.what());
  }
  return lm;
}

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::cpu;
  RM_CHECK(s == "cuda", "device '", s, "': expected cpu or cuda");
  RM_CHECK(device_available(Device::cuda),
           "device cuda: ", device_unavailable_reason(Device::cuda));
  return Device::cuda;
}

std::string convert_checkpoint(const std::string& in, const std::string& out, bool opengait) {
  const bool to_torch = ends_with(out, ".pt") || ends_with(out, ".pth");
  if (formats::is_torch_checkpoint(in)) {
    RM_CHECK(!to_torch, "convert: ", in, " is already a PyTorch checkpoint; write a .safetensors");
    formats::TorchCheckpoint ck = formats::load_torch_checkpoint(in);
    std::map<std::string, std::string> meta;
    if (ck.iteration) meta["iteration"] = std::to_string(*ck.iteration);
    formats::save_safetensors(out, ck.state, meta);
    return out + ": " + std::to_string(ck.state.size()) + " tensors from " + in +
           (ck.opengait_layout ? " (OpenGait layout)" : "");
  }
  RM_CHECK(to_torch, "convert: ", out, ": expected a .pt or .pth output for a safetensors input");
  formats::SafetensorsFile f = formats::load_safetensors(in);
  const std::map<std::string, Tensor> state = nn::model_tensors(f.tensors);
  int64_t iteration = 0;
  if (auto it = f.metadata.find("iteration"); it != f.metadata.end())
    iteration = parse_count(it->second, in, "metadata 'iteration'");
  formats::save_torch_checkpoint(out, state, opengait, iteration);
  return out + ": " + std::to_string(state.size()) + " tensors from " + in +
         (opengait ? " (OpenGait layout)" : "");
}

}  // namespace rmgait::pipeline
