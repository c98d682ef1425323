#pragma once
// Outputs are written to PATH.tmp and renamed over PATH only when complete, so a crash or a
// failed write never leaves a half-written file under the real name.
#include <functional>
#include <ostream>
#include <string>

namespace rmgait {

std::string temp_path(const std::string& path);  // PATH.tmp
// Renames temp_path(path) over path; on failure removes the temporary file and throws.
void commit_temp(const std::string& path);
// Opens temp_path(path) as a binary stream, runs `write`, checks the stream, commits.
// `before_commit`, when given, runs with the temporary file written but not yet flushed, closed
// or renamed (a caller's progress report, or a test's pause for a kill to land in).
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write,
                           const std::function<void()>& before_commit = {});

}  // namespace rmgait
