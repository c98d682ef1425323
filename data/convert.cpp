#include "data/convert.h"

#include <stb/stb_image.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "data/image_io.h"
#include "data/pretreat.h"
#include "data/syngait.h"
#include "engine/error.h"
#include "engine/progress.h"
#include "formats/numpy_pickle.h"

namespace rmgait::data {

namespace {

struct Processed {
  std::vector<uint8_t> frames;
  std::map<std::string, int64_t> dropped;
  std::vector<std::string> skipped;
};

Processed process_png_sequence(const RawSequence& seq) {
  Processed out;
  for (const std::string& f : seq.files) {
    int w, h, comp;
    if (std::filesystem::file_size(f) == 0) {
      out.skipped.push_back(f + ": zero-byte file");
      continue;
    }
    if (!stbi_info(f.c_str(), &w, &h, &comp)) {
      out.skipped.push_back(f + ": not a readable image (" + stbi_failure_reason() + ")");
      continue;
    }
    if (stbi_is_16_bit(f.c_str())) {
      out.skipped.push_back(f + ": 16-bit image (expected 8-bit silhouettes)");
      continue;
    }
    GrayImage img;
    try {
      img = read_gray(f);
    } catch (const Error& e) {
      out.skipped.push_back(e.what());
      continue;
    }
    PretreatResult r = pretreat_frame(img.pixels.data(), img.height, img.width);
    if (!r.dropped.empty()) {
      ++out.dropped[r.dropped];
      continue;
    }
    out.frames.insert(out.frames.end(), r.image.begin(), r.image.end());
  }
  return out;
}

// Runs `process` over the sequences in parallel chunks and writes the results in order.
template <class F>
ConvertSummary convert(const ScanResult& scan, const std::string& dst, bool progress, F process) {
  ConvertSummary sum;
  sum.skipped = scan.problems;
  PackedWriter writer(dst, 64, 64);
  Progress bar("pack", scan.sequences.size(), progress);
  const size_t chunk = 64;
  for (size_t base = 0; base < scan.sequences.size(); base += chunk) {
    size_t n = std::min(chunk, scan.sequences.size() - base);
    std::vector<Processed> results(n);
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < n; ++i) results[i] = process(scan.sequences[base + i]);
    for (size_t i = 0; i < n; ++i) {
      Processed& p = results[i];
      const SequenceInfo& info = scan.sequences[base + i].info;
      for (auto& [k, v] : p.dropped) sum.dropped_frames[k] += v;
      sum.skipped.insert(sum.skipped.end(), p.skipped.begin(), p.skipped.end());
      uint32_t frames = uint32_t(p.frames.size() / 4096);
      if (frames == 0) {
        sum.skipped.push_back(info.name() + ": no usable frame (sequence skipped)");
        continue;
      }
      writer.add(info, p.frames.data(), frames);
      ++sum.sequences_written;
      sum.frames_written += frames;
    }
    bar.update(base + n);
  }
  writer.finish();
  return sum;
}

}  // namespace

std::string ConvertSummary::report() const {
  std::string s = std::to_string(sequences_written) + " sequences, " +
                  std::to_string(frames_written) + " frames written\n";
  for (auto& [why, n] : dropped_frames)
    s += "  frames dropped: " + std::to_string(n) + " (" + why + ")\n";
  if (!skipped.empty()) {
    s += "  skipped (" + std::to_string(skipped.size()) + "):\n";
    for (size_t i = 0; i < skipped.size() && i < 50; ++i) s += "    " + skipped[i] + "\n";
    if (skipped.size() > 50) s += "    ... and " + std::to_string(skipped.size() - 50) + " more\n";
  }
  return s;
}

ConvertSummary pretreat_tree(const std::string& src, const std::string& dst, Layout layout,
                             bool progress) {
  return convert(scan_layout(src, layout, ".png"), dst, progress, process_png_sequence);
}

ConvertSummary pack_from_pkl(const std::string& src, const std::string& dst, bool progress) {
  return convert(scan_layout(src, Layout::casiab, ".pkl"), dst, progress, [](const RawSequence& s) {
    Processed out;
    for (const std::string& f : s.files) {
      try {
        formats::PickledArray a = formats::read_pickled_array(f);
        if (a.dtype != "u1" || a.shape.size() != 3 || a.shape[1] != 64 || a.shape[2] != 64) {
          std::string shape;
          for (int64_t d : a.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
          out.skipped.push_back(f + ": expected u1 [T, 64, 64], got " + a.dtype + " [" + shape +
                                "]");
          continue;
        }
        out.frames.insert(out.frames.end(), a.data.begin(), a.data.end());
      } catch (const Error& e) {
        out.skipped.push_back(e.what());
      }
    }
    return out;
  });
}

void synth_png_tree(const SynGaitOptions& opt, const std::string& root, bool progress) {
  namespace fs = std::filesystem;
  const std::vector<SeqKey> keys = casiab_sequences();
  Progress bar("synth", size_t(opt.subjects), progress);
  for (int s = 1; s <= opt.subjects; ++s) {
#pragma omp parallel for schedule(dynamic)
    for (size_t k = 0; k < keys.size(); ++k) {
      char dir[64];
      std::snprintf(dir, sizeof dir, "%03d/%s-%02d/%03d", s, keys[k].condition.c_str(), keys[k].seq,
                    keys[k].view);
      fs::path d = fs::path(root) / dir;
      fs::create_directories(d);
      auto frames = render_sequence(opt, s, keys[k]);
      for (size_t f = 0; f < frames.size(); ++f) {
        char name[64];
        std::snprintf(name, sizeof name, "%03d-%s-%02d-%03d-%03zu.png", s,
                      keys[k].condition.c_str(), keys[k].seq, keys[k].view, f + 1);
        write_png((d / name).string(), frames[f].data(), opt.width, opt.height);
      }
    }
    bar.update(size_t(s));
  }
}

}  // namespace rmgait::data
