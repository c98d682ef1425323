// `rmgait train` through the pipeline library with test hooks (pipeline::TrainHooks), for
// tests/faults_train.sh: the product reads no test switch from the environment.
//   train_with_hooks --config FILE [--set section.key=value ...] [--resume CKPT]
//                    [--slow-writes MS] [--nonfinite ITER:loss|grad]
// --slow-writes pauses every checkpoint write for MS with its temporary file written, so that a
// kill -9 can land inside it; --nonfinite makes that iteration's loss NaN, or the gradient of the
// first parameter +inf, as a diverging run would.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "engine/ops.h"
#include "pipeline/run.h"
#include "pipeline/trainer.h"

using namespace rmgait;

int main(int argc, char** argv) {
  std::string config;
  std::vector<std::string> sets;
  pipeline::TrainOptions options;
  int slow_ms = 0;
  int64_t bad_at = -1;
  std::string bad_what;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "train_with_hooks: %s needs a value\n", a.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--config") {
      config = v;
    } else if (a == "--set") {
      sets.push_back(v);
    } else if (a == "--resume") {
      options.resume = v;
    } else if (a == "--slow-writes") {
      slow_ms = std::atoi(v.c_str());
    } else if (a == "--nonfinite") {
      const size_t colon = v.find(':');
      if (colon == std::string::npos) {
        std::fprintf(stderr, "train_with_hooks: --nonfinite %s: expected ITER:loss|grad\n",
                     v.c_str());
        return 2;
      }
      bad_at = std::atoll(v.substr(0, colon).c_str()), bad_what = v.substr(colon + 1);
      if (bad_at < 1 || (bad_what != "loss" && bad_what != "grad")) {
        std::fprintf(stderr, "train_with_hooks: --nonfinite %s: expected ITER:loss|grad\n",
                     v.c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "train_with_hooks: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (slow_ms > 0)
    options.hooks.checkpoint_writing = [slow_ms](const std::string&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
    };
  if (bad_what == "loss")
    options.hooks.after_losses = [bad_at](int64_t it, pipeline::StepLosses& l) {
      if (it != bad_at) return;
      l.loss = mul(l.loss, NAN);
      l.triplet.loss = mul(l.triplet.loss, NAN);
    };
  if (bad_what == "grad")
    options.hooks.after_backward = [bad_at](int64_t it, const nn::NamedTensors& params) {
      if (it == bad_at) params[0].second.grad().narrow(0, 0, 1).fill_(INFINITY);
    };
  return pipeline::run_main("train_with_hooks", false, [&] {
    pipeline::train(pipeline::load_config(config, sets), options);
    return 0;
  });
}
