// The YAML config loader with --set overrides: the input is a YAML file, then, after a line
// "#--set", one override (section.key=value) per line.
#include "tests/fuzz/fuzz_util.h"
#include "pipeline/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> sets;
  const size_t cut = text.find("\n#--set\n");
  if (cut != std::string::npos) {
    std::string rest = text.substr(cut + 8);
    text.resize(cut);
    size_t at = 0;
    while (at <= rest.size() && sets.size() < 16) {
      size_t nl = rest.find('\n', at);
      if (nl == std::string::npos) nl = rest.size();
      if (nl > at) sets.push_back(rest.substr(at, nl - at));
      at = nl + 1;
    }
  }
  const std::string path =
      rmgait::fuzz::to_file(reinterpret_cast<const uint8_t*>(text.data()), text.size(), ".yaml");
  rmgait::fuzz::expect_clear_error([&] { rmgait::pipeline::load_config(path, sets); });
  return 0;
}
