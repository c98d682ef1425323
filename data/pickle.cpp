#include "data/pickle.h"

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <variant>

#include "engine/error.h"

namespace rmgait::data {

namespace {

struct Value;
using Ptr = std::shared_ptr<Value>;
struct Global {
  std::string name;  // "module.name"
};
struct Mark {};
struct None {};
struct Tuple {
  std::vector<Ptr> items;
};
struct Dtype {
  std::string type;
};
struct Bytes {
  std::string data;
};
struct Value {
  std::variant<None, Mark, bool, int64_t, std::string, Bytes, Tuple, Global, Dtype, PickledArray> v;
};

template <class T>
Ptr make(T x) {
  return std::make_shared<Value>(Value{std::move(x)});
}

class Machine {
 public:
  Machine(const std::string& b, const std::string& origin) : b_(b), origin_(origin) {}

  PickledArray run() {
    for (;;) {
      size_t at = pos_;
      uint8_t op = byte();
      switch (op) {
        case 0x80:
          byte();
          break;  // PROTO
        case 0x95:
          take(8);
          break;  // FRAME (framing is transparent)
        case '.':
          return finish(at);  // STOP
        case '(':
          push(make(Mark{}));
          break;  // MARK
        case ')':
          push(make(Tuple{}));
          break;  // EMPTY_TUPLE
        case 't':
          push(make(Tuple{pop_mark()}));
          break;
        case 0x85:
          tuple_n(1);
          break;
        case 0x86:
          tuple_n(2);
          break;
        case 0x87:
          tuple_n(3);
          break;
        case 'N':
          push(make(None{}));
          break;
        case 0x88:
          push(make(true));
          break;
        case 0x89:
          push(make(false));
          break;
        case 'K':
          push(make(int64_t(uint8_t(take(1)[0]))));
          break;
        case 'M':
          push(make(int64_t(le(take(2)))));
          break;
        case 'J':
          push(make(int64_t(int32_t(le(take(4))))));
          break;
        case 0x8a: {  // LONG1
          size_t n = uint8_t(take(1)[0]);
          RM_CHECK(n <= 8, origin_, ": pickle integer of ", n, " bytes is too large");
          std::string d = take(n);
          int64_t v = n ? int64_t(le(d)) : 0;
          if (n && n < 8 && (uint8_t(d[n - 1]) & 0x80)) v -= int64_t(1) << (8 * n);
          push(make(v));
          break;
        }
        case 0x8c:
          push(make(take(uint8_t(take(1)[0]))));
          break;  // SHORT_BINUNICODE
        case 'X':
          push(make(take(le(take(4)))));
          break;  // BINUNICODE
        case 0x8d:
          push(make(take(le(take(8)))));
          break;  // BINUNICODE8
        case 'C':
          push(make(Bytes{take(uint8_t(take(1)[0]))}));
          break;  // SHORT_BINBYTES
        case 'B':
          push(make(Bytes{take(le(take(4)))}));
          break;  // BINBYTES
        case 0x8e:
          push(make(Bytes{take(le(take(8)))}));
          break;  // BINBYTES8
        case 'U':
          push(make(take(uint8_t(take(1)[0]))));
          break;     // SHORT_BINSTRING
        case 'c': {  // GLOBAL
          std::string mod = line(), name = line();
          push(make(Global{check_global(mod + "." + name, at)}));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          std::string name = str(pop()), mod = str(pop());
          push(make(Global{check_global(mod + "." + name, at)}));
          break;
        }
        case 0x94:
          memo_[memo_.size()] = top();
          break;  // MEMOIZE
        case 'q':
          memo_[uint8_t(take(1)[0])] = top();
          break;
        case 'r':
          memo_[le(take(4))] = top();
          break;
        case 'h':
          push(get_memo(uint8_t(take(1)[0]), at));
          break;
        case 'j':
          push(get_memo(le(take(4)), at));
          break;
        case 'R':
          reduce(at);
          break;
        case 'b':
          build(at);
          break;
        default:
          RM_FAIL(origin_, ": pickle opcode 0x", hex(op), " at byte ", at,
                  " is not allowed (only NumPy array reconstruction is read)");
      }
    }
  }

 private:
  static std::string hex(uint8_t v) {
    const char* d = "0123456789abcdef";
    return std::string{d[v >> 4], d[v & 15]};
  }
  uint8_t byte() { return uint8_t(take(1)[0]); }
  std::string take(uint64_t n) {
    RM_CHECK(n <= b_.size() - pos_, origin_, ": truncated pickle (needs ", n, " bytes at ", pos_,
             ", file has ", b_.size(), ")");
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  static uint64_t le(const std::string& s) {
    uint64_t v = 0;
    for (size_t i = s.size(); i-- > 0;) v = (v << 8) | uint8_t(s[i]);
    return v;
  }
  std::string line() {
    size_t e = b_.find('\n', pos_);
    RM_CHECK(e != std::string::npos, origin_, ": truncated pickle (unterminated GLOBAL)");
    std::string s = b_.substr(pos_, e - pos_);
    pos_ = e + 1;
    return s;
  }
  std::string check_global(const std::string& g, size_t at) {
    static const char* allowed[] = {"numpy.core.multiarray._reconstruct",
                                    "numpy._core.multiarray._reconstruct", "numpy.ndarray",
                                    "numpy.dtype", "_codecs.encode"};
    for (const char* a : allowed)
      if (g == a) return g;
    RM_FAIL(origin_, ": pickle global '", g, "' at byte ", at,
            " is not allowed (only NumPy array reconstruction is read)");
  }
  void push(Ptr p) { stack_.push_back(std::move(p)); }
  Ptr top() {
    RM_CHECK(!stack_.empty(), origin_, ": malformed pickle (empty stack)");
    return stack_.back();
  }
  Ptr pop() {
    Ptr p = top();
    stack_.pop_back();
    return p;
  }
  std::vector<Ptr> pop_mark() {
    std::vector<Ptr> items;
    for (;;) {
      Ptr p = pop();
      if (std::holds_alternative<Mark>(p->v)) break;
      items.insert(items.begin(), p);
    }
    return items;
  }
  void tuple_n(size_t n) {
    std::vector<Ptr> items(n);
    for (size_t i = n; i-- > 0;) items[i] = pop();
    push(make(Tuple{items}));
  }
  Ptr get_memo(uint64_t k, size_t at) {
    auto it = memo_.find(k);
    RM_CHECK(it != memo_.end(), origin_, ": malformed pickle (memo ", k, " unset at byte ", at,
             ")");
    return it->second;
  }
  std::string str(const Ptr& p) {
    RM_CHECK(std::holds_alternative<std::string>(p->v), origin_,
             ": malformed pickle (expected a string)");
    return std::get<std::string>(p->v);
  }
  const Tuple& tup(const Ptr& p, const char* what) {
    RM_CHECK(std::holds_alternative<Tuple>(p->v), origin_, ": malformed pickle (", what,
             " is not a tuple)");
    return std::get<Tuple>(p->v);
  }
  void reduce(size_t at) {
    Ptr args = pop(), fn = pop();
    RM_CHECK(std::holds_alternative<Global>(fn->v), origin_, ": REDUCE at byte ", at,
             " on something that is not an allowed global");
    const std::string& g = std::get<Global>(fn->v).name;
    const Tuple& a = tup(args, "REDUCE arguments");
    if (g == "numpy.dtype") {
      RM_CHECK(!a.items.empty(), origin_, ": numpy.dtype without a type");
      push(make(Dtype{str(a.items[0])}));
    } else if (g == "_codecs.encode") {  // protocol 2 bytes: latin-1 text back to bytes
      RM_CHECK(a.items.size() == 2 && str(a.items[1]) == "latin1", origin_,
               ": _codecs.encode is only accepted with 'latin1'");
      push(make(Bytes{latin1(str(a.items[0]))}));
    } else if (g.size() > 12 && g.compare(g.size() - 12, 12, "_reconstruct") == 0) {
      push(make(PickledArray{}));
    } else {
      RM_FAIL(origin_, ": REDUCE of '", g, "' at byte ", at, " is not allowed");
    }
  }
  // UTF-8 text of code points < 256 -> those bytes
  std::string latin1(const std::string& u) {
    std::string out;
    for (size_t i = 0; i < u.size(); ++i) {
      uint8_t c = uint8_t(u[i]);
      if (c < 0x80) {
        out += char(c);
      } else {
        RM_CHECK((c & 0xE0) == 0xC0 && i + 1 < u.size(), origin_, ": bad latin-1 payload");
        out += char(((c & 0x1F) << 6) | (uint8_t(u[++i]) & 0x3F));
      }
    }
    return out;
  }
  void build(size_t at) {
    Ptr state = pop(), obj = top();
    if (std::holds_alternative<Dtype>(obj->v)) {
      const Tuple& s = tup(state, "dtype state");
      RM_CHECK(s.items.size() >= 2, origin_, ": malformed dtype state");
      std::string order = str(s.items[1]);
      RM_CHECK(order == "|" || order == "<", origin_, ": big-endian arrays are not supported");
      return;
    }
    RM_CHECK(std::holds_alternative<PickledArray>(obj->v), origin_, ": BUILD at byte ", at,
             " on something that is not an array");
    const Tuple& s = tup(state, "array state");
    RM_CHECK(s.items.size() == 5, origin_, ": array state has ", s.items.size(),
             " items, expected 5");
    PickledArray& arr = std::get<PickledArray>(obj->v);
    for (const Ptr& d : tup(s.items[1], "shape").items) {
      RM_CHECK(std::holds_alternative<int64_t>(d->v), origin_, ": shape entry is not an integer");
      arr.shape.push_back(std::get<int64_t>(d->v));
    }
    RM_CHECK(std::holds_alternative<Dtype>(s.items[2]->v), origin_, ": array dtype missing");
    arr.dtype = std::get<Dtype>(s.items[2]->v).type;
    RM_CHECK(std::holds_alternative<bool>(s.items[3]->v) && !std::get<bool>(s.items[3]->v), origin_,
             ": Fortran-order arrays are not supported");
    RM_CHECK(std::holds_alternative<Bytes>(s.items[4]->v), origin_,
             ": array data is not raw bytes (object arrays are not supported)");
    const std::string& d = std::get<Bytes>(s.items[4]->v).data;
    arr.data.assign(d.begin(), d.end());
  }
  PickledArray finish(size_t at) {
    Ptr p = pop();
    RM_CHECK(std::holds_alternative<PickledArray>(p->v), origin_, ": the pickle at byte ", at,
             " holds something other than a NumPy array");
    PickledArray a = std::get<PickledArray>(p->v);
    uint64_t n = 1;  // elements, with every overflow an error (the bytes come from outside)
    for (int64_t s : a.shape)
      RM_CHECK(s >= 0 && !__builtin_mul_overflow(n, uint64_t(s), &n), origin_,
               ": array shape dimension ", s, " is negative or the element count overflows");
    // the dtype string is "u1", "f4", ...: a kind, then the item size in digits
    const bool digits = a.dtype.size() >= 2 && a.dtype.size() <= 3 &&
                        a.dtype.find_first_not_of("0123456789", 1) == std::string::npos;
    const uint64_t item = digits ? std::stoull(a.dtype.substr(1)) : 0;
    uint64_t bytes = 0;
    RM_CHECK(item > 0 && !__builtin_mul_overflow(n, item, &bytes) && bytes == a.data.size(),
             origin_, ": array of dtype '", a.dtype, "' and ", n, " elements holds ", a.data.size(),
             " bytes");
    return a;
  }

  const std::string& b_;
  std::string origin_;
  size_t pos_ = 0;
  std::vector<Ptr> stack_;
  std::map<uint64_t, Ptr> memo_;
};

}  // namespace

PickledArray parse_pickled_array(const std::string& bytes, const std::string& origin) {
  return Machine(bytes, origin).run();
}

PickledArray read_pickled_array(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  RM_CHECK(f, path, ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  return parse_pickled_array(bytes, path);
}

}  // namespace rmgait::data
