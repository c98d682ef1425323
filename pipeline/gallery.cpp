#include "pipeline/gallery.h"

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "data/loader.h"
#include "data/packed.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "formats/safetensors.h"
#include "gait/model.h"
#include "pipeline/inference.h"
#include "pipeline/model_io.h"

namespace rmgait::pipeline {

namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull, kFnvPrime = 1099511628211ull;

void fnv(uint64_t& h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
}

std::vector<std::string> string_array(const std::string& path, const std::string& key,
                                      const std::map<std::string, std::string>& meta) {
  auto it = meta.find(key);
  RM_CHECK(it != meta.end(), path, ": not a gallery: no metadata \"", key, "\"");
  nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
  RM_CHECK(j.is_array(), path, ": metadata \"", key, "\" is not a JSON array of strings");
  std::vector<std::string> out;
  for (const auto& v : j) {
    RM_CHECK(v.is_string(), path, ": metadata \"", key, "\" holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// The first entry of embeddings [G, C, P] holding a NaN or an infinity, or -1. Blocks of 4096
// values are tested branch-free (vectorised), and only a block that fails is searched.
int64_t first_nonfinite(const Tensor& e) {
  const int64_t total = e.numel(), per = total / std::max<int64_t>(1, e.size(0));
  const float* v = e.data<float>();
  for (int64_t b = 0; b < total; b += 4096) {
    const int64_t end = std::min(total, b + 4096);
    bool bad = false;
    for (int64_t i = b; i < end; ++i) bad |= !(std::fabs(v[i]) <= FLT_MAX);
    if (!bad) continue;
    for (int64_t i = b; i < end; ++i)
      if (!std::isfinite(v[i])) return i / per;
  }
  return -1;
}

// Entries [first, first + n) of a gallery file's embeddings into rows (contiguous [>= n, C, P],
// reused from tile to tile: no fresh pages per tile). Not checked: see check_finite.
void read_rows(const GalleryFile& g, std::ifstream& f, int64_t first, int64_t n, Tensor& rows) {
  const int64_t per = g.c * g.p;
  f.seekg(std::streamoff(g.offset + uint64_t(first * per) * sizeof(float)));
  const auto bytes = std::streamsize(n * per * int64_t(sizeof(float)));
  f.read(static_cast<char*>(rows.raw_data()), bytes);
  RM_CHECK(f.gcount() == bytes, g.path, ": short read of entries ", first, " to ", first + n);
}

// A NaN or an infinity in an entry makes its distance one too: only entries whose distance is
// not finite are searched (a distance can also overflow from finite values: no error then).
void check_finite(const GalleryFile& g, const float* rows, const double* dist, int64_t first,
                  int64_t n) {
  const int64_t per = g.c * g.p;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(dist[i])) continue;
    const float* x = rows + i * per;
    RM_CHECK(std::all_of(x, x + per, [](float v) { return std::isfinite(v); }), g.path, ": entry ",
             first + i, " (", g.sources[size_t(first + i)], ") holds a NaN or an infinity");
  }
}

// dist[i] = mean over parts of the Euclidean distance between entry i of rows [n, C, P] and q
// [C, P]: one pass, entry by entry (memory-bound: each entry is read once).
void row_distances(const float* rows, int64_t n, const float* q, int64_t c, int64_t p,
                   double* dist) {
#pragma omp parallel
  {
    std::vector<float> sq(static_cast<size_t>(p));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float* x = rows + i * c * p;
      std::fill(sq.begin(), sq.end(), 0.f);
      for (int64_t ci = 0; ci < c; ++ci)
        for (int64_t j = 0; j < p; ++j) {
          const float d = x[ci * p + j] - q[ci * p + j];
          sq[size_t(j)] += d * d;
        }
      double sum = 0;
      for (int64_t j = 0; j < p; ++j) sum += std::sqrt(double(sq[size_t(j)]));
      dist[i] = sum / double(p);
    }
  }
}

// The query [C, P] as contiguous f32 on the host, checked against the gallery's [C, P].
Tensor host_query(const Tensor& query, int64_t k, int64_t size, int64_t c, int64_t p) {
  RM_CHECK(k > 0, "identify: --top must be positive, got ", k);
  RM_CHECK(size > 0, "identify: the gallery is empty");
  RM_CHECK(query.dim() == 2 && query.size(0) == c && query.size(1) == p, "identify: an embedding ",
           shape_str(query.shape()), " against a gallery of [", size, ", ", c, ", ", p, "]");
  const Tensor q = query.to(Device::cpu).to(DType::f32).contiguous();
  RM_CHECK(first_nonfinite(q.unsqueeze(0)) < 0,
           "identify: the query's embedding holds a NaN or an infinity");
  return q;
}

// Each label's nearest entry (the first of equals), the k nearest of those, nearest first.
std::vector<Match> top_identities(const std::vector<std::string>& labels,
                                  const std::vector<std::string>& sources,
                                  const std::vector<double>& dist, int64_t k) {
  std::map<std::string, size_t> best;  // label -> its nearest entry
  for (size_t i = 0; i < dist.size(); ++i) {
    auto [it, fresh] = best.emplace(labels[i], i);
    if (!fresh && dist[i] < dist[it->second]) it->second = i;
  }
  std::vector<size_t> order;
  for (const auto& kv : best) order.push_back(kv.second);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return dist[a] != dist[b] ? dist[a] < dist[b] : a < b; });
  std::vector<Match> out;
  for (size_t r = 0; r < order.size() && int64_t(r) < k; ++r)
    out.push_back({labels[order[r]], sources[order[r]], dist[order[r]]});
  return out;
}

// Where a sequence file or folder came from, the same however it was named on the command line.
std::string source_of(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

}  // namespace

std::string model_fingerprint(const gait::ReverseMaskModel& model) {
  uint64_t h = kFnvOffset;
  // what shapes the embedding besides the weights: a GLConv's strips (halving), the input size
  const gait::ModelConfig& c = model.config();
  const int64_t settings[] = {int64_t(c.block), c.channels[0], c.channels[1], c.channels[2],
                              c.height,         c.width,       c.halving};
  fnv(h, settings, sizeof settings);
  for (const auto& list : {model.named_parameters(), model.named_buffers()})
    for (const auto& [name, t] : list) {
      fnv(h, name.data(), name.size() + 1);
      for (int64_t d : t.shape()) fnv(h, &d, sizeof d);
      const std::vector<float> v = t.to(Device::cpu).to(DType::f32).contiguous().to_vector();
      fnv(h, v.data(), v.size() * sizeof(float));
    }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

GalleryFile open_gallery(const std::string& path) {
  RM_CHECK(std::filesystem::is_regular_file(path), path, ": not a gallery file");
  formats::SafetensorsIndex f = formats::read_safetensors_index(path);
  GalleryFile g;
  g.path = path;
  auto model = f.metadata.find("model");
  RM_CHECK(model != f.metadata.end() && !model->second.empty(), path,
           ": not a gallery: no metadata \"model\"");
  g.model = model->second;
  g.labels = string_array(path, "labels", f.metadata);
  g.sources = string_array(path, "sources", f.metadata);
  auto e = f.entries.find("embeddings");
  RM_CHECK(e != f.entries.end(), path, ": not a gallery: no tensor \"embeddings\"");
  const formats::SafetensorsEntry& emb = e->second;
  RM_CHECK(emb.shape.size() == 3 && emb.dtype == DType::f32, path,
           ": \"embeddings\" must be f32 [G, C, P], got ", dtype_name(emb.dtype), " ",
           shape_str(emb.shape));
  RM_CHECK(int64_t(g.labels.size()) == emb.shape[0] && g.sources.size() == g.labels.size(), path,
           ": ", g.labels.size(), " labels and ", g.sources.size(), " sources for ", emb.shape[0],
           " embeddings");
  g.c = emb.shape[1], g.p = emb.shape[2], g.offset = emb.offset;
  std::set<std::string> seen;
  for (const std::string& src : g.sources)
    RM_CHECK(seen.insert(src).second, path, ": the source ", src, " is enrolled twice");
  return g;
}

Gallery load_gallery(const std::string& path) {
  Gallery g;
  if (!std::filesystem::exists(path)) return g;
  GalleryFile f = open_gallery(path);
  std::ifstream in(path, std::ios::binary);
  g.embeddings = Tensor::empty({f.size(), f.c, f.p});
  read_rows(f, in, 0, f.size(), g.embeddings);
  const int64_t bad = first_nonfinite(g.embeddings);
  RM_CHECK(bad < 0, path, ": entry ", bad, " (", bad < 0 ? "" : f.sources[size_t(bad)],
           ") holds a NaN or an infinity");
  g.model = std::move(f.model);
  g.labels = std::move(f.labels);
  g.sources = std::move(f.sources);
  return g;
}

void save_gallery(const std::string& path, const Gallery& g) {
  RM_CHECK(g.size() > 0, path, ": an empty gallery is not written");
  formats::save_safetensors(path, {{"embeddings", g.embeddings.contiguous()}},
                            {{"model", g.model},
                             {"labels", nlohmann::json(g.labels).dump()},
                             {"sources", nlohmann::json(g.sources).dump()}});
}

EnrollCount add_to_gallery(Gallery& g, const std::string& fingerprint, const Tensor& embeddings,
                           const std::vector<std::string>& labels,
                           const std::vector<std::string>& sources) {
  RM_CHECK(embeddings.dim() == 3 && embeddings.size(0) == int64_t(labels.size()) &&
               labels.size() == sources.size(),
           "enroll: ", labels.size(), " labels and ", sources.size(), " sources for embeddings ",
           shape_str(embeddings.shape()));
  RM_CHECK(g.model.empty() || g.model == fingerprint,
           "enroll: the gallery was made by another model (", g.model, ", this checkpoint's is ",
           fingerprint, "): its embeddings cannot be compared; use a new gallery file");
  Tensor add = embeddings.to(Device::cpu).to(DType::f32).contiguous();
  if (g.size() > 0)
    RM_CHECK(g.embeddings.size(1) == add.size(1) && g.embeddings.size(2) == add.size(2),
             "enroll: embeddings ", shape_str(add.shape()), " do not match the gallery's ",
             shape_str(g.embeddings.shape()));
  const int64_t bad = first_nonfinite(add);
  RM_CHECK(bad < 0, "enroll: the embedding of ", bad < 0 ? "" : sources[size_t(bad)],
           " holds a NaN or an infinity");
  std::set<std::string> once;
  for (const std::string& src : sources)
    RM_CHECK(once.insert(src).second, "enroll: the source ", src, " is given twice");
  // the new gallery is built aside and swapped in: an error leaves g as it was
  std::map<std::string, int64_t> row;  // source -> its entry
  for (int64_t i = 0; i < g.size(); ++i) row[g.sources[size_t(i)]] = i;
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < g.size(); ++i) rows.push_back(g.embeddings.narrow(0, i, 1));
  std::vector<std::string> new_labels = g.labels, new_sources = g.sources;
  EnrollCount n;
  for (int64_t i = 0; i < add.size(0); ++i) {
    Tensor e = add.narrow(0, i, 1);
    auto it = row.find(sources[size_t(i)]);
    if (it != row.end()) {
      rows[size_t(it->second)] = e;
      new_labels[size_t(it->second)] = labels[size_t(i)];
      ++n.replaced;
    } else {
      rows.push_back(e);
      new_labels.push_back(labels[size_t(i)]);
      new_sources.push_back(sources[size_t(i)]);
      ++n.added;
    }
  }
  Tensor all = cat(rows, 0).contiguous();
  g.embeddings = all;
  g.labels = std::move(new_labels);
  g.sources = std::move(new_sources);
  g.model = fingerprint;
  return n;
}

std::vector<Match> nearest_identities(const Gallery& g, const Tensor& query, int64_t k) {
  const int64_t c = g.size() ? g.embeddings.size(1) : 0, p = g.size() ? g.embeddings.size(2) : 0;
  const Tensor q = host_query(query, k, g.size(), c, p);
  const Tensor e = g.embeddings.contiguous();
  std::vector<double> dist(static_cast<size_t>(g.size()));
  row_distances(e.data<float>(), g.size(), q.data<float>(), c, p, dist.data());
  return top_identities(g.labels, g.sources, dist, k);
}

std::vector<Match> nearest_identities(const GalleryFile& g, const Tensor& query, int64_t k,
                                      int64_t memory_bytes) {
  const Tensor q = host_query(query, k, g.size(), g.c, g.p);
  const int64_t entry = g.c * g.p * int64_t(sizeof(float));
  const int64_t tile = std::max<int64_t>(1, memory_bytes / std::max<int64_t>(1, entry));
  std::vector<double> dist(static_cast<size_t>(g.size()));
  std::ifstream f(g.path, std::ios::binary);
  RM_CHECK(f, g.path, ": cannot open the gallery");
  Tensor rows = Tensor::empty({std::min(tile, g.size()), g.c, g.p});
  for (int64_t first = 0; first < g.size(); first += tile) {
    const int64_t n = std::min(tile, g.size() - first);
    read_rows(g, f, first, n, rows);
    row_distances(rows.data<float>(), n, q.data<float>(), g.c, g.p, dist.data() + first);
    check_finite(g, rows.data<float>(), dist.data() + first, first, n);
  }
  return top_identities(g.labels, g.sources, dist, k);
}

EnrollReport enroll(const EnrollRequest& r) {
  const bool one = !r.npy.empty() || !r.png_dir.empty();
  RM_CHECK(
      one != !r.dataset.empty(),
      "enroll: give one sequence (--sils or --dir, with --label) or --dataset with --subjects");
  RM_CHECK(!one || !r.label.empty(), "enroll: --label names the identity of the sequence");
  RM_CHECK(one || !r.subjects.empty(), "enroll: --dataset needs --subjects");
  RM_CHECK(one || r.label.empty(),
           "enroll: with --dataset each sequence is labelled with its "
           "subject; --label is for --sils or --dir");
  RM_CHECK(!one || (r.subjects.empty() && r.conditions.empty() && r.views.empty()),
           "enroll: --subjects, --conditions and --views choose sequences of a --dataset");
  // read the sequences first: bad input fails before the model loads
  EnrollReport rep;
  std::vector<Tensor> frames;
  std::vector<std::string> labels, sources;
  std::unique_ptr<data::PackedDataset> ds;
  std::vector<size_t> picked;
  if (one) {
    Sequence s = read_sequence(r.npy, r.png_dir);
    frames.push_back(s.frames);
    rep.dropped = std::move(s.dropped);
    labels.push_back(r.label);
    sources.push_back(source_of(r.npy.empty() ? r.png_dir : r.npy));
  } else {
    ds = std::make_unique<data::PackedDataset>(r.dataset);
    const std::set<std::string> subjects(r.subjects.begin(), r.subjects.end()),
        conditions(r.conditions.begin(), r.conditions.end()), views(r.views.begin(), r.views.end());
    std::set<std::string> used;  // every subject, condition and view given must pick something
    for (size_t i = 0; i < ds->size(); ++i) {
      const data::SequenceInfo& info = ds->info(i);
      if (!subjects.count(info.subject)) continue;
      char seq[16];
      std::snprintf(seq, sizeof seq, "-%02d", info.seq);
      const std::string cond =
          conditions.count(info.condition) ? info.condition : info.condition + seq;
      if (!conditions.empty() && !conditions.count(cond)) continue;
      if (!views.empty() && !views.count(info.view)) continue;
      picked.push_back(i);
      used.insert("subject " + info.subject);
      used.insert("condition " + cond);
      used.insert("view " + info.view);
    }
    for (const auto& [kind, given] :
         {std::pair{"subject ", &subjects}, std::pair{"condition ", &conditions},
          std::pair{"view ", &views}})
      for (const std::string& v : *given)
        RM_CHECK(used.count(kind + v), r.dataset, ": no sequences of ", kind, v,
                 " among those chosen (--subjects, --conditions, --views)");
  }
  Gallery g = load_gallery(r.gallery);
  LoadedModel lm = load_model(r.checkpoint, r.config);
  const std::string fingerprint = model_fingerprint(*lm.model);
  RM_CHECK(g.model.empty() || g.model == fingerprint, r.gallery,
           ": the gallery was made by another model (", g.model, ", this checkpoint's is ",
           fingerprint, "): its embeddings cannot be compared; use a new gallery file");
  const Precision precision = r.precision.value_or(lm.cfg.precision);
  const ConvAlgorithm algorithm = r.conv_algorithm.value_or(lm.cfg.eval_conv_algorithm);
  std::vector<Tensor> embs;
  for (const Tensor& f : frames)
    embs.push_back(embed(lm, f, precision, r.device, algorithm).to(Device::cpu));
  for (size_t i : picked) {
    embs.push_back(
        embed(lm, data::load_sequence(*ds, i), precision, r.device, algorithm).to(Device::cpu));
    labels.push_back(ds->info(i).subject);
    sources.push_back(source_of(r.dataset) + ":" + ds->info(i).name());
  }
  std::vector<Tensor> rows;
  for (const Tensor& e : embs) rows.push_back(e.unsqueeze(0));
  rep.count = add_to_gallery(g, fingerprint, cat(rows, 0), labels, sources);
  save_gallery(r.gallery, g);
  rep.size = g.size();
  return rep;
}

Identification identify(const IdentifyRequest& r) {
  Sequence s = read_sequence(r.npy, r.png_dir);
  RM_CHECK(std::filesystem::exists(r.gallery), r.gallery,
           ": no gallery there (rmgait enroll makes one)");
  RM_CHECK(r.memory_mb > 0, "identify: --memory-mb must be positive, got ", r.memory_mb);
  const GalleryFile g = open_gallery(r.gallery);
  LoadedModel lm = load_model(r.checkpoint, r.config);
  const std::string fingerprint = model_fingerprint(*lm.model);
  RM_CHECK(g.model == fingerprint, r.gallery, ": the gallery was made by another model (", g.model,
           ", this checkpoint's is ", fingerprint, "): its embeddings cannot be compared");
  Tensor q = embed(lm, s.frames, r.precision.value_or(lm.cfg.precision), r.device,
                   r.conv_algorithm.value_or(lm.cfg.eval_conv_algorithm));
  Identification id;
  const auto t0 = std::chrono::steady_clock::now();
  id.matches = nearest_identities(g, q.to(Device::cpu), r.top, r.memory_mb << 20);
  id.search_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  id.dropped = std::move(s.dropped);
  return id;
}

std::string format_matches(const Identification& id, bool json) {
  if (json) {
    nlohmann::json j = nlohmann::json::array();
    for (const Match& m : id.matches)
      j.push_back({{"label", m.label}, {"distance", m.distance}, {"source", m.source}});
    return j.dump(2) + "\n";
  }
  std::string out;
  char line[64];
  for (size_t i = 0; i < id.matches.size(); ++i) {
    const Match& m = id.matches[i];
    std::snprintf(line, sizeof line, "%zu  distance %.4f  ", i + 1, m.distance);
    out += line + m.label + "  (" + m.source + ")\n";
  }
  return out;
}

}  // namespace rmgait::pipeline
