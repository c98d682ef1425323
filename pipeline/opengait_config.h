#pragma once
// OpenGait's own YAML configurations (e.g. configs/gaitgl/gaitgl.yaml) for the models rmgait
// has, translated into rmgait's: every key OpenGait's trainer reads for GaitGL on CASIA-B or
// OU-MVLP is mapped (or checked to have the only value rmgait implements, e.g. the samplers'
// types and the Euclidean metric); any other key is an error naming it.
#include <yaml-cpp/yaml.h>

#include <string>

namespace rmgait::pipeline {

// An OpenGait configuration names its model in model_cfg.model (rmgait's uses model_cfg.block).
bool is_opengait_config(const YAML::Node& root);
YAML::Node from_opengait(const YAML::Node& og, const std::string& origin);

}  // namespace rmgait::pipeline
