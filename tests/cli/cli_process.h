// Runs the llmsvc tool as a child process for the end-to-end tests: arguments, a clean
// environment, standard output and error captured in files, bounded waits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace cli_test {

/// A scratch directory removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  std::string path(const std::string &name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

/// The environment without API keys or base URLs, plus `extra`.
std::vector<std::string> clean_env(const std::map<std::string, std::string> &extra = {});

class Process {
 public:
  /// Starts LLMSVC_CLI_PATH with `args`; stdout and stderr go to files in `dir`.
  Process(const std::vector<std::string> &args, const std::vector<std::string> &env,
          const TempDir &dir);
  ~Process();
  Process(const Process &) = delete;
  Process &operator=(const Process &) = delete;

  void signal(int sig);
  /// Waits up to `limit` for the exit; returns the exit code (128+N for signal N), or -1
  /// after killing it when it did not exit in time.
  int wait(std::chrono::seconds limit = std::chrono::seconds(90));
  std::string out() const;
  std::string err() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string out_path_, err_path_;
};

/// Runs the tool to completion: {exit code, stdout, stderr}.
struct Ran {
  int code;
  std::string out;
  std::string err;
};
Ran run_tool(const std::vector<std::string> &args, const std::vector<std::string> &env,
             const TempDir &dir);

std::string read_text(const std::string &path);
void write_text(const std::string &path, const std::string &text);
/// The lines of a file (without the newlines).
std::vector<std::string> read_lines(const std::string &path);
/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
bool wait_until(const std::function<bool()> &cond, std::chrono::milliseconds limit);

}  // namespace cli_test
