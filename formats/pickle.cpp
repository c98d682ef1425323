#include "formats/pickle.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "engine/error.h"

namespace rmgait::formats {

namespace {

template <class T>
PyPtr make(T x) {
  return std::make_shared<PyValue>(PyValue{std::move(x), 0, false});
}

class Machine {
 public:
  Machine(const std::string& b, const std::string& origin, const PickleRules& rules)
      : b_(b), origin_(origin), rules_(rules) {}

  PyPtr run() {
    for (;;) {
      const size_t at = pos_;
      const uint8_t op = byte();
      if (container_op(op, at)) continue;
      switch (op) {
        case 0x80:  // PROTO
          byte();
          break;
        case 0x95:  // FRAME (framing is transparent)
          take(8);
          break;
        case '.': {  // STOP
          PyPtr p = pop();
          RM_CHECK(!std::holds_alternative<PyMark>(p->v), origin_,
                   ": malformed pickle (STOP on a mark)");
          return p;
        }
        case '(':
          push(make(PyMark{}));
          break;
        case ')':
          push(make(PyTuple{}));
          break;
        case 't': {
          std::vector<PyPtr> items = pop_mark();
          push(nested(make(PyTuple{items}), items, at));
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87:
          tuple_n(op - 0x84, at);
          break;
        case 'N':
          push(make(PyNone{}));
          break;
        case 0x88:
          push(make(true));
          break;
        case 0x89:
          push(make(false));
          break;
        case 'K':
          push(make(int64_t(byte())));
          break;
        case 'M':
          push(make(int64_t(le(take(2)))));
          break;
        case 'J':
          push(make(int64_t(int32_t(le(take(4))))));
          break;
        case 0x8a: {  // LONG1
          const size_t n = byte();
          RM_CHECK(n <= 8, origin_, ": pickle integer of ", n, " bytes is too large");
          const std::string d = take(n);
          int64_t v = n ? int64_t(le(d)) : 0;
          if (n && n < 8 && (uint8_t(d[n - 1]) & 0x80)) v -= int64_t(1) << (8 * n);
          push(make(v));
          break;
        }
        case 0x8c:  // SHORT_BINUNICODE
        case 'U':   // SHORT_BINSTRING
          push(make(take(byte())));
          break;
        case 'X':  // BINUNICODE
          push(make(take(le(take(4)))));
          break;
        case 0x8d:  // BINUNICODE8
          push(make(take(le(take(8)))));
          break;
        case 'C':  // SHORT_BINBYTES
          push(make(PyBytes{take(byte())}));
          break;
        case 'B':  // BINBYTES
          push(make(PyBytes{take(le(take(4)))}));
          break;
        case 0x8e:  // BINBYTES8
          push(make(PyBytes{take(le(take(8)))}));
          break;
        case 'c': {  // GLOBAL
          const std::string mod = line(), name = line();
          push(make(PyGlobal{check_global(mod + "." + name, at)}));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const std::string name = str(pop()), mod = str(pop());
          push(make(PyGlobal{check_global(mod + "." + name, at)}));
          break;
        }
        case 0x94:  // MEMOIZE
          memo_[memo_.size()] = top();
          break;
        case 'q':
          memo_[byte()] = top();
          break;
        case 'r':
          memo_[le(take(4))] = top();
          break;
        case 'h':
          push(get_memo(byte(), at));
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
        case 'Q': {  // BINPERSID
          if (!rules_.persistent_ids) refuse(op, at);
          PyPtr id = pop();
          push(nested(make(PyPersistent{id}), {id}, at));
          break;
        }
        default:
          refuse(op, at);
      }
    }
  }

 private:
  [[noreturn]] void refuse(uint8_t op, size_t at) {
    const char* d = "0123456789abcdef";
    RM_FAIL(origin_, ": pickle opcode 0x", std::string{d[op >> 4], d[op & 15]}, " at byte ", at,
            " is not allowed (only ", rules_.what, " are read)");
  }
  // Dicts, lists and floats (PyTorch state dicts); false when op is none of them.
  bool container_op(uint8_t op, size_t at) {
    if (!std::strchr("}]saueG", op) || op == 0) return false;
    if (!rules_.containers) refuse(op, at);
    switch (op) {
      case '}':
        push(make(PyDict{}));
        break;
      case ']':
        push(make(PyList{}));
        break;
      case 's': {  // SETITEM
        PyPtr v = pop(), k = pop();
        nested(top(), {k, v}, at);
        dict_at(top(), at).items.emplace_back(std::move(k), std::move(v));
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<PyPtr> kv = pop_mark();
        RM_CHECK(kv.size() % 2 == 0, origin_, ": SETITEMS at byte ", at, " with an odd count");
        PyDict& d = dict_at(top(), at);
        nested(top(), kv, at);
        for (size_t i = 0; i < kv.size(); i += 2) d.items.emplace_back(kv[i], kv[i + 1]);
        break;
      }
      case 'a': {  // APPEND
        PyPtr v = pop();
        nested(top(), {v}, at);
        list_at(top(), at).items.push_back(std::move(v));
        break;
      }
      case 'e': {  // APPENDS
        std::vector<PyPtr> vs = pop_mark();
        PyList& l = list_at(top(), at);
        nested(top(), vs, at);
        l.items.insert(l.items.end(), vs.begin(), vs.end());
        break;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const std::string s = take(8);
        uint64_t u = 0;
        for (char c : s) u = (u << 8) | uint8_t(c);
        double v;
        std::memcpy(&v, &u, 8);
        push(make(v));
        break;
      }
    }
    return true;
  }
  // `parent` now holds `child`: its depth grows to hold it, within kMaxPickleDepth
  void nest(const PyPtr& parent, const PyPtr& child, size_t at) {
    if (!child) return;
    child->held = true;  // first: a value placed inside itself is refused too
    RM_CHECK(!parent->held, origin_, ": pickle modifies a value already inside another at byte ",
             at, " (a cycle, or not a pickle Python writes)");
    parent->depth = std::max(parent->depth, child->depth + 1);
    RM_CHECK(parent->depth <= kMaxPickleDepth, origin_, ": pickle nested deeper than ",
             kMaxPickleDepth, " levels at byte ", at);
  }
  PyPtr nested(PyPtr p, const std::vector<PyPtr>& children, size_t at) {
    for (const PyPtr& c : children) nest(p, c, at);
    return p;
  }
  PyDict& dict_at(const PyPtr& p, size_t at) {
    RM_CHECK(std::holds_alternative<PyDict>(p->v), origin_, ": SETITEM at byte ", at,
             " on something that is not a dict");
    return std::get<PyDict>(p->v);
  }
  PyList& list_at(const PyPtr& p, size_t at) {
    RM_CHECK(std::holds_alternative<PyList>(p->v), origin_, ": APPEND at byte ", at,
             " on something that is not a list");
    return std::get<PyList>(p->v);
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
    const size_t e = b_.find('\n', pos_);
    RM_CHECK(e != std::string::npos, origin_, ": truncated pickle (unterminated GLOBAL)");
    std::string s = b_.substr(pos_, e - pos_);
    pos_ = e + 1;
    return s;
  }
  std::string check_global(const std::string& g, size_t at) {
    for (const std::string& a : rules_.globals)
      if (g == a) return g;
    RM_FAIL(origin_, ": pickle global '", g, "' at byte ", at, " is not allowed (only ",
            rules_.what, " are read)");
  }
  void push(PyPtr p) { stack_.push_back(std::move(p)); }
  PyPtr top() {
    RM_CHECK(!stack_.empty(), origin_, ": malformed pickle (empty stack)");
    return stack_.back();
  }
  PyPtr pop() {
    PyPtr p = top();
    stack_.pop_back();
    return p;
  }
  std::vector<PyPtr> pop_mark() {
    size_t m = stack_.size();
    while (m > 0 && !std::holds_alternative<PyMark>(stack_[m - 1]->v)) --m;
    RM_CHECK(m > 0, origin_, ": malformed pickle (no mark)");
    std::vector<PyPtr> items(stack_.begin() + m, stack_.end());
    stack_.resize(m - 1);
    return items;
  }
  void tuple_n(size_t n, size_t at) {
    std::vector<PyPtr> items(n);
    for (size_t i = n; i-- > 0;) items[i] = pop();
    push(nested(make(PyTuple{items}), items, at));
  }
  PyPtr get_memo(uint64_t k, size_t at) {
    auto it = memo_.find(k);
    RM_CHECK(it != memo_.end(), origin_, ": malformed pickle (memo ", k, " unset at byte ", at,
             ")");
    return it->second;
  }
  std::string str(const PyPtr& p) { return py_str(p, origin_, "a global's name"); }
  void reduce(size_t at) {
    PyPtr args = pop(), fn = pop();
    RM_CHECK(std::holds_alternative<PyGlobal>(fn->v), origin_, ": REDUCE at byte ", at,
             " on something that is not an allowed global");
    const std::string& g = std::get<PyGlobal>(fn->v).name;
    const PyTuple& a = py_tuple(args, origin_, "REDUCE arguments");
    if (g == "_codecs.encode") {  // protocol 2 bytes: latin-1 text back to bytes
      RM_CHECK(a.items.size() == 2 && str(a.items[1]) == "latin1", origin_,
               ": _codecs.encode is only accepted with 'latin1'");
      charge_copy(str(a.items[0]).size(), at);
      push(make(PyBytes{latin1(str(a.items[0]))}));
    } else if (g == "collections.OrderedDict" || g == "collections.Counter") {
      PyDict d;
      if (!a.items.empty()) {
        const PyDict& from = py_dict(a.items[0], origin_, "the argument of a dict");
        charge_copy(from.items.size() * sizeof(from.items[0]), at);
        d = from;
      }
      push(make(std::move(d)));
      if (!a.items.empty()) top()->depth = a.items[0]->depth;
    } else {
      push(nested(make(PyCall{g, a.items, nullptr}), a.items, at));
    }
  }
  // REDUCE copies its argument, and a memoised argument can be reduced again for a few bytes: the
  // copies together may cost at most as many bytes as the pickle holds (Python's pickles copy
  // one array's data once), so that a small pickle cannot ask for a quadratic amount.
  void charge_copy(uint64_t bytes, size_t at) {
    copied_ += bytes;
    RM_CHECK(copied_ <= b_.size(), origin_, ": pickle copies ", copied_, " bytes by byte ", at,
             ", more than the ", b_.size(), " it holds (values reduced again and again)");
  }
  // UTF-8 text of code points < 256 -> those bytes
  std::string latin1(const std::string& u) {
    std::string out;
    for (size_t i = 0; i < u.size(); ++i) {
      const uint8_t c = uint8_t(u[i]);
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
    PyPtr state = pop(), obj = top();
    if (std::holds_alternative<PyDict>(obj->v)) return;  // an OrderedDict's attributes
    RM_CHECK(std::holds_alternative<PyCall>(obj->v), origin_, ": BUILD at byte ", at,
             " on something that is not an object");
    nest(obj, state, at);
    std::get<PyCall>(obj->v).state = std::move(state);
  }

  const std::string& b_;
  const std::string& origin_;
  const PickleRules& rules_;
  size_t pos_ = 0;
  uint64_t copied_ = 0;  // bytes REDUCE has copied (charge_copy)
  std::vector<PyPtr> stack_;
  std::map<uint64_t, PyPtr> memo_;
};

template <class T>
const T& get(const PyPtr& p, const std::string& origin, const char* what, const char* type) {
  RM_CHECK(p && std::holds_alternative<T>(p->v), origin, ": malformed pickle (", what, " is not ",
           type, ")");
  return std::get<T>(p->v);
}

}  // namespace

PyPtr unpickle(const std::string& bytes, const std::string& origin, const PickleRules& rules) {
  return Machine(bytes, origin, rules).run();
}

const std::string& py_str(const PyPtr& p, const std::string& origin, const char* what) {
  return get<std::string>(p, origin, what, "a string");
}
int64_t py_int(const PyPtr& p, const std::string& origin, const char* what) {
  return get<int64_t>(p, origin, what, "an integer");
}
const PyTuple& py_tuple(const PyPtr& p, const std::string& origin, const char* what) {
  return get<PyTuple>(p, origin, what, "a tuple");
}
const PyDict& py_dict(const PyPtr& p, const std::string& origin, const char* what) {
  return get<PyDict>(p, origin, what, "a dict");
}
const PyCall& py_call(const PyPtr& p, const std::string& origin, const char* what) {
  return get<PyCall>(p, origin, what, "an object");
}

}  // namespace rmgait::formats
