#include "data/protocol.h"

#include "engine/error.h"

namespace rmgait::data {

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
  else
    RM_FAIL("protocol '", name,
            "': expected casiab-st, casiab-mt, casiab-lt, casiab-lt73 or oumvlp");
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
    int n = subject_number(ds.info(i).subject);
    if (p.drop_subject_005 && n == 5) continue;  // left out of both sets, as GaitSet did
    if (is_training_subject(p, ds.info(i).subject) == training) out.push_back(i);
  }
  return out;
}

}  // namespace rmgait::data
