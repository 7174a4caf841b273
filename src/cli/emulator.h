// Finding and starting the project's emulator (llmsvc-emulator) on a free loopback port.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace llmsvc_cli {

/// The emulator's path: $LLMSVC_EMULATOR, else next to this executable, else on PATH.
/// Returns "" when none is found; `*searched` then says where it looked.
std::string find_emulator(std::string *searched);

/// A running emulator, stopped by the destructor. It dies with this process too
/// (PR_SET_PDEATHSIG), and sits in its own process group so that a Ctrl-C meant for the
/// tool does not stop it before the in-flight requests finish.
class Emulator {
 public:
  Emulator() = default;
  ~Emulator();
  Emulator(const Emulator &) = delete;
  Emulator &operator=(const Emulator &) = delete;

  /// Starts `path` with `--host 127.0.0.1 --port 0` and `args`, waits (bounded) for its
  /// "listening on HOST:PORT" line. Returns "" or a message.
  std::string start(const std::string &path, const std::vector<std::string> &args);
  /// SIGTERM, then SIGKILL if it has not exited within two seconds. Idempotent.
  void stop();
  /// "http://127.0.0.1:PORT".
  std::string url() const;
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
};

/// Replaces this process with the emulator run with `args`. Returns only on failure, with
/// a message.
std::string exec_emulator(const std::vector<std::string> &args);

}  // namespace llmsvc_cli
