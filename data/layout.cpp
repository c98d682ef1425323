#include "data/layout.h"

#include <algorithm>
#include <filesystem>
#include <regex>

#include "engine/error.h"

namespace rmgait::data {

namespace fs = std::filesystem;

Layout parse_layout(const std::string& s) {
  if (s == "casiab") return Layout::casiab;
  if (s == "oumvlp") return Layout::oumvlp;
  RM_FAIL("layout '", s, "': expected casiab or oumvlp");
}

namespace {
std::vector<fs::path> sorted_dirs(const fs::path& p) {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(p))
    if (e.is_directory()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void add_sequence(ScanResult& r, SequenceInfo info, const fs::path& dir, const std::string& ext) {
  RawSequence s;
  s.info = std::move(info);
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ext) s.files.push_back(e.path().string());
  std::sort(s.files.begin(), s.files.end());
  if (s.files.empty()) {
    r.problems.push_back(dir.string() + ": no " + ext + " files (empty sequence, skipped)");
    return;
  }
  r.sequences.push_back(std::move(s));
}
}  // namespace

ScanResult scan_layout(const std::string& root, Layout layout, const std::string& ext) {
  RM_CHECK(fs::is_directory(root), root, ": not a directory");
  ScanResult r;
  const std::regex sid_re("^[0-9]{3,5}$"), cond_re("^([a-z]{2})-([0-9]{2})$"),
      view_re("^[0-9]{3}$"), ou_re("^Silhouette_([0-9]{3})-([0-9]{2})$");
  std::smatch m;
  if (layout == Layout::casiab) {
    for (const fs::path& sdir : sorted_dirs(root)) {
      std::string sid = sdir.filename().string();
      if (!std::regex_match(sid, sid_re)) {
        r.problems.push_back(sdir.string() + ": not a subject id (expected digits like 001)");
        continue;
      }
      for (const fs::path& cdir : sorted_dirs(sdir)) {
        std::string cs = cdir.filename().string();
        if (!std::regex_match(cs, m, cond_re)) {
          r.problems.push_back(cdir.string() + ": not <condition>-<seq> (expected like nm-01)");
          continue;
        }
        for (const fs::path& vdir : sorted_dirs(cdir)) {
          std::string v = vdir.filename().string();
          if (!std::regex_match(v, view_re)) {
            r.problems.push_back(vdir.string() + ": not a view (expected 3 digits like 090)");
            continue;
          }
          add_sequence(r, {sid, m[1], v, std::stoi(m[2]), 0, 0}, vdir, ext);
        }
      }
    }
  } else {
    for (const fs::path& vdir : sorted_dirs(root)) {
      std::string vs = vdir.filename().string();
      if (!std::regex_match(vs, m, ou_re)) {
        r.problems.push_back(vdir.string() +
                             ": not Silhouette_<view>-<seq> (like Silhouette_000-00)");
        continue;
      }
      std::string view = m[1];
      int seq = std::stoi(m[2]);
      for (const fs::path& sdir : sorted_dirs(vdir)) {
        std::string sid = sdir.filename().string();
        if (!std::regex_match(sid, sid_re)) {
          r.problems.push_back(sdir.string() + ": not a subject id (expected digits like 00001)");
          continue;
        }
        add_sequence(r, {sid, "ou", view, seq, 0, 0}, sdir, ext);
      }
    }
    std::sort(r.sequences.begin(), r.sequences.end(),
              [](const RawSequence& a, const RawSequence& b) {
                return std::tie(a.info.subject, a.info.seq, a.info.view) <
                       std::tie(b.info.subject, b.info.seq, b.info.view);
              });
  }
  return r;
}

}  // namespace rmgait::data
