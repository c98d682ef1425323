#include "data/pretreat.h"

#include <algorithm>
#include <cmath>

namespace rmgait::data {

namespace {
// Keys' cubic convolution weights for fractional offset t in [0, 1).
void cubic_weights(float t, float a, float w[4]) {
  auto k = [a](float x) {
    x = std::fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.f;
  };
  w[0] = k(1 + t), w[1] = k(t), w[2] = k(1 - t), w[3] = k(2 - t);
}
}  // namespace

std::vector<uint8_t> resize_bicubic(const uint8_t* src, int sh, int sw, int dh, int dw) {
  std::vector<uint8_t> out(size_t(dh) * dw);
  const float sy = float(sh) / dh, sx = float(sw) / dw, a = -0.75f;
  std::vector<int> x0(dw);
  std::vector<float> wx(size_t(dw) * 4);
  for (int x = 0; x < dw; ++x) {
    float fx = (x + 0.5f) * sx - 0.5f;
    x0[x] = int(std::floor(fx));
    cubic_weights(fx - float(x0[x]), a, &wx[size_t(x) * 4]);
  }
  for (int y = 0; y < dh; ++y) {
    float fy = (y + 0.5f) * sy - 0.5f, wy[4];
    int y0 = int(std::floor(fy));
    cubic_weights(fy - float(y0), a, wy);
    for (int x = 0; x < dw; ++x) {
      float acc = 0;
      for (int i = 0; i < 4; ++i) {
        const uint8_t* row = src + size_t(std::clamp(y0 - 1 + i, 0, sh - 1)) * sw;
        float r = 0;
        for (int j = 0; j < 4; ++j)
          r += wx[size_t(x) * 4 + j] * row[std::clamp(x0[x] - 1 + j, 0, sw - 1)];
        acc += wy[i] * r;
      }
      out[size_t(y) * dw + x] = uint8_t(std::clamp(std::lround(acc), 0L, 255L));
    }
  }
  return out;
}

PretreatResult pretreat_frame(const uint8_t* img, int h, int w, int size) {
  PretreatResult r;
  uint64_t total = 0;
  int top = -1, bottom = -1;
  for (int y = 0; y < h; ++y) {
    uint64_t row = 0;
    for (int x = 0; x < w; ++x) row += img[size_t(y) * w + x];
    if (row) {
      if (top < 0) top = y;
      bottom = y;
    }
    total += row;
  }
  if (total <= 10000) {
    r.dropped = "nearly empty (pixel sum <= 10000)";
    return r;
  }
  const int ch = bottom - top + 1;
  const int nw = int(double(size) * double(w) / double(ch));  // int(64 * w / h), truncated
  if (nw < 1) {
    r.dropped = "degenerate aspect ratio";
    return r;
  }
  std::vector<uint8_t> s = resize_bicubic(img + size_t(top) * w, ch, w, size, nw);
  // x_center: first column where the cumulative column sum exceeds half the total
  uint64_t sum = 0;
  for (uint8_t v : s) sum += v;
  int xc = -1;
  uint64_t cum = 0;
  for (int x = 0; x < nw && xc < 0; ++x) {
    for (int y = 0; y < size; ++y) cum += s[size_t(y) * nw + x];
    if (2 * cum > sum) xc = x;
  }
  if (xc <= 0) {
    r.dropped = "no horizontal centre";
    return r;
  }
  const int half = size / 2;
  int left = xc - half, right = xc + half, pad = 0;
  if (left <= 0 || right >= nw) pad = half, left += half, right += half;  // as OpenGait pads
  r.image.assign(size_t(size) * size, 0);
  for (int y = 0; y < size; ++y)
    for (int x = left; x < right; ++x) {
      int sx = x - pad;
      if (sx >= 0 && sx < nw) r.image[size_t(y) * size + (x - left)] = s[size_t(y) * nw + sx];
    }
  return r;
}

}  // namespace rmgait::data
