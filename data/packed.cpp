#include "data/packed.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace rmgait::data {

namespace {
constexpr char kMagic[8] = {'R', 'M', 'G', 'A', 'I', 'T', 'P', 'K'};
constexpr size_t kHeader = 64, kEntry = 64;

void put_str(uint8_t* dst, const std::string& s, size_t n, const char* what) {
  RM_CHECK(s.size() < n, "packed: ", what, " '", s, "' longer than ", n - 1, " characters");
  std::memset(dst, 0, n);
  std::memcpy(dst, s.data(), s.size());
}
std::string get_str(const uint8_t* src, size_t n) {
  size_t len = 0;
  while (len < n && src[len]) ++len;
  return std::string(reinterpret_cast<const char*>(src), len);
}
template <class T>
void put(uint8_t* dst, T v) {
  std::memcpy(dst, &v, sizeof(T));
}
template <class T>
T get(const uint8_t* src) {
  T v;
  std::memcpy(&v, src, sizeof(T));
  return v;
}
}  // namespace

std::string SequenceInfo::name() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s/%s-%02d/%s", subject.c_str(), condition.c_str(), seq,
                view.c_str());
  return buf;
}

PackedWriter::PackedWriter(const std::string& path, uint32_t height, uint32_t width)
    : path_(path), tmp_(temp_path(path)), h_(height), w_(width) {
  f_ = std::fopen(tmp_.c_str(), "wb");
  RM_CHECK(f_, path_, ": cannot write ", tmp_);
  uint8_t zero[kHeader] = {0};
  std::fwrite(zero, 1, kHeader, f_);  // header written last
}

PackedWriter::~PackedWriter() {
  if (f_) {  // finish() was not reached: leave nothing half-written behind
    std::fclose(f_);
    std::remove(tmp_.c_str());
  }
}

void PackedWriter::add(SequenceInfo info, const uint8_t* frames, uint32_t count) {
  info.frames = count;
  info.offset = data_bytes_;
  size_t bytes = size_t(count) * h_ * w_;
  RM_CHECK(std::fwrite(frames, 1, bytes, f_) == bytes, path_, ": write failed");
  data_bytes_ += bytes;
  table_.push_back(std::move(info));
}

void PackedWriter::finish() {
  std::vector<uint8_t> table(table_.size() * kEntry, 0);
  for (size_t i = 0; i < table_.size(); ++i) {
    uint8_t* e = table.data() + i * kEntry;
    const SequenceInfo& s = table_[i];
    put_str(e, s.subject, 16, "subject");
    put_str(e + 16, s.condition, 8, "condition");
    put<int32_t>(e + 24, s.seq);
    put_str(e + 28, s.view, 8, "view");
    put<uint32_t>(e + 36, s.frames);
    put<uint64_t>(e + 40, s.offset);
  }
  // (an empty table has no data pointer to give fwrite)
  RM_CHECK(table.empty() || std::fwrite(table.data(), 1, table.size(), f_) == table.size(), path_,
           ": write failed");
  uint8_t h[kHeader] = {0};
  std::memcpy(h, kMagic, 8);
  put<uint32_t>(h + 8, 1);
  put<uint32_t>(h + 12, h_);
  put<uint32_t>(h + 16, w_);
  put<uint64_t>(h + 24, table_.size());
  put<uint64_t>(h + 32, kHeader + data_bytes_);  // table after the data
  put<uint64_t>(h + 40, kHeader);
  std::fseek(f_, 0, SEEK_SET);
  RM_CHECK(std::fwrite(h, 1, kHeader, f_) == kHeader, path_, ": write failed");
  RM_CHECK(std::fclose(f_) == 0, path_, ": close failed");
  f_ = nullptr;
  commit_temp(path_);
}

PackedDataset::PackedDataset(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  RM_CHECK(fd >= 0, path, ": cannot open packed dataset");
  struct stat st;
  ::fstat(fd, &st);
  bytes_ = size_t(st.st_size);
  if (bytes_ < kHeader) {
    ::close(fd);
    RM_FAIL(path, ": truncated packed dataset (", bytes_, " bytes, header needs ", kHeader, ")");
  }
  void* p = ::mmap(nullptr, bytes_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  RM_CHECK(p != MAP_FAILED, path, ": mmap failed");
  base_ = static_cast<const uint8_t*>(p);
  auto fail = [&](const std::string& msg) {
    ::munmap(const_cast<uint8_t*>(base_), bytes_);
    base_ = nullptr;
    RM_FAIL(path, ": ", msg);
  };
  if (std::memcmp(base_, kMagic, 8) != 0) fail("not a packed rmgait dataset (bad magic)");
  if (get<uint32_t>(base_ + 8) != 1)
    fail("unsupported packed format version " + std::to_string(get<uint32_t>(base_ + 8)));
  h_ = get<uint32_t>(base_ + 12);
  w_ = get<uint32_t>(base_ + 16);
  uint64_t n = get<uint64_t>(base_ + 24), table = get<uint64_t>(base_ + 32);
  data_offset_ = get<uint64_t>(base_ + 40);
  if (h_ == 0 || w_ == 0) fail("frame size 0");
  if (table > bytes_ || n > (bytes_ - table) / kEntry)
    fail("sequence table (" + std::to_string(n) + " entries at " + std::to_string(table) +
         ") runs past the end of the file (" + std::to_string(bytes_) + " bytes): truncated?");
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t* e = base_ + table + i * kEntry;
    SequenceInfo s;
    s.subject = get_str(e, 16);
    s.condition = get_str(e + 16, 8);
    s.seq = get<int32_t>(e + 24);
    s.view = get_str(e + 28, 8);
    s.frames = get<uint32_t>(e + 36);
    s.offset = get<uint64_t>(e + 40);
    // data offset + offset + frames * H * W <= table, every step checked for overflow (the
    // fields are the file's word, and a wrapped sum would point reads outside the mapping)
    uint64_t end = 0;
    const bool inside = !__builtin_mul_overflow(uint64_t(s.frames) * h_, uint64_t(w_), &end) &&
                        !__builtin_add_overflow(end, s.offset, &end) &&
                        !__builtin_add_overflow(end, data_offset_, &end) && end <= table;
    if (!inside)
      fail("sequence " + std::to_string(i) + " (" + s.name() + ") has frames outside the data");
    table_.push_back(std::move(s));
  }
}

PackedDataset::~PackedDataset() {
  if (base_) ::munmap(const_cast<uint8_t*>(base_), bytes_);
}

std::string describe(const PackedDataset& ds) {
  std::set<std::string> subjects;
  std::map<std::string, int> per_cond, per_view;
  uint64_t frames = 0;
  for (const auto& s : ds.table()) {
    subjects.insert(s.subject);
    per_cond[s.condition + "-" + (s.seq < 10 ? "0" : "") + std::to_string(s.seq)]++;
    per_view[s.view]++;
    frames += s.frames;
  }
  std::string out = ds.path() + ": " + std::to_string(subjects.size()) + " subjects, " +
                    std::to_string(ds.size()) + " sequences, " + std::to_string(frames) +
                    " frames of " + std::to_string(ds.height()) + "x" + std::to_string(ds.width()) +
                    "\nsequences per condition:";
  for (auto& [c, n] : per_cond) out += " " + c + ":" + std::to_string(n);
  out += "\nsequences per view:";
  for (auto& [v, n] : per_view) out += " " + v + ":" + std::to_string(n);
  return out + "\n";
}

}  // namespace rmgait::data
