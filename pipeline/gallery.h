#pragma once
// A gallery of enrolled identities (`rmgait enroll`, `rmgait identify`): the embeddings [G, C, P]
// of one model, each with a label (the identity) and a source (where its silhouettes came from).
// Stored as safetensors: the tensor "embeddings" and the metadata "labels" and "sources" (JSON
// arrays of strings) and "model" (model_fingerprint() of the weights that embedded them, so that
// a gallery made by another model is refused).
#include <optional>
#include <string>
#include <vector>

#include "engine/precision.h"
#include "engine/tensor.h"
#include "gait/model.h"

namespace rmgait::pipeline {

struct Gallery {
  Tensor embeddings;  // [G, C, P] f32 on the CPU; undefined while empty
  std::vector<std::string> labels, sources;
  std::string model;  // model_fingerprint() of the embedding model; "" while empty
  int64_t size() const { return int64_t(labels.size()); }
};

// 16 hex digits: FNV-1a over the settings that shape a model's embedding beside its weights
// (block, channels, input size, GLConv halving) and the names, shapes and values of its
// parameters and buffers.
std::string model_fingerprint(const gait::ReverseMaskModel& model);

// A missing file is an empty gallery; anything else that is not a gallery is an error naming the
// file and the key.
Gallery load_gallery(const std::string& path);
// A gallery file's metadata and where its embeddings [size, C, P] lie, checked as load_gallery
// checks them (the embeddings' values aside): for a search that streams them.
struct GalleryFile {
  std::string path, model;
  std::vector<std::string> labels, sources;
  int64_t c = 0, p = 0;
  uint64_t offset = 0;  // of the embeddings' first byte
  int64_t size() const { return int64_t(labels.size()); }
};
GalleryFile open_gallery(const std::string& path);
void save_gallery(const std::string& path, const Gallery& g);  // atomic (temp + rename)

// Adds embeddings [N, C, P] with their labels and sources made by the model `fingerprint`; an
// entry whose source is already enrolled is replaced, so that enrolling again adds nothing twice.
// Refuses another model's gallery, embeddings of another shape or not finite, and a source given
// twice; on an error g is left as it was.
struct EnrollCount {
  int64_t added = 0, replaced = 0;
};
EnrollCount add_to_gallery(Gallery& g, const std::string& fingerprint, const Tensor& embeddings,
                           const std::vector<std::string>& labels,
                           const std::vector<std::string>& sources);

// The k nearest identities to `query` [C, P]: each label's nearest entry by the paper's distance
// (the mean over parts of the Euclidean distance, as gait::Distance::per_part_mean), nearest
// first (ties: the earlier entry). One pass over the gallery: memory beyond it is a distance per
// entry.
struct Match {
  std::string label, source;
  double distance = 0;
};
std::vector<Match> nearest_identities(const Gallery& g, const Tensor& query, int64_t k);
// The same search streamed over the file's embeddings in tiles of at most memory_bytes (at least
// one entry each): memory bounded as the evaluator's, whatever the gallery's size. An entry
// holding a NaN or an infinity is an error naming it.
std::vector<Match> nearest_identities(const GalleryFile& g, const Tensor& query, int64_t k,
                                      int64_t memory_bytes);

// `rmgait enroll`: sequences embedded by a checkpoint's model and added to a gallery file.
// Sequences: a .npy or a PNG folder with `label`, or a packed dataset's sequences of `subjects`,
// each labelled with its subject; `conditions` ("nm", or "nm-01" for one sequence) and `views`
// ("090"), when given, keep only those.
struct EnrollRequest {
  std::string checkpoint, config, gallery;
  std::string npy, png_dir, label;
  std::string dataset;
  std::vector<std::string> subjects, conditions, views;
  std::optional<Precision> precision;           // default: the training's
  std::optional<ConvAlgorithm> conv_algorithm;  // default: evaluator_cfg.conv_algorithm
  Device device = Device::cpu;
};
struct EnrollReport {
  EnrollCount count;
  int64_t size = 0;                  // entries in the gallery after
  std::vector<std::string> dropped;  // PNG frames pretreatment dropped
};
EnrollReport enroll(const EnrollRequest& request);

// `rmgait identify`: one sequence (a .npy or a PNG folder) against a gallery file.
struct IdentifyRequest {
  std::string checkpoint, config, gallery;
  std::string npy, png_dir;
  int64_t top = 5;
  int64_t memory_mb = 1024;  // the search's bound on gallery bytes held at once
  std::optional<Precision> precision;
  std::optional<ConvAlgorithm> conv_algorithm;  // default: evaluator_cfg.conv_algorithm
  Device device = Device::cpu;
};
struct Identification {
  std::vector<Match> matches;
  std::vector<std::string> dropped;
  double search_seconds = 0;  // nearest_identities() alone
};
Identification identify(const IdentifyRequest& request);
// The matches as text lines ("1  distance 0.1234  001  (source)") or as JSON.
std::string format_matches(const Identification& id, bool json);

}  // namespace rmgait::pipeline
