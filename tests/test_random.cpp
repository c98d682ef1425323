// Philox: known answers, determinism, thread-count independence, distribution sanity.
#include <omp.h>

#include "engine/math/random.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

TEST_CASE("Philox 4x32-10 matches the Random123 known-answer vectors") {
  philox::U32x4 zero = {{0, 0, 0, 0}};
  philox::U32x4 r = philox::philox4x32_10(zero, 0, 0);
  CHECK(r.v[0] == 0x6627e8d5u);
  CHECK(r.v[1] == 0xe169c58du);
  CHECK(r.v[2] == 0xbc57ac4cu);
  CHECK(r.v[3] == 0x9b00dbd8u);
  philox::U32x4 ones = {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}};
  r = philox::philox4x32_10(ones, 0xffffffffu, 0xffffffffu);
  CHECK(r.v[0] == 0x408f276du);
  CHECK(r.v[1] == 0x41c83b0eu);
  CHECK(r.v[2] == 0xa20bc7c6u);
  CHECK(r.v[3] == 0x6d5451fdu);
}

TEST_CASE("same seed and offset give the same numbers; offsets advance") {
  Generator a(42), b(42);
  CHECK(rand({100}, a).to_vector() == rand({100}, b).to_vector());
  Generator c(42);
  Tensor first = rand({50}, c), second = rand({50}, c);
  Generator d(42);
  std::vector<float> both = rand({100}, d).to_vector();
  CHECK(std::vector<float>(both.begin(), both.begin() + 50) == first.to_vector());
  CHECK(std::vector<float>(both.begin() + 50, both.end()) == second.to_vector());
  Generator e(43);
  CHECK(rand({100}, e).to_vector() != first.to_vector());
}

TEST_CASE("random numbers do not depend on the thread count") {
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  Generator g1(7);
  std::vector<float> one = randn({100000}, g1).to_vector();
  omp_set_num_threads(std::max(2, saved));
  Generator g2(7);
  std::vector<float> many = randn({100000}, g2).to_vector();
  omp_set_num_threads(saved);
  CHECK(one == many);
}

TEST_CASE("uniform, normal and bernoulli have the right moments") {
  Generator g(99);
  const int64_t n = 200000;
  std::vector<float> u = rand({n}, g, 2.f, 4.f).to_vector();
  double mu = 0, lo = 1e9, hi = -1e9;
  for (float v : u) mu += v, lo = std::min<double>(lo, v), hi = std::max<double>(hi, v);
  CHECK(mu / n == doctest::Approx(3.0).epsilon(0.005));
  CHECK(lo >= 2.0);
  CHECK(hi < 4.0);
  std::vector<float> z = randn({n}, g, 1.f, 2.f).to_vector();
  double m = 0, v = 0;
  for (float x : z) m += x;
  m /= n;
  for (float x : z) v += (x - m) * (x - m);
  CHECK(m == doctest::Approx(1.0).epsilon(0.02));
  CHECK(std::sqrt(v / n) == doctest::Approx(2.0).epsilon(0.01));
  std::vector<float> b = bernoulli({n}, 0.3f, g).to_vector();
  double ones = 0;
  for (float x : b) {
    REQUIRE((x == 0.f || x == 1.f));
    ones += x;
  }
  CHECK(ones / n == doctest::Approx(0.3).epsilon(0.02));
}
