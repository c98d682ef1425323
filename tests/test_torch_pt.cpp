// PyTorch checkpoints (.pt) without Python: archives built here byte by byte the way torch.save
// lays them out (a protocol 2 pickle with BINPUT memo entries, stored zip entries under
// "<name>/"), for each storage dtype, a non-contiguous view, an OpenGait-style dict; hostile
// archives; the safetensors -> .pt -> safetensors round trip.
#include <zip.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "formats/zip.h"
#include "formats/safetensors.h"
#include "formats/torch_pt.h"
#include "tests/pickle_writers.h"
#include "tests/test_util.h"

using namespace rmgait;
namespace fs = std::filesystem;
using test::Pk;

namespace {

std::string bytes_of(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// A .pt archive: data.pkl, byteorder, data/<key>..., version (stored entries, as torch.save).
std::string write_pt(const std::string& name, const std::string& pkl,
                     const std::map<std::string, std::string>& storages,
                     const std::string& prefix = "archive/") {
  const std::string path = (fs::temp_directory_path() / name).string();
  formats::ZipWriter z(path);
  z.add(prefix + "data.pkl", pkl);
  z.add(prefix + "byteorder", "little");
  for (auto& [k, v] : storages) z.add(prefix + "data/" + k, v);
  z.add(prefix + "version", "3\n");
  z.close();
  return path;
}

}  // namespace

TEST_CASE("torch .pt: every storage dtype, strides and offsets, parameters, OpenGait's dict") {
  // f32 [2, 3]; f16 [2] (1.5, -2); bf16 [2] (1.0, -3.0); f64 [2]; i64 [] (num_batches_tracked)
  const std::vector<float> f32 = {1, 2, 3, 4, 5, 6};
  const std::string f16("\x00\x3e\x00\xc0", 4), bf16("\x80\x3f\x40\xc0", 4);
  double f64[2] = {0.25, -1e-3};
  int64_t i64 = 80000;
  Pk p;
  p.ordered_dict().raw("(");
  p.str("a.weight").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1});
  p.str("a.t").tensor("FloatStorage", "0", 6, 1, {2, 2},
                      {1, 3});  // shares storage 0: [[2,5],[3,6]]
  p.str("b.half").tensor("HalfStorage", "1", 2, 0, {2}, {1});
  p.str("b.bf16").tensor("BFloat16Storage", "2", 2, 0, {2}, {1});
  p.str("c.double").tensor("DoubleStorage", "3", 2, 0, {2}, {1});
  p.str("bn.num_batches_tracked").tensor("LongStorage", "4", 1, 0, {}, {});
  p.str("d.param").global("torch._utils", "_rebuild_parameter").raw("(");
  p.tensor("FloatStorage", "0", 6, 4, {2}, {1}).raw("\x88").ordered_dict().raw("tR").put();
  p.raw("u.");
  std::map<std::string, std::string> st = {{"0", bytes_of(f32)},
                                           {"1", f16},
                                           {"2", bf16},
                                           {"3", std::string(reinterpret_cast<char*>(f64), 16)},
                                           {"4", std::string(reinterpret_cast<char*>(&i64), 8)}};
  formats::TorchCheckpoint ck = formats::load_torch_checkpoint(write_pt("dtypes.pt", p.b, st));
  CHECK_FALSE(ck.opengait_layout);
  REQUIRE(ck.state.size() == 7);
  CHECK(ck.state.at("a.weight").to_vector() == f32);
  CHECK(ck.state.at("a.t").shape() == Shape{2, 2});
  CHECK(ck.state.at("a.t").to_vector() == std::vector<float>{2, 5, 3, 6});
  CHECK(ck.state.at("b.half").to_vector() == std::vector<float>{1.5f, -2.f});
  CHECK(ck.state.at("b.bf16").to_vector() == std::vector<float>{1.f, -3.f});
  CHECK(ck.state.at("c.double").to_vector() == std::vector<float>{0.25f, float(-1e-3)});
  const Tensor& n = ck.state.at("bn.num_batches_tracked");
  CHECK(n.dtype() == DType::i64);
  CHECK(n.dim() == 0);
  CHECK(n.data<int64_t>()[0] == 80000);
  CHECK(ck.state.at("d.param").to_vector() == std::vector<float>{5, 6});

  // OpenGait: {'model': state dict, 'optimizer': {...}, 'scheduler': {...}, 'iteration': n}
  Pk o;
  o.raw("}").put().raw("(").str("model").ordered_dict().raw("(");
  o.str("w").tensor("FloatStorage", "0", 6, 0, {6}, {1}).raw("u");
  o.str("optimizer").raw("}").put().raw("(").str("state").raw("}").put();
  o.str("param_groups").raw("]").put().raw("(}").put().raw("(").str("lr").f(1e-4);
  o.str("betas").f(0.9).f(0.999).raw("\x86").put().str("amsgrad").raw("\x89");
  o.str("params").raw("]").put().raw("(").i(0).raw("e").raw("ueu");
  o.str("scheduler").raw("}").put().raw("(").str("milestones");
  o.global("collections", "Counter").raw("}").put().raw("(").i(70000).i(1).raw("u\x85R").put();
  o.str("gamma").f(0.1).raw("u");
  o.str("iteration").i(80000).raw("u.");
  formats::TorchCheckpoint og =
      formats::load_torch_checkpoint(write_pt("og.pt", o.b, {{"0", bytes_of(f32)}}));
  CHECK(og.opengait_layout);
  REQUIRE(og.iteration.has_value());
  CHECK(*og.iteration == 80000);
  REQUIRE(og.state.size() == 1);
  CHECK(og.state.at("w").to_vector() == f32);
}

TEST_CASE("torch .pt: hostile or broken archives give clear errors, never execute anything") {
  const std::string w = bytes_of({1, 2, 3, 4});
  auto one = [](const std::string& type, int64_t numel, int64_t offset, std::vector<int64_t> size) {
    Pk p;
    p.ordered_dict().raw("(").str("w");
    std::vector<int64_t> stride(size.size(), 1);
    p.tensor(type, "0", numel, offset, size, stride).raw("u.");
    return p.b;
  };
  auto err = [](const std::string& path) {
    try {
      formats::load_torch_checkpoint(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // a global outside the allow-list
  Pk evil;
  evil.global("os", "system").raw("(").str("echo hi").raw("tR.");
  CHECK(err(write_pt("evil.pt", evil.b, {})).find("global 'os.system'") != std::string::npos);
  // a list holding itself (a cycle), and tuples nested 10,000 deep
  const std::string cycle =
      std::string("\x80\x02]q", 4) + std::string(1, '\0') + "h" + std::string(1, '\0') + "a.";
  CHECK(err(write_pt("cycle.pt", cycle, {})).find("already inside another") != std::string::npos);
  std::string deep = "\x80\x02";
  for (int i = 0; i < 10000; ++i) deep += '(';
  for (int i = 0; i < 10000; ++i) deep += 't';
  CHECK(err(write_pt("deep.pt", deep + ".", {})).find("nested deeper than 200") !=
        std::string::npos);
  // the storage entry is missing
  CHECK(err(write_pt("nostorage.pt", one("FloatStorage", 4, 0, {4}), {}))
            .find("storage 'archive/data/0' missing") != std::string::npos);
  // a size past the storage's end, and an offset past it
  CHECK(err(write_pt("past.pt", one("FloatStorage", 4, 0, {5}), {{"0", w}}))
            .find("reaches past its storage of 4 elements") != std::string::npos);
  CHECK(
      err(write_pt("offset.pt", one("FloatStorage", 4, 3, {2}), {{"0", w}})).find("reaches past") !=
      std::string::npos);
  // the entry holds other than the pickle says
  CHECK(err(write_pt("short.pt", one("FloatStorage", 8, 0, {8}), {{"0", w}}))
            .find("holds 16 bytes, its pickle says 32") != std::string::npos);
  // a zero stride repeating 4 elements a million times (an expanded view): refused, not allocated
  {
    Pk p;
    p.ordered_dict().raw("(").str("w").tensor("FloatStorage", "0", 4, 0, {1 << 20}, {0}).raw("u.");
    CHECK(err(write_pt("expanded.pt", p.b, {{"0", w}}))
              .find("more than its storage of 4 (overlapping or expanded tensors are not read)") !=
          std::string::npos);
  }
  // one storage of 4 floats viewed by 8 tensors of 4: more sharing than a state dict has
  {
    Pk p;
    p.ordered_dict().raw("(");
    for (int i = 0; i < 8; ++i)
      p.str("w" + std::to_string(i)).tensor("FloatStorage", "0", 4, 0, {4}, {1});
    p.raw("u.");
    CHECK(err(write_pt("shared.pt", p.b, {{"0", w}})).find("storages reused too often") !=
          std::string::npos);
  }
  // a storage size whose bytes overflow 64 bits (2^62 doubles)
  {
    Pk p;
    p.ordered_dict().raw("(").str("w").global("torch._utils", "_rebuild_tensor_v2").raw("((");
    p.str("storage").global("torch", "DoubleStorage").str("0").str("cpu");
    p.raw(std::string("\x8a\x08", 2) + std::string(7, '\0') + "\x40").raw("tQ");
    p.i(0).raw("(").i(4).raw("t(").i(1).raw("t\x89").ordered_dict().raw("tRu.");
    CHECK(err(write_pt("overflow.pt", p.b, {{"0", w}}))
              .find("storage of 4611686018427387904 elements") != std::string::npos);
  }
  // an unknown storage type is refused by the allow-list
  CHECK(err(write_pt("cplx.pt", one("ComplexFloatStorage", 2, 0, {2}), {{"0", w}}))
            .find("global 'torch.ComplexFloatStorage'") != std::string::npos);
  // no data.pkl: not a torch.save archive
  CHECK(err(write_pt("nopkl.pt", "", {}, "")).find("no '<name>/data.pkl'") != std::string::npos);
  // a compressed bomb: 64 MiB of zeros deflated, where the pickle declares 4 floats
  {
    const std::string path = (fs::temp_directory_path() / "bomb.pt").string();
    std::remove(path.c_str());
    int e = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &e);
    REQUIRE(z);
    const std::string pkl = one("FloatStorage", 4, 0, {4});
    static std::string zeros(64 << 20, '\0');
    zip_file_add(z, "archive/data.pkl", zip_source_buffer(z, pkl.data(), pkl.size(), 0), 0);
    zip_int64_t i =
        zip_file_add(z, "archive/data/0", zip_source_buffer(z, zeros.data(), zeros.size(), 0), 0);
    zip_set_file_compression(z, zip_uint64_t(i), ZIP_CM_DEFLATE, 9);
    REQUIRE(zip_close(z) == 0);
    CHECK(fs::file_size(path) < (1 << 20));
    CHECK(err(path).find("holds 67108864 bytes, its pickle says 16") != std::string::npos);
  }
  // a truncated archive
  {
    const std::string good = write_pt("good.pt", one("FloatStorage", 4, 0, {4}), {{"0", w}});
    CHECK(formats::load_torch_checkpoint(good).state.at("w").to_vector() ==
          std::vector<float>{1, 2, 3, 4});
    std::ifstream in(good, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    const std::string cut = (fs::temp_directory_path() / "cut.pt").string();
    std::ofstream(cut, std::ios::binary) << all.substr(0, all.size() - 30);
    CHECK(err(cut).find("not a readable zip archive") != std::string::npos);
  }
}

TEST_CASE("zip: entries larger than a read chunk come back whole, stored or deflated") {
  const std::string path = (fs::temp_directory_path() / "chunks.zip").string();
  std::remove(path.c_str());
  std::string big(3 * (1 << 20) + 5, '\0');  // three 1 MiB chunks and a few bytes
  uint32_t x = 1;
  for (char& c : big) c = char((x = x * 1664525u + 1013904223u) >> 24);
  int e = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &e);
  REQUIRE(z);
  for (auto [name, method] : {std::pair{"stored", ZIP_CM_STORE}, {"deflated", ZIP_CM_DEFLATE}}) {
    const zip_int64_t i = zip_file_add(z, name, zip_source_buffer(z, big.data(), big.size(), 0), 0);
    REQUIRE(i >= 0);
    zip_set_file_compression(z, zip_uint64_t(i), method, 1);
  }
  REQUIRE(zip_close(z) == 0);
  formats::ZipReader r(path);
  CHECK(r.read("stored", big.size()) == big);
  CHECK(r.read("deflated", big.size()) == big);
  CHECK_THROWS_WITH_AS(r.read("stored", big.size() - 1),
                       doctest::Contains("declares 3145733 bytes, more than the 3145732"), Error);
}

TEST_CASE("torch .pt: safetensors -> .pt -> safetensors is bit-exact") {
  Generator g(5);
  std::map<std::string, Tensor> state = {
      {"Head1.fc_bin", randn({4, 3, 2}, g)},
      {"Bn.weight", rand({3}, g)},
      {"Bn.num_batches_tracked", Tensor::full({}, 7, DType::i64)},
      {"conv3d.0.conv3d.weight", randn({2, 1, 3, 3, 3}, g)}};
  const fs::path dir = fs::temp_directory_path();
  const std::string a = (dir / "rt_a.safetensors").string(), pt = (dir / "rt.pt").string(),
                    b = (dir / "rt_b.safetensors").string();
  formats::save_safetensors(a, state, {{"iteration", "12"}});
  for (bool opengait : {false, true}) {
    formats::save_torch_checkpoint(pt, formats::load_safetensors(a).tensors, opengait, 12);
    formats::TorchCheckpoint ck = formats::load_torch_checkpoint(pt);
    CHECK(ck.opengait_layout == opengait);
    std::map<std::string, std::string> meta;
    if (ck.iteration) meta["iteration"] = std::to_string(*ck.iteration);
    CHECK(meta.size() == (opengait ? 1u : 0u));
    formats::save_safetensors(b, ck.state, {{"iteration", "12"}});
    std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
    const std::string sa((std::istreambuf_iterator<char>(fa)), {}),
        sb((std::istreambuf_iterator<char>(fb)), {});
    CHECK(sa == sb);
  }
  CHECK(formats::is_torch_checkpoint(pt));
  CHECK_FALSE(formats::is_torch_checkpoint(a));
}
