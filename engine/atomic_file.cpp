#include "engine/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "engine/error.h"

namespace rmgait {

namespace {
// Flushes a file (or a directory's entries) to the device: a rename must not reach the disk
// before the data it names.
void sync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;  // nothing to sync (or not allowed to open a directory): best effort
  ::fsync(fd);
  ::close(fd);
}

std::string dir_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string temp_path(const std::string& path) {
  return path + ".tmp";
}

void commit_temp(const std::string& path) {
  const std::string tmp = temp_path(path);
  sync_path(tmp, false);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    RM_FAIL(path, ": cannot rename ", tmp, " into place: ", why);
  }
  sync_path(dir_of(path), true);
}

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write,
                           const std::function<void()>& before_commit) {
  const std::string tmp = temp_path(path);
  {
    errno = 0;
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    RM_CHECK(f, path, ": cannot write ", tmp, ": ", std::strerror(errno ? errno : EIO));
    auto fail = [&](const char* what) {
      const std::string why = std::strerror(errno ? errno : EIO);
      f.close();
      std::remove(tmp.c_str());
      RM_FAIL(path, ": ", what, " ", tmp, " failed: ", why, "; ", path, " was not replaced");
    };
    errno = 0;
    try {
      write(f);
    } catch (...) {
      f.close();
      std::remove(tmp.c_str());
      throw;
    }
    if (!f.good()) fail("writing");  // errno from the failed write(2): ENOSPC, EFBIG, EIO
    if (before_commit) before_commit();
    f.flush();
    if (!f.good()) fail("writing");
    f.close();  // the last buffered bytes go out here: a full disk can still fail
    if (f.fail()) fail("closing");
  }
  commit_temp(path);
}

}  // namespace rmgait
