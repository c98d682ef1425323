// nn: modules and state dicts, losses against brute force, optimizers against hand-computed
// steps, schedules, safetensors checkpoints.
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "nn/layers.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "formats/safetensors.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

namespace {
struct Tiny : nn::Module {
  Tiny() {
    seq = register_module("body", std::make_shared<nn::Sequential>());
    seq->push_back(std::make_shared<nn::Linear>(3, 4));
    seq->push_back(std::make_shared<nn::LeakyReLU>());
    bn = register_module("bn", nn::BatchNorm1d(4));
  }
  std::shared_ptr<nn::Sequential> seq;
  std::shared_ptr<nn::BatchNorm> bn;
};
}  // namespace

TEST_CASE("modules name parameters and buffers hierarchically; state dicts load with checks") {
  Tiny m;
  std::vector<std::string> names;
  for (auto& [n, t] : m.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"body.0.weight", "body.0.bias", "bn.weight", "bn.bias"});
  auto sd = m.state_dict();
  CHECK(sd.count("bn.running_var"));
  CHECK(sd.at("bn.num_batches_tracked").dtype() == DType::i64);
  CHECK(sd.at("bn.num_batches_tracked").dim() == 0);
  Tiny other;
  sd["body.0.weight"] = uniform({4, 3}, 1);
  other.load_state_dict(sd);
  CHECK(other.seq->operator[](0).named_parameters()[0].second.to_vector() ==
        uniform({4, 3}, 1).to_vector());
  auto bad = sd;
  bad.erase("bn.bias");
  bad["extra.weight"] = Tensor::zeros({1});
  bad["body.0.bias"] = Tensor::zeros({5});
  CHECK_THROWS_WITH_AS(other.load_state_dict(bad), doctest::Contains("missing: bn.bias"), Error);
  CHECK_THROWS_WITH_AS(other.load_state_dict(bad), doctest::Contains("unexpected: extra.weight"),
                       Error);
  CHECK_THROWS_WITH_AS(other.load_state_dict(bad),
                       doctest::Contains("body.0.bias (checkpoint f32 [5], model f32 [4])"), Error);
  // train/eval propagates; BN counts batches in training
  Tensor x = uniform({5, 3}, 2);
  m.bn->forward(m.seq->forward(x));
  CHECK(m.bn->num_batches_tracked.data<int64_t>()[0] == 1);
  m.eval();
  CHECK(!m.bn->is_training());
  m.bn->forward(m.seq->forward(x));
  CHECK(m.bn->num_batches_tracked.data<int64_t>()[0] == 1);
  // the count follows writes from outside (a loaded checkpoint) and goes on from there
  m.train();
  m.bn->forward(m.seq->forward(x));
  CHECK(m.bn->num_batches_tracked.data<int64_t>()[0] == 2);
  auto counted = m.state_dict();
  counted.at("bn.num_batches_tracked").fill_(41.0);
  m.load_state_dict(counted);
  m.bn->forward(m.seq->forward(x));
  CHECK(m.bn->num_batches_tracked.data<int64_t>()[0] == 42);
}

TEST_CASE("triplet loss equals a brute-force triple loop") {
  const int64_t n = 6, c = 5, parts = 3;
  Tensor emb = leaf(uniform({n, c, parts}, 3));
  std::vector<int64_t> labels = {7, 7, 2, 2, 9, 9};
  auto r = nn::triplet_loss(emb, labels, 0.2f);
  std::vector<float> e = emb.to_vector();
  auto at = [&](int64_t i, int64_t k, int64_t p) { return double(e[(i * c + k) * parts + p]); };
  double total = 0, nonzero_all = 0, terms_all = 0, dist_sum = 0;
  for (int64_t p = 0; p < parts; ++p) {
    double s = 0, nz = 0;
    auto dist = [&](int64_t i, int64_t j) {
      double d = 0;
      for (int64_t k = 0; k < c; ++k)
        d += (at(i, k, p) - at(j, k, p)) * (at(i, k, p) - at(j, k, p));
      return std::sqrt(d);
    };
    for (int64_t a = 0; a < n; ++a)
      for (int64_t j = 0; j < n; ++j) dist_sum += dist(a, j);
    for (int64_t a = 0; a < n; ++a)
      for (int64_t q = 0; q < n; ++q) {
        if (labels[q] != labels[a]) continue;  // positives include the anchor itself
        for (int64_t m = 0; m < n; ++m) {
          if (labels[m] == labels[a]) continue;
          double t = std::max(0.0, dist(a, q) - dist(a, m) + 0.2);
          s += t;
          nz += t > 0;
          terms_all += 1;
        }
      }
    nonzero_all += nz;
    total += s / (nz + 1e-9);
  }
  CHECK(r.loss.item() == doctest::Approx(total / parts).epsilon(1e-4));
  CHECK(r.nonzero_fraction == doctest::Approx(nonzero_all / terms_all).epsilon(1e-6));
  CHECK(r.mean_distance == doctest::Approx(dist_sum / (n * n * parts)).epsilon(1e-4));
  // the self-distance gets a finite gradient; the whole gradient passes a finite-difference check
  r.loss.backward();
  for (float g : emb.grad().to_vector()) REQUIRE(std::isfinite(g));
  gradcheck([&](auto& in) { return nn::triplet_loss(in[0], labels, 0.2f).loss.reshape({1}); },
            {emb}, "triplet loss", {1e-3, 2e-2, 90});
  // two equal embeddings (distance 0 off the diagonal): the relu's guard keeps the gradient
  // finite although sqrt's slope there is infinite
  Tensor twins = leaf(cat({emb.detach().narrow(0, 0, 1), emb.detach().narrow(0, 0, 1),
                           emb.detach().narrow(0, 2, 4)},
                          0)
                          .contiguous());
  nn::triplet_loss(twins, labels, 0.2f).loss.backward();
  for (float g : twins.grad().to_vector()) REQUIRE(std::isfinite(g));
  CHECK_THROWS_WITH_AS(nn::triplet_loss(emb, {1, 1, 1, 2, 2, 3}, 0.2f),
                       doctest::Contains("batches must be P x K"), Error);
}

TEST_CASE("triplet loss: a sample's distance to itself is 0 and passes no gradient") {
  // Long embeddings and a margin of 10, so that every term is active, those with the anchor as
  // its own positive too. Computed, |x|^2 + |x|^2 - 2 x.x (a sum against a matrix product) is
  // rounding noise of about 1e-5, whose square root (3e-3) would enter every such term and
  // whose gradient would be arbitrary. Loss and gradient must be the brute force's, in double,
  // with the self-distance a constant 0.
  const int64_t n = 8, c = 128, parts = 4;
  const double margin = 10;
  Tensor emb = leaf(uniform({n, c, parts}, 8));
  std::vector<int64_t> labels = {1, 1, 5, 5, 2, 2, 7, 7};
  Tensor loss = nn::triplet_loss(emb, labels, float(margin)).loss;
  loss.backward();
  std::vector<float> e = emb.to_vector();
  double want_loss = 0;
  auto at = [&](int64_t i, int64_t k, int64_t p) { return double(e[(i * c + k) * parts + p]); };
  std::vector<double> want(e.size(), 0.0);
  for (int64_t p = 0; p < parts; ++p) {
    auto dist = [&](int64_t i, int64_t j) {
      double d = 0;
      for (int64_t k = 0; k < c; ++k)
        d += (at(i, k, p) - at(j, k, p)) * (at(i, k, p) - at(j, k, p));
      return std::sqrt(d);
    };
    // d(dist(i, j)) / d x_i = (x_i - x_j) / dist, the opposite for x_j; nothing when i == j
    auto add_grad = [&](int64_t i, int64_t j, double w) {
      if (i == j) return;
      const double d = dist(i, j);
      for (int64_t k = 0; k < c; ++k) {
        const double g = w * (at(i, k, p) - at(j, k, p)) / d;
        want[size_t((i * c + k) * parts + p)] += g;
        want[size_t((j * c + k) * parts + p)] -= g;
      }
    };
    std::vector<std::array<int64_t, 3>> active;
    for (int64_t a = 0; a < n; ++a)
      for (int64_t q = 0; q < n; ++q)
        for (int64_t m = 0; m < n; ++m)
          if (labels[q] == labels[a] && labels[m] != labels[a] &&
              dist(a, q) - dist(a, m) + margin > 0)
            active.push_back({a, q, m});
    const double w = 1.0 / (double(active.size()) + 1e-9) / double(parts);
    for (auto [a, q, m] : active) {
      add_grad(a, q, w), add_grad(a, m, -w);
      want_loss += w * (dist(a, q) - dist(a, m) + margin);
    }
  }
  CHECK(loss.item() == doctest::Approx(want_loss).epsilon(1e-6));
  check_close(emb.grad(), want, 2e-5, 1e-7, "triplet gradient");
}

TEST_CASE("cross entropy over (sample, part) pairs, with label smoothing") {
  const int64_t n = 4, k = 5, parts = 3;
  Tensor logits = leaf(uniform({n, k, parts}, 4, -2.f, 2.f));
  std::vector<int64_t> labels = {0, 3, 4, 3};
  std::vector<float> l = logits.to_vector();
  for (float eps : {0.f, 0.1f}) {
    double ref = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t p = 0; p < parts; ++p) {
        double z = 0, mean_lp = 0;
        for (int64_t c = 0; c < k; ++c) z += std::exp(l[(i * k + c) * parts + p]);
        for (int64_t c = 0; c < k; ++c) mean_lp += (l[(i * k + c) * parts + p] - std::log(z)) / k;
        double nll = -(l[(i * k + labels[i]) * parts + p] - std::log(z));
        ref += (1 - eps) * nll - eps * mean_lp;
      }
    auto r = nn::cross_entropy(logits, labels, eps);
    CHECK(r.loss.item() == doctest::Approx(ref / (n * parts)).epsilon(1e-5));
    gradcheck([&](auto& in) { return nn::cross_entropy(in[0], labels, eps).loss.reshape({1}); },
              {logits}, "cross entropy");
  }
  CHECK_THROWS_WITH_AS(nn::cross_entropy(logits, {0, 1, 5, 2}),
                       doctest::Contains("label 5 of sample 2 outside [0, 5)"), Error);
}

TEST_CASE("Adam follows PyTorch's update rule step by step (L2 and decoupled decay)") {
  for (bool decoupled : {false, true}) {
    Tensor p = leaf(Tensor::from_vector({0.5f, -1.5f}, {2}));
    nn::Adam opt({{"w", p}}, 0.1f, 0.01f, 0.9f, 0.999f, 1e-8f, decoupled);
    double w[2] = {0.5, -1.5}, m[2] = {0, 0}, v[2] = {0, 0};
    for (int t = 1; t <= 4; ++t) {
      p.zero_grad();
      sum(mul(mul(p, p), 3.f)).backward();  // grad = 6 p
      opt.step();
      for (int i = 0; i < 2; ++i) {
        double g = 6 * w[i];
        if (decoupled)
          w[i] *= 1 - 0.1 * 0.01;
        else
          g += 0.01 * w[i];
        m[i] = 0.9 * m[i] + 0.1 * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        double mhat = m[i] / (1 - std::pow(0.9, t));
        double denom = std::sqrt(v[i]) / std::sqrt(1 - std::pow(0.999, t)) + 1e-8;
        w[i] -= 0.1 * mhat / denom;
      }
      std::vector<float> got = p.to_vector();
      CHECK(got[0] == doctest::Approx(w[0]).epsilon(1e-5));
      CHECK(got[1] == doctest::Approx(w[1]).epsilon(1e-5));
    }
    // state round trip
    nn::Adam again({{"w", p}}, 0.1f);
    again.load_state_dict(opt.state_dict());
    CHECK(again.steps() == 4);
  }
}

TEST_CASE("the fused Adam update equals the op-by-op one bit for bit") {
  for (bool decoupled : {false, true}) {
    Tensor p = leaf(uniform({1000}, 41)), q = p.detach().clone();
    Tensor m = Tensor::zeros({1000}), v = Tensor::zeros({1000});
    nn::Adam opt({{"w", p}}, 0.01f, 5e-4f, 0.9f, 0.999f, 1e-8f, decoupled);
    for (int t = 1; t <= 3; ++t) {
      Tensor g = uniform({1000}, 42 + t);
      p.zero_grad();
      p.set_grad(g.clone());
      opt.step();
      NoGradGuard ng;  // the update as ten elementwise ops
      const float bc1 = 1.f - std::pow(0.9f, float(t)), bc2 = 1.f - std::pow(0.999f, float(t));
      Tensor gg = g;
      if (decoupled)
        q = mul(q, 1.f - 0.01f * 5e-4f);
      else
        gg = add(g, mul(q, 5e-4f));
      m = add(mul(m, 0.9f), mul(gg, 1.f - 0.9f));
      v = add(mul(v, 0.999f), mul(mul(gg, gg), 1.f - 0.999f));
      Tensor denom = add(mul(sqrt(v), 1.f / std::sqrt(bc2)), 1e-8f);
      q = sub(q, mul(div(m, denom), 0.01f / bc1));
      CHECK(p.to_vector() == q.to_vector());
    }
  }
}

TEST_CASE("SGD with momentum, MultiStepLR and gradient clipping") {
  Tensor p = leaf(Tensor::from_vector({1.f}, {1}));
  nn::SGD sgd({{"w", p}}, 0.1f, 0.9f);
  double w = 1, buf = 0;
  for (int t = 0; t < 3; ++t) {
    p.zero_grad();
    mul(p, p).backward(Tensor::ones({1}));
    sgd.step();
    double g = 2 * w;
    buf = t == 0 ? g : 0.9 * buf + g;
    w -= 0.1 * buf;
    CHECK(p.item() == doctest::Approx(w).epsilon(1e-6));
  }
  nn::MultiStepLR sched{1e-4f, {70000}, 0.1f, {}};
  CHECK(sched.lr_at(69999) == doctest::Approx(1e-4f));
  CHECK(sched.lr_at(70000) == doctest::Approx(1e-5f));
  nn::MultiStepLR two{1e-4f, {150000, 200000}, 0.1f, {}};
  CHECK(two.lr_at(200000) == doctest::Approx(1e-6f));
  nn::MultiStepLR ou{1e-4f, {150000, 200000}, 0.1f, {0.1f, 0.5f}};
  CHECK(ou.lr_at(199999) == doctest::Approx(1e-5f));
  CHECK(ou.lr_at(200000) == doctest::Approx(5e-6f));
  Tensor a = leaf(Tensor::zeros({2})), b = leaf(Tensor::zeros({1}));
  a.set_grad(Tensor::from_vector({3, 0}, {2}));
  b.set_grad(Tensor::from_vector({4}, {1}));
  CHECK(nn::clip_grad_norm({a, b}, 1.f) == doctest::Approx(5.f));
  CHECK(a.grad().to_vector()[0] == doctest::Approx(0.6f).epsilon(1e-5));
  CHECK(b.grad().to_vector()[0] == doctest::Approx(0.8f).epsilon(1e-5));
}

TEST_CASE("safetensors: bit-exact round trip, metadata, clear errors on bad files") {
  std::map<std::string, Tensor> t = {{"a.weight", uniform({3, 4}, 5)},
                                     {"n", Tensor::arange(3, DType::i64)},
                                     {"s", Tensor::full({}, 7, DType::i64)}};
  std::string path = "/tmp/rmgait_test.safetensors";
  formats::save_safetensors(path, t, {{"iteration", "42"}});
  auto f = formats::load_safetensors(path);
  CHECK(f.metadata.at("iteration") == "42");
  CHECK(f.tensors.at("a.weight").to_vector() == t["a.weight"].to_vector());
  CHECK(f.tensors.at("n").dtype() == DType::i64);
  CHECK(f.tensors.at("s").dim() == 0);
  // the layout: 8-byte length, JSON, data; header padded to 8 bytes
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | uint8_t(bytes[i]);
  CHECK(hlen % 8 == 0);
  CHECK(bytes.substr(8, 1) == "{");
  CHECK(bytes.size() == 8 + hlen + 12 * 4 + 3 * 8 + 8);
  // truncated
  std::ofstream(path + ".cut", std::ios::binary) << bytes.substr(0, bytes.size() - 10);
  CHECK_THROWS_WITH_AS(formats::load_safetensors(path + ".cut"), doctest::Contains("data_offsets"),
                       Error);
  std::ofstream(path + ".cut", std::ios::binary) << bytes.substr(0, 20);
  CHECK_THROWS_WITH_AS(formats::load_safetensors(path + ".cut"), doctest::Contains("exceeds the file"),
                       Error);
  // many tensors over one span of bytes (the format forbids overlapping data_offsets): each
  // would cost its own copy, so together they may hold at most the file's data
  {
    std::string h = "{";
    for (int i = 0; i < 100; ++i)
      h += (i ? "," : "") + std::string("\"t") + std::to_string(i) +
           R"(":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})";
    h += "}";
    std::string f(8, '\0');
    for (int i = 0; i < 8; ++i) f[size_t(i)] = char(h.size() >> (8 * i));
    std::ofstream(path + ".cut", std::ios::binary) << f + h + std::string(16, '\0');
    CHECK_THROWS_WITH_AS(formats::load_safetensors(path + ".cut"),
                         doctest::Contains("overlapping data_offsets"), Error);
  }
  std::string broken = bytes;
  broken[9] = '#';
  std::ofstream(path + ".cut", std::ios::binary) << broken;
  CHECK_THROWS_WITH_AS(formats::load_safetensors(path + ".cut"), doctest::Contains("not valid JSON"),
                       Error);
}
