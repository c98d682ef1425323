#pragma once
// Pickles written byte by byte as Python writes them, for the readers' tests: a PyTorch state
// dict's opcodes (Pk) and a pickled NumPy array (pickle_array).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace rmgait::test {

// Pickle protocol 2 opcodes as torch.save (Python's pickle) emits them for a state dict.
struct Pk {
  std::string b = std::string("\x80\x02", 2);
  int memo = 0;
  Pk& put() {  // BINPUT n, as Python memoises every container and string
    b += 'q', b += char(memo++ & 0xff);
    return *this;
  }
  Pk& raw(const std::string& s) {
    b += s;
    return *this;
  }
  Pk& str(const std::string& s) {
    b += 'X';
    for (int i = 0; i < 4; ++i) b += char(s.size() >> (8 * i));
    b += s;
    return put();
  }
  Pk& i(int64_t v) {
    if (v >= 0 && v < 256) return raw(std::string("K") + char(v));
    b += 'J';
    for (int k = 0; k < 4; ++k) b += char(uint32_t(int32_t(v)) >> (8 * k));
    return *this;
  }
  Pk& f(double v) {  // BINFLOAT, big-endian
    uint64_t u;
    std::memcpy(&u, &v, 8);
    b += 'G';
    for (int k = 7; k >= 0; --k) b += char(u >> (8 * k));
    return *this;
  }
  Pk& global(const std::string& mod, const std::string& name) {
    return raw("c" + mod + "\n" + name + "\n").put();
  }
  Pk& ordered_dict() { return global("collections", "OrderedDict").raw(")R").put(); }
  // _rebuild_tensor_v2((storage id), offset, size, stride, False, OrderedDict())
  Pk& tensor(const std::string& type, const std::string& key, int64_t numel, int64_t offset,
             const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").raw("((");
    str("storage").global("torch", type).str(key).str("cpu").i(numel).raw("t").put().raw("Q");
    i(offset).raw("(");
    for (int64_t s : size) i(s);
    raw("t").put().raw("(");
    for (int64_t s : stride) i(s);
    raw("t").put().raw("\x89");
    return ordered_dict().raw("t").put().raw("R").put();
  }
};

inline void put_le(std::string& s, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s += char((v >> (8 * i)) & 0xff);
}

inline std::string pint(int64_t v) {  // BININT1 / BININT2 / BININT
  std::string s;
  if (v >= 0 && v < 256)
    s += 'K', put_le(s, uint64_t(v), 1);
  else if (v >= 0 && v < 65536)
    s += 'M', put_le(s, uint64_t(v), 2);
  else
    s += 'J', put_le(s, uint64_t(uint32_t(int32_t(v))), 4);
  return s;
}

inline std::string latin1_utf8(const std::string& b) {
  std::string u;
  for (unsigned char c : b)
    if (c < 0x80)
      u += char(c);
    else
      u += char(0xC0 | (c >> 6)), u += char(0x80 | (c & 0x3F));
  return u;
}

// A pickled NumPy array [d0, d1, d2] laid out as NumPy 1.24 writes it (protocol 2 or 4).
inline std::string pickle_array(int protocol, const std::string& data,
                                const std::vector<int64_t>& shape, const std::string& dtype = "u1",
                                const std::string& reconstruct_module = "numpy.core.multiarray") {
  std::string dims;
  for (int64_t d : shape) dims += pint(d);
  dims += "\x85\x86\x87"[shape.size() - 1];  // TUPLE1..3 (shapes of rank 1 to 3)
  if (protocol == 2) {
    std::string s = "\x80\x02";
    auto put = [&](int k) { s += 'q', s += char(k); };
    auto uni = [&](const std::string& t) { s += 'X', put_le(s, t.size(), 4), s += t; };
    s += "c" + reconstruct_module + "\n_reconstruct\n", put(0);
    s += "cnumpy\nndarray\n", put(1);
    s += pint(0) + "\x85", put(2);
    s += "c_codecs\nencode\n", put(3);
    uni("b"), put(4), uni("latin1"), put(5), s += "\x86", put(6), s += "R", put(7);
    s += "\x87", put(8), s += "R", put(9);
    s += "(" + pint(1) + dims, put(10);
    s += "cnumpy\ndtype\n", put(11), uni(dtype), put(12), s += "\x89\x88\x87", put(13), s += "R",
        put(14);
    s += "(" + pint(3), uni("|"), put(15), s += "NNN", s += pint(-1) + pint(-1) + pint(0) + "t",
        put(16), s += "b";
    s += "\x89h\x03", uni(latin1_utf8(data)), put(17), s += "h\x05\x86", put(18), s += "R", put(19);
    s += "t", put(20), s += "b.";
    return s;
  }
  std::string b;  // protocol 4 body, one frame
  auto m = [&] { b += '\x94'; };
  auto su = [&](const std::string& t) { b += '\x8c', b += char(t.size()), b += t; };
  su(reconstruct_module), m(), su("_reconstruct"), m(), b += '\x93', m();
  su("numpy"), m(), su("ndarray"), m(), b += '\x93', m();
  b += pint(0) + "\x85", m(), b += "C", b += char(1), b += "b", m(), b += "\x87", m(), b += "R",
      m();
  b += "(" + pint(1) + dims, m();
  b += "h\x03", su("dtype"), m(), b += '\x93', m(), su(dtype), m(), b += "\x89\x88\x87", m(),
      b += "R", m();
  b += "(" + pint(3), su("|"), m(), b += "NNN" + pint(-1) + pint(-1) + pint(0) + "t", m(), b += "b";
  b += "\x89";
  if (data.size() < 256)
    b += "C", b += char(data.size());
  else
    b += "B", put_le(b, data.size(), 4);
  b += data, m(), b += "t", m(), b += "b.";
  std::string s = "\x80\x04\x95";
  put_le(s, b.size(), 8);
  return s + b;
}

}  // namespace rmgait::test
