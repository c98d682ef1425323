#include "engine/npy.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace rmgait {

namespace {

DType parse_descr(const std::string& d, const std::string& path) {
  if (d == "<f4") return DType::f32;
  if (d == "|u1" || d == "<u1") return DType::u8;
  if (d == "<i4") return DType::i32;
  if (d == "<i8") return DType::i64;
  RM_FAIL(path, ": unsupported .npy dtype '", d, "' (expected little-endian <f4, |u1, <i4 or <i8)");
}

// The header is a Python dict literal, as NumPy writes it:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// read by a small hand parser (no std::regex: its recursion overflows the stack on long
// headers). NumPy itself requires exactly these three keys.
struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& s, const std::string& path) : s_(s), path_(path) {}

  Header parse() {
    Header h;
    bool seen[3] = {false, false, false};
    expect('{');
    while (!take('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        h.descr = string_literal();
        seen[0] = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        seen[1] = true;
      } else if (key == "shape") {
        h.shape = tuple();
        seen[2] = true;
      } else {
        fail("unexpected key '" + key + "' (expected 'descr', 'fortran_order', 'shape')");
      }
      if (!take(',')) {
        expect('}');
        break;
      }
    }
    skip_space();
    if (pos_ != s_.size()) fail("text after the closing '}'");
    if (!seen[0]) fail("no 'descr'");
    if (!seen[1]) fail("no 'fortran_order'");
    if (!seen[2]) fail("no 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    const std::string shown = s_.size() > 200 ? s_.substr(0, 200) + "..." : s_;
    RM_FAIL(path_, ": bad .npy header at byte ", pos_, ": ", what, " in ", shown);
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool take(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!take(c)) fail(std::string("expected '") + c + "'");
  }
  std::string string_literal() {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) fail("expected a string");
    const char quote = s_[pos_++];
    const size_t end = s_.find(quote, pos_);
    if (end == std::string::npos) fail("unterminated string");
    std::string v = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return v;
  }
  bool boolean() {
    skip_space();
    for (const char* word : {"True", "False"}) {
      const size_t n = std::strlen(word);
      if (s_.compare(pos_, n, word) == 0) {
        pos_ += n;
        return word[0] == 'T';
      }
    }
    fail("expected True or False");
  }
  // "()", "(5,)", "(2, 3)": non-negative integers below 2^62.
  Shape tuple() {
    expect('(');
    Shape shape;
    while (!take(')')) {
      skip_space();
      if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_])))
        fail("expected a dimension");
      int64_t v = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        if (v >= (int64_t(1) << 58)) fail("dimension too large");  // v * 10 + 9 < 2^62
        v = v * 10 + (s_[pos_++] - '0');
      }
      shape.push_back(v);
      if (shape.size() > 8) fail("more than 8 dimensions");
      if (!take(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  const std::string& s_;
  const std::string& path_;
  size_t pos_ = 0;
};

const char* descr_of(DType t) {
  switch (t) {
    case DType::f32:
      return "<f4";
    case DType::u8:
      return "|u1";
    case DType::i32:
      return "<i4";
    case DType::i64:
      return "<i8";
    case DType::bf16:  // save_npy widens bf16 first: NumPy has no bf16
      break;
  }
  return "";
}

uint64_t read_le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

Tensor load_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  RM_CHECK(f, path, ": cannot open .npy file");
  unsigned char pre[12] = {0};
  f.read(reinterpret_cast<char*>(pre), 10);
  RM_CHECK(f.gcount() == 10 && std::memcmp(pre, "\x93NUMPY", 6) == 0, path,
           ": not a .npy file (bad magic)");
  int major = pre[6];
  RM_CHECK(major >= 1 && major <= 3, path, ": unsupported .npy format version ", major);
  uint64_t hlen = read_le(pre + 8, 2);
  if (major >= 2) {
    f.read(reinterpret_cast<char*>(pre + 10), 2);
    RM_CHECK(f.gcount() == 2, path, ": truncated .npy header");
    hlen = read_le(pre + 8, 4);
  }
  RM_CHECK(hlen < (1u << 20), path, ": .npy header of ", hlen, " bytes is implausible");
  // the header must be in the file before a buffer is made for it
  const std::streamoff header_at = f.tellg();
  f.seekg(0, std::ios::end);
  const std::streamoff file_end = f.tellg();
  RM_CHECK(header_at >= 0 && file_end >= header_at, path,
           ": cannot find the size of the .npy data (not a regular file?)");
  RM_CHECK(uint64_t(file_end - header_at) >= hlen, path, ": truncated .npy header (", hlen,
           " bytes declared, ", int64_t(file_end - header_at), " in the file)");
  f.seekg(header_at);
  std::string header(hlen, '\0');
  f.read(header.data(), std::streamsize(hlen));
  RM_CHECK(uint64_t(f.gcount()) == hlen, path, ": truncated .npy header");

  const Header h = HeaderParser(header, path).parse();
  RM_CHECK(!h.fortran_order, path, ": Fortran-order .npy arrays are not supported");
  const DType dt = parse_descr(h.descr, path);

  // The data must be in the file before anything is allocated for it: a header may claim any
  // shape.
  const std::streamoff data_at = f.tellg();
  f.seekg(0, std::ios::end);
  const std::streamoff end = f.tellg();
  RM_CHECK(data_at >= 0 && end >= data_at, path,
           ": cannot find the size of the .npy data (not a regular file?)");
  const uint64_t available = uint64_t(end - data_at);
  f.seekg(data_at);
  const Shape& shape = h.shape;
  // The element count, zero dimensions counted as one, must stay far from int64's range: strides
  // and offsets are products of dimensions even for an empty array.
  uint64_t extent = 1;
  for (int64_t d : shape) {
    RM_CHECK(extent <= (uint64_t(1) << 62) / uint64_t(std::max<int64_t>(d, 1)), path,
             ": .npy shape ", shape_str(shape), " is too large");
    extent *= uint64_t(std::max<int64_t>(d, 1));
  }
  uint64_t nbytes = dtype_size(dt);  // checked at each step: the product may overflow
  for (int64_t d : shape) {
    RM_CHECK(d == 0 || nbytes <= available / uint64_t(d), path,
             ": truncated .npy data: ", dtype_name(dt), " ", shape_str(shape),
             " needs more than the ", available, " data bytes in the file");
    nbytes *= uint64_t(d);
  }
  RM_CHECK(nbytes <= available, path, ": truncated .npy data: expected ", nbytes, " bytes for ",
           dtype_name(dt), " ", shape_str(shape), ", got ", available);
  Tensor t = Tensor::empty(shape, dt);
  f.read(static_cast<char*>(t.raw_data()), std::streamsize(nbytes));
  RM_CHECK(uint64_t(f.gcount()) == nbytes, path, ": cannot read the .npy data");
  return t;
}

void save_npy(const std::string& path, const Tensor& t) {
  Tensor c = t.detach().to(Device::cpu).contiguous();
  if (c.dtype() == DType::bf16) c = c.to(DType::f32);  // exact; NumPy has no bf16 type
  std::string shape = "(";                             // "()", "(5,)", "(2, 3)"
  for (int64_t i = 0; i < c.dim(); ++i) shape += (i ? ", " : "") + std::to_string(c.size(i));
  shape += c.dim() == 1 ? ",)" : ")";
  std::string header = std::string("{'descr': '") + descr_of(c.dtype()) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  write_file_atomically(path, [&](std::ostream& f) {
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             uint8_t(header.size() & 0xff),
                             uint8_t(header.size() >> 8)};
    f.write(reinterpret_cast<const char*>(pre), 10);
    f.write(header.data(), std::streamsize(header.size()));
    f.write(static_cast<const char*>(c.raw_data()),
            std::streamsize(size_t(c.numel()) * dtype_size(c.dtype())));
  });
}

}  // namespace rmgait
