#pragma once
// Raw dataset layouts on disk, scanned into sequences:
//   CASIA-B:  ROOT/<sid>/<cond>-<seq>/<view>/*.png          (e.g. 001/nm-01/090/...)
//   OU-MVLP:  ROOT/Silhouette_<view>-<seq>/<sid>/*.png       (as distributed)
//   OpenGait: ROOT/<sid>/<cond>-<seq>/<view>/<name>.pkl      (pretreated u8 [T, 64, 64])
// Folders whose names do not fit the layout are not guessed at: they are reported and skipped.
#include <string>
#include <vector>

#include "data/packed.h"

namespace rmgait::data {

enum class Layout { casiab, oumvlp };
Layout parse_layout(const std::string& s);  // "casiab", "oumvlp"

struct RawSequence {
  SequenceInfo info;               // frames/offset unused
  std::vector<std::string> files;  // sorted
};

struct ScanResult {
  std::vector<RawSequence> sequences;
  std::vector<std::string> problems;  // "path: what is wrong"
};

// files with extension `ext` (".png" or ".pkl"); sequences in a stable (sorted) order.
ScanResult scan_layout(const std::string& root, Layout layout, const std::string& ext);

}  // namespace rmgait::data
