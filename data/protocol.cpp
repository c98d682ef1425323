#include "data/protocol.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace rmgait::data {

namespace {
void load_partition(const std::string& path, Protocol& p) {
  std::ifstream f(path);
  RM_CHECK(f, path, ": cannot open partition file");
  try {
    nlohmann::json j = nlohmann::json::parse(f);
    p.train_set = j.at("TRAIN_SET").get<std::set<std::string>>();
    p.test_set = j.at("TEST_SET").get<std::set<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    RM_FAIL(path, ": expected {\"TRAIN_SET\": [ids], \"TEST_SET\": [ids]}: ", e.what());
  }
  p.explicit_sets = true;
}
}  // namespace

Protocol parse_protocol(const std::string& name) {
  Protocol p;
  p.name = name;
  if (name == "casiab-st")
    p.train_subjects = 24;
  else if (name == "casiab-mt")
    p.train_subjects = 62;
  else if (name == "casiab-lt")
    p.train_subjects = 74;
  else if (name == "casiab-lt73")
    p.train_subjects = 74, p.drop_subject_005 = true;
  else if (name == "oumvlp")
    p.kind = ProtocolKind::oumvlp;
  else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0)
    load_partition(name, p);
  else
    RM_FAIL(
        "protocol '", name,
        "': expected casiab-st, casiab-mt, casiab-lt, casiab-lt73, oumvlp or a partition .json");
  return p;
}

namespace {
int subject_number(const std::string& s) {
  try {
    size_t used = 0;
    int n = std::stoi(s, &used);
    if (used == s.size()) return n;
  } catch (const std::exception&) {
  }
  RM_FAIL("subject id '", s, "' is not a number (CASIA-B and OU-MVLP ids are numeric)");
}
}  // namespace

bool is_training_subject(const Protocol& p, const std::string& subject) {
  if (p.explicit_sets) return p.train_set.count(subject) > 0;
  int n = subject_number(subject);
  if (p.kind == ProtocolKind::oumvlp) return n % 2 == 1 && n != 10307;
  if (p.drop_subject_005 && n == 5) return false;
  return n <= p.train_subjects;
}

bool is_gallery(const Protocol& p, const SequenceInfo& s) {
  if (p.kind == ProtocolKind::oumvlp) return s.seq == 1;
  return s.condition == "nm" && s.seq >= 1 && s.seq <= 4;
}

std::string probe_condition(const Protocol& p, const SequenceInfo& s) {
  if (p.kind == ProtocolKind::oumvlp) return s.seq == 0 ? "all" : "";
  if (s.condition == "nm") return s.seq >= 5 ? "nm" : "";
  if (s.condition == "bg" || s.condition == "cl") return s.condition;
  return "";
}

std::vector<size_t> select_sequences(const PackedDataset& ds, const Protocol& p, bool training) {
  std::vector<size_t> out;
  for (size_t i = 0; i < ds.size(); ++i) {
    if (p.explicit_sets) {
      if ((training ? p.train_set : p.test_set).count(ds.info(i).subject)) out.push_back(i);
      continue;
    }
    int n = subject_number(ds.info(i).subject);
    if (p.drop_subject_005 && n == 5) continue;  // left out of both sets, as GaitSet did
    if (is_training_subject(p, ds.info(i).subject) == training) out.push_back(i);
  }
  return out;
}

}  // namespace rmgait::data
