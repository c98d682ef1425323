#include "engine/npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>

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
  std::string header(hlen, '\0');
  f.read(header.data(), std::streamsize(hlen));
  RM_CHECK(uint64_t(f.gcount()) == hlen, path, ": truncated .npy header");

  std::smatch m;
  RM_CHECK(std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'")), path,
           ": .npy header has no 'descr': ", header);
  DType dt = parse_descr(m[1], path);
  RM_CHECK(std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*(True|False)")), path,
           ": .npy header has no 'fortran_order'");
  RM_CHECK(m[1] == "False", path, ": Fortran-order .npy arrays are not supported");
  RM_CHECK(std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")), path,
           ": .npy header has no 'shape'");
  Shape shape;
  std::string dims = m[1];
  std::regex num("\\s*(\\d+)\\s*(,|$)");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator();
       ++it)
    shape.push_back(std::stoll((*it)[1]));
  RM_CHECK(shape.size() <= 8, path, ": .npy array of rank ", shape.size(), " is not supported");

  Tensor t = Tensor::empty(shape, dt);
  size_t nbytes = size_t(t.numel()) * dtype_size(dt);
  f.read(static_cast<char*>(t.raw_data()), std::streamsize(nbytes));
  RM_CHECK(size_t(f.gcount()) == nbytes, path, ": truncated .npy data: expected ", nbytes,
           " bytes for ", dtype_name(dt), " ", shape_str(shape), ", got ", f.gcount());
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
