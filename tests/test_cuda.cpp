// CPU-CUDA parity, ggml's test-backend-ops style: every op of the CPU suite runs on both
// backends from the same inputs; outputs and gradients are compared. Then a whole training step
// of the Inception-RMB model. Exits 77 (CTest SKIP_RETURN_CODE) when no GPU is usable.
#define DOCTEST_CONFIG_IMPLEMENT
#include <cstdio>

#include "engine/precision.h"
#include "gait/evaluator.h"
#include "gait/heads.h"
#include "gait/model.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "tests/op_cases.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

namespace {

struct Case {
  std::string name;
  std::vector<Tensor> inputs;  // CPU, requires_grad where a gradient is compared
  Fn f;
  double tol = 1e-4;
};

Tensor on(const Tensor& t, Device d) {
  Tensor c = t.detach().to(d).clone();
  if (t.requires_grad()) c.set_requires_grad(true);
  return c;
}

double max_rel_err(const Tensor& got, const Tensor& want) {
  std::vector<float> g = got.to_vector(), w = want.to_vector();
  REQUIRE(g.size() == w.size());
  double scale = 1e-6, err = 0;
  for (float v : w) scale = std::max(scale, double(std::fabs(v)));
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i]) != std::isnan(w[i])) return 1e30;
    err = std::max(err, std::fabs(double(g[i]) - double(w[i])) / scale);
  }
  return err;
}

void run_case(const Case& c) {
  CAPTURE(c.name);
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : c.inputs)
    cpu.push_back(on(t, Device::cpu)), gpu.push_back(on(t, Device::cuda));
  Tensor yc = c.f(cpu), yg = c.f(gpu);
  REQUIRE(yg.device() == Device::cuda);
  REQUIRE(yc.shape() == yg.shape());
  CHECK_MESSAGE(max_rel_err(yg, yc) <= c.tol, c.name << " forward: " << max_rel_err(yg, yc));
  if (!yc.requires_grad()) return;
  Tensor r = uniform(yc.shape(), 4242);
  yc.backward(r);
  yg.backward(r.to(Device::cuda));
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (!cpu[i].requires_grad()) continue;
    double e = max_rel_err(gpu[i].grad(), cpu[i].grad());
    CHECK_MESSAGE(e <= c.tol, c.name << " gradient of input " << i << ": " << e);
  }
}

Tensor leafu(const Shape& s, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  return leaf(uniform(s, seed, lo, hi));
}

}  // namespace

TEST_CASE("the op table: every record on CUDA against the CPU, forward and backward") {
  int checked = 0;
  for (const OpCase& c : op_cases()) {
    if (!c.cuda) continue;
    run_case({c.name, c.inputs, c.f, c.parity_tol});
    ++checked;
  }
  CHECK(checked >= 40);
}

TEST_CASE("every op: CUDA matches the CPU backend, forward and backward") {
  std::vector<Case> cases;
  Conv3dParams same{{1, 1, 1}, {1, 1, 1}}, odd{{1, 2, 2}, {0, 1, 1}}, lta{{3, 1, 1}, {0, 0, 0}};
  cases.push_back({"conv3d 3x3x3",
                   {leafu({2, 3, 5, 9, 7}, 1), leafu({4, 3, 3, 3, 3}, 2), leafu({4}, 3)},
                   [=](auto& in) { return conv3d(in[0], in[1], in[2], same); }});
  cases.push_back({"conv3d stride 2",
                   {leafu({1, 2, 4, 8, 7}, 4), leafu({5, 2, 2, 3, 3}, 5)},
                   [=](auto& in) { return conv3d(in[0], in[1], Tensor(), odd); }});
  Conv3dParams fused = same;
  fused.leaky_relu = true, fused.negative_slope = 0.01f;
  cases.push_back({"conv3d + fused leaky_relu",
                   {leafu({2, 3, 5, 9, 7}, 50), leafu({4, 3, 3, 3, 3}, 51)},
                   [=](auto& in) { return conv3d(in[0], in[1], Tensor(), fused); }});
  // bf16 on both backends: operands rounded to bf16 alike, sums in f32 in different orders.
  // bf16 keeps 8 significant bits (unit roundoff u = 2^-8); cuDNN writes y, gx and gw in bf16
  // (one rounding, u, where oneDNN writes f32), the gradient reaching the convolution is rounded
  // to bf16 on each side after different f32 sums (another u), and the f32 sums of up to 216
  // products run in different orders: 4u bounds them, relative to the largest element (an H200
  // measured 3.0u for the gradients, 2026-11-26).
  const double bf16_tol = 4.0 / 256;
  cases.push_back({"conv3d bf16 (+ bias, fused leaky_relu)",
                   {leafu({2, 8, 5, 9, 7}, 52), leafu({16, 8, 3, 3, 3}, 53), leafu({16}, 54)},
                   [=](auto& in) {
                     PrecisionGuard pg(Precision::bf16);
                     return conv3d(in[0], in[1], in[2], fused);
                   },
                   bf16_tol});
  // without a bias the gradient leaves the fused leaky_relu in bf16 and the kept input is a
  // bf16 copy (engine/ops/conv3d.cpp): the CUDA conv takes both as they are
  cases.push_back({"conv3d bf16 (fused leaky_relu, bf16 input and gradient)",
                   {leafu({2, 8, 5, 9, 7}, 57), leafu({16, 8, 3, 3, 3}, 58)},
                   [=](auto& in) {
                     PrecisionGuard pg(Precision::bf16);
                     return conv3d(mul(in[0], 1.f), in[1], Tensor(), fused);
                   },
                   bf16_tol});
  cases.push_back({"matmul bf16",
                   {leafu({4, 9, 40}, 55), leafu({4, 40, 6}, 56)},
                   [](auto& in) {
                     PrecisionGuard pg(Precision::bf16);
                     return matmul(in[0], in[1]);
                   },
                   bf16_tol});
  cases.push_back({"conv3d LTA",
                   {leafu({2, 4, 9, 6, 4}, 6), leafu({4, 4, 3, 1, 1}, 7)},
                   [=](auto& in) { return conv3d(in[0], in[1], Tensor(), lta); }});
  for (Shape s : {Shape{6, 3}, Shape{4, 3, 5}, Shape{2, 3, 4, 5}, Shape{2, 3, 3, 4, 5}}) {
    cases.push_back({"batch_norm train " + shape_str(s),
                     {leafu(s, 8, -2, 3), leafu({s[1]}, 9, 0.5f, 1.5f), leafu({s[1]}, 10)},
                     [=](auto& in) {
                       Tensor rm = Tensor::zeros({s[1]}, DType::f32, in[0].device());
                       Tensor rv = Tensor::ones({s[1]}, DType::f32, in[0].device());
                       Tensor y = batch_norm(in[0], in[1], in[2], rm, rv, true);
                       return cat({y.flatten(), rm, rv}, 0);  // running statistics too
                     }});
    cases.push_back({"batch_norm eval " + shape_str(s),
                     {leafu(s, 11), leafu({s[1]}, 12), leafu({s[1]}, 13)},
                     [=](auto& in) {
                       Tensor rm = uniform({s[1]}, 14).to(in[0].device());
                       Tensor rv = uniform({s[1]}, 15, 0.5f, 2.f).to(in[0].device());
                       return batch_norm(in[0], in[1], in[2], rm, rv, false);
                     }});
  }
  cases.push_back({"max_pool3d", {leaf(distinct({2, 3, 4, 8, 6}, 16))}, [](auto& in) {
                     return max_pool3d(in[0], {{1, 2, 2}, {1, 2, 2}, {0, 0, 0}});
                   }});
  cases.push_back({"max_pool3d padded", {leaf(distinct({1, 2, 5, 7, 9}, 17))}, [](auto& in) {
                     return max_pool3d(in[0], {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}});
                   }});
  cases.push_back({"max_pool3d ties", {leaf(quantized({2, 3, 4, 8, 6}, 39))}, [](auto& in) {
                     return max_pool3d(in[0], {{1, 2, 2}, {1, 2, 2}, {0, 0, 0}});
                   }});
  cases.push_back(
      {"max_pool3d ties overlapping", {leaf(quantized({1, 2, 6, 7, 9}, 40))}, [](auto& in) {
         return max_pool3d(in[0], {{2, 3, 3}, {1, 2, 1}, {1, 1, 1}});
       }});
  cases.push_back(
      {"max ties", {leaf(quantized({3, 4, 9}, 41))}, [](auto& in) { return max(in[0], {2}); }});
  cases.push_back({"matmul", {leafu({4, 5, 7}, 18), leafu({4, 7, 3}, 19)}, [](auto& in) {
                     return matmul(in[0], in[1]);
                   }});
  cases.push_back({"matmul aT broadcast",
                   {leafu({2, 3, 7, 5}, 20), leafu({1, 3, 7, 6}, 21)},
                   [](auto& in) { return matmul(in[0], in[1], true, false); }});
  cases.push_back({"matmul bT 2-d", {leafu({3, 5, 7}, 22), leafu({6, 7}, 23)}, [](auto& in) {
                     return matmul(in[0], in[1], false, true);
                   }});
  auto a = leafu({3, 1, 5}, 24, 0.5f, 2.f), b = leafu({4, 1}, 25, 0.5f, 2.f);
  cases.push_back({"add", {a, b}, [](auto& in) { return add(in[0], in[1]); }});
  cases.push_back({"sub", {a, b}, [](auto& in) { return sub(in[0], in[1]); }});
  cases.push_back({"mul", {a, b}, [](auto& in) { return mul(in[0], in[1]); }});
  cases.push_back({"div", {a, b}, [](auto& in) { return div(in[0], in[1]); }});
  cases.push_back({"pow", {a, b}, [](auto& in) { return pow(in[0], in[1]); }});
  cases.push_back({"maximum", {a, b}, [](auto& in) { return maximum(in[0], in[1]); }});
  cases.push_back({"minimum", {a, b}, [](auto& in) { return minimum(in[0], in[1]); }});
  auto x = leafu({3, 7, 5}, 26, 0.3f, 2.f);
  cases.push_back({"unary chain", {x}, [](auto& in) {
                     Tensor t = in[0];
                     return add(add(exp(t), log(t)), add(sqrt(t), add(pow(t, 6.5f), div(1.f, t))));
                   }});
  cases.push_back({"lrelu relu abs clamp", {leaf(away_from_zero({3, 7, 5}, 27))}, [](auto& in) {
                     Tensor t = in[0];
                     return add(add(leaky_relu(t), relu(t)), add(abs(t), clamp(t, -0.5f, 0.5f)));
                   }});
  cases.push_back({"where", {leafu({4, 5, 6}, 28), leafu({5, 1}, 29)}, [](auto& in) {
                     Tensor c = compare(BinaryOp::gt, uniform({4, 1, 6}, 30).to(in[0].device()),
                                        Tensor::zeros({}, DType::f32, in[0].device()));
                     return where(c, in[0], in[1]);
                   }});
  cases.push_back({"scalar ops", {x}, [](auto& in) {
                     Tensor t = in[0];
                     return add(add(neg(t), add(t, 0.25f)), add(mul(t, -3.f), sub(2.f, t)));
                   }});
  cases.push_back(
      {"compare ops", {leaf(quantized({4, 6}, 43)), leaf(quantized({1, 6}, 44))}, [](auto& in) {
         Tensor a = in[0], b = in[1];
         return cat({compare(BinaryOp::eq, a, b), compare(BinaryOp::ge, a, b),
                     compare(BinaryOp::lt, a, b), compare(BinaryOp::le, a, b)},
                    0);
       }});
  cases.push_back(
      {"dtype casts", {leafu({3, 7}, 45, -300.f, 300.f)}, [](auto& in) {
         Tensor t = in[0].detach();  // f32 -> i64 / i32 truncate; -> u8 of 0..255
         Tensor u = clamp(abs(t), 0.f, 255.f).to(DType::u8).to(DType::f32);
         return cat({t.to(DType::i64).to(DType::f32), t.to(DType::i32).to(DType::f32), u}, 0);
       }});
  cases.push_back({"gem_pool clamped",
                   {leafu({5, 3, 9}, 47, -0.5f, 2.f), leaf(Tensor::full({1}, 3.f))},
                   [](auto& in) { return gem_pool(in[0], in[1], 0.05f); }});
  cases.push_back({"GeM horizontal pooling",  // x and the learnable exponent p
                   {leafu({2, 4, 16, 11}, 46, -0.5f, 2.f), leaf(Tensor::full({1}, 6.5f))},
                   [](auto& in) {
                     gait::GeMHPP gem;
                     gem.p = in[1];
                     return gem.forward(in[0]);
                   }});
  cases.push_back({"mean_pairwise_distance",
                   {leafu({3, 7, 5}, 48), leafu({3, 6, 5}, 49)},
                   [](auto& in) { return mean_pairwise_distance(in[0], in[1]); }});
  auto d = leaf(distinct({3, 4, 5, 2}, 31));
  cases.push_back({"sum", {d}, [](auto& in) { return sum(in[0], {1, 3}); }});
  cases.push_back({"mean", {d}, [](auto& in) { return mean(in[0], {0}); }});
  cases.push_back({"max", {d}, [](auto& in) { return max(in[0], {2}); }});
  cases.push_back({"min total", {d}, [](auto& in) { return min(in[0]).reshape({1}); }});
  cases.push_back({"argmax", {d}, [](auto& in) { return argmax(in[0], 1).to(DType::f32); }});
  // Broadcasts, permutations and conditions over long innermost dims (a row-wise form of the
  // strided kernels ran these; kept for any other form)
  cases.push_back({"broadcast mul, long rows",
                   {leafu({3, 5, 300}, 52), leafu({1, 5, 1}, 53)},
                   [](auto& in) { return mul(in[0], in[1]); }});
  cases.push_back({"permuted copy, long rows", {leafu({300, 3, 5}, 54)}, [](auto& in) {
                     return in[0].permute({1, 2, 0}).contiguous();
                   }});
  cases.push_back({"where, long rows",
                   {leafu({2, 3, 280}, 55), uniform({2, 1, 280}, 56, -1.f, 1.f)},
                   [](auto& in) {
                     Tensor c = compare(BinaryOp::gt, in[1],
                                        Tensor::zeros({}, DType::f32, in[1].device()));
                     return where(c, in[0], mul(in[0], in[0]));
                   }});
  // Long rows, few of them: each row cut into chunks of 32768 whose partials a second kernel
  // merges. Integers: every sum is exact on both sides, so all four must match exactly. The
  // extremes sit at chunk edges and are tied across chunks: the first index must still win.
  const int64_t len = 200003, chunk = 32768;
  std::vector<float> lv = quantized({3, len}, 51).to_vector();
  for (int64_t i : {2 * chunk - 1, 2 * chunk, len - 1}) lv[size_t(i)] = 5.f;  // row 0: 65535
  for (int64_t i : {3 * chunk, 4 * chunk - 1, int64_t(70001)}) lv[size_t(len + i)] = 5.f;  // 70001
  lv[size_t(2 * len + len - 1)] = 5.f;  // row 2: its last element
  for (int64_t i : {7 * chunk, 8 * chunk - 1, 3 * len - 1})
    lv[size_t(i)] = -1.f;  // total: 7 * chunk
  auto longrows = leaf(Tensor::from_vector(lv, {3, len}));
  cases.push_back({"sum, long rows", {longrows}, [](auto& in) { return sum(in[0], {1}); }, 0.0});
  cases.push_back(
      {"max ties, long rows", {longrows}, [](auto& in) { return max(in[0], {1}); }, 0.0});
  cases.push_back(
      {"min ties, total", {longrows}, [](auto& in) { return min(in[0]).reshape({1}); }, 0.0});
  cases.push_back({"argmax ties, long rows",
                   {longrows},
                   [](auto& in) { return argmax(in[0], 1).to(DType::f32); },
                   0.0});
  cases.push_back(
      {"softmax", {leafu({3, 4, 700}, 32, -3, 3)}, [](auto& in) { return softmax(in[0], 2); }});
  cases.push_back({"log_softmax", {leafu({3, 4, 5}, 33, -3, 3)}, [](auto& in) {
                     return log_softmax(in[0], 1);
                   }});
  cases.push_back({"views and cat", {leafu({2, 3, 4}, 34)}, [](auto& in) {
                     Tensor t = in[0];
                     return cat({t.permute({2, 0, 1}).reshape({4, 6}),
                                 t.narrow(2, 1, 2).reshape({6, 2}).transpose(0, 1).reshape({2, 6})},
                                0);
                   }});
  cases.push_back({"index_select", {leafu({4, 6}, 35)}, [](auto& in) {
                     Tensor i = Tensor::empty({5}, DType::i64);
                     int64_t v[5] = {5, 0, 5, 2, 1};
                     std::copy(v, v + 5, i.data<int64_t>());
                     return index_select(in[0], 1, i.to(in[0].device()));
                   }});
  cases.push_back({"index_select host index", {leafu({5, 3, 4}, 42)}, [](auto& in) {
                     Tensor i = Tensor::empty({3}, DType::i64);  // stays on the CPU
                     int64_t v[3] = {4, 1, 2};
                     std::copy(v, v + 3, i.data<int64_t>());
                     return index_select(in[0], 0, i);
                   }});
  cases.push_back({"triplet loss", {leafu({8, 5, 3}, 36)}, [](auto& in) {
                     return nn::triplet_loss(in[0], {0, 0, 1, 1, 2, 2, 3, 3}).loss.reshape({1});
                   }});
  cases.push_back({"cross entropy", {leafu({4, 6, 3}, 37, -2, 2)}, [](auto& in) {
                     return nn::cross_entropy(in[0], {0, 5, 2, 2}, 0.1f).loss.reshape({1});
                   }});
  for (const Case& c : cases) run_case(c);
}

TEST_CASE("random numbers and masks are bit-identical on CPU and CUDA") {
  for (uint64_t seed : {0ull, 7ull, 123456789ull}) {
    Generator a(seed), b(seed);
    CHECK(rand({1000}, a, -2.f, 3.f).to_vector() ==
          rand({1000}, b, -2.f, 3.f, Device::cuda).to_vector());
    CHECK(bernoulli({64, 44}, 0.5f, a).to_vector() ==
          bernoulli({64, 44}, 0.5f, b, Device::cuda).to_vector());
    // normal goes through logf / cosf / sqrtf, whose last bits differ between libm and CUDA
    CHECK(max_rel_err(randn({1000}, b, 0.5f, 2.f, Device::cuda), randn({1000}, a, 0.5f, 2.f)) <=
          1e-5);
  }
}

TEST_CASE("f32 <-> bf16 casts are bit-identical on CPU and CUDA, contiguous and strided") {
  // random values, ties at every scale, denormals (to signed zeros), inf, NaN
  std::vector<float> v = uniform({4000}, 61, -3.f, 3.f).to_vector();
  for (int e = -130; e < 130; e += 3) {
    v.push_back(std::ldexp(1.f + std::ldexp(1.f, -8), e));       // a tie, down to even
    v.push_back(-std::ldexp(1.f + 3 * std::ldexp(1.f, -8), e));  // a tie, up to even
  }
  for (float f : {0.f, -0.f, INFINITY, -INFINITY, NAN, 3.4e38f, 1e-40f, -1e-40f}) v.push_back(f);
  if (v.size() % 2) v.push_back(1.f);
  const int64_t n = int64_t(v.size());
  Tensor x = Tensor::from_vector(v, {n});
  auto bits = [](const Tensor& b) {  // the bf16 bits of b, as u16 values in f32
    Tensor c = b.to(Device::cpu).contiguous();
    std::vector<float> out;
    for (int64_t i = 0; i < c.numel(); ++i) out.push_back(float(c.data<BFloat16>()[i].bits));
    return out;
  };
  Tensor xg = x.to(Device::cuda);
  CHECK(bits(xg.to(DType::bf16)) == bits(x.to(DType::bf16)));  // contiguous
  Tensor cols = x.reshape({n / 2, 2}).narrow(1, 1, 1),
         colsg = xg.reshape({n / 2, 2}).narrow(1, 1, 1);
  Tensor sc = Tensor::empty({n / 2, 1}, DType::bf16),
         sg = Tensor::empty({n / 2, 1}, DType::bf16, Device::cuda);
  sc.copy_(cols), sg.copy_(colsg);  // strided source
  CHECK(bits(sg) == bits(sc));
  // back to f32: exact on both
  std::vector<float> wc = x.to(DType::bf16).to(DType::f32).to_vector();
  std::vector<float> wg = xg.to(DType::bf16).to(DType::f32).to(Device::cpu).to_vector();
  REQUIRE(wc.size() == wg.size());
  for (size_t i = 0; i < wc.size(); ++i)
    CHECK((std::memcmp(&wc[i], &wg[i], 4) == 0 || (std::isnan(wc[i]) && std::isnan(wg[i]))));
  // the leaky_relu backward written in bf16 (a conv's gradient under bf16) rounds alike too
  Tensor gy = Tensor::from_vector(v, {n}), y = uniform({n}, 62);
  Tensor signs = Tensor::empty({(n + 7) / 8}, DType::u8), out = Tensor::empty({n}, DType::bf16);
  backend(Device::cpu).sign_bits(y, signs);
  backend(Device::cpu).leaky_relu_backward_bits(gy, signs, out, 0.01f);
  Tensor outg = Tensor::empty({n}, DType::bf16, Device::cuda);
  backend(Device::cuda)
      .leaky_relu_backward_bits(gy.to(Device::cuda), signs.to(Device::cuda), outg, 0.01f);
  // NaN * slope: x86 keeps the NaN's sign and payload, a GPU gives its canonical NaN; IEEE 754
  // leaves the payload open, so any NaN matches any NaN here (the cast above compares them bit
  // for bit, as no arithmetic comes between)
  std::vector<float> lo = bits(out), lg = bits(outg);
  REQUIRE(lo.size() == lg.size());
  auto is_nan = [](float b) { return (uint32_t(b) & 0x7f80u) == 0x7f80u && (uint32_t(b) & 0x7fu); };
  int64_t differ = 0, first = -1;
  for (size_t i = 0; i < lo.size(); ++i)
    if (lo[i] != lg[i] && !(is_nan(lo[i]) && is_nan(lg[i])))
      differ += 1, first = first < 0 ? int64_t(i) : first;
  const float gy_first = first < 0 ? 0.f : v[size_t(first)];
  const float cpu_first = first < 0 ? 0.f : lo[size_t(first)],
              cuda_first = first < 0 ? 0.f : lg[size_t(first)];
  CAPTURE(first);
  CAPTURE(gy_first);
  CAPTURE(cpu_first);  // bf16 bits
  CAPTURE(cuda_first);
  CHECK(differ == 0);
}

TEST_CASE("the fused Adam update on CUDA matches the CPU (L2 and decoupled decay)") {
  for (bool decoupled : {false, true}) {
    Tensor pc = leafu({3000}, 60), pg = on(pc, Device::cuda);
    nn::Adam oc({{"w", pc}}, 0.01f, 5e-4f, 0.9f, 0.999f, 1e-8f, decoupled),
        og({{"w", pg}}, 0.01f, 5e-4f, 0.9f, 0.999f, 1e-8f, decoupled);
    for (int t = 0; t < 3; ++t) {
      Tensor g = uniform({3000}, 61 + t);
      pc.set_grad(g.clone()), pg.set_grad(g.to(Device::cuda));
      oc.step(), og.step();
    }
    CHECK(max_rel_err(pg, pc) <= 1e-5);
  }
}

TEST_CASE("a whole Inception-RMB training step on CUDA matches the CPU") {
  gait::ModelConfig cfg;
  cfg.block = gait::BlockKind::inception;
  cfg.channels = {8, 16, 16};
  cfg.num_classes = 4;
  cfg.seed = 3;
  const Shape shape = {8, 12, 64, 44};
  const std::vector<int64_t> labels = {0, 0, 1, 1, 2, 2, 3, 3};
  // Grey values, then binary silhouettes (ties in the pooling windows of the background).
  std::vector<float> grey = uniform(shape, 38, 0.f, 1.f).to_vector(), binary = grey;
  for (float& v : binary) v = v > 0.6f ? 1.f : 0.f;
  for (const std::vector<float>* input : {&grey, &binary}) {
    CAPTURE(input == &binary);
    Tensor sils = Tensor::from_vector(*input, shape);
    gait::ReverseMaskModel cpu_model(cfg), gpu_model(cfg);
    gpu_model.to(Device::cuda);
    auto step = [&](gait::ReverseMaskModel& m, Device dev) {
      auto out = m.forward(sils.to(dev));
      Tensor loss = add(nn::triplet_loss(out.embedding, labels).loss,
                        nn::cross_entropy(out.logits, labels).loss);
      loss.backward();
      return loss;
    };
    Tensor lc = step(cpu_model, Device::cpu), lg = step(gpu_model, Device::cuda);
    CHECK(max_rel_err(lg, lc) <= 1e-4);
    auto pc = cpu_model.named_parameters(), pg = gpu_model.named_parameters();
    for (size_t i = 0; i < pc.size(); ++i) {
      CAPTURE(pc[i].first);
      CHECK(max_rel_err(pg[i].second.grad(), pc[i].second.grad()) <= 2e-3);
    }
  }
}

TEST_CASE(
    "a bf16 training step (Inception-RMB, GaitGL) on CUDA is as near the f32 step as the CPU's") {
  if (!backend(Device::cpu).has_bf16()) {
    MESSAGE("this CPU has no AVX512-BF16: no CPU bf16 step to compare with");
    return;
  }
  // A whole step amplifies bf16's rounding: at these shapes the CPU's bf16 gradients are 0.03 -
  // 0.16 (relative L2) from its f32 ones, as PyTorch's CPU autocast's are from its f32 step
  // (test_gait.cpp, tests/parity/bf16_grad_noise_torch.py). The GPU rounds other values (cuDNN
  // writes conv results in bf16, sums in other orders), so it is compared with the f32 step, not
  // the CPU's bf16 one: no further from it than twice the CPU's bf16 distance (root mean square
  // over the parameters; on an H100 1.10x for Inception, 1.25x for GaitGL), no parameter further
  // than twice the CPU's distance for it + 0.1 (the tightest on the H100: GaitGL's last local conv,
  // 0.207 against 0.357), and the loss within 8u. A gross error in one layer (a lost term, a wrong
  // scale) moves its parameter by ~1; finer errors are the per-op bf16 cases' job (4u).
  const double u = std::ldexp(1.0, -8);
  for (gait::BlockKind kind : {gait::BlockKind::inception, gait::BlockKind::gl}) {
    const std::string kind_name = gait::block_kind_name(kind);
    CAPTURE(kind_name);
    gait::ModelConfig cfg;
    cfg.block = kind;
    cfg.channels = {8, 16, 16};
    cfg.num_classes = 4;
    cfg.seed = 3;
    const std::vector<int64_t> labels = {0, 0, 1, 1, 2, 2, 3, 3};
    Tensor sils = uniform({8, 12, 64, 44}, 39, 0.f, 1.f);
    gait::ReverseMaskModel f32_model(cfg), cpu_model(cfg), gpu_model(cfg);
    gpu_model.to(Device::cuda);
    auto step = [&](gait::ReverseMaskModel& m, Device dev, Precision precision) {
      gait::ModelOutput out;
      {
        PrecisionGuard pg(precision);
        out = m.forward(sils.to(dev));
      }
      Tensor loss = add(nn::triplet_loss(out.embedding, labels).loss,
                        nn::cross_entropy(out.logits, labels).loss);
      loss.backward();
      return double(loss.to(Device::cpu).item());
    };
    const double lf = step(f32_model, Device::cpu, Precision::f32),
                 lc = step(cpu_model, Device::cpu, Precision::bf16),
                 lg = step(gpu_model, Device::cuda, Precision::bf16);
    MESSAGE("loss: f32 " << lf << ", CPU bf16 " << lc << ", CUDA bf16 " << lg);
    CHECK(std::fabs(lg - lf) <= 2 * std::fabs(lc - lf) + 8 * u * std::fabs(lf));
    auto pf = f32_model.named_parameters(), pc = cpu_model.named_parameters(),
         pg = gpu_model.named_parameters();
    double cpu_ms = 0, gpu_ms = 0;
    for (size_t i = 0; i < pf.size(); ++i) {
      CAPTURE(pf[i].first);
      const Tensor& want = pf[i].second.grad();
      const double ec = rel_l2(pc[i].second.grad(), want), eg = rel_l2(pg[i].second.grad(), want);
      MESSAGE(pf[i].first << ": relative L2 from f32, CPU bf16 " << ec << ", CUDA bf16 " << eg);
      CHECK(eg <= 2 * ec + 0.1);
      cpu_ms += ec * ec / double(pf.size()), gpu_ms += eg * eg / double(pf.size());
    }
    MESSAGE("root mean square: CPU bf16 " << std::sqrt(cpu_ms) << ", CUDA bf16 "
                                          << std::sqrt(gpu_ms));
    CHECK(std::sqrt(gpu_ms) <= 2 * std::sqrt(cpu_ms));
  }
}

TEST_CASE("the evaluator scores CUDA embeddings as it scores CPU ones") {
  // 4 subjects x 3 views: 2 gallery (nm) and 1 probe (cl) sequence each; the distances are
  // computed on the embeddings' device, in tiles of a small bound
  std::vector<gait::EvalSample> samples;
  for (int s = 0; s < 4; ++s)
    for (const char* v : {"000", "090", "180"}) {
      samples.push_back({"S" + std::to_string(s), v, true, ""});
      samples.push_back({"S" + std::to_string(s), v, true, ""});
      samples.push_back({"S" + std::to_string(s), v, false, "cl"});
    }
  Tensor emb = uniform({int64_t(samples.size()), 8, 4}, 77);
  for (auto kind : {gait::Distance::per_part_mean, gait::Distance::flattened}) {
    gait::EvalTable c = gait::rank1_excluding_identical_view(emb, samples, kind, 4096);
    gait::EvalTable g =
        gait::rank1_excluding_identical_view(emb.to(Device::cuda), samples, kind, 4096);
    CHECK(gait::format_table(c) == gait::format_table(g));
  }
}

int main(int argc, char** argv) {
  if (!device_available(Device::cuda)) {
    std::printf("test_cuda: no usable CUDA device (or no CUDA in this build): skipped\n");
    return 77;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
