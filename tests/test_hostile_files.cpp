// Every reader of outside bytes, met as a user meets it: through the CLI. Each file is at most
// 4 KB and declares at least 1 GiB (a size, a count, a shape or an expansion); rmgait must refuse
// it with a clear error naming the file, a non-zero exit, in under 0.2 s of CPU time and under
// 64 MB of resident memory (the child's, from wait4), within 768 MiB of address space. The rmgait
// binary: $RMGAIT.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/pickle_writers.h"

namespace {

namespace fs = std::filesystem;
using namespace rmgait;

struct Run {
  int exit_code = -1;  // -1: killed by a signal
  double seconds = 0;  // user + system CPU time
  double wall_seconds = 0;
  double peak_mib = 0;
  std::string output;  // stdout and stderr
};

// This process's scratch folder, removed when it exits.
const fs::path& workdir() {
  struct Dir {
    fs::path p = fs::temp_directory_path() / ("rmgait-hostile-" + std::to_string(getpid()));
    Dir() {
      fs::remove_all(p);
      fs::create_directories(p);
    }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  };
  static const Dir d;
  return d.p;
}

Run run_cli(const std::vector<std::string>& args) {
  const char* bin = std::getenv("RMGAIT");
  REQUIRE_MESSAGE(bin, "set RMGAIT to the rmgait binary");
  const std::string log = (workdir() / "output.txt").string();
  std::vector<char*> argv{const_cast<char*>(bin)};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::FILE* f = std::freopen(log.c_str(), "w", stdout);
    if (!f || dup2(fileno(stdout), 2) < 0) _exit(127);
    setenv("OMP_NUM_THREADS", "1", 1);
    // Address space capped at 768 MiB (rmgait needs about 200 here): an allocation of a declared
    // gigabyte fails even where its pages would never be touched (and so never counted as
    // resident). Not under AddressSanitizer, which reserves terabytes of shadow.
    if (!std::getenv("RMGAIT_SANITIZED")) {
      const rlimit as{rlim_t(768) << 20, rlim_t(768) << 20};
      setrlimit(RLIMIT_AS, &as);
    }
    execv(bin, argv.data());
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  REQUIRE(wait4(pid, &status, 0, &ru) == pid);
  Run r;
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // the time the child computed (start-up included), not the wall clock: CTest runs other
  // tests beside this one, and a loaded machine must not change the verdict
  r.seconds = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  r.peak_mib = double(ru.ru_maxrss) / 1024.0;  // KiB on Linux
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  r.output.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

std::string write(const std::string& name, const std::string& bytes) {
  const fs::path p = workdir() / name;
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
  return p.string();
}

std::string le(uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += char(v >> (8 * i));
  return s;
}
std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

// The bound every case meets, and the error it must give.
void expect_refused(const std::vector<std::string>& args, const std::string& file,
                    const std::string& error) {
  CHECK_MESSAGE(fs::file_size(file) <= 4096, file, " is larger than 4 KB");
  const Run r = run_cli(args);
  INFO("rmgait ", args[0], " on ", file, ":\n", r.output);
  CHECK(r.exit_code > 0);
  CHECK(r.output.find(file) != std::string::npos);
  CHECK(r.output.find(error) != std::string::npos);
  MESSAGE(fs::path(file).filename().string(), ": ", r.seconds, " s of CPU (", r.wall_seconds,
          " s wall), peak resident ", r.peak_mib, " MiB");
  // AddressSanitizer's shadow memory and slower code: the bound is the Release build's
  if (!std::getenv("RMGAIT_SANITIZED")) {
    CHECK(r.seconds < 0.2);
    CHECK(r.peak_mib < 64);
  }
}

uint32_t crc32(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(uint32_t(data.size())) + type + data + be32(crc32(type + data));
}

// A PNG whose IHDR declares width x height at `depth` bits and colour type `type`, with one
// small zlib stream (a stored block of 64 zero bytes) as its image data.
std::string hostile_png(uint32_t width, uint32_t height, int depth, int type) {
  std::string ihdr = be32(width) + be32(height) + char(depth) + char(type) + '\0' + '\0' + '\0';
  std::string z = "\x78\x01";
  z += '\x01' + le(64, 2) + le(0xffff ^ 64, 2) + std::string(64, '\0');
  z += be32(64 << 16 | 1);  // Adler-32 of 64 zeros: a = 1, b = 64
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", z) +
         png_chunk("IEND", "");
}

// A torch.save-like archive whose data.pkl is deflated, then its declared size patched to `n`
// in both the local header and the central directory.
std::string zip_declaring(uint32_t n) {
  const std::string path = (workdir() / "patched.pt").string();
  fs::remove(path);
  int e = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &e);
  REQUIRE(z);
  static const std::string pkl = test::Pk().ordered_dict().raw(".").b;
  const zip_int64_t i =
      zip_file_add(z, "archive/data.pkl", zip_source_buffer(z, pkl.data(), pkl.size(), 0), 0);
  REQUIRE(i >= 0);
  REQUIRE(zip_set_file_compression(z, zip_uint64_t(i), ZIP_CM_DEFLATE, 9) == 0);
  REQUIRE(zip_close(z) == 0);
  std::ifstream in(path, std::ios::binary);
  std::string b((std::istreambuf_iterator<char>(in)), {});
  REQUIRE(b.compare(0, 4, "PK\x03\x04") == 0);
  b.replace(22, 4, le(n, 4));  // the local header's uncompressed size
  const size_t cd = b.find("PK\x01\x02");
  REQUIRE(cd != std::string::npos);
  b.replace(cd + 24, 4, le(n, 4));  // the central directory's
  return b;
}

}  // namespace

TEST_CASE("hostile files: a small file declaring gigabytes costs neither time nor memory") {
  const uint64_t gib = uint64_t(1) << 30;
  const std::string out = (workdir() / "out").string();

  SUBCASE("PyTorch .pt: a deflated entry declaring 1 GiB") {
    const std::string f = write("declares_1gib.pt", zip_declaring(uint32_t(gib)));
    expect_refused({"convert", f, out + ".safetensors"}, f,
                   "declares 1073741824 bytes, more than its");
  }
  SUBCASE("PyTorch .pt: a storage of 1 GiB, its deflated entry declared as large") {
    // the pickle declares 2^28 floats in storage '0', a deflated entry of a few bytes whose
    // declared size is then patched to 2^30: the storage's read is refused, not allocated
    test::Pk pk;
    pk.ordered_dict().raw("(").str("w");
    pk.tensor("FloatStorage", "0", int64_t(gib / 4), 0, {int64_t(gib / 4)}, {1}).raw("u.");
    const std::string& pkl = pk.b;
    const std::string path = (workdir() / "storage.pt").string();
    fs::remove(path);
    int e = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &e);
    REQUIRE(z);
    static const std::string four(4, '\0');
    zip_file_add(z, "archive/data.pkl", zip_source_buffer(z, pkl.data(), pkl.size(), 0), 0);
    const zip_int64_t i =
        zip_file_add(z, "archive/data/0", zip_source_buffer(z, four.data(), four.size(), 0), 0);
    zip_set_file_compression(z, zip_uint64_t(i), ZIP_CM_DEFLATE, 9);
    REQUIRE_MESSAGE(zip_close(z) == 0, std::string(zip_strerror(z)));
    std::ifstream in(path, std::ios::binary);
    std::string b((std::istreambuf_iterator<char>(in)), {});
    // the storage's local header and central directory entry: the uncompressed size
    for (const char* sig : {"PK\x03\x04", "PK\x01\x02"}) {
      const size_t at = b.find(sig, b.find(sig) + 4);
      REQUIRE(at != std::string::npos);
      b.replace(at + (sig[2] == 3 ? 22 : 24), 4, le(gib, 4));
    }
    const std::string f = write("storage_1gib.pt", b);
    expect_refused({"convert", f, out + ".safetensors"}, f,
                   "archive entry 'archive/data/0' declares 1073741824 bytes, more than its");
  }
  SUBCASE("safetensors: a tensor shape of 1 GiB over 16 bytes") {
    std::string h = R"({"w":{"dtype":"F32","shape":[268435456],"data_offsets":[0,16]}})";
    h.append((8 - h.size() % 8) % 8, ' ');
    const std::string f = write("shape_1gib.safetensors", le(h.size(), 8) + h + std::string(16, 0));
    expect_refused({"convert", f, out + ".pt"}, f,
                   "needs 1073741824 bytes but data_offsets span 16");
  }
  SUBCASE("safetensors: a header length of 1 GiB") {
    const std::string f = write("header_1gib.safetensors", le(gib, 8) + "{}");
    expect_refused({"convert", f, out + ".pt"}, f, "header length 1073741824 exceeds the file");
  }
  SUBCASE(".npy: a shape of 1 GiB over 16 bytes") {
    std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (16384, 128, 128), }";
    h.append(64 - (10 + h.size() + 1) % 64, ' ');
    h += '\n';
    const std::string f = write("shape_1gib.npy", std::string("\x93NUMPY\x01\x00", 8) +
                                                      le(h.size(), 2) + h + std::string(16, 0));
    expect_refused(
        {"embed", "--sils", f, "--checkpoint", "none.safetensors", "--out", out + ".npy"}, f,
        "truncated .npy data");
  }
  SUBCASE("pickle (OpenGait's .pkl): an array shape of 1 GiB, and bytes declared as 1 GiB") {
    const std::string dir = (workdir() / "pkl").string();
    const std::string a =
        write("pkl/001/nm-01/000/a.pkl", test::pickle_array(2, "abcd", {262144, 64, 64}));
    // BINBYTES8 of 2^30 bytes, 64 of them present
    const std::string b = write("pkl/001/nm-01/000/b.pkl",
                                std::string("\x80\x02\x8e", 3) + le(gib, 8) + std::string(64, 'x'));
    expect_refused({"pack", "--from-pkl", dir, out + ".pack"}, a,
                   "array of dtype 'u1' and 1073741824 elements holds 4 bytes");
    expect_refused({"pack", "--from-pkl", dir, out + ".pack"}, b,
                   "truncated pickle (needs 1073741824 bytes");
  }
  SUBCASE("packed dataset: a table of 1 GiB, and a sequence of 1 GiB of frames") {
    std::string h = std::string("RMGAITPK") + le(1, 4) + le(64, 4) + le(64, 4) + le(0, 4);
    const std::string table = h + le(gib / 64, 8) + le(64, 8) + le(64, 8) + std::string(16, 0);
    const std::string f = write("table_1gib.pack", table + std::string(64, 0));
    expect_refused({"info", f}, f, "runs past the end of the file");
    // one sequence of 2^18 frames of 64 x 64 (1 GiB) declared over 3,968 bytes of data
    const std::string entry = "001" + std::string(13, 0) + "nm" + std::string(6, 0) + le(1, 4) +
                              "000" + std::string(5, 0) + le(262144, 4) + le(0, 8) +
                              std::string(16, 0);
    const std::string seq = h + le(1, 8) + le(4096 - 64, 8) + le(64, 8) + std::string(16, 0) +
                            std::string(4096 - 128, 0) + entry;
    REQUIRE(seq.size() == 4096);
    const std::string g = write("frames_1gib.pack", seq);
    expect_refused({"info", g}, g, "has frames outside the data");
  }
  SUBCASE("PNG: 65535 x 65535 pixels declared, and 8192 x 8192 RGBA at 16 bits") {
    const std::string a = write("png_a/65535x65535.png", hostile_png(65535, 65535, 8, 0));
    expect_refused({"embed", "--dir", (workdir() / "png_a").string(), "--checkpoint",
                    "none.safetensors", "--out", out + ".npy"},
                   a, "PNG declares 65535x65535 pixels (4294836225 bytes)");
    const std::string b = write("png_b/8192x8192_rgba16.png", hostile_png(8192, 8192, 16, 6));
    expect_refused({"embed", "--dir", (workdir() / "png_b").string(), "--checkpoint",
                    "none.safetensors", "--out", out + ".npy"},
                   b, "PNG declares 8192x8192 pixels (536870912 bytes)");
  }
  SUBCASE("PNG: 1 bit per pixel of palette that stb would expand 24-fold") {
    // 8192 x 8192 at 1 bit is 8.4 MB of rows, which 8.2 KB of IDAT could hold; decoded to RGB
    // it is 201 MB: refused (the file is larger than 4 KB: the rows must fit the IDAT first)
    std::string png = hostile_png(8192, 8192, 1, 3);
    const size_t idat = png.find("IDAT") - 4;
    std::string data(8200, 'x');
    png.replace(idat, 12 + 64 + 2 + 5 + 4, png_chunk("IDAT", data));
    const std::string f = write("png_c/palette_1bit.png", png);
    const Run r = run_cli({"embed", "--dir", (workdir() / "png_c").string(), "--checkpoint",
                           "none.safetensors", "--out", out + ".npy"});
    INFO(r.output);
    CHECK(r.exit_code > 0);
    CHECK(r.output.find("PNG of 8192x8192 pixels would decode to 201326592 bytes") !=
          std::string::npos);
  }
  SUBCASE("YAML: a billion aliased scalars, and a batch of terabytes") {
    std::string y = "data_cfg:\n  dataset: d.pack\nmodel_cfg:\n";
    y += "  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; ++i) {
      y += "  l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
      for (int k = 0; k < 10; ++k) y += (k ? ", *l" : "*l") + std::to_string(i - 1);
      y += "]\n";
    }
    const std::string f = write("laughs.yaml", y);
    expect_refused({"train", "--config", f}, f, "unknown key 'model_cfg.l0'");
    const std::string g = write("batch.yaml",
                                "data_cfg:\n  dataset: d.pack\ntrainer_cfg:\n  sampler: [1024, "
                                "1024]\n  frames: 100000\n");
    expect_refused({"train", "--config", g}, g, "GiB of memory");
  }
}
