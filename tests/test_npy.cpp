// .npy round trips and corrupt files.
#include <cstdio>
#include <fstream>

#include "engine/atomic_file.h"
#include "engine/npy.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

namespace {
std::string tmp_path(const std::string& name) {
  return "/tmp/rmgait_test_" + name;
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string npy_header(const std::string& dict, int major = 1) {
  std::string h = dict;
  size_t pre = major == 1 ? 10 : 12;
  h.append((64 - (pre + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(0);
  if (major == 1) {
    out += char(h.size() & 0xff);
    out += char(h.size() >> 8);
  } else {
    for (int i = 0; i < 4; ++i) out += char((h.size() >> (8 * i)) & 0xff);
  }
  return out + h;
}
}  // namespace

TEST_CASE("npy round trip for every dtype and rank") {
  Tensor f = uniform({2, 3, 4}, 1);
  save_npy(tmp_path("f.npy"), f);
  Tensor g = load_npy(tmp_path("f.npy"));
  CHECK(g.shape() == f.shape());
  CHECK(g.to_vector() == f.to_vector());
  for (DType dt : {DType::u8, DType::i32, DType::i64}) {
    Tensor t = Tensor::arange(10, dt).reshape({10});
    save_npy(tmp_path("i.npy"), t);
    Tensor r = load_npy(tmp_path("i.npy"));
    CHECK(r.dtype() == dt);
    CHECK(r.to(DType::f32).to_vector() == t.to(DType::f32).to_vector());
  }
  save_npy(tmp_path("s.npy"), Tensor::scalar(7.f));
  CHECK(load_npy(tmp_path("s.npy")).dim() == 0);
  CHECK(load_npy(tmp_path("s.npy")).item() == 7.f);
}

TEST_CASE("npy version 2.0 headers are read") {
  std::string data(4 * 3, '\0');
  float v[3] = {1.5f, -2.f, 3.f};
  std::memcpy(data.data(), v, 12);
  write_bytes(tmp_path("v2.npy"),
              npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 2) + data);
  CHECK(load_npy(tmp_path("v2.npy")).to_vector() == std::vector<float>{1.5f, -2.f, 3.f});
}

TEST_CASE("corrupt and unsupported npy files give errors naming the file and the problem") {
  std::string p = tmp_path("bad.npy");
  write_bytes(p, "not an npy file at all");
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("bad magic"), Error);
  write_bytes(p, npy_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }") +
                     std::string(8, '\0'));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("unsupported .npy dtype '>f4'"), Error);
  write_bytes(p, npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }") +
                     std::string(16, '\0'));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("'<f8'"), Error);
  write_bytes(p, npy_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }") +
                     std::string(16, '\0'));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("Fortran"), Error);
  write_bytes(p, npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }") +
                     std::string(10, '\0'));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("truncated .npy data"), Error);
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains(p.c_str()), Error);
  CHECK_THROWS_WITH_AS(load_npy(tmp_path("missing.npy")), doctest::Contains("cannot open"), Error);
}

TEST_CASE("npy headers that claim too much or never end are clear errors, not crashes") {
  std::string p = tmp_path("hostile.npy");
  // A shape far larger than the file: refused before anything is allocated.
  write_bytes(p,
              npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 100)}") +
                  std::string(16, '\0'));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("needs more than the 16 data bytes"), Error);
  // Dimensions whose product overflows 64 bits.
  write_bytes(p, npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, "
                            "4294967296, 4294967296)}"));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("is too large"), Error);
  // An empty array whose other dimensions would overflow its strides.
  write_bytes(p, npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, "
                            "4294967296)}"));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("is too large"), Error);
  write_bytes(p, npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5)}"));
  CHECK(load_npy(p).shape() == Shape{0, 5});
  write_bytes(p, npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                            "(99999999999999999999999,)}"));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("dimension too large"), Error);
  // Long headers (a regex recursed once per byte here and overflowed the stack).
  write_bytes(p, npy_header("{'descr': '" + std::string(60000, 'a')));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("unterminated string"), Error);
  std::string ones;
  for (int i = 0; i < 9; ++i) ones += "1, ";
  write_bytes(p, npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (" + ones + ")}"));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("more than 8 dimensions"), Error);
  write_bytes(p, npy_header("{'descr': '<f4', 'fortran_order': False}"));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("no 'shape'"), Error);
  write_bytes(p, npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}"));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("unexpected key 'x'"), Error);
  write_bytes(p, npy_header("{'descr': '<f4', 'fortran_order': maybe, 'shape': ()}"));
  CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains("expected True or False"), Error);
  // Double quotes and no trailing comma are still a valid dict.
  write_bytes(p, npy_header("{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (1,)}") +
                     std::string("\x05\0\0\0", 4));
  CHECK(load_npy(p).to(DType::f32).item() == 5.f);
}

TEST_CASE("atomic writes: a failing writer leaves neither the file nor its temporary") {
  std::string p = tmp_path("atomic.bin");
  std::remove(p.c_str());
  CHECK_THROWS_WITH_AS(write_file_atomically(p,
                                             [](std::ostream& f) {
                                               f << "partial";
                                               RM_FAIL("disk full");
                                             }),
                       doctest::Contains("disk full"), Error);
  CHECK(!std::ifstream(p).good());
  CHECK(!std::ifstream(temp_path(p)).good());
  write_file_atomically(p, [](std::ostream& f) { f << "whole"; });
  std::string got;
  std::ifstream(p) >> got;
  CHECK(got == "whole");
  CHECK(!std::ifstream(temp_path(p)).good());
}
