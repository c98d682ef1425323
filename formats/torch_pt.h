#pragma once
// PyTorch checkpoints (torch.save's zip archive: <name>/data.pkl, <name>/data/<key>,
// <name>/version, <name>/byteorder) read and written without Python. The pickle is read by the
// restricted unpickler (formats/pickle.h) with an allow-list of exactly what torch.save writes
// for a state dict (torch._utils._rebuild_tensor_v2, _rebuild_parameter,
// collections.OrderedDict, the torch.*Storage types as persistent ids; collections.Counter for
// the milestones of an OpenGait scheduler); nothing is ever executed. Storage offsets and strides
// are honoured; f32, f16, bf16 and f64 storages become f32 tensors, i64 / i32 / u8 keep theirs.
// Limits: data.pkl at most 1 GiB and each storage its pickle's size, both read through
// ZipReader's bounds (formats/zip.h); a tensor's extent inside its storage and no more elements
// than it holds; all tensors at most 4 times their storages' elements.
#include <map>
#include <optional>
#include <string>

#include "engine/tensor.h"

namespace rmgait::formats {

class ZipReader;

struct TorchCheckpoint {
  std::map<std::string, Tensor> state;  // the model's state dict
  std::optional<int64_t> iteration;     // OpenGait's 'iteration', when the file has one
  bool opengait_layout = false;         // {'model': state dict, 'iteration': n, ...}
};

// A bare state dict or OpenGait's {'model': ..., 'optimizer': ..., 'scheduler': ...,
// 'iteration': n} (the optimizer and scheduler are read past, not used).
TorchCheckpoint load_torch_checkpoint(const std::string& path);
TorchCheckpoint read_torch_checkpoint(const ZipReader& zip);
// Whether `path` is a zip archive (PyTorch's format) rather than safetensors.
bool is_torch_checkpoint(const std::string& path);

// Writes what torch.load(path, weights_only=True) reads: a state dict of contiguous tensors, or
// with `opengait` OpenGait's {'model': state dict, 'iteration': n}. Atomic (temp + rename).
void save_torch_checkpoint(const std::string& path, const std::map<std::string, Tensor>& state,
                           bool opengait = false, int64_t iteration = 0);

}  // namespace rmgait::formats
