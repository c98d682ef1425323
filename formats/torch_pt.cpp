#include "formats/torch_pt.h"

#include <cstring>
#include <fstream>
#include <string_view>

#include "engine/error.h"
#include "engine/math/bf16.h"
#include "formats/pickle.h"
#include "formats/zip.h"

namespace rmgait::formats {

namespace {

// What torch.save writes for a state dict, and nothing else.
const PickleRules& torch_rules() {
  static const PickleRules rules{
      {"torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
       "collections.OrderedDict", "collections.Counter", "torch.FloatStorage", "torch.HalfStorage",
       "torch.BFloat16Storage", "torch.DoubleStorage", "torch.LongStorage", "torch.IntStorage",
       "torch.ByteStorage"},
      "PyTorch state dicts",
      true,
      true};
  return rules;
}

struct StorageType {
  const char* global;
  size_t item;  // bytes per element
  DType dtype;  // of the tensor made from it
};
const StorageType kStorages[] = {
    {"torch.FloatStorage", 4, DType::f32},    {"torch.HalfStorage", 2, DType::f32},
    {"torch.BFloat16Storage", 2, DType::f32}, {"torch.DoubleStorage", 8, DType::f32},
    {"torch.LongStorage", 8, DType::i64},     {"torch.IntStorage", 4, DType::i32},
    {"torch.ByteStorage", 1, DType::u8}};

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      uint32_t m = man;
      do {
        ++e;
        m <<= 1;
      } while (!(m & 0x400));
      bits = sign | uint32_t(127 - 15 - e) << 23 | (m & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | man << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

class Reader {
 public:
  explicit Reader(const ZipReader& zip) : zip_(zip), origin_(zip.origin()) {
    for (const std::string& n : zip.names()) {
      const size_t at = n.size() >= 9 ? n.size() - 9 : std::string::npos;
      if (n.size() >= 9 && n.compare(at, 9, "/data.pkl") == 0 && n.find('/') == at) {
        RM_CHECK(prefix_.empty(), origin_, ": two pickles in the archive ('", prefix_,
                 "data.pkl' and '", n, "')");
        prefix_ = n.substr(0, at + 1);
      }
    }
    RM_CHECK(!prefix_.empty(), origin_,
             ": no '<name>/data.pkl' in the archive (not a torch.save checkpoint)");
    if (zip.has(prefix_ + "byteorder")) {
      const std::string order = zip.read(prefix_ + "byteorder", 16);
      RM_CHECK(order == "little", origin_, ": byteorder '", order,
               "': only little-endian checkpoints are read");
    }
  }

  TorchCheckpoint run() {
    const std::string pkl = prefix_ + "data.pkl";
    const PyPtr top =
        unpickle(zip_.read(pkl, uint64_t(1) << 30), origin_ + ":" + pkl, torch_rules());
    const PyDict& d = py_dict(top, origin_, "the checkpoint");
    TorchCheckpoint ck;
    const PyDict* state = &d;
    for (const auto& [k, v] : d.items) {  // OpenGait: {'model': ..., 'iteration': n, ...}
      if (!std::holds_alternative<std::string>(k->v)) continue;
      const std::string& key = std::get<std::string>(k->v);
      if (key == "model" && std::holds_alternative<PyDict>(v->v)) {
        state = &std::get<PyDict>(v->v), ck.opengait_layout = true;
      }
    }
    if (ck.opengait_layout)
      for (const auto& [k, v] : d.items)
        if (std::holds_alternative<std::string>(k->v) && std::get<std::string>(k->v) == "iteration")
          ck.iteration = py_int(v, origin_, "'iteration'");
    for (const auto& [k, v] : state->items) {
      const std::string& name = py_str(k, origin_, "a state dict key");
      RM_CHECK(!ck.state.count(name), origin_, ": key '", name, "' appears twice");
      ck.state[name] = tensor(name, v);
    }
    return ck;
  }

 private:
  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, meta])
  // or _rebuild_parameter(tensor, requires_grad, hooks)
  Tensor tensor(const std::string& name, const PyPtr& v) {
    const std::string where = "'" + name + "'";
    const PyCall* c = &py_call(v, origin_, where.c_str());
    if (c->fn == "torch._utils._rebuild_parameter") {
      RM_CHECK(!c->args.empty(), origin_, ": ", where, ": _rebuild_parameter without a tensor");
      c = &py_call(c->args[0], origin_, where.c_str());
    }
    RM_CHECK(c->fn == "torch._utils._rebuild_tensor_v2" && c->args.size() >= 4, origin_, ": ",
             where, " is not a tensor (", c->fn, " with ", c->args.size(), " arguments)");
    RM_CHECK(std::holds_alternative<PyPersistent>(c->args[0]->v), origin_, ": ", where,
             ": the tensor's storage is not a persistent id");
    const PyTuple& id = py_tuple(std::get<PyPersistent>(c->args[0]->v).id, origin_, "a storage id");
    RM_CHECK(id.items.size() == 5 && py_str(id.items[0], origin_, "a storage id") == "storage",
             origin_, ": ", where, ": a storage id is ('storage', type, key, location, numel)");
    RM_CHECK(std::holds_alternative<PyGlobal>(id.items[1]->v), origin_, ": ", where,
             ": the storage type is not a global");
    const std::string& type = std::get<PyGlobal>(id.items[1]->v).name;
    const StorageType* st = nullptr;
    for (const StorageType& s : kStorages)
      if (type == s.global) st = &s;
    RM_CHECK(st, origin_, ": ", where, ": storage type '", type, "' is not read");
    const std::string& key = py_str(id.items[2], origin_, "a storage key");
    const int64_t numel = py_int(id.items[4], origin_, "a storage size");
    uint64_t storage_bytes = 0;
    RM_CHECK(numel >= 0 && !__builtin_mul_overflow(uint64_t(numel), st->item, &storage_bytes),
             origin_, ": ", where, ": storage of ", numel, " elements");
    const std::string& bytes = storage(key, uint64_t(numel), storage_bytes, where);
    const int64_t offset = py_int(c->args[1], origin_, "a storage offset");
    Shape size;
    std::vector<int64_t> stride;
    for (const PyPtr& s : py_tuple(c->args[2], origin_, "a tensor size").items)
      size.push_back(py_int(s, origin_, "a size"));
    for (const PyPtr& s : py_tuple(c->args[3], origin_, "a tensor stride").items)
      stride.push_back(py_int(s, origin_, "a stride"));
    RM_CHECK(size.size() == stride.size() && size.size() <= 8, origin_, ": ", where, ": ",
             size.size(), " sizes and ", stride.size(), " strides");
    // every element must lie in the storage: offset + sum((size - 1) * stride) < numel
    int64_t n = 1, last = offset;
    bool ok = offset >= 0;
    for (size_t i = 0; i < size.size(); ++i) {
      ok = ok && size[i] >= 0 && stride[i] >= 0 && !__builtin_mul_overflow(n, size[i], &n);
      int64_t reach = 0;
      ok = ok && (size[i] == 0 || (!__builtin_mul_overflow(size[i] - 1, stride[i], &reach) &&
                                   !__builtin_add_overflow(last, reach, &last)));
    }
    RM_CHECK(ok && (n == 0 || last < numel), origin_, ": ", where, ": size ", shape_str(size),
             " with strides and offset ", offset, " reaches past its storage of ", numel,
             " elements");
    // More elements than the storage holds repeat some (zero strides, an expanded view): a state
    // dict never saves one, and it would cost memory in proportion to a declared size.
    RM_CHECK(n <= numel, origin_, ": ", where, ": size ", shape_str(size), " has ", n,
             " elements, more than its storage of ", numel,
             " (overlapping or expanded tensors are not read)");
    // Tensors may share a storage (tied weights), but each costs its own memory: their elements
    // together are bounded by the storages' (times the sharing a state dict has), so that many
    // references to one storage cannot make a small file allocate much.
    tensor_elements_ += uint64_t(n);
    RM_CHECK(tensor_elements_ <= kMaxSharing * storage_elements_, origin_, ": ", where,
             ": the tensors so far hold ", tensor_elements_, " elements, more than ", kMaxSharing,
             " times the ", storage_elements_, " of their storages (storages reused too often)");
    Tensor t = Tensor::empty(size, st->dtype);
    std::vector<int64_t> idx(size.size(), 0);
    const auto* src = reinterpret_cast<const uint8_t*>(bytes.data());
    for (int64_t e = 0; e < n; ++e) {
      int64_t at = offset;
      for (size_t i = 0; i < size.size(); ++i) at += idx[i] * stride[i];
      put(t, e, src + at * st->item, *st);
      for (size_t i = size.size(); i-- > 0;) {  // next index, last dimension fastest
        if (++idx[i] < size[i]) break;
        idx[i] = 0;
      }
    }
    return t;
  }

  static void put(Tensor& t, int64_t e, const uint8_t* p, const StorageType& st) {
    const std::string_view g = st.global;  // a view: no allocation per element
    if (g == "torch.FloatStorage") {
      std::memcpy(t.data<float>() + e, p, 4);
    } else if (g == "torch.HalfStorage") {
      uint16_t h;
      std::memcpy(&h, p, 2);
      t.data<float>()[e] = half_to_float(h);
    } else if (g == "torch.BFloat16Storage") {
      t.data<float>()[e] = float_from_bf16_bits(uint16_t(p[0] | p[1] << 8));
    } else if (g == "torch.DoubleStorage") {
      double d;
      std::memcpy(&d, p, 8);
      t.data<float>()[e] = float(d);
    } else if (g == "torch.LongStorage") {
      std::memcpy(t.data<int64_t>() + e, p, 8);
    } else if (g == "torch.IntStorage") {
      std::memcpy(t.data<int32_t>() + e, p, 4);
    } else {
      t.data<uint8_t>()[e] = *p;
    }
  }

  const std::string& storage(const std::string& key, uint64_t numel, uint64_t nbytes,
                             const std::string& where) {
    auto it = storages_.find(key);
    if (it == storages_.end()) {
      const std::string entry = prefix_ + "data/" + key;
      RM_CHECK(zip_.has(entry), origin_, ": ", where, ": storage '", entry, "' missing");
      const uint64_t declared = zip_.size(entry);
      RM_CHECK(declared == nbytes, origin_, ": ", where, ": storage '", entry, "' holds ", declared,
               " bytes, its pickle says ", nbytes);
      it = storages_.emplace(key, zip_.read(entry, nbytes)).first;
      storage_elements_ += numel;
    } else {
      RM_CHECK(it->second.size() == nbytes, origin_, ": ", where, ": storage '", key,
               "' used with two sizes");
    }
    return it->second;
  }

  const ZipReader& zip_;
  const std::string& origin_;
  std::string prefix_;
  std::map<std::string, std::string> storages_;
  static constexpr uint64_t kMaxSharing = 4;
  uint64_t storage_elements_ = 0, tensor_elements_ = 0;
};

// Pickle protocol 2, as torch.save writes a state dict (without the memo, which readers do not
// need).
class Emitter {
 public:
  std::string out = std::string("\x80\x02", 2);
  void str(const std::string& s) {
    out += 'X';
    u32(uint32_t(s.size()));
    out += s;
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      out += 'K', out += char(v);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out += 'J', u32(uint32_t(int32_t(v)));
    } else {
      out += '\x8a', out += char(8);
      for (int i = 0; i < 8; ++i) out += char(uint64_t(v) >> (8 * i));
    }
  }
  void global(const char* mod, const char* name) {
    out += 'c', out += mod, out += '\n', out += name, out += '\n';
  }
  void tuple_of(const std::vector<int64_t>& v) {
    out += '(';
    for (int64_t x : v) integer(x);
    out += 't';
  }
  void ordered_dict() {
    global("collections", "OrderedDict");
    out += ")R";
  }

 private:
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out += char(v >> (8 * i));
  }
};

}  // namespace

TorchCheckpoint read_torch_checkpoint(const ZipReader& zip) {
  return Reader(zip).run();
}

TorchCheckpoint load_torch_checkpoint(const std::string& path) {
  ZipReader zip(path);
  return read_torch_checkpoint(zip);
}

bool is_torch_checkpoint(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  f.read(magic, 4);
  return f.gcount() == 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0;
}

void save_torch_checkpoint(const std::string& path, const std::map<std::string, Tensor>& state,
                           bool opengait, int64_t iteration) {
  const std::string name = "archive/";
  ZipWriter zip(path);
  Emitter p;
  if (opengait) p.out += "}(", p.str("model");
  p.ordered_dict();
  p.out += '(';
  std::vector<std::pair<std::string, std::string>> storages;
  for (const auto& [key, value] : state) {
    Tensor t = value.to(Device::cpu).contiguous();
    const char* type = t.dtype() == DType::f32   ? "FloatStorage"
                       : t.dtype() == DType::i64 ? "LongStorage"
                       : t.dtype() == DType::i32 ? "IntStorage"
                                                 : "ByteStorage";
    const std::string skey = std::to_string(storages.size());
    storages.emplace_back(skey, std::string(static_cast<const char*>(t.raw_data()),
                                            size_t(t.numel()) * dtype_size(t.dtype())));
    p.str(key);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.out += "((";  // the arguments, then the persistent id
    p.str("storage");
    p.global("torch", type);
    p.str(skey);
    p.str("cpu");
    p.integer(t.numel());
    p.out += "tQ";
    p.integer(0);
    p.tuple_of(t.shape());
    std::vector<int64_t> stride(t.dim(), 1);
    for (int64_t i = t.dim() - 1; i > 0; --i) stride[i - 1] = stride[i] * t.size(i);
    p.tuple_of(stride);
    p.out += '\x89';  // requires_grad False
    p.ordered_dict();
    p.out += "tR";
  }
  p.out += 'u';
  if (opengait) {
    p.str("iteration");
    p.integer(iteration);
    p.out += 'u';
  }
  p.out += '.';
  zip.add(name + "data.pkl", p.out);
  zip.add(name + "byteorder", "little");
  for (auto& [key, bytes] : storages) zip.add(name + "data/" + key, std::move(bytes));
  zip.add(name + "version", "3\n");
  zip.close();
}

}  // namespace rmgait::formats
