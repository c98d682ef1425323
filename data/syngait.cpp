#include "data/syngait.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "data/packed.h"
#include "data/pretreat.h"
#include "engine/error.h"
#include "engine/math/random.h"
#include "engine/progress.h"

namespace rmgait::data {

namespace {

constexpr float kPi = 3.14159265358979f;

// A stream of uniforms: counter-based, so (seed, stream) fixes every value.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) : seed_(seed * 0x9E3779B97F4A7C15ull + stream * 7919 + 1) {}
  float u() { return philox::uniform(seed_, n_++); }
  float u(float lo, float hi) { return lo + (hi - lo) * u(); }
  int i(int lo, int hi) { return std::min(hi, lo + int(u() * float(hi - lo + 1))); }

 private:
  uint64_t seed_, n_ = 0;
};

struct V3 {
  float x, y, z;
};
V3 operator+(V3 a, V3 b) {
  return {a.x + b.x, a.y + b.y, a.z + b.z};
}
V3 operator*(V3 a, float s) {
  return {a.x * s, a.y * s, a.z * s};
}

struct Body {
  float height, shoulder, hip, thigh, shin, upper_arm, forearm, torso, limb_r, torso_r, head_r,
      lean, foot;
};
struct Gait {
  float cadence, hip_amp, knee_amp, knee_phase, arm_amp, arm_asym, elbow, bounce, sway, h2_amp,
      h2_phase, speed;
};

Body draw_body(Rng& r) {
  Body b;
  b.height = r.u(1.62f, 1.84f);
  float h = b.height;
  b.shoulder = h * r.u(0.225f, 0.255f);
  b.hip = h * r.u(0.165f, 0.195f);
  float leg = h * r.u(0.47f, 0.50f), thigh_share = r.u(0.48f, 0.52f);
  b.thigh = leg * thigh_share;
  b.shin = leg * (1 - thigh_share);
  float arm = h * r.u(0.40f, 0.43f), upper_share = r.u(0.52f, 0.56f);
  b.upper_arm = arm * upper_share;
  b.forearm = arm * (1 - upper_share);
  b.head_r = h * r.u(0.058f, 0.066f);
  b.torso = h - leg - 2.4f * b.head_r - 0.02f * h;
  b.limb_r = h * r.u(0.032f, 0.040f);
  b.torso_r = h * r.u(0.068f, 0.085f);
  b.lean = r.u(-0.02f, 0.08f);
  b.foot = h * r.u(0.12f, 0.15f);
  return b;
}

Gait draw_gait(Rng& r, const Body& b) {
  Gait g;
  g.cadence = r.u(1.0f / 33, 1.0f / 28);  // cycles per frame (25 fps)
  g.hip_amp = r.u(0.36f, 0.46f);
  g.knee_amp = r.u(0.8f, 1.05f);
  g.knee_phase = r.u(-0.3f, 0.15f);
  g.arm_amp = r.u(0.2f, 0.45f);
  g.arm_asym = r.u(-0.2f, 0.2f);
  g.elbow = r.u(0.1f, 0.6f);
  g.bounce = b.height * r.u(0.008f, 0.025f);
  g.sway = b.height * r.u(0.0f, 0.02f);
  g.h2_amp = r.u(0.0f, 0.12f);
  g.h2_phase = r.u(0.f, 2 * kPi);
  // stride length follows from leg length and hip amplitude: two steps per cycle
  g.speed = 2 * 2 * (b.thigh + b.shin) * std::sin(g.hip_amp) * g.cadence;
  return g;
}

struct Clothing {
  float coat_torso = 1, coat_arm = 1, hem = 0, hem_width = 0.5f, bag_size = 1;
};

struct Capsule {
  V3 a, b;
  float ra, rb;
};

enum class Bag { none, shoulder, backpack, hand };

struct Pose {
  std::vector<Capsule> parts;
};

// Builds the body's capsules at gait phase phi (body frame: x forward, y left, z up).
Pose pose_at(const Body& b, const Gait& g, float phi, Bag bag, int bag_side, bool coat,
             const Clothing& cl) {
  Pose p;
  auto leg_angles = [&](float ph, float& hip, float& knee) {
    hip = g.hip_amp * std::sin(ph) + g.h2_amp * std::sin(2 * ph + g.h2_phase);
    float s = std::max(0.f, std::sin(ph + kPi / 2 + g.knee_phase));
    knee = g.knee_amp * s * s + 0.08f;
  };
  float pz = (b.thigh + b.shin) * 0.97f + b.foot * 0.15f + g.bounce * std::cos(2 * phi);
  V3 pelvis = {0, g.sway * std::sin(phi), pz};
  V3 knees[2];
  float torso_r = b.torso_r * (coat ? cl.coat_torso : 1.f);
  for (int side = 0; side < 2; ++side) {
    float hip_a, knee_a;
    leg_angles(phi + side * kPi, hip_a, knee_a);
    V3 hip = pelvis + V3{0, (side ? -1.f : 1.f) * b.hip / 2, 0};
    V3 knee = hip + V3{std::sin(hip_a), 0, -std::cos(hip_a)} * b.thigh;
    float shin_a = hip_a - knee_a;
    V3 ankle = knee + V3{std::sin(shin_a), 0, -std::cos(shin_a)} * b.shin;
    V3 toe = ankle + V3{std::cos(shin_a * 0.5f), 0, -0.15f} * b.foot;
    knees[side] = knee;
    p.parts.push_back({hip, knee, b.limb_r * 1.25f, b.limb_r * 1.05f});
    p.parts.push_back({knee, ankle, b.limb_r * 1.05f, b.limb_r * 0.8f});
    p.parts.push_back({ankle, toe, b.limb_r * 0.6f, b.limb_r * 0.5f});
  }
  V3 neck = pelvis + V3{std::sin(b.lean), 0, std::cos(b.lean)} * b.torso;
  p.parts.push_back({pelvis, neck, torso_r, torso_r * 0.9f});
  p.parts.push_back({pelvis + V3{0, b.hip / 2, 0.02f}, pelvis + V3{0, -b.hip / 2, 0.02f},
                     torso_r * 0.85f, torso_r * 0.85f});
  V3 sh_l = neck + V3{0, b.shoulder / 2, -0.05f}, sh_r = neck + V3{0, -b.shoulder / 2, -0.05f};
  p.parts.push_back({sh_l, sh_r, torso_r * 0.7f, torso_r * 0.7f});
  V3 head = neck + V3{0.01f, 0, b.head_r * 1.25f};
  p.parts.push_back({neck, head, b.limb_r * 0.9f, b.head_r});
  for (int side = 0; side < 2; ++side) {
    float leg_hip, dummy;
    leg_angles(phi + side * kPi, leg_hip, dummy);
    float amp = g.arm_amp * (1 + (side ? -g.arm_asym : g.arm_asym));
    if (bag != Bag::none && side == bag_side) amp *= 0.3f;  // the bag side swings less
    float a = -amp * std::sin(phi + side * kPi);
    V3 sh = side ? sh_r : sh_l;
    V3 elbow = sh + V3{std::sin(a), 0, -std::cos(a)} * b.upper_arm;
    float fa = a + g.elbow * (0.6f + 0.4f * std::sin(phi + side * kPi));
    V3 wrist = elbow + V3{std::sin(fa), 0, -std::cos(fa)} * b.forearm;
    float ur = b.limb_r * (coat ? cl.coat_arm : 0.9f);
    p.parts.push_back({sh, elbow, ur, ur * 0.9f});
    p.parts.push_back({elbow, wrist, b.limb_r * 0.75f, b.limb_r * 0.6f});
    if (bag == Bag::hand && side == bag_side)
      p.parts.push_back({wrist + V3{0, 0, -0.08f}, wrist + V3{0.02f, 0, -0.28f * cl.bag_size},
                         0.09f * cl.bag_size, 0.1f * cl.bag_size});
  }
  float side_sign = bag_side ? -1.f : 1.f;
  if (bag == Bag::shoulder)
    p.parts.push_back({pelvis + V3{0.02f, side_sign * (b.hip / 2 + 0.1f), 0.05f},
                       pelvis + V3{0.02f, side_sign * (b.hip / 2 + 0.1f), -0.12f * cl.bag_size},
                       0.11f * cl.bag_size, 0.12f * cl.bag_size});
  if (bag == Bag::backpack)
    p.parts.push_back({pelvis + V3{-torso_r - 0.1f * cl.bag_size, 0, 0.15f},
                       pelvis + V3{-torso_r - 0.12f * cl.bag_size, 0, b.torso * 0.8f},
                       0.14f * cl.bag_size, 0.15f * cl.bag_size});
  if (coat) {  // a hem to the knee hides the thighs
    V3 hem = {(knees[0].x + knees[1].x) / 2, 0,
              (knees[0].z + knees[1].z) / 2 + 0.03f - cl.hem * b.shin * 0.5f};
    p.parts.push_back({pelvis, hem, b.hip * cl.hem_width, b.hip * cl.hem_width + b.limb_r * 1.5f});
  }
  return p;
}

// Rasterises the capsules (2-D stadiums after orthographic projection) into img.
void rasterise(const std::vector<Capsule>& caps, float view_deg, float root, float scale, float cx,
               float ground, int w, int h, std::vector<uint8_t>& img) {
  float th = view_deg * kPi / 180.f, s_ = std::sin(th), c_ = std::cos(th);
  auto project = [&](V3 p, float& px, float& py) {
    px = cx + ((root + p.x) * s_ + p.y * c_) * scale;
    py = ground - p.z * scale;
  };
  for (const Capsule& c : caps) {
    float ax, ay, bx, by;
    project(c.a, ax, ay);
    project(c.b, bx, by);
    float ra = c.ra * scale, rb = c.rb * scale, rmax = std::max(ra, rb);
    int x0 = std::max(0, int(std::floor(std::min(ax, bx) - rmax)));
    int x1 = std::min(w - 1, int(std::ceil(std::max(ax, bx) + rmax)));
    int y0 = std::max(0, int(std::floor(std::min(ay, by) - rmax)));
    int y1 = std::min(h - 1, int(std::ceil(std::max(ay, by) + rmax)));
    float dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        float px = x + 0.5f - ax, py = y + 0.5f - ay;
        float t = len2 > 0 ? std::clamp((px * dx + py * dy) / len2, 0.f, 1.f) : 0.f;
        float ex = px - t * dx, ey = py - t * dy, r = ra + (rb - ra) * t;
        if (ex * ex + ey * ey <= r * r) img[size_t(y) * w + x] = 255;
      }
  }
}

void disc(std::vector<uint8_t>& img, int w, int h, int cx, int cy, int r, uint8_t v) {
  for (int y = std::max(0, cy - r); y <= std::min(h - 1, cy + r); ++y)
    for (int x = std::max(0, cx - r); x <= std::min(w - 1, cx + r); ++x)
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) img[size_t(y) * w + x] = v;
}

// Segmentation noise: one-pixel dilation or erosion, holes, blobs, a missing band.
void add_noise(std::vector<uint8_t>& img, int w, int h, Rng& r) {
  float u = r.u();
  if (u < 0.5f) {
    std::vector<uint8_t> src = img;
    uint8_t target = u < 0.25f ? 255 : 0;  // dilate or erode
    for (int y = 1; y < h - 1; ++y)
      for (int x = 1; x < w - 1; ++x) {
        size_t i = size_t(y) * w + x;
        if (src[i] != target && (src[i - 1] == target || src[i + 1] == target ||
                                 src[i - w] == target || src[i + w] == target))
          img[i] = target;
      }
  }
  int fx0 = w, fx1 = -1, fy0 = h, fy1 = -1;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (img[size_t(y) * w + x])
        fx0 = std::min(fx0, x), fx1 = std::max(fx1, x), fy0 = std::min(fy0, y),
        fy1 = std::max(fy1, y);
  if (fx1 < 0) return;
  for (int k = r.i(0, 2); k > 0; --k) disc(img, w, h, r.i(fx0, fx1), r.i(fy0, fy1), r.i(1, 2), 0);
  if (r.u() < 0.3f) disc(img, w, h, r.i(fx0, fx1), r.i(fy0, fy1), r.i(1, 3), 255);
  if (r.u() < 0.05f) {  // a shadow-like missing band
    int y = r.i(fy0, fy1), bh = r.i(2, 6);
    for (int yy = y; yy < std::min(h, y + bh); ++yy)
      std::fill(img.begin() + size_t(yy) * w, img.begin() + size_t(yy + 1) * w, 0);
  }
}

uint64_t seq_stream(int subject, const SeqKey& k) {
  int cond = k.condition == "nm" ? 0 : k.condition == "bg" ? 1 : 2;
  return (uint64_t(subject) * 16 + uint64_t(cond * 6 + k.seq)) * 1000 + uint64_t(k.view);
}

}  // namespace

std::vector<SeqKey> casiab_sequences() {
  std::vector<SeqKey> out;
  const std::pair<const char*, int> conds[] = {{"nm", 6}, {"bg", 2}, {"cl", 2}};
  for (auto [c, n] : conds)
    for (int s = 1; s <= n; ++s)
      for (int v = 0; v <= 180; v += 18) out.push_back({c, s, v});
  return out;
}

std::vector<std::vector<uint8_t>> render_sequence(const SynGaitOptions& opt, int subject,
                                                  const SeqKey& key) {
  Rng subject_rng(opt.seed, uint64_t(subject));
  Body body = draw_body(subject_rng);
  Gait gait = draw_gait(subject_rng, body);
  // Per sequence (shared by its 11 views, as one walk filmed by 11 cameras): speed, phase, bag.
  Rng walk(opt.seed, seq_stream(subject, {key.condition, key.seq, 0}) + 7);
  float speed_scale = walk.u(0.9f, 1.1f), phase0 = walk.u(0.f, 2 * kPi);
  // natural day-to-day variation of the same person's gait
  gait.hip_amp *= walk.u(0.93f, 1.07f);
  gait.arm_amp *= walk.u(0.8f, 1.2f);
  gait.knee_amp *= walk.u(0.93f, 1.07f);
  Clothing cloth;
  cloth.coat_torso = walk.u(1.3f, 1.7f);
  cloth.coat_arm = walk.u(1.3f, 1.8f);
  cloth.hem = walk.u(0.0f, 0.6f);  // 0: at the knee, 1: mid-shin
  cloth.hem_width = walk.u(0.45f, 0.75f);
  cloth.bag_size = walk.u(0.8f, 1.4f);
  Bag bag = Bag::none;
  int bag_side = walk.i(0, 1);
  if (key.condition == "bg") bag = Bag(1 + walk.i(0, 2));
  bool coat = key.condition == "cl";
  int frames = opt.frames > 0 ? opt.frames : walk.i(60, 90);
  Rng noise(opt.seed, seq_stream(subject, key));
  const int w = opt.width, h = opt.height;
  const float base_scale = 0.36f * float(h) / 1.0f / 1.0f;  // px per metre at the reference depth
  Gait g = gait;
  g.cadence *= speed_scale;
  float speed = gait.speed * speed_scale, path = speed * float(frames);
  std::vector<std::vector<uint8_t>> out;
  for (int f = 0; f < frames; ++f) {
    std::vector<uint8_t> img(size_t(w) * h, 0);
    if (opt.noise && noise.u() < 0.02f) {  // a dropped frame
      out.push_back(std::move(img));
      continue;
    }
    float phi =
        phase0 + 2 * kPi * g.cadence * float(f) + (opt.noise ? noise.u(-0.04f, 0.04f) : 0.f);
    float root = -path / 2 + speed * float(f);
    float th = float(key.view) * kPi / 180.f;
    float depth = -root * std::cos(th);              // walking toward the camera at 0
    float scale = base_scale * 6.f / (6.f + depth);  // weak perspective, camera 6 m away
    Pose p = pose_at(body, g, phi, bag, bag_side, coat, cloth);
    rasterise(p.parts, float(key.view), root, scale, float(w) / 2, float(h) * 0.93f, w, h, img);
    if (opt.noise) add_noise(img, w, h, noise);
    out.push_back(std::move(img));
  }
  return out;
}

int64_t synth_aligned(const SynGaitOptions& opt, const std::string& out_path, bool progress) {
  RM_CHECK(opt.subjects >= 1 && opt.subjects <= 999, "synth: --subjects ", opt.subjects,
           " outside 1..999");
  const std::vector<SeqKey> keys = casiab_sequences();
  PackedWriter writer(out_path, 64, 64);
  int64_t dropped = 0;
  Progress bar("synth: subjects", size_t(opt.subjects), progress);
  for (int s = 1; s <= opt.subjects; ++s) {
    std::vector<std::vector<uint8_t>> seqs(keys.size());
    std::vector<int64_t> drops(keys.size(), 0);
#pragma omp parallel for schedule(dynamic)
    for (size_t k = 0; k < keys.size(); ++k) {
      for (const auto& frame : render_sequence(opt, s, keys[k])) {
        PretreatResult r = pretreat_frame(frame.data(), opt.height, opt.width);
        if (!r.dropped.empty()) {
          ++drops[k];
          continue;
        }
        seqs[k].insert(seqs[k].end(), r.image.begin(), r.image.end());
      }
    }
    char sid[16];
    std::snprintf(sid, sizeof sid, "%03d", s);
    for (size_t k = 0; k < keys.size(); ++k) {
      dropped += drops[k];
      uint32_t n = uint32_t(seqs[k].size() / 4096);
      if (n == 0) continue;  // a sequence without usable frames is left out (counted above)
      char view[16];
      std::snprintf(view, sizeof view, "%03d", keys[k].view);
      writer.add({sid, keys[k].condition, view, keys[k].seq, 0, 0}, seqs[k].data(), n);
    }
    bar.update(size_t(s));
  }
  writer.finish();
  return dropped;
}

}  // namespace rmgait::data
