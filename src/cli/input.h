// Reading the batch file lazily, one line at a time, and finding each line's id.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace llmsvc_cli {

struct InputLine {
  uint64_t number = 0;  // 1-based line number in the file
  std::string text;     // without the line end
};

class InputReader {
 public:
  InputReader() = default;
  ~InputReader();
  InputReader(const InputReader &) = delete;
  InputReader &operator=(const InputReader &) = delete;

  /// Opens `path` ("-": standard input). Returns "" or a message.
  std::string open(const std::string &path);
  /// The next line that is not blank: 1, or 0 at the end, or -1 on a read error (message
  /// in error()).
  int next(InputLine *out);
  const std::string &error() const { return error_; }
  /// The number of non-blank lines of a regular file, read once ahead; -1 for a pipe.
  int64_t count_lines() const;

 private:
  std::string path_;
  FILE *file_ = nullptr;
  bool is_stdin_ = false;
  char *buf_ = nullptr;
  size_t cap_ = 0;
  uint64_t line_ = 0;
  std::string error_;
};

/// A line's request: valid with its id, or invalid with the reason.
struct ParsedLine {
  bool valid = false;
  std::string id_json;  // the id as compact JSON: "\"abc\"", "17", or the line number as a string
  std::string error;    // why the line is invalid (without the file:line prefix)
};

/// Checks that the line is a JSON object and takes its id (a string or a number; when it is
/// missing or null, the line number as a string).
ParsedLine parse_line(const InputLine &line);

}  // namespace llmsvc_cli
