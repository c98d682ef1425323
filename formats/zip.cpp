#include "formats/zip.h"

#include <zip.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace rmgait::formats {

namespace {
// Deflate's largest expansion: a 258-byte match coded in 2 bits.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr uint64_t kReadChunk = uint64_t(1) << 20;

std::string zip_error_text(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string s = zip_error_strerror(&e);
  zip_error_fini(&e);
  return s;
}
}  // namespace

ZipReader::ZipReader(const std::string& path) : origin_(path) {
  std::error_code ec;
  archive_bytes_ = std::filesystem::file_size(path, ec);
  RM_CHECK(!ec, path, ": cannot read (", ec.message(), ")");
  int err = 0;
  z_ = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
  RM_CHECK(z_, path, ": not a readable zip archive (", zip_error_text(err), ")");
  list_names();
}

ZipReader::ZipReader(const std::string& bytes, const std::string& origin)
    : origin_(origin), archive_bytes_(bytes.size()) {
  zip_error_t e;
  zip_error_init(&e);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &e);
  RM_CHECK(src, origin, ": cannot read the archive (", zip_error_strerror(&e), ")");
  z_ = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &e);
  if (!z_) {
    const std::string why = zip_error_strerror(&e);
    zip_source_free(src);
    zip_error_fini(&e);
    RM_FAIL(origin, ": not a readable zip archive (", why, ")");
  }
  zip_error_fini(&e);
  list_names();
}

void ZipReader::list_names() {
  const zip_int64_t n = zip_get_num_entries(z_, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(z_, zip_uint64_t(i), ZIP_FL_ENC_RAW);
    names_.push_back(name ? name : "");
  }
}

ZipReader::~ZipReader() {
  if (z_) zip_discard(z_);
}

int64_t ZipReader::index(const std::string& name) const {
  return zip_name_locate(z_, name.c_str(), ZIP_FL_ENC_RAW);
}

bool ZipReader::has(const std::string& name) const {
  return index(name) >= 0;
}

uint64_t ZipReader::size(const std::string& name) const {
  const int64_t i = index(name);
  RM_CHECK(i >= 0, origin_, ": archive entry '", name, "' missing");
  zip_stat_t st;
  RM_CHECK(zip_stat_index(z_, zip_uint64_t(i), 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE), origin_,
           ": archive entry '", name, "' has no size");
  return st.size;
}

std::string ZipReader::read(const std::string& name, uint64_t max_bytes) const {
  const int64_t i = index(name);
  RM_CHECK(i >= 0, origin_, ": archive entry '", name, "' missing");
  zip_stat_t st;
  const uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
  RM_CHECK(zip_stat_index(z_, zip_uint64_t(i), 0, &st) == 0 && (st.valid & need) == need, origin_,
           ": archive entry '", name, "' has no size");
  // What the entry declares, checked against what the archive can hold before it is believed.
  const uint64_t n = st.size, packed = st.comp_size;
  RM_CHECK(n <= max_bytes, origin_, ": archive entry '", name, "' declares ", n,
           " bytes, more than the ", max_bytes, " it may hold");
  RM_CHECK(packed <= archive_bytes_, origin_, ": archive entry '", name, "' declares ", packed,
           " compressed bytes, more than the whole archive's ", archive_bytes_,
           " (truncated or not a zip archive)");
  if (st.comp_method == ZIP_CM_STORE) {
    RM_CHECK(n == packed, origin_, ": stored archive entry '", name, "' declares ", n,
             " bytes but occupies ", packed);
  } else if (st.comp_method == ZIP_CM_DEFLATE) {
    RM_CHECK(n / kMaxDeflateRatio <= packed, origin_, ": archive entry '", name, "' declares ", n,
             " bytes, more than its ", packed, " compressed bytes can inflate to (deflate expands ",
             "at most ", kMaxDeflateRatio, "-fold)");
  } else {
    RM_FAIL(origin_, ": archive entry '", name, "' uses compression method ", st.comp_method,
            " (only stored and deflated entries are read, as PyTorch writes them)");
  }
  if (read_.insert(i).second) {
    packed_read_ += packed;
    RM_CHECK(packed_read_ <= archive_bytes_, origin_, ": archive entry '", name,
             "': the entries read so far occupy ", packed_read_,
             " compressed bytes, more than the ", "whole archive's ", archive_bytes_,
             " (entries sharing their data)");
  }
  zip_file_t* f = zip_fopen_index(z_, zip_uint64_t(i), 0);
  RM_CHECK(f, origin_, ": cannot open archive entry '", name, "' (", zip_strerror(z_), ")");
  // In chunks, the buffer growing as bytes arrive; one more byte is asked for than declared, so
  // that an entry inflating past its size is caught.
  std::string out;
  zip_int64_t got = 1;
  while (got > 0 && out.size() <= n) {
    const size_t at = out.size(), want = size_t(std::min<uint64_t>(kReadChunk, n + 1 - at));
    if (out.capacity() < at + want) out.reserve(std::max(at + want, 2 * out.capacity()));
    out.resize(at + want);
    got = zip_fread(f, out.data() + at, want);
    out.resize(at + size_t(std::max<zip_int64_t>(got, 0)));
  }
  const std::string why = got < 0 ? zip_file_strerror(f) : "";
  zip_fclose(f);
  RM_CHECK(got >= 0, origin_, ": archive entry '", name, "' is corrupt (", why, ")");
  RM_CHECK(out.size() <= n, origin_, ": archive entry '", name, "' holds more than the ", n,
           " bytes it declares");
  RM_CHECK(out.size() == n, origin_, ": archive entry '", name, "' holds ", out.size(),
           " bytes, not the ", n, " it declares (truncated?)");
  return out;
}

ZipWriter::ZipWriter(const std::string& path) : path_(path) {
  int err = 0;
  z_ = zip_open(temp_path(path).c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  RM_CHECK(z_, path, ": cannot create a zip archive (", zip_error_text(err), ")");
}

ZipWriter::~ZipWriter() {
  if (z_) {
    zip_discard(z_);
    std::remove(temp_path(path_).c_str());
  }
}

void ZipWriter::add(const std::string& name, std::string bytes) {
  RM_CHECK(z_, path_, ": archive already closed");
  data_.push_back(std::move(bytes));
  const std::string& d = data_.back();
  zip_source_t* src = zip_source_buffer(z_, d.data(), d.size(), 0);
  RM_CHECK(src, path_, ": cannot add '", name, "' (", zip_strerror(z_), ")");
  const zip_int64_t i = zip_file_add(z_, name.c_str(), src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
  if (i < 0) {
    zip_source_free(src);
    RM_FAIL(path_, ": cannot add '", name, "' (", zip_strerror(z_), ")");
  }
  RM_CHECK(zip_set_file_compression(z_, zip_uint64_t(i), ZIP_CM_STORE, 0) == 0, path_,
           ": cannot store '", name, "' (", zip_strerror(z_), ")");
}

void ZipWriter::close() {
  RM_CHECK(z_, path_, ": archive already closed");
  if (zip_close(z_) != 0) {
    const std::string why = zip_strerror(z_);
    zip_discard(z_);
    z_ = nullptr;
    std::remove(temp_path(path_).c_str());
    RM_FAIL(path_, ": cannot write the zip archive (", why, ")");
  }
  z_ = nullptr;
  data_.clear();
  commit_temp(path_);
}

}  // namespace rmgait::formats
