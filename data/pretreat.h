#pragma once
// Silhouette pretreatment exactly as OpenGait's datasets/pretreatment.py (docs/protocol.md):
// drop near-empty frames, crop to the rows with foreground, resize to height 64 (bicubic),
// centre on the column where the cumulative mass passes half, cut 64 columns (zero padding).
#include <cstdint>
#include <string>
#include <vector>

namespace rmgait::data {

// Why a frame was dropped ("" when kept).
struct PretreatResult {
  std::string dropped;
  std::vector<uint8_t> image;  // 64 x 64 when kept
};

PretreatResult pretreat_frame(const uint8_t* gray, int height, int width, int size = 64);

// Bicubic resize (Keys kernel, a = -0.75, half-pixel centres, edge replication), as OpenCV's
// INTER_CUBIC, rounded and saturated to u8.
std::vector<uint8_t> resize_bicubic(const uint8_t* src, int sh, int sw, int dh, int dw);

// The model's input window: columns [10, 54) of a 64-wide frame (64 x 44).
constexpr int kFrameSize = 64;  // pretreated frames are kFrameSize x kFrameSize
constexpr int kCutLeft = 10, kModelWidth = 44;

}  // namespace rmgait::data
