#pragma once
// Evaluation protocols (docs/protocol.md): which subjects train and which test, and the
// gallery / probe split of the test sequences.
#include <set>
#include <string>
#include <vector>

#include "data/packed.h"

namespace rmgait::data {

enum class ProtocolKind { casiab, oumvlp };

struct Protocol {
  std::string name;  // "casiab-st", "casiab-mt", "casiab-lt", "oumvlp"
  ProtocolKind kind = ProtocolKind::casiab;
  int train_subjects = 74;        // CASIA-B: the first N subject ids train (by number)
  bool drop_subject_005 = false;  // GaitSet's 73-subject LT variant
  // From an OpenGait partition JSON ({"TRAIN_SET": [...], "TEST_SET": [...]}): explicit sets;
  // subjects in neither are left out. Roles follow CASIA-B's conditions.
  bool explicit_sets = false;
  std::set<std::string> train_set, test_set;
};

// "casiab-st" (24), "casiab-mt" (62), "casiab-lt" (74), "casiab-lt73", "oumvlp" (odd ids train),
// or a path ending in .json: an OpenGait partition file.
Protocol parse_protocol(const std::string& name);

bool is_training_subject(const Protocol& p, const std::string& subject);

// CASIA-B test roles. Probe conditions: "nm" (nm-05, nm-06), "bg", "cl".
bool is_gallery(const Protocol& p, const SequenceInfo& s);
std::string probe_condition(const Protocol& p, const SequenceInfo& s);  // "" if not a probe

// Indices of the dataset's sequences that belong to the training (or test) subjects.
std::vector<size_t> select_sequences(const PackedDataset& ds, const Protocol& p, bool training);

}  // namespace rmgait::data
