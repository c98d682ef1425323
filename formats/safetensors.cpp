#include "formats/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace rmgait::formats {

namespace {
const char* st_dtype(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::u8:
      return "U8";
    case DType::i32:
      return "I32";
    case DType::i64:
      return "I64";
    case DType::bf16:
      return "BF16";
  }
  return "";
}

DType parse_dtype(const std::string& s, const std::string& path, const std::string& key) {
  if (s == "F32") return DType::f32;
  if (s == "U8") return DType::u8;
  if (s == "I32") return DType::i32;
  if (s == "I64") return DType::i64;
  if (s == "BF16") return DType::bf16;
  RM_FAIL(path, ": tensor '", key, "' has dtype ", s, "; supported: F32, BF16, I64, I32, U8");
}
}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata,
                      const std::function<void()>& before_commit) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    RM_CHECK(name != "__metadata__", path, ": '__metadata__' is not a tensor name");
    Tensor c = t.detach().to(Device::cpu).contiguous();
    uint64_t bytes = uint64_t(c.numel()) * dtype_size(c.dtype());
    header[name] = {{"dtype", st_dtype(c.dtype())},
                    {"shape", c.shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(c);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  write_file_atomically(
      path,
      [&](std::ostream& f) {
        uint64_t n = h.size();
        unsigned char len[8];
        for (int i = 0; i < 8; ++i) len[i] = uint8_t(n >> (8 * i));
        f.write(reinterpret_cast<const char*>(len), 8);
        f.write(h.data(), std::streamsize(h.size()));
        for (const Tensor& c : data)
          f.write(static_cast<const char*>(c.raw_data()),
                  std::streamsize(size_t(c.numel()) * dtype_size(c.dtype())));
      },
      before_commit);
}

SafetensorsIndex read_safetensors_index(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  RM_CHECK(f, path, ": cannot open safetensors file");
  const uint64_t size = uint64_t(f.tellg());
  f.seekg(0);
  RM_CHECK(size >= 8, path, ": truncated safetensors file (", size, " bytes)");
  unsigned char len[8];
  f.read(reinterpret_cast<char*>(len), 8);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | len[i];
  RM_CHECK(hlen <= size - 8, path, ": header length ", hlen, " exceeds the file (", size,
           " bytes): truncated or not a safetensors file");
  std::string h(hlen, '\0');
  f.read(h.data(), std::streamsize(hlen));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(h);
  } catch (const nlohmann::json::exception& e) {
    RM_FAIL(path, ": header is not valid JSON: ", e.what());
  }
  RM_CHECK(header.is_object(), path, ": header is not a JSON object");
  const uint64_t data_size = size - 8 - hlen;
  uint64_t spans = 0;  // bytes of the tensors read so far
  SafetensorsIndex out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    try {
      if (key == "__metadata__") {
        for (auto m = v.begin(); m != v.end(); ++m)
          out.metadata[m.key()] = m.value().get<std::string>();
        continue;
      }
      DType dt = parse_dtype(v.at("dtype").get<std::string>(), path, key);
      Shape shape = v.at("shape").get<Shape>();
      auto offs = v.at("data_offsets").get<std::vector<uint64_t>>();
      RM_CHECK(offs.size() == 2 && offs[0] <= offs[1] && offs[1] <= data_size, path, ": tensor '",
               key, "' has data_offsets outside the ", data_size, " data bytes (truncated file?)");
      // The shape is only a claim until its bytes are found in the file: checked (without
      // overflow) against the data_offsets, themselves inside the file, before any allocation.
      RM_CHECK(shape.size() <= 8, path, ": tensor '", key, "' has ", shape.size(),
               " dimensions (at most 8 are read)");
      // (zero dimensions counted as one: strides are products of dimensions even when empty)
      uint64_t bytes = dtype_size(dt), extent = 1;
      bool fits = true;
      for (int64_t d : shape) {
        fits = fits && d >= 0 && !__builtin_mul_overflow(bytes, uint64_t(d), &bytes) &&
               !__builtin_mul_overflow(extent, uint64_t(std::max<int64_t>(d, 1)), &extent) &&
               extent < (uint64_t(1) << 62);
      }
      RM_CHECK(fits && offs[1] - offs[0] == bytes, path, ": tensor '", key, "' ", shape_str(shape),
               " needs ", fits ? std::to_string(bytes) : "more", " bytes but data_offsets span ",
               offs[1] - offs[0]);
      // Tensors may not share bytes (the format forbids overlapping data_offsets): together
      // they hold at most the file's data, however many entries point at one span.
      spans += bytes;
      RM_CHECK(spans <= data_size, path, ": tensor '", key, "': the tensors so far span ", spans,
               " bytes, more than the file's ", data_size,
               " data bytes (overlapping data_offsets)");
      out.entries[key] = {dt, shape, 8 + hlen + offs[0], bytes};
    } catch (const nlohmann::json::exception& e) {
      RM_FAIL(path, ": malformed header entry '", key, "': ", e.what());
    }
  }
  return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
  SafetensorsIndex index = read_safetensors_index(path);
  std::ifstream f(path, std::ios::binary);
  RM_CHECK(f, path, ": cannot open safetensors file");
  SafetensorsFile out;
  out.metadata = std::move(index.metadata);
  for (const auto& [key, e] : index.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);  // e.bytes: checked against the file
    f.seekg(std::streamoff(e.offset));
    f.read(static_cast<char*>(t.raw_data()), std::streamsize(e.bytes));
    RM_CHECK(uint64_t(f.gcount()) == e.bytes, path, ": tensor '", key, "': short read");
    out.tensors[key] = t;
  }
  return out;
}

}  // namespace rmgait::formats
