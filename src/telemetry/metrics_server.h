// A minimal HTTP/1.1 server for Prometheus scrapes: `GET /metrics` answers with the text
// its source produces, anything else with 404. One thread, one connection at a time, each
// closed after its answer; requests are bounded in size and time, so a stuck or hostile
// peer costs at most a few seconds and never reaches the engine.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace llmsvc {

class MetricsServer {
 public:
  /// Produces the body of a scrape. Called on the server's thread.
  using Source = std::function<std::string()>;

  /// Listens on host:port (port 0: a port the system picks). Throws std::system_error
  /// naming the address when it cannot listen.
  MetricsServer(const std::string &host, int port);
  ~MetricsServer();  // stop()
  MetricsServer(const MetricsServer &) = delete;
  MetricsServer &operator=(const MetricsServer &) = delete;

  /// Starts serving on a thread of its own. Throws std::system_error.
  void start(Source source);
  /// Stops serving, joins the thread and closes the socket, so that connecting fails at
  /// once; a connection in progress is dropped.
  /// Idempotent, callable from several threads.
  void stop();

  const std::string &host() const { return host_; }
  int port() const { return port_; }
  /// Scrapes answered with 200 (counted as the answer is sent).
  uint64_t scrapes() const { return scrapes_.load(std::memory_order_relaxed); }

  static constexpr size_t kMaxRequestBytes = 8192;
  static constexpr int kReadTimeoutMs = 2000;   // a scraper sends its request at once
  static constexpr int kWriteTimeoutMs = 5000;  // to write the answer
  static constexpr int kLingerMs = 200;         // to read what the peer sent too much

 private:
  class Fd {
   public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd();
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    int get() const { return fd_; }
    void reset(int fd);
    int release() {
      int fd = fd_;
      fd_ = -1;
      return fd;
    }

   private:
    int fd_;
  };

  void run();
  void serve(int fd);
  /// Waits until `fd` has `events`; false on timeout, error or stop().
  bool wait(int fd, short events, int64_t deadline_ms) const;
  bool send_all(int fd, const std::string &data, int64_t deadline_ms) const;
  bool respond(int fd, const char *status, const std::string &body, int64_t deadline_ms) const;
  void linger(int fd) const;

  const std::string host_;
  Source source_;
  int port_ = 0;
  Fd listen_fd_;
  Fd stop_fd_;  // an eventfd: readable once stop() was called
  std::atomic<uint64_t> scrapes_{0};
  std::mutex stop_mu_;
  std::thread thread_;
};

}  // namespace llmsvc
