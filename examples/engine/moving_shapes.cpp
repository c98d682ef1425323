// Tells apart which way a shape moves in a short clip, with the rmgait engine alone: clips of a
// square drawn moving left, right, up or down (a random size and start each), a small
// 3-D convolutional network, cross entropy, and the engine's fused Adam in a training loop of
// its own. Prints the loss falling and the accuracy on clips it has never seen.
//   moving_shapes [STEPS=150] [SEED=1]
#include <engine/autograd.h>
#include <engine/ops.h>
#include <engine/random.h>
#include <engine/tensor.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

using namespace rmgait;

namespace {

constexpr int64_t kFrames = 8, kSize = 16, kClasses = 4;  // left, right, up, down

// n clips [n, 1, T, H, W] in {0, 1} and their labels.
std::pair<Tensor, std::vector<int64_t>> clips(int64_t n, std::mt19937& rng) {
  Tensor x = Tensor::zeros({n, 1, kFrames, kSize, kSize});
  std::vector<int64_t> labels(static_cast<size_t>(n));
  float* p = x.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int label = int(rng() % kClasses), side = 3 + int(rng() % 3), speed = 1;
    labels[size_t(i)] = label;
    const int travel = speed * (kFrames - 1), room = kSize - side - travel;
    int x0 = int(rng() % (kSize - side + 1)), y0 = int(rng() % (kSize - side + 1));
    if (label < 2) x0 = label == 0 ? travel + int(rng() % (room + 1)) : int(rng() % (room + 1));
    if (label >= 2) y0 = label == 2 ? travel + int(rng() % (room + 1)) : int(rng() % (room + 1));
    const int dx = label == 0 ? -speed : label == 1 ? speed : 0;
    const int dy = label == 2 ? -speed : label == 3 ? speed : 0;
    for (int t = 0; t < kFrames; ++t)
      for (int y = 0; y < side; ++y)
        for (int xx = 0; xx < side; ++xx) {
          const int64_t row = y0 + dy * t + y, col = x0 + dx * t + xx;
          p[(((i * kFrames) + t) * kSize + row) * kSize + col] = 1.f;
        }
  }
  return {x, labels};
}

struct Net {
  Tensor w1, w2, fc;  // conv 1 -> 8, conv 8 -> 16 (3x3x3), linear 16 -> 4
  Tensor* params[3] = {&w1, &w2, &fc};
  explicit Net(Generator& g) {
    w1 = mul(randn({8, 1, 3, 3, 3}, g), 0.3f);
    w2 = mul(randn({16, 8, 3, 3, 3}, g), 0.1f);
    fc = mul(randn({16, kClasses}, g), 0.25f);
    for (Tensor* t : params) t->set_requires_grad(true);
  }
  // x [N, 1, T, H, W] -> logits [N, 4]
  Tensor forward(const Tensor& x) const {
    Conv3dParams c;
    c.padding = {1, 1, 1};
    Tensor h = leaky_relu(conv3d(x, w1, Tensor(), c));
    Pool3dParams pool;
    pool.kernel = pool.stride = {2, 2, 2};
    h = max_pool3d(h, pool);                     // [N, 8, 4, 8, 8]
    h = leaky_relu(conv3d(h, w2, Tensor(), c));  // [N, 16, 4, 8, 8]
    h = mean(h, {2, 3, 4});                      // [N, 16]
    return matmul(h, fc);                        // [N, 4]
  }
};

// Mean cross entropy of logits [N, C] against labels, and the share predicted right.
std::pair<Tensor, float> loss_and_accuracy(const Tensor& logits, const std::vector<int64_t>& y) {
  const int64_t n = logits.size(0);
  Tensor onehot = Tensor::zeros({n, kClasses});
  for (int64_t i = 0; i < n; ++i) onehot.data<float>()[i * kClasses + y[size_t(i)]] = 1.f;
  Tensor loss = neg(mean(sum(mul(log_softmax(logits, 1), onehot), {1})));
  Tensor pred = argmax(logits.detach(), 1);
  int64_t right = 0;
  for (int64_t i = 0; i < n; ++i) right += pred.data<int64_t>()[i] == y[size_t(i)];
  return {loss, float(right) / float(n)};
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 150;
  const unsigned seed = argc > 2 ? unsigned(std::atoi(argv[2])) : 1u;
  std::mt19937 rng(seed);
  Generator g(seed);
  Net net(g);
  std::vector<Tensor> m, v;  // Adam's state, one pair per parameter
  for (Tensor* p : net.params) {
    m.push_back(Tensor::zeros(p->shape()));
    v.push_back(Tensor::zeros(p->shape()));
  }
  AdamConfig adam;
  adam.lr = 0.01f;
  for (int step = 1; step <= steps; ++step) {
    auto [x, y] = clips(32, rng);
    auto [loss, acc] = loss_and_accuracy(net.forward(x), y);
    for (Tensor* p : net.params) p->zero_grad();
    loss.backward();
    for (size_t i = 0; i < 3; ++i)
      adam_step(*net.params[i], net.params[i]->grad(), m[i], v[i], step, adam);
    if (step == 1 || step % 25 == 0)
      std::printf("step %3d  loss %.4f  batch accuracy %.2f\n", step, loss.item(), acc);
  }
  NoGradGuard ng;
  auto [x, y] = clips(400, rng);  // clips never seen in training
  auto [loss, acc] = loss_and_accuracy(net.forward(x), y);
  std::printf("held-out clips: loss %.4f, accuracy %.3f\n", loss.item(), acc);
  return 0;
}
