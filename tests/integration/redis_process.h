// A real redis-server on a free loopback port for one test: stopped (killed) and started
// again on the same port to play an outage, and always killed at the end. Each runs in a
// directory of its own, removed at the end: nothing it writes (a replica's RDB) is loaded
// by another.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

class RedisProcess {
 public:
  /// Starts redis-server without persistence on a free port and waits until PING answers,
  /// with `extra` arguments after the usual ones (TLS ports, --replicaof). With a
  /// `config_file` and `sentinel`: a Sentinel with that configuration instead.
  explicit RedisProcess(std::vector<std::string> extra = {}, std::string config_file = {},
                        bool sentinel = false, int port = 0);
  ~RedisProcess();
  RedisProcess(const RedisProcess &) = delete;
  RedisProcess &operator=(const RedisProcess &) = delete;

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  /// Kills the server (SIGKILL: an outage, not a shutdown) and waits for it.
  void kill_now();
  /// Starts it again on the same port, empty, and waits until PING answers.
  void start();
  /// PING on a new connection answered PONG.
  bool ping() const { return command("PING").rfind("+PONG", 0) == 0; }
  /// An inline command (words separated by spaces) on a new connection; its first reply
  /// line ("" when Redis does not answer).
  std::string command(const std::string &words) const;
  /// The same, the whole reply as it came (up to 64 KB).
  std::string command_all(const std::string &words) const;

  /// A free loopback port (for a second listener: --tls-port).
  static int free_port();
  /// A free port P whose P + 10000 (a cluster node's bus) is free too.
  static int free_cluster_port();

 private:
  std::string ask(const std::string &words, bool all) const;
  pid_t pid_ = -1;
  int port_ = 0;
  std::vector<std::string> extra_;
  std::string dir_;  // its working directory: a replica writes the RDB it receives there
  std::string config_file_;
  bool sentinel_ = false;
};
