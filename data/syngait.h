#pragma once
// SynGait: procedural CASIA-B-like silhouettes of articulated 3-D walkers (docs/syngait.md).
// Identity lives in the body (height, widths, limb ratios, thickness, head, lean) and in the gait
// (cadence, stride, hip/knee curves with subject-specific harmonics, arm swing and asymmetry,
// bounce, sway). BG adds a bag (shoulder bag, backpack or hand bag; that arm swings less), CL a
// coat (thicker torso and arms, a hem to the knee). Views rotate the heading (0 = toward the
// camera, 90 = side); weak perspective; segmentation noise. Every random draw is a Philox
// counter of (seed, subject, sequence, purpose): output is identical for any thread count.
#include <cstdint>
#include <string>
#include <vector>

namespace rmgait::data {

struct SynGaitOptions {
  int subjects = 124;
  uint64_t seed = 0;
  int frames = 0;  // 0: 60-90 per sequence, drawn per sequence
  int width = 160, height = 120;
  bool noise = true;  // segmentation noise
};

// The CASIA-B sequence list: nm-01..06, bg-01..02, cl-01..02 and 11 views 000..180.
struct SeqKey {
  std::string condition;  // "nm", "bg", "cl"
  int seq;                // 1-based
  int view;               // degrees
};
std::vector<SeqKey> casiab_sequences();

// Renders one sequence: frames of width x height u8 (0 or 255), possibly empty (dropped) ones.
std::vector<std::vector<uint8_t>> render_sequence(const SynGaitOptions& opt, int subject,
                                                  const SeqKey& key);

// Renders every subject and sequence, pretreats each frame (64 x 64) and writes a packed dataset.
// Returns the number of frames dropped by pretreatment.
int64_t synth_aligned(const SynGaitOptions& opt, const std::string& out_path, bool progress);

}  // namespace rmgait::data
