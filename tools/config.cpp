#include "tools/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "engine/precision.h"
#include "tools/opengait_config.h"

namespace rmgait::tools {

namespace {

using Setter = std::function<void(const YAML::Node&)>;

template <class T>
Setter set(T& field) {
  return [&field](const YAML::Node& n) { field = n.as<T>(); };
}

std::map<std::string, Setter> setters(TrainConfig& c) {
  gait::ModelConfig& m = c.model;
  return {
      {"data_cfg.dataset", set(c.dataset)},
      {"data_cfg.protocol", set(c.protocol)},
      {"data_cfg.num_workers", set(c.num_workers)},
      {"model_cfg.block",
       [&m](const YAML::Node& n) { m.block = gait::parse_block_kind(n.as<std::string>()); }},
      {"model_cfg.channels",
       [&m](const YAML::Node& n) {
         auto v = n.as<std::vector<int64_t>>();
         RM_CHECK(v.size() == 3, "expected 3 channel counts, got ", v.size());
         m.channels = {v[0], v[1], v[2]};
       }},
      {"model_cfg.halving", set(m.halving)},
      {"model_cfg.rm_p", set(m.rm.p)},
      {"model_cfg.reg_prob", set(m.rm.reg_prob)},
      {"model_cfg.mask_strategy",
       [&m](const YAML::Node& n) {
         m.rm.strategy = gait::parse_mask_strategy(n.as<std::string>());
       }},
      {"model_cfg.mask_block", set(m.rm.block_size)},
      {"model_cfg.dropblock_p", set(m.dropblock.drop_prob)},
      {"model_cfg.dropblock_size", set(m.dropblock.block_size)},
      {"model_cfg.dropblock_reg_prob", set(m.dropblock.reg_prob)},
      {"model_cfg.random_erasing", set(c.random_erasing)},
      {"loss_cfg.triplet_weight", set(c.triplet_weight)},
      {"loss_cfg.margin", set(c.margin)},
      {"loss_cfg.ce_weight", set(c.ce_weight)},
      {"loss_cfg.label_smoothing", set(c.label_smoothing)},
      {"optimizer_cfg.solver", set(c.solver)},
      {"optimizer_cfg.lr", set(c.lr)},
      {"optimizer_cfg.weight_decay", set(c.weight_decay)},
      {"optimizer_cfg.momentum", set(c.momentum)},
      {"scheduler_cfg.milestones", set(c.milestones)},
      {"scheduler_cfg.gamma", set(c.gamma)},
      {"scheduler_cfg.gammas", set(c.gammas)},
      {"trainer_cfg.total_iter", set(c.total_iter)},
      {"trainer_cfg.log_iter", set(c.log_iter)},
      {"trainer_cfg.save_iter", set(c.save_iter)},
      {"trainer_cfg.eval_iter", set(c.eval_iter)},
      {"trainer_cfg.sampler",
       [&c](const YAML::Node& n) {
         auto v = n.as<std::vector<int>>();
         RM_CHECK(v.size() == 2 && v[0] > 0 && v[1] > 0, "expected [P, K] with P, K > 0");
         c.p = v[0], c.k = v[1];
       }},
      {"trainer_cfg.frames", set(c.frames)},
      {"trainer_cfg.recompute", set(m.recompute)},
      {"trainer_cfg.precision",
       [&c](const YAML::Node& n) {
         c.precision = n.as<std::string>();
         parse_precision(c.precision);  // f32 or bf16, else an error naming the value
       }},
      {"trainer_cfg.on_nonfinite",
       [&c](const YAML::Node& n) {
         c.on_nonfinite = n.as<std::string>();
         RM_CHECK(c.on_nonfinite == "stop" || c.on_nonfinite == "skip", "'", c.on_nonfinite,
                  "': expected stop or skip");
       }},
      {"trainer_cfg.seed", set(c.seed)},
      {"trainer_cfg.clip_grad", set(c.clip_grad)},
      {"trainer_cfg.flip", set(c.flip)},
      {"trainer_cfg.sync_bn", set(c.sync_bn)},
      {"trainer_cfg.output_dir", set(c.output_dir)},
      {"evaluator_cfg.distance", set(c.distance)},
      {"evaluator_cfg.memory_mb", set(c.eval_memory_mb)},
  };
}

void apply(const YAML::Node& root, TrainConfig& c, const std::string& origin) {
  RM_CHECK(root.IsMap(), origin, ": the configuration must be a map of sections");
  auto table = setters(c);
  for (const auto& section : root) {
    std::string s = section.first.as<std::string>();
    RM_CHECK(section.second.IsMap(), origin, ": section '", s, "' must be a map");
    for (const auto& kv : section.second) {
      std::string key = s + "." + kv.first.as<std::string>();
      auto it = table.find(key);
      RM_CHECK(it != table.end(), origin, ": unknown key '", key, "'");
      try {
        it->second(kv.second);
      } catch (const YAML::Exception& e) {
        RM_FAIL(origin, ": bad value for '", key, "': ", e.what());
      } catch (const Error& e) {
        RM_FAIL(origin, ": bad value for '", key, "': ", e.what());
      }
    }
  }
  RM_CHECK(!c.dataset.empty(), origin, ": data_cfg.dataset is required");
  RM_CHECK(c.solver == "Adam" || c.solver == "AdamW" || c.solver == "SGD", origin,
           ": optimizer_cfg.solver '", c.solver, "': expected Adam, AdamW or SGD");
  RM_CHECK(c.distance == "per_part" || c.distance == "flattened", origin,
           ": evaluator_cfg.distance '", c.distance, "': expected per_part or flattened");
  RM_CHECK(c.eval_memory_mb > 0, origin, ": evaluator_cfg.memory_mb must be positive, got ",
           c.eval_memory_mb);
  RM_CHECK(c.gammas.empty() || c.gammas.size() == c.milestones.size(), origin,
           ": scheduler_cfg.gammas needs one factor per milestone (", c.milestones.size(), ")");
  RM_CHECK(c.total_iter > 0 && c.frames > 0 && c.log_iter > 0, origin,
           ": trainer_cfg.total_iter, frames and log_iter must be positive");
}

}  // namespace

TrainConfig parse_config(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    RM_FAIL(origin, ": not valid YAML: ", e.what());
  }
  TrainConfig c;
  try {  // a key that is not a string (a map or a list as a key) is a YAML error here
    if (is_opengait_config(root)) root = from_opengait(root, origin);
    apply(root, c, origin);
  } catch (const YAML::Exception& e) {
    RM_FAIL(origin, ": ", e.what());
  }
  std::stringstream ss;
  ss << root;
  c.yaml = ss.str();
  return c;
}

namespace {
YAML::Node read_yaml(const std::string& path) {
  std::ifstream f(path);
  RM_CHECK(f, path, ": cannot open configuration");
  try {
    return YAML::Load(f);
  } catch (const YAML::Exception& e) {
    RM_FAIL(path, ": not valid YAML: ", e.what());
  }
}
}  // namespace

TrainConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  YAML::Node root = read_yaml(path);
  try {  // OpenGait's own configuration: translated first, so --set names rmgait's keys
    if (is_opengait_config(root)) root = from_opengait(root, path);
  } catch (const YAML::Exception& e) {
    RM_FAIL(path, ": ", e.what());
  }
  for (const std::string& o : overrides) {
    auto eq = o.find('='), dot = o.find('.');
    RM_CHECK(eq != std::string::npos && dot != std::string::npos && dot < eq, "--set '", o,
             "': expected section.key=value");
    YAML::Node value;
    try {
      value = YAML::Load(o.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      RM_FAIL("--set '", o, "': bad value: ", e.what());
    }
    const std::string section = o.substr(0, dot);
    RM_CHECK(root.IsNull() || root.IsMap(), "--set '", o, "': ", path, " is not a map of sections");
    RM_CHECK(!root[section] || root[section].IsMap(), "--set '", o, "': section '", section,
             "' of ", path, " is not a map");
    root[section][o.substr(dot + 1, eq - dot - 1)] = value;
  }
  std::stringstream ss;
  ss << root;
  return parse_config(ss.str(), path);
}

void write_config_from_opengait(const std::string& in, const std::string& out) {
  const YAML::Node root = read_yaml(in);
  RM_CHECK(is_opengait_config(root), in, ": not an OpenGait configuration (no model_cfg.model)");
  std::stringstream ss;
  ss << "# rmgait configuration translated from OpenGait's " << in << "\n"
     << from_opengait(root, in) << "\n";
  parse_config(ss.str(), out);  // what it writes must load
  write_file_atomically(out, [&](std::ostream& o) { o << ss.str(); });
}

}  // namespace rmgait::tools
