#include "engine/random.h"

#include "engine/backend.h"
#include "engine/error.h"
#include "engine/math/random.h"

namespace rmgait {

namespace {
Tensor random_tensor(RandomKind kind, const Shape& shape, Generator& gen, float a, float b,
                     Device device) {
  Tensor t = Tensor::empty(shape, DType::f32, device);
  uint64_t offset = gen.advance(uint64_t(t.numel()));
  backend(device).random(kind, gen.seed(), offset, a, b, t);
  return t;
}
}  // namespace

float host_uniform(Generator& gen) {
  return philox::uniform(gen.seed(), gen.advance(1));
}

Tensor rand(const Shape& shape, Generator& gen, float lo, float hi, Device device) {
  RM_CHECK(lo <= hi, "rand: low ", lo, " above high ", hi);
  return random_tensor(RandomKind::uniform, shape, gen, lo, hi, device);
}

Tensor randn(const Shape& shape, Generator& gen, float mean, float std, Device device) {
  RM_CHECK(std >= 0.f, "randn: negative std ", std);
  return random_tensor(RandomKind::normal, shape, gen, mean, std, device);
}

Tensor bernoulli(const Shape& shape, float p, Generator& gen, Device device) {
  RM_CHECK(p >= 0.f && p <= 1.f, "bernoulli: probability ", p, " outside [0, 1]");
  return random_tensor(RandomKind::bernoulli, shape, gen, p, 0.f, device);
}

}  // namespace rmgait
