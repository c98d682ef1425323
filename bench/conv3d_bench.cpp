// conv3d forward + backward on the paper's shapes, against this machine's measured peak: f32 FMA,
// or for bf16 (bf16 operands, f32 results, as under --precision bf16) AVX512-BF16 dot products
// (on CPUs with AMX, oneDNN runs bf16 on AMX tiles, whose peak is higher: the % can pass 100, and
// oneDNN's bf16 matmul rate is printed as the practical yardstick).
// winograd: f32 as Winograd F(4x4, 3x3) (engine/precision.h; the % counts the direct conv's FLOPs).
// Usage: bench_conv3d [N=4] [repeats=5] [f32|bf16|winograd] [CI,T,H,W,CO ...]
// Shapes (k3, s1, p1): the paper's three unless CI,T,H,W,CO are given, e.g. 1,30,64,44,32 for
// the first layer of the models (one silhouette channel).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "bench/peak.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/precision.h"
#include "engine/random.h"

using namespace rmgait;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Shape5 {
  std::string name;
  Shape x, w;
};

// "CI,T,H,W,CO" -> the conv [n, CI, T, H, W] -> CO with 3x3x3 weights; false when malformed or
// when a size is outside [1, 65536] or the input or output passes 2^31 elements (checked in
// doubles, which cannot overflow here).
bool parse_shape(const char* spec, int64_t n, Shape5& out) {
  int64_t v[5];
  const char* p = spec;
  for (int i = 0; i < 5; ++i) {
    if (i > 0 && *p++ != ',') return false;
    if (*p < '0' || *p > '9') return false;
    char* end = nullptr;
    errno = 0;
    const long long d = std::strtoll(p, &end, 10);
    if (errno != 0 || d < 1 || d > 65536) return false;
    v[i] = d, p = end;
  }
  if (*p != '\0') return false;
  out.x = {n, v[0], v[1], v[2], v[3]};
  out.w = {v[4], v[0], 3, 3, 3};
  const double frames = double(n) * double(v[1]) * double(v[2]) * double(v[3]);
  if (frames * double(std::max(v[0], v[4])) > 2147483648.0) return false;
  out.name = shape_str(out.x) + " -> " + std::to_string(v[4]);
  return true;
}

// The rate of oneDNN's bf16 matmul (bf16 operands, f32 results) on 2048^3, best of 5: on CPUs
// with AMX it runs on the tiles, and is the practical bf16 yardstick where AMX passes the
// dot-product peak.
double bf16_matmul_rate() {
  using dnnl::memory;
  const memory::dim m = 2048;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  const memory::desc a({m, m}, memory::data_type::bf16, memory::format_tag::ab),
      b({m, m}, memory::data_type::bf16, memory::format_tag::any),
      c({m, m}, memory::data_type::f32, memory::format_tag::ab);
#if DNNL_VERSION_MAJOR >= 3
  dnnl::matmul::primitive_desc pd(eng, a, b, c);
#else
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), eng);
#endif
  dnnl::matmul mm(pd);
  memory am(a, eng), bm(pd.weights_desc(), eng), cm(c, eng);
  std::memset(am.get_data_handle(), 0x3f, a.get_size());  // bf16 0.75 throughout
  std::memset(bm.get_data_handle(), 0x3f, pd.weights_desc().get_size());
  double best = 1e30;
  for (int r = 0; r < 6; ++r) {
    const auto t0 = Clock::now();
    mm.execute(st, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    st.wait();
    if (r) best = std::min(best, seconds_since(t0));
  }
  return 2.0 * double(m) * double(m) * double(m) / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 4;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string precision = argc > 3 ? argv[3] : "f32";
  std::vector<Shape5> shapes;
  bool ok = n >= 1 && n <= 65536 && repeats >= 1 &&
            (precision == "f32" || precision == "bf16" || precision == "winograd");
  for (int i = 4; ok && i < argc; ++i) {
    shapes.emplace_back();
    if (!parse_shape(argv[i], n, shapes.back())) {
      std::fprintf(stderr,
                   "bench_conv3d: shape '%s' is not CI,T,H,W,CO (integers in [1, 65536], the input "
                   "and output at most 2^31 elements)\n",
                   argv[i]);
      return 2;
    }
  }
  if (!ok) {
    std::fprintf(stderr,
                 "usage: bench_conv3d [1 <= N <= 65536] [repeats >= 1] [f32|bf16|winograd] "
                 "[CI,T,H,W,CO ...]\n");
    return 2;
  }
  if (shapes.empty())
    shapes = {
        {"[N,32,10,64,44] -> 64", {n, 32, 10, 64, 44}, {64, 32, 3, 3, 3}},
        {"[N,64,10,32,22] -> 128", {n, 64, 10, 32, 22}, {128, 64, 3, 3, 3}},
        {"[N,128,10,32,22] -> 128", {n, 128, 10, 32, 22}, {128, 128, 3, 3, 3}},
    };
  const bool bf16 = precision == "bf16";
  if (bf16 && !bench::has_avx512_bf16()) {
    std::fprintf(stderr, "bench_conv3d: bf16 needs AVX512-BF16, which this CPU lacks\n");
    return 2;
  }
  const double peak = bench::measure_peak(bf16);
  std::printf("threads %d, %s, measured %s peak %.1f GFLOP/s (%s)\n", omp_get_max_threads(),
              precision.c_str(), bf16 ? "bf16 dot-product" : "f32 FMA", peak,
              __builtin_cpu_supports("avx512f") ? "AVX-512" : "AVX2");
  if (bf16)
    std::printf("bf16 matmul (oneDNN, bf16 in, f32 out): %.1f GFLOP/s\n", bf16_matmul_rate());
  std::printf("%-28s %10s %10s %10s %10s %10s %8s\n", "shape (k3, s1, p1)", "fwd ms", "bwd-d ms",
              "bwd-w ms", "total ms", "GFLOP/s", "% peak");
  const bool winograd = precision == "winograd";
  PrecisionGuard guard(bf16 ? Precision::bf16 : Precision::f32);  // the forward's precision
  ConvAlgorithmGuard algorithm(winograd ? ConvAlgorithm::winograd : ConvAlgorithm::direct);
  Generator gen(1);
  for (const Shape5& s : shapes) {
    Tensor x = rand(s.x, gen, -1, 1), w = rand(s.w, gen, -0.1f, 0.1f);
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    Conv3dParams p{{1, 1, 1}, {1, 1, 1}};
    p.bf16 = bf16;
    p.winograd = winograd;
    double flops = 2.0 * numel_of(s.x) / s.x[1] * s.w[0] * s.w[1] * 27;  // one pass
    std::vector<double> tf, td, tw;
    for (int r = 0; r < repeats + 1; ++r) {  // first run warms caches and primitives
      x.zero_grad(), w.zero_grad();
      auto t0 = Clock::now();
      Tensor y;
      {
        NoGradGuard ng;
        y = conv3d(x, w, Tensor(), p);
      }
      double f = seconds_since(t0);
      Tensor gy = Tensor::ones(y.shape()), gx = Tensor::empty(s.x), gw = Tensor::empty(s.w);
      t0 = Clock::now();
      backend(Device::cpu).conv3d_backward_data(gy, w.detach(), gx, p);
      double d = seconds_since(t0);
      t0 = Clock::now();
      backend(Device::cpu).conv3d_backward_weights(x.detach(), gy, gw, Tensor(), p);
      double ww = seconds_since(t0);
      if (r) tf.push_back(f), td.push_back(d), tw.push_back(ww);
    }
    auto med = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2] * 1e3;
    };
    double total = med(tf) + med(td) + med(tw);
    double gflops = 3 * flops / (total / 1e3) / 1e9;
    std::printf("%-28s %10.1f %10.1f %10.1f %10.1f %10.1f %7.1f%%\n", s.name.c_str(), med(tf),
                med(td), med(tw), total, gflops, 100 * gflops / peak);
  }
  return 0;
}
