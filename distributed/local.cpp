// One process: every collective is the identity (a copy where the result is a new tensor).
#include "distributed/communicator.h"

namespace rmgait::dist {

namespace {
struct SyncWork : Work {
  bool test() override { return true; }
  void wait() override {}
};

class Local : public Communicator {
 public:
  explicit Local(Device d) : device_(d) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* name() const override { return "local"; }
  Device device() const override { return device_; }
  void all_reduce_sum(const Tensor&) override {}
  Tensor all_gather(const Tensor& t) override { return t.clone(); }
  void broadcast(const Tensor&, int) override {}
  Tensor gather_rows(const Tensor& t, int) override { return t.clone(); }
  void barrier() override {}

 private:
  Device device_;
};
}  // namespace

std::unique_ptr<Work> Communicator::all_reduce_sum_async(const Tensor& t) {
  all_reduce_sum(t);
  return std::make_unique<SyncWork>();
}

std::unique_ptr<Communicator> make_local(Device device) {
  return std::make_unique<Local>(device);
}

Rows rows_of(int64_t n, int rank, int size) {
  const int64_t base = n / size, extra = n % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace rmgait::dist
