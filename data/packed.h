#pragma once
// The packed dataset: one file holding every sequence's u8 frames [T, H, W] and a table of
// (subject, condition, sequence, view, frames, offset). Layout (little-endian):
//   header  64 bytes: magic "RMGAITPK", u32 version = 1, u32 height, u32 width, u32 reserved,
//           u64 sequence count, u64 table offset, u64 data offset, 16 bytes reserved
//   table   64 bytes per sequence: char subject[16], char condition[8], i32 seq, char view[8],
//           u32 frames, u64 offset (from the data offset), 12 bytes reserved
//   data    frames, each H*W bytes, row-major
// Opened read-only with mmap and validated: bad magic, truncation or offsets out of range are
// errors naming the file.
// Limits: the table's entries inside the file; each sequence's frames (overflow-checked) inside
// the data; memory is the mapping, paged in as frames are read.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rmgait::data {

struct SequenceInfo {
  std::string subject, condition, view;  // "001", "nm", "090"
  int32_t seq = 0;                       // 1 for "nm-01"
  uint32_t frames = 0;
  uint64_t offset = 0;
  std::string name() const;  // "001/nm-01/090"
};

class PackedDataset;
// "PATH: N subjects, M sequences, F frames of HxW", then the sequences per condition and view.
std::string describe(const PackedDataset& ds);

class PackedWriter {
 public:
  PackedWriter(const std::string& path, uint32_t height, uint32_t width);
  ~PackedWriter();
  // frames: T * H * W bytes.
  void add(SequenceInfo info, const uint8_t* frames, uint32_t count);
  // Writes the table and renames the temporary file into place.
  void finish();

 private:
  std::string path_, tmp_;
  uint32_t h_, w_;
  std::FILE* f_ = nullptr;
  uint64_t data_bytes_ = 0;
  std::vector<SequenceInfo> table_;
};

class PackedDataset {
 public:
  explicit PackedDataset(const std::string& path);
  ~PackedDataset();
  PackedDataset(const PackedDataset&) = delete;
  PackedDataset& operator=(const PackedDataset&) = delete;

  size_t size() const { return table_.size(); }
  const SequenceInfo& info(size_t i) const { return table_[i]; }
  const std::vector<SequenceInfo>& table() const { return table_; }
  uint32_t height() const { return h_; }
  uint32_t width() const { return w_; }
  const uint8_t* frames(size_t i) const { return base_ + data_offset_ + table_[i].offset; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t bytes_ = 0;
  uint64_t data_offset_ = 0;
  uint32_t h_ = 0, w_ = 0;
  std::vector<SequenceInfo> table_;
};

}  // namespace rmgait::data
