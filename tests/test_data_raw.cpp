// data: raw PNG trees through pretreatment, odd layouts and bad files, OpenGait pkl trees
// (protocol 2 and 4 pickles written here, checked against NumPy's bytes, plus hostile ones).
#include <filesystem>
#include <fstream>

#include "data/convert.h"
#include "data/image_io.h"
#include "data/packed.h"
#include "data/protocol.h"
#include "data/syngait.h"
#include "formats/numpy_pickle.h"
#include "tests/pickle_writers.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::data;
using formats::parse_pickled_array;
namespace fs = std::filesystem;
using test::pickle_array;
using test::pint;
using test::put_le;

namespace {

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i < h.size(); i += 2) out += char(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

const char* kNumpyP2 =
    "8002636e756d70792e636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70"
    "790a6e6461727261790a71014b00857102635f636f646563730a656e636f64650a71035801000000627104580600"
    "00006c6174696e317105867106527107877108527109284b014b024b024b0387710a636e756d70790a6474797065"
    "0a710b58020000007531710c898887710d52710e284b0358010000007c710f4e4e4e4affffffff4affffffff4b00"
    "74711062896803580c000000000102030405060708090a0b71116805867112527113747114622e";
const char* kNumpyP4 =
    "80049598000000000000008c156e756d70792e636f72652e6d756c74696172726179948c0c5f7265636f6e7374"
    "727563749493948c056e756d7079948c076e6461727261799493944b0085944301629487945294284b014b024b02"
    "4b03879468038c0564747970659493948c02753194898887945294284b038c017c944e4e4e4affffffff4affffff"
    "ff4b0074946289430c000102030405060708090a0b947494622e";

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

}  // namespace

TEST_CASE("pickles: the test's writer reproduces NumPy's bytes; both protocols read back") {
  std::string d;
  for (int i = 0; i < 12; ++i) d += char(i);
  CHECK(pickle_array(2, d, {2, 2, 3}) == unhex(kNumpyP2));
  CHECK(pickle_array(4, d, {2, 2, 3}) == unhex(kNumpyP4));
  for (int proto : {2, 4}) {
    std::string big(3 * 64 * 64, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = char(i * 7);
    formats::PickledArray a = parse_pickled_array(pickle_array(proto, big, {3, 64, 64}), "mem");
    CHECK(a.dtype == "u1");
    CHECK(a.shape == std::vector<int64_t>{3, 64, 64});
    CHECK(std::string(a.data.begin(), a.data.end()) == big);
    // NumPy 2 spells the module numpy._core
    CHECK(parse_pickled_array(pickle_array(proto, big, {3, 64, 64}, "u1", "numpy._core.multiarray"),
                              "mem")
              .data.size() == big.size());
  }
}

TEST_CASE("pickles: hostile or broken input is refused with a clear error, never executed") {
  std::string d(12, '\x01');
  std::string evil = pickle_array(2, d, {2, 2, 3});
  evil.replace(evil.find("numpy.core.multiarray\n_reconstruct"), 34,
               "os\nsystem\n                       ");
  CHECK_THROWS_WITH_AS(parse_pickled_array(evil, "evil.pkl"),
                       doctest::Contains("global 'os.system"), Error);
  CHECK_THROWS_WITH_AS(parse_pickled_array("\x80\x02"
                                           "cbuiltins\neval\n.",
                                           "e.pkl"),
                       doctest::Contains("global 'builtins.eval' at byte 2 is not allowed"), Error);
  std::string p4 = pickle_array(4, d, {2, 2, 3});
  CHECK_THROWS_WITH_AS(parse_pickled_array(p4.substr(0, p4.size() - 20), "t.pkl"),
                       doctest::Contains("truncated pickle"), Error);
  CHECK_THROWS_WITH_AS(parse_pickled_array("\x80\x04}.", "dict.pkl"),
                       doctest::Contains("opcode 0x7d"), Error);
  // one memoised 1,000-byte text reduced by _codecs.encode 1,000 times: each REDUCE copies it,
  // 1 MB from a 7 KB pickle; copies beyond the pickle's own size are refused
  {
    std::string q =
        "\x80\x02"
        "c_codecs\nencode\nq";
    q += '\0';
    q += 'X';
    put_le(q, 1000, 4);
    q += std::string(1000, 'a') + "q\x01X";
    put_le(q, 6, 4);
    q += "latin1q\x02";
    for (int i = 0; i < 1000; ++i) q += std::string("h\0h\x01h\x02\x86R", 8);
    q += ".";
    CHECK(q.size() < 10000);
    CHECK_THROWS_WITH_AS(parse_pickled_array(q, "copies.pkl"),
                         doctest::Contains("(values reduced again and again)"), Error);
  }
  // declared shape and data disagree (truncated frames)
  CHECK_THROWS_WITH_AS(parse_pickled_array(pickle_array(4, d, {3, 2, 3}), "short.pkl"),
                       doctest::Contains("holds 12 bytes"), Error);
}

TEST_CASE("pack --from-pkl: an OpenGait tree packs; bad dtype, rank and empty files are reported") {
  fs::path root = "/tmp/rmgait_pkl";
  fs::remove_all(root);
  std::string frames(5 * 4096, '\0');
  for (size_t i = 0; i < frames.size(); ++i) frames[i] = char(i % 251);
  write(root / "001/nm-01/090/001-nm-01-090.pkl", pickle_array(4, frames, {5, 64, 64}));
  write(root / "002/bg-02/000/002-bg-02-000.pkl",
        pickle_array(2, frames.substr(0, 4096 * 2), {2, 64, 64}));
  write(root / "003/nm-01/090/f.pkl", pickle_array(4, frames, {5, 64, 16}, "f4"));
  write(root / "004/nm-01/090/r.pkl",
        pickle_array(4, frames.substr(0, 64 * 64), {1, 64, 64}).replace(0, 0, ""));
  write(root / "005/nm-01/090/z.pkl", pickle_array(4, "", {0, 64, 64}));
  write(root / "007/nm-01/090/rank.pkl", pickle_array(2, frames.substr(0, 4096), {64, 64}));
  fs::create_directories(root / "006/nm-01/090");  // missing sequence: empty folder
  ConvertSummary s = pack_from_pkl(root.string(), "/tmp/rmgait_pkl.pack", false);
  CHECK(s.sequences_written == 3);
  std::string r = s.report();
  CHECK(r.find("expected u1 [T, 64, 64], got f4 [5, 64, 16]") != std::string::npos);
  CHECK(r.find("005/nm-01/090: no usable frame") != std::string::npos);
  CHECK(r.find("rank.pkl: expected u1 [T, 64, 64], got u1 [64, 64]") != std::string::npos);
  CHECK(r.find("no .pkl files") != std::string::npos);
  PackedDataset ds("/tmp/rmgait_pkl.pack");
  REQUIRE(ds.size() == 3);
  CHECK(ds.info(0).name() == "001/nm-01/090");
  CHECK(std::string(reinterpret_cast<const char*>(ds.frames(0)), 5 * 4096) == frames);
  CHECK(ds.info(1).name() == "002/bg-02/000");
  CHECK(ds.info(1).frames == 2);
}

TEST_CASE("pretreat: a PNG tree round-trips to the same frames as direct rendering") {
  SynGaitOptions o;
  o.subjects = 1;
  o.frames = 5;
  o.seed = 9;
  fs::remove_all("/tmp/rmgait_png");
  synth_png_tree(o, "/tmp/rmgait_png", false);
  CHECK(fs::exists("/tmp/rmgait_png/001/cl-02/180/001-cl-02-180-005.png"));
  ConvertSummary s =
      pretreat_tree("/tmp/rmgait_png", "/tmp/rmgait_png.pack", Layout::casiab, false);
  synth_aligned(o, "/tmp/rmgait_direct.pack", false);
  PackedDataset a("/tmp/rmgait_png.pack"), b("/tmp/rmgait_direct.pack");
  REQUIRE(a.size() == b.size());
  CHECK(s.sequences_written == int64_t(a.size()));
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < b.size(); ++i) by_name[b.info(i).name()] = i;
  for (size_t i = 0; i < a.size(); ++i) {
    size_t j = by_name.at(a.info(i).name());
    REQUIRE(a.info(i).frames == b.info(j).frames);
    CHECK(std::equal(a.frames(i), a.frames(i) + a.info(i).frames * 4096, b.frames(j)));
  }
}

TEST_CASE("pretreat: odd names, empty folders, zero-byte, corrupt and 16-bit PNGs are reported") {
  fs::path root = "/tmp/rmgait_bad";
  fs::remove_all(root);
  std::vector<uint8_t> img(160 * 120, 0);
  for (int y = 20; y < 100; ++y)
    for (int x = 60; x < 90; ++x) img[size_t(y) * 160 + x] = 255;
  fs::create_directories(root / "001/nm-01/090");
  write_png((root / "001/nm-01/090/a.png").string(), img.data(), 160, 120);
  write(root / "001/nm-01/090/b.png", "");                          // zero bytes
  write(root / "001/nm-01/090/c.png", "this is not a png at all");  // corrupt
  write(root / "001/nm-01/090/d.png",                               // 16-bit gray 2 x 2
        unhex("89504e470d0a1a0a0000000d4948445200000002000000021000000000074d8ebb0000001049444154"
              "789c63f8ff9f81810144000017f203fdb22ba6e20000000049454e44ae426082"));
  std::vector<uint8_t> blank(160 * 120, 0);
  write_png((root / "001/nm-01/090/e.png").string(), blank.data(), 160, 120);  // nearly empty
  fs::create_directories(root / "001/nm-02/000");                              // empty folder
  fs::create_directories(root / "001/walking/090");                            // odd names
  fs::create_directories(root / "abc/nm-01/090");
  fs::create_directories(root / "001/nm-03/90");
  ConvertSummary s = pretreat_tree(root.string(), "/tmp/rmgait_bad.pack", Layout::casiab, false);
  CHECK(s.sequences_written == 1);
  CHECK(s.frames_written == 1);
  std::string r = s.report();
  for (const char* want :
       {"b.png: zero-byte file", "c.png: not a readable image", "d.png: 16-bit image",
        "nm-02/000: no .png files", "walking: not <condition>-<seq>", "abc: not a subject id",
        "nm-03/90: not a view", "nearly empty"})
    CHECK_MESSAGE(r.find(want) != std::string::npos, "missing from the report: " << want << "\n"
                                                                                 << r);
}

TEST_CASE("OU-MVLP layout and OpenGait partition JSON") {
  fs::path root = "/tmp/rmgait_ou";
  fs::remove_all(root);
  std::vector<uint8_t> img(160 * 120, 0);
  for (int y = 20; y < 100; ++y)
    for (int x = 60; x < 90; ++x) img[size_t(y) * 160 + x] = 255;
  for (const char* d : {"Silhouette_000-00/00001", "Silhouette_015-01/00002"}) {
    fs::create_directories(root / d);
    write_png((root / d / "0001.png").string(), img.data(), 160, 120);
  }
  fs::create_directories(root / "Silhouette_000/00001");
  ConvertSummary s = pretreat_tree(root.string(), "/tmp/rmgait_ou.pack", Layout::oumvlp, false);
  CHECK(s.sequences_written == 2);
  CHECK(s.report().find("Silhouette_000: not Silhouette_<view>-<seq>") != std::string::npos);
  PackedDataset ds("/tmp/rmgait_ou.pack");
  CHECK(ds.info(0).name() == "00001/ou-00/000");
  CHECK(ds.info(1).view == "015");
  std::ofstream("/tmp/rmgait_part.json") << R"({"TRAIN_SET": ["00002"], "TEST_SET": ["00001"]})";
  Protocol p = parse_protocol("/tmp/rmgait_part.json");
  CHECK(select_sequences(ds, p, true) == std::vector<size_t>{1});
  CHECK(select_sequences(ds, p, false) == std::vector<size_t>{0});
  std::ofstream("/tmp/rmgait_part.json") << R"({"TRAIN": []})";
  CHECK_THROWS_WITH_AS(parse_protocol("/tmp/rmgait_part.json"), doctest::Contains("TRAIN_SET"),
                       Error);
}
