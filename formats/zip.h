#pragma once
// Zip archives through libzip (Debian libzip-dev), as PyTorch's checkpoints are: reading entries
// whole under a size bound, and writing stored (uncompressed) entries to PATH.tmp, renamed over
// PATH when the archive is complete.
// Limits: an entry's declared size is only a claim: it is checked against what the archive can
// hold (the entry's compressed bytes inside the archive, times deflate's largest expansion, the
// entries read together at most the archive) and the caller's bound before it is believed, and
// the entry is read in chunks, the buffer growing as bytes arrive, so that a small archive costs
// little memory whatever its entries declare. Only stored and deflated entries are read.
#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

typedef struct zip zip_t;

namespace rmgait::formats {

class ZipReader {
 public:
  explicit ZipReader(const std::string& path);
  // An archive held in memory (`origin` names it in errors); `bytes` must outlive the reader.
  ZipReader(const std::string& bytes, const std::string& origin);
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  const std::vector<std::string>& names() const { return names_; }
  bool has(const std::string& name) const;
  uint64_t size(const std::string& name) const;  // uncompressed, as declared
  // The entry's bytes; an error unless there are exactly as many as it declares, at most
  // max_bytes.
  std::string read(const std::string& name, uint64_t max_bytes) const;
  const std::string& origin() const { return origin_; }

 private:
  int64_t index(const std::string& name) const;
  void list_names();  // names_ from the open archive
  std::string origin_;
  uint64_t archive_bytes_ = 0;  // the archive's own size: no entry holds more
  // The entries read so far and their compressed bytes: distinct entries occupy distinct bytes of
  // the archive, so together at most archive_bytes_ (entries whose data overlap could otherwise
  // each inflate the same bytes again).
  mutable std::set<int64_t> read_;
  mutable uint64_t packed_read_ = 0;
  zip_t* z_ = nullptr;
  std::vector<std::string> names_;
};

class ZipWriter {
 public:
  explicit ZipWriter(const std::string& path);
  ~ZipWriter();  // an archive never closed is discarded (its temporary file removed)
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  void add(const std::string& name, std::string bytes);  // stored, in this order
  void close();                                          // writes, then renames over the path

 private:
  std::string path_;
  zip_t* z_ = nullptr;
  std::deque<std::string> data_;  // libzip reads the entries' bytes at close
};

}  // namespace rmgait::formats
