#include "telemetry/metrics_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

namespace llmsvc {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

MetricsServer::Fd::~Fd() { reset(-1); }

void MetricsServer::Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

MetricsServer::MetricsServer(const std::string &host, int port) : host_(host) {
  const std::string where = "telemetry: cannot listen on " + host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo *found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found))
    throw std::system_error(EADDRNOTAVAIL, std::generic_category(),
                            where + " (" + gai_strerror(rc) + ")");
  int err = EADDRNOTAVAIL;
  for (addrinfo *ai = found; ai && listen_fd_.get() < 0; ai = ai->ai_next) {
    Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int one = 1;
    if (fd.get() < 0 || setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd.get(), 16) != 0) {
      err = errno;
      continue;
    }
    listen_fd_.reset(fd.release());
  }
  freeaddrinfo(found);
  if (listen_fd_.get() < 0) throw std::system_error(err, std::generic_category(), where);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (getsockname(listen_fd_.get(), reinterpret_cast<sockaddr *>(&bound), &len) != 0)
    throw std::system_error(errno, std::generic_category(), where);
  port_ = bound.ss_family == AF_INET6
              ? ntohs(reinterpret_cast<const sockaddr_in6 &>(bound).sin6_port)
              : ntohs(reinterpret_cast<const sockaddr_in &>(bound).sin_port);
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (stop_fd_.get() < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start(Source source) {
  source_ = std::move(source);
  thread_ = std::thread(&MetricsServer::run, this);
}

void MetricsServer::stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  while (write(stop_fd_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
  thread_.join();
  listen_fd_.reset(-1);
}

bool MetricsServer::wait(int fd, short events, int64_t deadline_ms) const {
  for (;;) {
    int64_t left = deadline_ms - now_ms();
    if (left <= 0) return false;
    pollfd p[2] = {{fd, events, 0}, {stop_fd_.get(), POLLIN, 0}};
    int n = poll(p, 2, int(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || p[1].revents) return false;
    if (p[0].revents & (POLLERR | POLLNVAL)) return false;
    if (p[0].revents) return true;  // POLLHUP too: the read or write that follows says
  }
}

bool MetricsServer::send_all(int fd, const std::string &data, int64_t deadline_ms) const {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += size_t(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait(fd, POLLOUT, deadline_ms)) return false;
    } else {
      return false;
    }
  }
  return true;
}

bool MetricsServer::respond(int fd, const char *status, const std::string &body,
                            int64_t deadline_ms) const {
  std::string head = std::string("HTTP/1.1 ") + status +
                     "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8"
                     "\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  return send_all(fd, head, deadline_ms) && send_all(fd, body, deadline_ms);
}

void MetricsServer::serve(int fd) {
  int64_t deadline = now_ms() + kReadTimeoutMs;
  std::string req;
  size_t head_end;
  char buf[2048];
  for (;;) {
    if ((head_end = req.find("\r\n\r\n")) != std::string::npos) break;
    if (req.size() > kMaxRequestBytes) {
      respond(fd, "431 Request Header Fields Too Large", "request too large\n",
              now_ms() + kWriteTimeoutMs);
      return;
    }
    if (!wait(fd, POLLIN, deadline)) return;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) return;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return;
    }
    req.append(buf, size_t(n));
  }
  if (head_end + 4 > kMaxRequestBytes) {
    respond(fd, "431 Request Header Fields Too Large", "request too large\n",
            now_ms() + kWriteTimeoutMs);
    return;
  }
  deadline = now_ms() + kWriteTimeoutMs;
  // The request line: METHOD SP TARGET SP HTTP/1.x
  std::string line = req.substr(0, req.find("\r\n"));
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  std::string version = sp2 == std::string::npos ? "" : line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    respond(fd, "400 Bad Request", "bad request\n", deadline);
    return;
  }
  std::string method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string path = target.substr(0, target.find('?'));
  if (method != "GET" || path != "/metrics") {
    respond(fd, "404 Not Found", "not found; try GET /metrics\n", deadline);
    return;
  }
  std::string body = source_();
  // Counted before the answer leaves, so a peer that has it also sees it counted.
  scrapes_.fetch_add(1, std::memory_order_relaxed);
  respond(fd, "200 OK", body, deadline);
}

void MetricsServer::linger(int fd) const {
  // Closing with unread input would reset the connection, and the peer could lose the
  // answer (an oversized request): say we are done, then read what is left, briefly.
  shutdown(fd, SHUT_WR);
  const int64_t deadline = now_ms() + kLingerMs;
  char buf[4096];
  while (wait(fd, POLLIN, deadline)) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) return;
  }
}

void MetricsServer::run() {
  pthread_setname_np(pthread_self(), "llmsvc-metrics");
  for (;;) {
    pollfd p[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    int c = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      // Out of descriptors: the connection stays pending, so wait a little, not spin.
      if (errno == EMFILE || errno == ENFILE) {
        pollfd s = {stop_fd_.get(), POLLIN, 0};
        poll(&s, 1, 100);
      }
      continue;
    }
    Fd conn(c);
    // Nothing may escape this thread: an exception here would end the host process.
    try {
      serve(c);
    } catch (...) {
      try {
        respond(c, "500 Internal Server Error", "internal error\n", now_ms() + 100);
      } catch (...) {
      }
    }
    linger(c);
  }
}

}  // namespace llmsvc
