#pragma once
// safetensors files: 8-byte little-endian header length, a JSON header mapping each name to
// {dtype, shape, data_offsets} (plus an optional "__metadata__" of strings), then raw
// little-endian data. Readable by PyTorch's `safetensors`. Writes are atomic (temp + rename).
// Limits: the header's length against the file; each tensor's shape (overflow-checked, at most
// 8 dimensions) against its data_offsets, those against the file's data; all tensors together
// at most the data (no overlapping spans); nothing allocated before those checks.
#include <functional>
#include <map>
#include <string>

#include "engine/tensor.h"

namespace rmgait::formats {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Where each tensor lies: its dtype, shape and the absolute byte offset of its data.
struct SafetensorsEntry {
  DType dtype = DType::f32;
  Shape shape;
  uint64_t offset = 0, bytes = 0;
};
struct SafetensorsIndex {
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
};

// `before_commit`: as write_file_atomically's (engine/atomic_file.h).
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {},
                      const std::function<void()>& before_commit = {});
// Validates everything (sizes, dtypes, offsets, JSON); errors name the file and the key.
SafetensorsFile load_safetensors(const std::string& path);
// The header alone, validated as load_safetensors validates it: for readers that stream a
// tensor's data in pieces instead of holding it whole.
SafetensorsIndex read_safetensors_index(const std::string& path);

}  // namespace rmgait::formats
