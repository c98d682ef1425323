#include "pipeline/opengait_config.h"

#include <functional>
#include <map>
#include <vector>

#include "engine/error.h"

namespace rmgait::pipeline {

namespace {

using Rule = std::function<void(const YAML::Node& value, YAML::Node& out)>;

// value must be one of `allowed` (what rmgait implements); it maps to nothing
Rule only(std::vector<std::string> allowed) {
  return [allowed](const YAML::Node& v, YAML::Node&) {
    const std::string s = v.as<std::string>();
    for (const std::string& a : allowed)
      if (s == a) return;
    std::string list;
    for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
    RM_FAIL("'", s, "': rmgait implements ", list);
  };
}
Rule to(const char* section, const char* key) {
  return [section, key](const YAML::Node& v, YAML::Node& out) { out[section][key] = v; };
}
Rule ignored() {  // bookkeeping of OpenGait's that has no counterpart (names, logging)
  return [](const YAML::Node&, YAML::Node&) {};
}

std::map<std::string, Rule> rules() {
  return {
      // data_cfg
      {"data_cfg.dataset_name", only({"CASIA-B", "OUMVLP"})},
      {"data_cfg.test_dataset_name", only({"CASIA-B", "OUMVLP"})},
      {"data_cfg.dataset_root", to("data_cfg", "dataset")},
      {"data_cfg.dataset_partition", ignored()},  // set with dataset_name below
      {"data_cfg.num_workers", to("data_cfg", "num_workers")},
      {"data_cfg.remove_no_gallery", only({"false"})},
      {"data_cfg.cache", ignored()},
      // model_cfg
      {"model_cfg.model", only({"GaitGL"})},
      {"model_cfg.channels", to("model_cfg", "channels")},
      {"model_cfg.class_num", ignored()},  // rmgait counts the training subjects
      // optimizer_cfg, scheduler_cfg
      {"optimizer_cfg.solver", to("optimizer_cfg", "solver")},
      {"optimizer_cfg.lr", to("optimizer_cfg", "lr")},
      {"optimizer_cfg.weight_decay", to("optimizer_cfg", "weight_decay")},
      {"optimizer_cfg.momentum", to("optimizer_cfg", "momentum")},
      {"scheduler_cfg.scheduler", only({"MultiStepLR"})},
      {"scheduler_cfg.milestones", to("scheduler_cfg", "milestones")},
      {"scheduler_cfg.gamma", to("scheduler_cfg", "gamma")},
      // trainer_cfg
      {"trainer_cfg.enable_float16",  // OpenGait's AMP: rmgait's mixed precision is bf16
       [](const YAML::Node& v, YAML::Node& out) {
         out["trainer_cfg"]["precision"] = v.as<bool>() ? "bf16" : "f32";
       }},
      {"trainer_cfg.with_test", ignored()},  // eval_iter follows save_iter below
      {"trainer_cfg.log_iter", to("trainer_cfg", "log_iter")},
      {"trainer_cfg.restore_ckpt_strict", only({"true"})},
      {"trainer_cfg.restore_hint", only({"0"})},  // else: rmgait train --resume / --resume-weights
      {"trainer_cfg.optimizer_reset", only({"false"})},
      {"trainer_cfg.scheduler_reset", only({"false"})},
      {"trainer_cfg.fix_BN", only({"false"})},
      {"trainer_cfg.save_iter", to("trainer_cfg", "save_iter")},
      {"trainer_cfg.save_name",
       [](const YAML::Node& v, YAML::Node& out) {
         out["trainer_cfg"]["output_dir"] = "output/" + v.as<std::string>();
       }},
      {"trainer_cfg.sync_BN", to("trainer_cfg", "sync_bn")},
      {"trainer_cfg.total_iter", to("trainer_cfg", "total_iter")},
      {"trainer_cfg.sampler.batch_size", to("trainer_cfg", "sampler")},
      {"trainer_cfg.sampler.frames_num_fixed", to("trainer_cfg", "frames")},
      {"trainer_cfg.sampler.frames_skip_num", only({"0"})},
      {"trainer_cfg.sampler.sample_type", only({"fixed_ordered"})},
      {"trainer_cfg.sampler.type", only({"TripletSampler"})},
      {"trainer_cfg.sampler.batch_shuffle", ignored()},
      {"trainer_cfg.transform.type", only({"BaseSilCuttingTransform"})},
      // evaluator_cfg
      {"evaluator_cfg.enable_float16", ignored()},
      {"evaluator_cfg.restore_ckpt_strict", only({"true"})},
      {"evaluator_cfg.restore_hint", ignored()},  // rmgait eval --checkpoint names the file
      {"evaluator_cfg.save_name", ignored()},
      {"evaluator_cfg.eval_func", only({"evaluate_indoor_dataset", "identification"})},
      {"evaluator_cfg.metric", only({"euc"})},
      {"evaluator_cfg.sampler.batch_size", ignored()},
      {"evaluator_cfg.sampler.sample_type", only({"all_ordered"})},
      {"evaluator_cfg.sampler.type", only({"InferenceSampler"})},
      {"evaluator_cfg.sampler.frames_all_limit", ignored()},
      {"evaluator_cfg.transform.type", only({"BaseSilCuttingTransform"})},
  };
}

// loss_cfg: a list of {type, loss_term_weight, ...}
void losses(const YAML::Node& list, YAML::Node& out, const std::string& origin) {
  RM_CHECK(list.IsSequence(), origin, ": loss_cfg must be a list of loss terms");
  for (const YAML::Node& t : list) {
    const std::string type = t["type"] ? t["type"].as<std::string>() : "";
    for (const auto& kv : t) {
      const std::string k = kv.first.as<std::string>();
      const std::string where = "loss_cfg (" + type + ")." + k;
      if (k == "type" || k == "log_prefix" || k == "log_accuracy") continue;
      if (type == "TripletLoss" && k == "loss_term_weight") {
        out["loss_cfg"]["triplet_weight"] = kv.second;
      } else if (type == "TripletLoss" && k == "margin") {
        out["loss_cfg"]["margin"] = kv.second;
      } else if (type == "CrossEntropyLoss" && k == "loss_term_weight") {
        out["loss_cfg"]["ce_weight"] = kv.second;
      } else if (type == "CrossEntropyLoss" && k == "label_smooth") {  // OpenGait's eps: 0.1
        out["loss_cfg"]["label_smoothing"] = kv.second.as<bool>() ? 0.1 : 0.0;
      } else if (type == "CrossEntropyLoss" && k == "scale") {
        RM_CHECK(kv.second.as<double>() == 1.0, origin, ": '", where, "' is ",
                 kv.second.as<std::string>(), ": rmgait implements scale 1");
      } else {
        RM_FAIL(origin, ": '", where, "' is not understood (TripletLoss: loss_term_weight, ",
                "margin; CrossEntropyLoss: loss_term_weight, label_smooth, scale)");
      }
    }
  }
}

// OpenGait's configurations have about a hundred entries; YAML aliases can make a small file
// hold billions (maps of maps, each listed ten times), so the walk stops past this many.
constexpr int64_t kMaxEntries = 100000;

void walk(const YAML::Node& node, const std::string& prefix, const std::map<std::string, Rule>& r,
          YAML::Node& out, const std::string& origin, int64_t& entries) {
  for (const auto& kv : node) {
    RM_CHECK(++entries <= kMaxEntries, origin, ": more than ", kMaxEntries,
             " entries (nested aliases?): not an OpenGait configuration");
    const std::string key = prefix + kv.first.as<std::string>();
    auto it = r.find(key);
    if (it == r.end() && kv.second.IsMap()) {
      walk(kv.second, key + ".", r, out, origin, entries);
      continue;
    }
    if (it == r.end() && kv.second.IsSequence() &&
        (key == "trainer_cfg.transform" || key == "evaluator_cfg.transform")) {
      for (const YAML::Node& t : kv.second) walk(t, key + ".", r, out, origin, entries);
      continue;
    }
    RM_CHECK(it != r.end(), origin, ": OpenGait key '", key, "' is not understood by rmgait");
    try {
      it->second(kv.second, out);
    } catch (const YAML::Exception& e) {
      RM_FAIL(origin, ": OpenGait key '", key, "': ", e.what());
    } catch (const Error& e) {
      RM_FAIL(origin, ": OpenGait key '", key, "': ", e.what());
    }
  }
}

}  // namespace

bool is_opengait_config(const YAML::Node& root) {
  return root.IsMap() && root["model_cfg"] && root["model_cfg"].IsMap() &&
         root["model_cfg"]["model"];
}

YAML::Node from_opengait(const YAML::Node& og, const std::string& origin) {
  RM_CHECK(og.IsMap(), origin, ": the configuration must be a map of sections");
  YAML::Node out;
  out["model_cfg"]["block"] = "gl";
  const auto r = rules();
  int64_t entries = 0;
  for (const auto& section : og) {
    const std::string s = section.first.as<std::string>();
    if (s == "loss_cfg") {
      losses(section.second, out, origin);
      continue;
    }
    RM_CHECK(section.second.IsMap(), origin, ": section '", s, "' must be a map");
    walk(section.second, s + ".", r, out, origin, entries);
  }
  // the protocol: OpenGait's partition file for CASIA-B, the standard split for OU-MVLP
  const std::string name = og["data_cfg"] && og["data_cfg"]["dataset_name"]
                               ? og["data_cfg"]["dataset_name"].as<std::string>()
                               : "";
  if (name == "OUMVLP") {
    out["data_cfg"]["protocol"] = "oumvlp";
  } else if (og["data_cfg"] && og["data_cfg"]["dataset_partition"]) {
    out["data_cfg"]["protocol"] = og["data_cfg"]["dataset_partition"];
  }
  // OpenGait evaluates at each save when with_test is true
  const YAML::Node tc = og["trainer_cfg"];
  if (tc && tc["with_test"] && tc["with_test"].as<bool>() && tc["save_iter"])
    out["trainer_cfg"]["eval_iter"] = tc["save_iter"];
  return out;
}

}  // namespace rmgait::pipeline
