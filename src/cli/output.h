// The results file: appended line by line as results complete (a crash loses nothing that
// was finished), read back to resume, and rewritten at the end with one line per id.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace llmsvc_cli {

/// What opening an existing results file found.
struct OutputScan {
  uint64_t lines = 0;       // result lines read
  uint64_t ignored = 0;     // lines that are not result lines
  uint64_t first_ignored = 0;  // the first such line's number
  bool repaired = false;    // a truncated last line was cut off
};

class OutputFile {
 public:
  /// Called for each result line of an existing file, in file order.
  using SeenFn = std::function<void(const std::string &id_json, bool ok)>;

  OutputFile() = default;
  ~OutputFile();
  OutputFile(const OutputFile &) = delete;
  OutputFile &operator=(const OutputFile &) = delete;

  /// Opens or creates `path` for appending and locks it against a second run, cuts off a
  /// truncated last line and reports every result line to `seen`. Returns "" or a message.
  std::string open(const std::string &path, const SeenFn &seen, OutputScan *scan);
  /// Appends `line` and a newline with one write(2). Returns "" or a message.
  std::string append(const std::string &line);
  /// Rewrites the file (temporary file, fsync, rename) with the last line of each id,
  /// ordered by the "line" member (input order) or by position (completion order). Does
  /// nothing when the file already is in that shape. Returns "" or a message.
  std::string rewrite(bool input_order);
  const std::string &path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

/// Calls `fn(offset, data, len)` for each newline-terminated line of `fd` (without the
/// newline) and returns the offset just past the last newline, or -1 on a read error.
int64_t for_each_line(int fd, const std::function<void(uint64_t, const char *, size_t)> &fn);

}  // namespace llmsvc_cli
