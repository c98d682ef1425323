#include "pipeline/config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "data/protocol.h"
#include "engine/atomic_file.h"
#include "engine/error.h"
#include "engine/precision.h"
#include "pipeline/opengait_config.h"

namespace rmgait::pipeline {

Solver parse_solver(const std::string& s) {
  if (s == "Adam") return Solver::adam;
  if (s == "AdamW") return Solver::adamw;
  RM_CHECK(s == "SGD", "'", s, "': expected Adam, AdamW or SGD");
  return Solver::sgd;
}

const char* solver_name(Solver s) {
  return s == Solver::adam ? "Adam" : s == Solver::adamw ? "AdamW" : "SGD";
}

namespace {

// One entry per key: how a YAML value sets the field, and the field's effective value as YAML.
struct Field {
  std::function<void(const YAML::Node&)> set;
  std::function<YAML::Node()> get;
};

template <class T>
Field plain(T& field) {
  return {[&field](const YAML::Node& n) { field = n.as<T>(); },
          [&field] { return YAML::Node(field); }};
}

std::map<std::string, Field> fields(TrainConfig& c) {
  gait::ModelConfig& m = c.model;
  return {
      {"data_cfg.dataset", plain(c.dataset)},
      {"data_cfg.protocol",
       {[&c](const YAML::Node& n) {
          c.protocol = n.as<std::string>();
          // a built-in protocol is checked here; a partition file is read where it is used
          const bool file =
              c.protocol.size() > 5 && c.protocol.compare(c.protocol.size() - 5, 5, ".json") == 0;
          if (!file) data::parse_protocol(c.protocol);
        },
        [&c] { return YAML::Node(c.protocol); }}},
      {"data_cfg.num_workers", plain(c.num_workers)},
      {"model_cfg.block",
       {[&m](const YAML::Node& n) { m.block = gait::parse_block_kind(n.as<std::string>()); },
        [&m] { return YAML::Node(gait::block_kind_name(m.block)); }}},
      {"model_cfg.channels",
       {[&m](const YAML::Node& n) {
          auto v = n.as<std::vector<int64_t>>();
          RM_CHECK(v.size() == 3, "expected 3 channel counts, got ", v.size());
          m.channels = {v[0], v[1], v[2]};
        },
        [&m] { return YAML::Node(std::vector<int64_t>(m.channels.begin(), m.channels.end())); }}},
      {"model_cfg.halving", plain(m.halving)},
      {"model_cfg.rm_p", plain(m.rm.p)},
      {"model_cfg.reg_prob", plain(m.rm.reg_prob)},
      {"model_cfg.mask_strategy",
       {[&m](const YAML::Node& n) {
          m.rm.strategy = gait::parse_mask_strategy(n.as<std::string>());
        },
        [&m] { return YAML::Node(gait::mask_strategy_name(m.rm.strategy)); }}},
      {"model_cfg.mask_block", plain(m.rm.block_size)},
      {"model_cfg.dropblock_p", plain(m.dropblock.drop_prob)},
      {"model_cfg.dropblock_size", plain(m.dropblock.block_size)},
      {"model_cfg.dropblock_reg_prob", plain(m.dropblock.reg_prob)},
      {"model_cfg.random_erasing", plain(c.random_erasing)},
      {"loss_cfg.triplet_weight", plain(c.triplet_weight)},
      {"loss_cfg.margin", plain(c.margin)},
      {"loss_cfg.ce_weight", plain(c.ce_weight)},
      {"loss_cfg.label_smoothing", plain(c.label_smoothing)},
      {"optimizer_cfg.solver",
       {[&c](const YAML::Node& n) { c.solver = parse_solver(n.as<std::string>()); },
        [&c] { return YAML::Node(solver_name(c.solver)); }}},
      {"optimizer_cfg.lr", plain(c.lr)},
      {"optimizer_cfg.weight_decay", plain(c.weight_decay)},
      {"optimizer_cfg.momentum", plain(c.momentum)},
      {"scheduler_cfg.milestones", plain(c.milestones)},
      {"scheduler_cfg.gamma", plain(c.gamma)},
      {"scheduler_cfg.gammas", plain(c.gammas)},
      {"trainer_cfg.total_iter", plain(c.total_iter)},
      {"trainer_cfg.log_iter", plain(c.log_iter)},
      {"trainer_cfg.save_iter", plain(c.save_iter)},
      {"trainer_cfg.eval_iter", plain(c.eval_iter)},
      {"trainer_cfg.keep_checkpoints", plain(c.keep_checkpoints)},
      {"trainer_cfg.sampler",
       {[&c](const YAML::Node& n) {
          auto v = n.as<std::vector<int>>();
          RM_CHECK(v.size() == 2 && v[0] > 0 && v[1] > 0, "expected [P, K] with P, K > 0");
          c.p = v[0], c.k = v[1];
        },
        [&c] {
          return YAML::Node(std::vector<int>{c.p, c.k});
        }}},
      {"trainer_cfg.frames", plain(c.frames)},
      {"trainer_cfg.recompute", plain(m.recompute)},
      {"trainer_cfg.precision",
       {[&c](const YAML::Node& n) { c.precision = parse_precision(n.as<std::string>()); },
        [&c] { return YAML::Node(precision_name(c.precision)); }}},
      {"trainer_cfg.conv_algorithm",
       {[&c](const YAML::Node& n) { c.conv_algorithm = parse_conv_algorithm(n.as<std::string>()); },
        [&c] { return YAML::Node(conv_algorithm_name(c.conv_algorithm)); }}},
      {"trainer_cfg.on_nonfinite",
       {[&c](const YAML::Node& n) {
          const std::string v = n.as<std::string>();
          RM_CHECK(v == "stop" || v == "skip", "'", v, "': expected stop or skip");
          c.on_nonfinite = v == "stop" ? OnNonfinite::stop : OnNonfinite::skip;
        },
        [&c] { return YAML::Node(c.on_nonfinite == OnNonfinite::stop ? "stop" : "skip"); }}},
      {"trainer_cfg.seed", plain(c.seed)},
      {"trainer_cfg.clip_grad", plain(c.clip_grad)},
      {"trainer_cfg.flip", plain(c.flip)},
      {"trainer_cfg.sync_bn", plain(c.sync_bn)},
      {"trainer_cfg.output_dir", plain(c.output_dir)},
      {"evaluator_cfg.distance",
       {[&c](const YAML::Node& n) { c.distance = gait::parse_distance(n.as<std::string>()); },
        [&c] { return YAML::Node(gait::distance_name(c.distance)); }}},
      {"evaluator_cfg.memory_mb", plain(c.eval_memory_mb)},
      {"evaluator_cfg.conv_algorithm",
       {[&c](const YAML::Node& n) {
          c.eval_conv_algorithm = parse_conv_algorithm(n.as<std::string>());
        },
        [&c] { return YAML::Node(conv_algorithm_name(c.eval_conv_algorithm)); }}},
  };
}

// The sizes a configuration declares are checked against this machine's memory before anything
// is allocated for them: the first block's activations of one batch (P * K * frames * c0 * H * W
// floats) and the largest convolution's weights (c2 * c2 * 27 floats) must each fit in it.
void check_sizes(const TrainConfig& c, const std::string& origin) {
  for (int64_t ch : c.model.channels)
    RM_CHECK(ch > 0, origin, ": model_cfg.channels must be positive, got ", ch);
  const double memory = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  const double gib = double(1 << 30);
  const double batch = double(c.p) * c.k * c.frames * double(c.model.channels[0]) *
                       double(c.model.height) * double(c.model.width) * 4.0;
  RM_CHECK(memory <= 0 || batch <= memory, origin, ": trainer_cfg.sampler [", c.p, ", ", c.k,
           "] x trainer_cfg.frames ", c.frames, " x model_cfg.channels[0] ", c.model.channels[0],
           " makes one batch's first activations ", batch / gib, " GiB, more than this machine's ",
           memory / gib, " GiB of memory");
  const int64_t widest = *std::max_element(c.model.channels.begin(), c.model.channels.end());
  const double weights = double(widest) * double(widest) * 27.0 * 4.0;
  RM_CHECK(memory <= 0 || weights <= memory, origin, ": model_cfg.channels up to ", widest,
           " make one convolution's weights ", weights / gib, " GiB, more than this machine's ",
           memory / gib, " GiB of memory");
}

void apply(const YAML::Node& root, TrainConfig& c, const std::string& origin) {
  RM_CHECK(root.IsMap(), origin, ": the configuration must be a map of sections");
  auto table = fields(c);
  for (const auto& section : root) {
    std::string s = section.first.as<std::string>();
    RM_CHECK(section.second.IsMap(), origin, ": section '", s, "' must be a map");
    for (const auto& kv : section.second) {
      std::string key = s + "." + kv.first.as<std::string>();
      auto it = table.find(key);
      RM_CHECK(it != table.end(), origin, ": unknown key '", key, "'");
      try {
        it->second.set(kv.second);
      } catch (const YAML::Exception& e) {
        RM_FAIL(origin, ": bad value for '", key, "': ", e.what());
      } catch (const Error& e) {
        RM_FAIL(origin, ": bad value for '", key, "': ", e.what());
      }
    }
  }
  RM_CHECK(!c.dataset.empty(), origin, ": data_cfg.dataset is required");
  RM_CHECK(c.eval_memory_mb > 0, origin, ": evaluator_cfg.memory_mb must be positive, got ",
           c.eval_memory_mb);
  RM_CHECK(c.gammas.empty() || c.gammas.size() == c.milestones.size(), origin,
           ": scheduler_cfg.gammas needs one factor per milestone (", c.milestones.size(), ")");
  RM_CHECK(c.total_iter > 0 && c.frames > 0 && c.log_iter > 0, origin,
           ": trainer_cfg.total_iter, frames and log_iter must be positive");
  RM_CHECK(c.keep_checkpoints >= 0, origin,
           ": trainer_cfg.keep_checkpoints must be 0 (keep all) or more, got ", c.keep_checkpoints);
  check_sizes(c, origin);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> effective_settings(const TrainConfig& cfg) {
  TrainConfig c = cfg;  // the table's getters read through references
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, f] : fields(c)) {
    YAML::Emitter e;
    e << YAML::Flow << f.get();
    out.emplace_back(key, e.c_str());
  }
  return out;
}

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

}  // namespace rmgait::pipeline
