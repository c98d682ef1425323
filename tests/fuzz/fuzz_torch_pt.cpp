// PyTorch .pt checkpoints: an input starting with "PK" is a whole archive (zip parsing, entry
// sizes, compressed entries); any other input is the data.pkl of an archive that also holds
// storages "0" to "3" (64 bytes each), so the mutations reach the state-dict pickle's rules.
#include "formats/zip.h"
#include "formats/torch_pt.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  rmgait::fuzz::expect_clear_error([&] {
    if (bytes.rfind("PK", 0) == 0) {
      rmgait::formats::ZipReader zip(bytes, "fuzz.pt");
      rmgait::formats::read_torch_checkpoint(zip);
      return;
    }
    const std::string path = rmgait::fuzz::to_file(data, 0, ".pt");
    {
      rmgait::formats::ZipWriter w(path);
      w.add("archive/data.pkl", bytes);
      for (const char* k : {"0", "1", "2", "3"})
        w.add(std::string("archive/data/") + k, std::string(64, '\x01'));
      w.close();
    }
    rmgait::formats::load_torch_checkpoint(path);
  });
  return 0;
}
