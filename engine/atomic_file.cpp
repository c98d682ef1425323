#include "engine/atomic_file.h"

#include <cstdio>
#include <fstream>

#include "engine/error.h"

namespace rmgait {

std::string temp_path(const std::string& path) {
  return path + ".tmp";
}

void commit_temp(const std::string& path) {
  const std::string tmp = temp_path(path);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    RM_FAIL(path, ": cannot rename ", tmp, " into place");
  }
}

void write_file_atomically(const std::string& path,
                           const std::function<void(std::ostream&)>& write) {
  const std::string tmp = temp_path(path);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    RM_CHECK(f, path, ": cannot write ", tmp);
    try {
      write(f);
    } catch (...) {
      f.close();
      std::remove(tmp.c_str());
      throw;
    }
    f.flush();
    if (!f.good()) {
      f.close();
      std::remove(tmp.c_str());
      RM_FAIL(path, ": write to ", tmp, " failed");
    }
  }
  commit_temp(path);
}

}  // namespace rmgait
