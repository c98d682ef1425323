// Tensor basics: factories, views sharing storage, contiguity, conversions, printing.
#include <sstream>

#include "engine/ops.h"
#include "engine/profile.h"
#include "engine/strided_view.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

TEST_CASE("factories and element access") {
  CHECK(Tensor::zeros({2, 3}).to_vector() == std::vector<float>(6, 0.f));
  CHECK(Tensor::ones({4}).to_vector() == std::vector<float>(4, 1.f));
  CHECK(Tensor::full({2}, 2.5).to_vector() == std::vector<float>{2.5f, 2.5f});
  CHECK(Tensor::arange(4).to_vector() == std::vector<float>{0, 1, 2, 3});
  Tensor i = Tensor::arange(5, DType::i64);
  CHECK(i.dtype() == DType::i64);
  CHECK(i.data<int64_t>()[4] == 4);
  CHECK(Tensor::scalar(3.f).item() == 3.f);
  CHECK(Tensor::scalar(3.f).dim() == 0);
  Tensor t = Tensor::empty({3, 5});
  CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % 64 == 0);  // 64-byte aligned
}

TEST_CASE("views share storage and contiguous() copies only when needed") {
  Tensor t = Tensor::arange(24).reshape({2, 3, 4});
  Tensor p = t.permute({2, 0, 1});
  CHECK(p.storage() == t.storage());
  CHECK(!p.is_contiguous());
  CHECK(p.shape() == Shape{4, 2, 3});
  Tensor pc = p.contiguous();
  CHECK(pc.storage() != t.storage());
  CHECK(pc.to_vector()[1] == 4.f);  // p[0, 0, 1] = t[0, 1, 0]
  CHECK(pc.to_vector()[2] == 8.f);  // p[0, 0, 2] = t[0, 2, 0]
  Tensor n = t.narrow(2, 1, 2);
  CHECK(n.storage() == t.storage());
  CHECK(n.to_vector() == std::vector<float>{1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22});
  n.fill_(-1);  // writes through the view
  CHECK(t.to_vector()[1] == -1.f);
  CHECK(t.to_vector()[3] == 3.f);
  Tensor u = t.unsqueeze(0);
  CHECK(u.shape() == Shape{1, 2, 3, 4});
  CHECK(u.squeeze(0).shape() == t.shape());
  Tensor e = Tensor::arange(3).reshape({3, 1}).expand({3, 4});
  CHECK(e.strides()[1] == 0);
  CHECK(e.contiguous().to_vector() == std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
  CHECK(t.view({6, -1}).shape() == Shape{6, 4});
  CHECK(t.flatten(1).shape() == Shape{2, 12});
  CHECK(t.select(1, 2).shape() == Shape{2, 4});
  CHECK(t.transpose(0, 2).reshape({24}).to_vector()[1] == 12.f);
}

// Every element of v as naive indexing of its logical shape reads it from storage.
static std::vector<float> read_naively(const Tensor& v) {
  const float* base = static_cast<const float*>(v.storage()->data());
  std::vector<float> out;
  Shape idx(v.dim(), 0);
  for (int64_t i = 0; i < v.numel(); ++i) {
    int64_t off = v.offset();
    for (int64_t d = 0; d < v.dim(); ++d) off += idx[d] * v.strides()[d];
    out.push_back(base[off]);
    for (int64_t d = v.dim() - 1; d >= 0 && ++idx[d] == v.size(d); --d) idx[d] = 0;
  }
  return out;
}

TEST_CASE("view splits and merges dims that memory walks as one block, whatever the strides") {
  Tensor t = Tensor::arange(2 * 4 * 5 * 3).reshape({2, 4, 5, 3});  // memory [N, H, W, C]
  Tensor cl = t.permute({0, 3, 1, 2});  // logical [2, 3, 4, 5], channels innermost in memory
  CHECK(cl.strides() == Shape{60, 1, 15, 3});
  const std::vector<float> logical = cl.contiguous().to_vector();
  // merging H and W (one block of stride 3) and splitting them differently
  Tensor m = cl.view({2, 3, 20});
  CHECK(m.storage() == t.storage());
  CHECK(m.strides() == Shape{60, 1, 3});
  CHECK(read_naively(m) == logical);
  Tensor sp = m.view({2, 3, 2, 10});
  CHECK(sp.strides() == Shape{60, 1, 30, 3});
  CHECK(read_naively(sp) == logical);
  CHECK(read_naively(cl.view({2, 1, 3, 20, 1})) == logical);
  // N and C, or C and H, are not one block
  CHECK_THROWS_WITH_AS(cl.view({6, 4, 5}), doctest::Contains("without a copy"), Error);
  CHECK_THROWS_WITH_AS(cl.view({2, 60}), doctest::Contains("without a copy"), Error);
  // reshape views where it can, copies where it cannot, same values either way
  CHECK(cl.reshape({2, 3, 20}).storage() == t.storage());
  Tensor r = cl.reshape({6, 4, 5});
  CHECK(r.storage() != t.storage());
  CHECK(r.to_vector() == logical);
  CHECK(cl.reshape({2, 3, -1}).shape() == Shape{2, 3, 20});
  // a broadcast dim cannot merge with its neighbour
  Tensor e = Tensor::arange(3).reshape({1, 3}).expand({4, 3});
  CHECK_THROWS_WITH_AS(e.view({12}), doctest::Contains("without a copy"), Error);
  CHECK(e.reshape({12}).to_vector() == std::vector<float>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2});
  // a narrowed view keeps its offset
  Tensor n = cl.narrow(0, 1, 1).view({3, 20});
  CHECK(n.offset() == 60);
  CHECK(read_naively(n) == cl.narrow(0, 1, 1).contiguous().to_vector());
  // gradients reach the base through a strided view
  Tensor a = Tensor::arange(24).reshape({2, 4, 3}).set_requires_grad();
  Tensor w = Tensor::arange(24).reshape({2, 3, 2, 2});
  Tensor v = a.permute({0, 2, 1}).view({2, 3, 2, 2});
  CHECK(v.strides() == Shape{12, 1, 6, 3});
  sum(mul(v, w)).backward();
  CHECK(a.grad().to_vector() == w.view({2, 3, 4}).permute({0, 2, 1}).contiguous().to_vector());
}

TEST_CASE("dense_order names the memory order of dense tensors only") {
  using Order = std::vector<int64_t>;
  Tensor t = Tensor::zeros({2, 3, 4, 5});
  CHECK(*dense_order(t.shape(), t.strides()) == Order{0, 1, 2, 3});
  Tensor cl = t.permute({0, 2, 3, 1});  // logical [2, 4, 5, 3], memory [2, 3, 4, 5]
  CHECK(*dense_order(cl.shape(), cl.strides()) == Order{0, 3, 1, 2});
  CHECK(strides_in_order(cl.shape(), {0, 3, 1, 2}) == cl.strides());
  CHECK(strides_in_order(t.shape(), {0, 1, 2, 3}) == t.strides());
  // size-1 dims follow the dim before them logically
  Tensor u = cl.unsqueeze(2);  // [2, 4, 1, 5, 3]
  CHECK(*dense_order(u.shape(), u.strides()) == Order{0, 4, 1, 2, 3});
  CHECK(*dense_order({1, 3, 1}, {7, 1, 9}) == Order{0, 1, 2});
  CHECK(!dense_order(t.narrow(1, 0, 2).shape(), t.narrow(1, 0, 2).strides()));  // gaps
  Tensor e = Tensor::zeros({3, 1}).expand({3, 4});
  CHECK(!dense_order(e.shape(), e.strides()));  // a broadcast dim
}

TEST_CASE("dtype conversion and copies") {
  Tensor f = Tensor::from_vector({0.f, 1.7f, 255.f}, {3});
  Tensor u = f.to(DType::u8);
  CHECK(u.dtype() == DType::u8);
  CHECK(u.data<uint8_t>()[1] == 1);
  CHECK(u.to(DType::f32).to_vector() == std::vector<float>{0, 1, 255});
  Tensor c = f.clone();
  c.fill_(0);
  CHECK(f.to_vector()[2] == 255.f);
  Tensor dst = Tensor::zeros({2, 3});
  dst.copy_(Tensor::from_vector({1, 2, 3}, {3}));  // broadcasting copy
  CHECK(dst.to_vector() == std::vector<float>{1, 2, 3, 1, 2, 3});
  CHECK(f.to(Device::cpu).storage() == f.storage());
}

TEST_CASE("printing names dtype, device, shape and values") {
  std::ostringstream os;
  os << Tensor::arange(6).reshape({2, 3});
  CHECK(os.str().find("Tensor(f32, cpu, [2, 3])") == 0);
  CHECK(os.str().find("3 4 5") != std::string::npos);
}

TEST_CASE("to(cuda) without a CUDA backend is a clear error") {
  if (device_available(Device::cuda)) return;
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}).to(Device::cuda),
                       doctest::Contains("no allocator for device cuda"), Error);
}

TEST_CASE("strided_view merges dims and gives every operand's offsets, as naive indexing does") {
  Tensor base = uniform({4, 3, 5, 6}, 1);
  struct Case {
    Tensor a, b;
    int merged_dims;  // dims left after dropping 1s and merging
  } cases[] = {
      {base, base.clone(), 1},                                          // dense: one flat dim
      {base.permute({0, 2, 1, 3}), base.clone(), 4},                    // a permuted
      {base.narrow(2, 1, 3), uniform({4, 3, 3, 6}, 2), 2},              // a cropped in dim 2
      {uniform({1, 1, 5, 6}, 3).expand({4, 3, 5, 6}), base, 2},         // broadcast [H, W]
      {uniform({4, 3, 1, 1}, 4).expand({4, 3, 5, 6}), base, 2},         // broadcast [N, C]
      {uniform({1}, 5).expand({6, 3, 5, 4}), base.transpose(0, 3), 3},  // scalar, transposed
  };
  for (const Case& c : cases) {
    const Shape& shape = c.b.shape();
    const Tensor &av = c.a, &bv = c.b;
    const Tensor* ops[2] = {&av, &bv};
    Strided<2> g = strided_view<2>(shape, ops);
    CHECK(g.nd == c.merged_dims);
    CHECK(g.n == numel_of(shape));
    for (int64_t i = 0; i < g.n; ++i) {
      int64_t got[2], want[2] = {av.offset(), bv.offset()}, rem = i;
      g.offsets(i, got);
      for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
        int64_t pos = rem % shape[d];
        rem /= shape[d];
        want[0] += pos * av.strides()[d], want[1] += pos * bv.strides()[d];
      }
      REQUIRE(got[0] == want[0]);
      REQUIRE(got[1] == want[1]);
      uint32_t got32[2];  // the GPU kernels' 32-bit arithmetic, where the geometry fits
      g.offsets(uint32_t(i), got32);
      REQUIRE(got32[0] == want[0]);
      REQUIRE(got32[1] == want[1]);
    }
    CHECK(g.fits_32bit());
  }
  // the 32-bit form is refused where an index or an offset reaches 2^31
  Strided<2> g = strided_view<2>({4, 3, 5, 6}, {&base, &base});
  g.offset[1] = (int64_t(1) << 31) - 360;  // the last element of b at 2^31 - 1
  CHECK(g.fits_32bit());
  g.offset[1] += 1;
  CHECK_FALSE(g.fits_32bit());
  g = strided_view<2>({4, 3, 5, 6}, {&base, &base});
  g.n = g.shape[0] = int64_t(1) << 31;
  g.stride[0][0] = g.stride[1][0] = 0;
  CHECK_FALSE(g.fits_32bit());
}

TEST_CASE("CPU block cache: reuses a larger block, holds at most twice the peak in use") {
  release_cached_cpu_memory();
  const size_t mib = size_t(1) << 20;
  size_t cached0 = cpu_memory_stats().cached;
  { Tensor a = Tensor::empty({int64_t(8 * mib / 4)}); }
  CHECK(cpu_memory_stats().cached >= cached0 + 8 * mib);
  {
    Tensor b = Tensor::empty({int64_t(6 * mib / 4)});  // fits the cached 8 MiB block
    CHECK(cpu_memory_stats().cached < cached0 + 8 * mib);
  }
  // 1.2 GiB of sizes that never coexist: the cache must give blocks back, not keep them all
  size_t freed = 0;
  for (int64_t m = 1; m <= 48; ++m) {
    Tensor t = Tensor::empty({m * int64_t(mib) / 4 + 17});
    CpuMemoryStats s = cpu_memory_stats();
    CHECK(s.in_use + s.cached <= 2 * s.high_water);
    freed += size_t(m) * mib;
  }
  CpuMemoryStats s = cpu_memory_stats();
  CHECK(s.cached < freed);
  release_cached_cpu_memory();
  CHECK(cpu_memory_stats().cached == 0);
}

TEST_CASE("backends: one kernel list, names tied to it, a clear error for a missing kernel") {
  CHECK(std::string(kernel_name(Kernel::copy)) == "copy");
  CHECK(std::string(kernel_name(Kernel::conv3d_forward)) == "conv3d_forward");
  CHECK(std::string(kernel_name(Kernel::random)) == "random");
  CHECK(std::string(unary_op_name(UnaryOp::leaky_relu)) == "leaky_relu");
  CHECK(std::string(binary_op_name(BinaryOp::le)) == "le");
  // a backend that implements nothing but what it must still builds, and says what it lacks
  struct Bare : Backend {
    Device device() const override { return Device::cuda; }
    bool has_bf16() const override { return false; }
  } bare;
  Tensor t = Tensor::zeros({2});
  CHECK_THROWS_WITH_AS(bare.fill(t, 1.0), doctest::Contains("fill is not supported on cuda"),
                       Error);
  CHECK_THROWS_WITH_AS(bare.conv3d_forward(t, t, Tensor(), t, {}),
                       doctest::Contains("conv3d_forward is not supported on cuda"), Error);
}

TEST_CASE("a kernel profile times each kernel while it lives, then steps aside") {
  Tensor x = Tensor::ones({1, 2, 3, 4, 4}), w = Tensor::ones({3, 2, 1, 3, 3});
  Conv3dParams p;
  p.padding = {0, 1, 1};
  Tensor before = conv3d(x, w, Tensor(), p);
  {
    KernelProfile prof(Device::cpu);
    Tensor y = conv3d(x, w, Tensor(), p);
    Tensor z = add(y, y);
    CHECK(prof[Kernel::conv3d_forward].calls == 1);
    CHECK(prof[Kernel::conv3d_forward].seconds > 0);
    CHECK(prof[Kernel::binary].calls == 1);
    CHECK(prof[Kernel::matmul].calls == 0);
    CHECK(y.to_vector() == before.to_vector());  // timing changes nothing computed
    CHECK_THROWS_WITH_AS(KernelProfile(Device::cpu), doctest::Contains("already being profiled"),
                         Error);
    prof.reset();
    CHECK(prof[Kernel::conv3d_forward].calls == 0);
  }
  KernelProfile again(Device::cpu);  // the first one gave the backend back
  conv3d(x, w, Tensor(), p);
  CHECK(again[Kernel::conv3d_forward].calls == 1);
}

// A channels-last [2, 3, 4, 5] tensor (memory [N, H, W, C]) with the values of `plain`.
static Tensor channels_last(const Tensor& plain) {
  return plain.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});
}

TEST_CASE("elementwise results keep a channels-last operand's layout, values and gradients") {
  const Tensor a0 = away_from_zero({2, 3, 4, 5}, 1), b0 = away_from_zero({2, 3, 4, 5}, 2);
  const Tensor c0 = away_from_zero({1, 3, 1, 1}, 3);
  const Shape cl_strides = channels_last(a0).strides();
  REQUIRE(cl_strides == Shape{60, 1, 15, 3});
  using Fn = std::function<Tensor(const Tensor&, const Tensor&)>;
  const std::vector<std::pair<const char*, Fn>> cases = {
      {"exp", [](auto& a, auto&) { return exp(a); }},
      {"leaky_relu", [](auto& a, auto&) { return leaky_relu(a, 0.1f); }},
      {"relu", [](auto& a, auto&) { return relu(a); }},
      {"add scalar", [](auto& a, auto&) { return add(a, 2.f); }},
      {"add", [](auto& a, auto& b) { return add(a, b); }},
      {"mul", [](auto& a, auto& b) { return mul(a, b); }},
      {"div, plain first operand", [](auto& a, auto& b) { return div(b.contiguous(), a); }},
      {"mul by a broadcast channel scale", [&](auto& a, auto&) { return mul(a, c0); }},
      {"maximum", [](auto& a, auto& b) { return maximum(a, b); }},
      {"where", [](auto& a, auto& b) { return where(compare(BinaryOp::gt, a, b), a, b); }},
  };
  for (const auto& [name, f] : cases) {
    CAPTURE(name);
    Tensor ap = leaf(a0), bp = leaf(b0), ac = channels_last(a0), bc = channels_last(b0);
    ac.set_requires_grad(true);
    bc.set_requires_grad(true);
    Tensor yp = f(ap, bp), yc = f(ac, bc);
    CHECK(yc.strides() == cl_strides);
    CHECK(yc.to_vector() == yp.to_vector());
    Tensor w = away_from_zero({2, 3, 4, 5}, 4);
    sum(mul(yp, w)).backward();
    sum(mul(yc, w)).backward();
    CHECK(ac.grad().to_vector() == ap.grad().to_vector());
    if (bp.grad().defined()) CHECK(bc.grad().to_vector() == bp.grad().to_vector());
  }
  // conversions keep it too, and so do the bf16 copies the convs keep
  Tensor h = channels_last(a0).to(DType::bf16);
  CHECK(h.strides() == cl_strides);
  CHECK(h.to(DType::f32).strides() == cl_strides);
  CHECK(h.to(DType::f32).to_vector() == a0.to(DType::bf16).to(DType::f32).to_vector());
  CHECK(bf16_copy(channels_last(a0)).strides() == cl_strides);
  // a tensor that is not dense gives a plain result
  CHECK(exp(channels_last(a0).narrow(2, 1, 2)).is_contiguous());
  // expanded over a new leading dim (ReverseMask's pair, [2, N, C, H, W] by [2, 1, 1, 1, 1]):
  // the new dim goes outermost, and the pair views as a channels-last batch of 2 N
  Tensor pair =
      mul(channels_last(a0).unsqueeze(0), Tensor::from_vector({2.f, 3.f}, {2, 1, 1, 1, 1}));
  Tensor batch = pair.view({4, 3, 4, 5});
  CHECK(batch.strides() == Shape{60, 1, 15, 3});
  CHECK(batch.to_vector() == mul(a0.unsqueeze(0), Tensor::from_vector({2.f, 3.f}, {2, 1, 1, 1, 1}))
                                 .view({4, 3, 4, 5})
                                 .to_vector());
  // cat of channels-last tensors is channels-last (each copied into its slice as it lies)
  Tensor ca = channels_last(a0), cb = channels_last(b0);
  ca.set_requires_grad(true);
  Tensor joined = cat({ca, cb}, 2);
  CHECK(joined.strides() == strides_in_order({2, 3, 8, 5}, {0, 2, 3, 1}));
  CHECK(joined.to_vector() == cat({a0, b0}, 2).to_vector());
  sum(mul(joined, distinct({2, 3, 8, 5}, 9))).backward();
  CHECK(ca.grad().to_vector() ==
        distinct({2, 3, 8, 5}, 9).narrow(2, 0, 4).contiguous().to_vector());
  CHECK(cat({ca, b0}, 2).is_contiguous());  // layouts that differ: row-major
  // a row-major operand broadcast over a middle dim sets no order
  CHECK(mul(Tensor::ones({2, 1, 4, 5}), a0).is_contiguous());
  CHECK(mul(Tensor::ones({2, 1, 4, 5}).expand({2, 3, 4, 5}), a0).is_contiguous());
}

TEST_CASE("reductions of a channels-last tensor keep its layout, values and gradients") {
  const Tensor x0 = distinct({2, 3, 4, 5}, 5);
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&)> f;
    Shape strides;  // of the channels-last result
  };
  const std::vector<Case> cases = {
      {"sum over N", [](auto& x) { return sum(x, {0}); }, {1, 15, 3}},
      {"sum over N, keepdim", [](auto& x) { return sum(x, {0}, true); }, {60, 1, 15, 3}},
      {"sum over C", [](auto& x) { return sum(x, {1}); }, {20, 5, 1}},
      {"sum over H, W",
       [](auto& x) {
         return sum(x, {2, 3});
       },
       {3, 1}},
      {"max over H", [](auto& x) { return max(x, {2}); }, {15, 1, 3}},
      {"min over W, keepdim", [](auto& x) { return min(x, {3}, true); }, {12, 1, 3, 3}},
      {"mean over N, H",
       [](auto& x) {
         return mean(x, {0, 2});
       },
       {1, 3}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Tensor xp = leaf(x0), xc = channels_last(x0);
    xc.set_requires_grad(true);
    Tensor yp = c.f(xp), yc = c.f(xc);
    CHECK(yc.shape() == yp.shape());
    CHECK(yc.strides() == c.strides);
    CHECK(yc.to_vector() == yp.to_vector());
    Tensor w = distinct(yp.shape(), 6);
    sum(mul(yp, w)).backward();
    sum(mul(yc, w)).backward();
    CHECK(xc.grad().to_vector() == xp.grad().to_vector());
  }
  CHECK(argmax(channels_last(x0), 1).to_vector() == argmax(x0, 1).to_vector());
  CHECK_THROWS_WITH_AS(sum(channels_last(x0), {1, -3}), doctest::Contains("sum: dim 1 given twice"),
                       Error);
  // the RMFE pair's sum: [2, N, C, H, W] laid out [2, N, H, W, C], over the pair
  Tensor pair = distinct({2, 2, 3, 4, 5}, 7).permute({0, 1, 3, 4, 2}).contiguous();
  Tensor pc = pair.permute({0, 1, 4, 2, 3});
  pc.set_requires_grad(true);
  Tensor s = sum(pc, {0});
  CHECK(s.strides() == Shape{60, 1, 15, 3});
  CHECK(s.to_vector() == sum(pc.contiguous(), {0}).to_vector());
  sum(mul(s, distinct(s.shape(), 8))).backward();
  CHECK(pc.grad().to_vector() ==
        distinct(s.shape(), 8).unsqueeze(0).expand(pc.shape()).contiguous().to_vector());
}
