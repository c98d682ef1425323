#pragma once
// A restricted unpickler (protocols 2-5) shared by the datasets (OpenGait's pickled NumPy arrays,
// formats/numpy_pickle.h) and the checkpoints (PyTorch's data.pkl, formats/torch_pt.h). It
// interprets the subset of the pickle machine that those files use and builds a tree of plain
// values; a global is only ever a name checked against the caller's allow-list, and calling one
// (REDUCE) only records the call (PyCall) for the caller to interpret. Nothing is ever executed:
// any other global or opcode is an error naming it and its byte offset.
// Limits: the pickle is in memory, and every length (strings, bytes, frames) is checked against
// the bytes left before anything is copied; values are built one opcode at a time; what REDUCE
// copies is at most the pickle's own size in all; nesting at most kMaxPickleDepth; no cycles.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace rmgait::formats {

struct PyValue;
using PyPtr = std::shared_ptr<PyValue>;

struct PyNone {};
struct PyBytes {
  std::string data;
};
struct PyTuple {
  std::vector<PyPtr> items;
};
struct PyList {
  std::vector<PyPtr> items;
};
struct PyDict {
  std::vector<std::pair<PyPtr, PyPtr>> items;  // in insertion order
};
struct PyGlobal {
  std::string name;  // "module.name", on the allow-list
};
// REDUCE of an allowed global: the call's arguments, and the state a later BUILD gave it.
struct PyCall {
  std::string fn;
  std::vector<PyPtr> args;
  PyPtr state;
};
// BINPERSID: the persistent id (PyTorch: ('storage', type, key, location, numel)).
struct PyPersistent {
  PyPtr id;
};
struct PyMark {};

struct PyValue {
  std::variant<PyNone, bool, int64_t, double, std::string, PyBytes, PyTuple, PyList, PyDict,
               PyGlobal, PyCall, PyPersistent, PyMark>
      v;
  // Nesting below this value (0 for a scalar): the reader refuses past kMaxPickleDepth, so that
  // walking or freeing a tree never recurses deeper than that.
  uint32_t depth = 0;
  // Whether another value holds this one: such a value never gains children afterwards, so no
  // pickle can make a cycle (which would also never be freed). Python's pickler fills every
  // container before it places it.
  bool held = false;
};
constexpr uint32_t kMaxPickleDepth = 200;

struct PickleRules {
  std::vector<std::string> globals;  // allowed "module.name"
  std::string what;                  // what the reader reads, for errors ("NumPy arrays")
  bool containers = false;           // dicts and lists (PyTorch state dicts)
  bool persistent_ids = false;       // BINPERSID (PyTorch storages)
};

// The value the pickle's STOP returns. Calls of collections.OrderedDict and collections.Counter
// become plain dicts, and _codecs.encode(text, 'latin1') becomes bytes, where allowed.
PyPtr unpickle(const std::string& bytes, const std::string& origin, const PickleRules& rules);

// Accessors that name `origin` and `what` in their error.
const std::string& py_str(const PyPtr& p, const std::string& origin, const char* what);
int64_t py_int(const PyPtr& p, const std::string& origin, const char* what);
const PyTuple& py_tuple(const PyPtr& p, const std::string& origin, const char* what);
const PyDict& py_dict(const PyPtr& p, const std::string& origin, const char* what);
const PyCall& py_call(const PyPtr& p, const std::string& origin, const char* what);

}  // namespace rmgait::formats
