#pragma once
// Raw trees -> packed datasets.
#include <map>
#include <string>
#include <vector>

#include "data/layout.h"
#include "data/syngait.h"

namespace rmgait::data {

struct ConvertSummary {
  int64_t sequences_written = 0, frames_written = 0;
  std::map<std::string, int64_t> dropped_frames;  // reason -> count
  std::vector<std::string> skipped;               // "what: why" for sequences and files
  std::string report() const;                     // a human-readable summary
};

// rmgait pretreat: reads every PNG of a CASIA-B or OU-MVLP tree (in parallel), pretreats each
// frame and writes the packed dataset. Unreadable files, unusable frames and empty sequences are
// counted and reported, never fatal.
ConvertSummary pretreat_tree(const std::string& src, const std::string& dst, Layout layout,
                             bool progress);

// rmgait pack --from-pkl: OpenGait's pretreated pkl tree (u8 [T, 64, 64] per sequence).
ConvertSummary pack_from_pkl(const std::string& src, const std::string& dst, bool progress);

// rmgait synth without --aligned: SynGait as a CASIA-B PNG tree under root.
void synth_png_tree(const SynGaitOptions& opt, const std::string& root, bool progress);

}  // namespace rmgait::data
