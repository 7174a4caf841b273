// The connection to Redis behind shared limits: a socket of our own, TLS over it through
// OpenSSL when asked (rediss://), and RESP through hiredis's reply reader and command
// formatter. Every step (resolving, connecting, the handshake, each command) has the
// configured timeout. With Sentinel, the master's address is asked of the sentinels, in
// turn, at every (re)connection, and the server found must say it is the master.
// Runs on the budget's own thread (gates/redis_budget.h), never on the engine's.
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/clock.h"
#include "core/config.h"
#include "gates/redis_budget.h"

namespace llmsvc {

namespace {

// OpenSSL's queued errors, oldest first, as one line (and the queue emptied).
std::string tls_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

struct ReplyFree {
  void operator()(redisReply *r) const {
    if (r) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

std::string reply_text(const redisReply *r) {
  return r && r->str ? std::string(r->str, r->len) : std::string();
}

// One connection: plain or TLS, blocking calls with a deadline each.
class Conn {
 public:
  Conn() = default;
  Conn(const Conn &) = delete;
  Conn &operator=(const Conn &) = delete;
  ~Conn() { close(); }

  void close() {
    if (ssl_) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (reader_) redisReaderFree(reader_);
    reader_ = nullptr;
  }
  bool is_open() const { return fd_ >= 0; }

  // `ctx` non-null: TLS, verifying the server's certificate for `name` when asked.
  bool open(const std::string &host, int64_t port, SSL_CTX *ctx, const std::string &name,
            bool verify, int64_t timeout_ms, std::string &error) {
    close();
    timeout_ms_ = timeout_ms;
    const int64_t deadline = steady_now_ns() + timeout_ms * kNsPerMs;
    const std::string where = redis_address(host, port);
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const std::string service = std::to_string(port);
    if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
      error = "connect to " + where + ": " + gai_strerror(rc);
      return false;
    }
    std::string last = "no address";
    for (addrinfo *ai = res; ai && fd_ < 0; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                        ai->ai_protocol);
      if (fd < 0) {
        last = std::strerror(errno);
        continue;
      }
      int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        if (!wait_fd(fd, POLLOUT, deadline)) {
          last = "timed out";
          ::close(fd);
          continue;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        rc = soerr == 0 ? 0 : -1;
        errno = soerr;
      }
      if (rc != 0) {
        last = std::strerror(errno);
        ::close(fd);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fd_ = fd;
    }
    freeaddrinfo(res);
    if (fd_ < 0) {
      error = "connect to " + where + ": " + last;
      return false;
    }
    if (ctx && !handshake(ctx, name, verify, deadline, where, error)) {
      close();
      return false;
    }
    reader_ = redisReaderCreate();
    if (!reader_) {
      close();
      error = "cannot allocate a RESP reader";
      return false;
    }
    return true;
  }

  // Sends one command and reads its reply; null with `error` (the connection is closed
  // then: after a timeout its replies would be out of step).
  Reply command(const std::vector<std::string_view> &args, std::string &error) {
    if (fd_ < 0) {
      error = "not connected";
      return nullptr;
    }
    const int64_t deadline = steady_now_ns() + timeout_ms_ * kNsPerMs;
    std::vector<const char *> argv;
    std::vector<size_t> lens;
    for (std::string_view a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    char *cmd = nullptr;
    int len = redisFormatCommandArgv(&cmd, int(argv.size()), argv.data(), lens.data());
    if (len < 0) {
      error = "cannot format a command";
      return nullptr;
    }
    bool sent = send_all(cmd, size_t(len), deadline, error);
    redisFreeCommand(cmd);
    if (!sent) return fail(error);
    for (;;) {
      void *reply = nullptr;
      if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
        error = std::string("unreadable reply: ") + reader_->errstr;
        return fail(error);
      }
      if (reply) return Reply(static_cast<redisReply *>(reply));
      char buf[16384];
      ssize_t n = receive(buf, sizeof buf, deadline, error);
      if (n <= 0) return fail(error);
      redisReaderFeed(reader_, buf, size_t(n));
    }
  }

 private:
  static bool wait_fd(int fd, short events, int64_t deadline) {
    for (;;) {
      int64_t left = deadline - steady_now_ns();
      if (left <= 0) return false;
      pollfd p{fd, events, 0};
      int rc = ::poll(&p, 1, int((left + kNsPerMs - 1) / kNsPerMs));
      if (rc > 0) return true;
      if (rc == 0) return false;
      if (errno != EINTR) return false;
    }
  }

  bool handshake(SSL_CTX *ctx, const std::string &name, bool verify, int64_t deadline,
                 const std::string &where, std::string &error) {
    ERR_clear_error();
    ssl_ = SSL_new(ctx);
    if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) {
      error = "TLS to " + where + ": " + tls_errors();
      return false;
    }
    // SNI for names, not for addresses (RFC 6066); the certificate is checked for either.
    in6_addr a6;
    in_addr a4;
    const bool is_ip = inet_pton(AF_INET, name.c_str(), &a4) == 1 ||
                       inet_pton(AF_INET6, name.c_str(), &a6) == 1;
    if (!is_ip) SSL_set_tlsext_host_name(ssl_, name.c_str());
    if (verify) {
      X509_VERIFY_PARAM *param = SSL_get0_param(ssl_);
      if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1
                : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0) != 1) {
        error = "TLS to " + where + ": cannot check the certificate for " + name;
        return false;
      }
    }
    for (;;) {
      int rc = SSL_connect(ssl_);
      if (rc == 1) return true;
      int e = SSL_get_error(ssl_, rc);
      short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (ev && wait_fd(fd_, ev, deadline)) continue;
      if (ev) {
        error = "TLS handshake with " + where + ": timed out (no TLS answer: is it a TLS port?)";
        return false;
      }
      long v = SSL_get_verify_result(ssl_);
      if (v != X509_V_OK) {
        error = "TLS handshake with " + where + ": the server's certificate is not trusted (" +
                X509_verify_cert_error_string(v) + ")";
      } else {
        std::string why = tls_errors();
        if (why.empty()) why = e == SSL_ERROR_SYSCALL ? "the connection closed" : "failed";
        error = "TLS handshake with " + where + ": " + why;
      }
      return false;
    }
  }

  bool send_all(const char *p, size_t n, int64_t deadline, std::string &error) {
    while (n > 0) {
      ssize_t w;
      short ev = POLLOUT;
      if (ssl_) {
        ERR_clear_error();
        int rc = SSL_write(ssl_, p, int(n));
        if (rc > 0) {
          w = rc;
        } else {
          int e = SSL_get_error(ssl_, rc);
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            error = "TLS write: " + tls_closed(e);
            return false;
          }
          ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
          w = -1;
        }
      } else {
        w = ::send(fd_, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
          error = std::string("write: ") + std::strerror(errno);
          return false;
        }
      }
      if (w > 0) {
        p += w;
        n -= size_t(w);
        continue;
      }
      if (!wait_fd(fd_, ev, deadline)) {
        error = "timed out writing";
        return false;
      }
    }
    return true;
  }

  ssize_t receive(char *buf, size_t size, int64_t deadline, std::string &error) {
    for (;;) {
      short ev = POLLIN;
      if (ssl_) {
        ERR_clear_error();
        int rc = SSL_read(ssl_, buf, int(size));
        if (rc > 0) return rc;
        int e = SSL_get_error(ssl_, rc);
        if (e == SSL_ERROR_ZERO_RETURN) {
          error = "the server closed the connection";
          return 0;
        }
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
          error = "TLS read: " + tls_closed(e);
          return -1;
        }
        ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      } else {
        ssize_t n = ::recv(fd_, buf, size, 0);
        if (n > 0) return n;
        if (n == 0) {
          error = "the server closed the connection";
          return 0;
        }
        if (errno != EAGAIN && errno != EINTR) {
          error = std::string("read: ") + std::strerror(errno);
          return -1;
        }
      }
      if (!wait_fd(fd_, ev, deadline)) {
        error = "timed out";
        return -1;
      }
    }
  }

  // Why a TLS connection failed after its handshake: OpenSSL's reason, else the socket's.
  // With TLS 1.3 a server refusing the client's certificate (or its absence) says so only
  // then.
  std::string tls_closed(int e) {
    std::string why = tls_errors();
    if (why.empty())
      why = e == SSL_ERROR_SYSCALL && errno ? std::strerror(errno) : "the connection closed";
    return why + " (a server that requires a client certificate closes the connection "
                 "after the handshake without one: tls_cert, tls_key)";
  }

  Reply fail(const std::string &) {
    close();
    return nullptr;
  }

  int fd_ = -1;
  SSL *ssl_ = nullptr;
  redisReader *reader_ = nullptr;
  int64_t timeout_ms_ = 50;
};

class RespLink final : public ScriptLink {
 public:
  explicit RespLink(const SharedLimitsConfig &c) : c_(c) {}
  ~RespLink() override {
    if (tls_) SSL_CTX_free(tls_);
  }

  void disconnect() override { conn_.close(); }
  bool connected() const override { return conn_.is_open(); }

  bool connect(std::string &run_id, int64_t &started_us, std::string &error) override {
    conn_.close();
    if (c_.tls && !tls_ && !make_tls(error)) return false;
    std::string host = c_.host;
    int64_t port = c_.port;
    if (!c_.sentinels.empty() && !find_master(host, port, error)) return false;
    if (!moved_host_.empty()) {  // a cluster said the budget's slot is served there
      host = moved_host_;
      port = moved_port_;
      moved_host_.clear();  // once: should that node fail, the configured one is asked again
    }
    for (int hop = 0;; ++hop) {
      if (!open_node(host, port, error)) return false;
      // Redis Cluster: the budget's names share one hash tag, so one slot; its master may
      // be another node.
      std::string owner;
      int64_t owner_port = 0;
      if (!slot_owner(host, owner, owner_port, error)) return false;
      if (owner.empty() || (owner == host && owner_port == port)) break;
      if (hop == 2) return fail(error, "the cluster keeps redirecting the budget's slot");
      host = owner;
      port = owner_port;
    }
    return ready(run_id, started_us, error);
  }

  // Connects to one node: TLS, AUTH, SELECT, and only a master will do.
  bool open_node(const std::string &host, int64_t port, std::string &error) {
    const std::string name = c_.tls_server_name.empty() ? host : c_.tls_server_name;
    if (!conn_.open(host, port, tls_, name, c_.tls_verify, c_.timeout_ms, error)) return false;
    // The server's answers name what is wrong (WRONGPASS, NOAUTH, NOPERM); they never
    // repeat the password, and neither does the message.
    if (!c_.password.empty()) {
      std::vector<std::string_view> a = {"AUTH"};
      if (!c_.user.empty()) a.push_back(c_.user);
      a.push_back(c_.password);
      std::string who = c_.user.empty() ? "" : " as user \"" + c_.user + "\"";
      if (!simple(a, "AUTH" + who, error)) return false;
    }
    if (c_.db != 0) {
      const std::string n = std::to_string(c_.db);
      if (!simple({"SELECT", n}, "SELECT " + n, error)) return false;
    }
    // Only a master will do (a sentinel's answer may be stale, a failover under way). One
    // with replicas confirms each call's writes reached one (WAIT) before its answer is
    // used: a failover promotes the replica furthest ahead, so no lease it granted is lost.
    {
      Reply r = conn_.command({"ROLE"}, error);
      if (!r) return fail(error, "ROLE at " + redis_address(host, port) + ": " + error);
      const bool array = r->type == REDIS_REPLY_ARRAY && r->elements > 0;
      std::string role = array ? reply_text(r->element[0]) : reply_text(r.get());
      if (r->type == REDIS_REPLY_ERROR) {
        role = "master";  // ROLE refused (a managed Redis may rename it): assume so
      } else if (role != "master") {
        return fail(error, (c_.sentinels.empty() ? "the server at " + redis_address(host, port)
                                                 : "the sentinels named " + redis_address(host, port) +
                                                       " as master \"" + c_.master_name + "\", but it") +
                               " is a " + role + ", not a master");
      }
      replicas_ = array && r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY
                      ? r->element[2]->elements
                      : 0;
    }
    return true;
  }

  // In a cluster, the master serving the budget's slot (empty: not a cluster).
  bool slot_owner(const std::string &host, std::string &owner, int64_t &owner_port,
                  std::string &error) {
    Reply info = conn_.command({"INFO", "cluster"}, error);
    if (!info) return fail(error, "INFO: " + error);
    if (reply_text(info.get()).find("cluster_enabled:1") == std::string::npos) return true;
    const std::string tag = "{" + c_.key + "}";
    Reply k = conn_.command({"CLUSTER", "KEYSLOT", tag}, error);
    if (!k || k->type != REDIS_REPLY_INTEGER)
      return fail(error, "CLUSTER KEYSLOT: " + (k ? reply_text(k.get()) : error));
    Reply slots = conn_.command({"CLUSTER", "SLOTS"}, error);
    if (!slots || slots->type != REDIS_REPLY_ARRAY)
      return fail(error, "CLUSTER SLOTS: " + (slots ? reply_text(slots.get()) : error));
    for (size_t i = 0; i < slots->elements; ++i) {
      const redisReply *range = slots->element[i];
      if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) continue;
      if (k->integer < range->element[0]->integer || k->integer > range->element[1]->integer)
        continue;
      const redisReply *node = range->element[2];
      if (node->type != REDIS_REPLY_ARRAY || node->elements < 2) break;
      owner = reply_text(node->element[0]);
      if (owner.empty() || owner == "?") owner = host;  // "the node you asked"'s address
      owner_port = node->element[1]->integer;
      return true;
    }
    return fail(error, "the cluster serves no node for the budget's slot " +
                           std::to_string(k->integer));
  }

  // Scripts loaded, and the server's identity.
  bool ready(std::string &run_id, int64_t &started_us, std::string &error) {
    for (int i = 0; i < kBudgetScripts; ++i) {
      const std::string &body = budget_script(BudgetScript(i));
      Reply r = conn_.command({"SCRIPT", "LOAD", body}, error);
      if (!r) return fail(error, "SCRIPT LOAD: " + error);
      if (r->type != REDIS_REPLY_STRING) return fail(error, "SCRIPT LOAD: " + reply_text(r.get()));
      sha_[size_t(i)] = reply_text(r.get());
    }
    Reply r = conn_.command({"INFO", "server"}, error);
    if (!r) return fail(error, "INFO: " + error);
    std::string info = reply_text(r.get());
    auto field = [&](const char *key_name) {
      std::string key = std::string("\n") + key_name + ":";
      size_t at = info.find(key);
      if (at == std::string::npos) return std::string();
      at += key.size();
      return info.substr(at, info.find_first_of("\r\n", at) - at);
    };
    run_id = field("run_id");
    // Its start, on its clock: uptime is whole seconds, so this is never before it.
    const std::string time = field("server_time_usec"), up = field("uptime_in_seconds");
    char *end = nullptr;
    long long t = std::strtoll(time.c_str(), &end, 10);
    bool ok = !time.empty() && !*end;
    long long u = std::strtoll(up.c_str(), &end, 10);
    ok = ok && !up.empty() && !*end && u >= 0;
    started_us = ok ? t - u * 1000000LL : 0;
    return true;
  }

  bool eval(BudgetScript s, const std::vector<std::string> &keys,
            const std::vector<std::string> &args, std::vector<int64_t> &out,
            std::string &error) override {
    out.clear();
    if (!conn_.is_open()) return fail(error, "not connected");
    // EVALSHA sha N keys... args...; EVAL with the body when Redis lost its script cache.
    const std::string nkeys = std::to_string(keys.size());
    std::vector<std::string_view> argv = {"EVALSHA", sha_[size_t(s)], nkeys};
    for (const std::string &k : keys) argv.push_back(k);
    for (const std::string &a : args) argv.push_back(a);
    Reply r = conn_.command(argv, error);
    if (r && r->type == REDIS_REPLY_ERROR && std::strncmp(r->str, "NOSCRIPT", 8) == 0) {
      argv[0] = "EVAL";
      argv[1] = budget_script(s);
      r = conn_.command(argv, error);
    }
    if (!r) return fail(error, "script call: " + error);
    bool ok = true;
    if (r->type == REDIS_REPLY_ERROR && std::strncmp(r->str, "MOVED ", 6) == 0) {
      // The cluster moved the budget's slot: the next connection goes to its new master.
      std::string to = reply_text(r.get()).substr(6);
      to = to.substr(to.find(' ') + 1);
      const size_t colon = to.rfind(':');
      if (colon != std::string::npos) {
        moved_host_ = to.substr(0, colon);
        moved_port_ = std::strtoll(to.c_str() + colon + 1, nullptr, 10);
      }
      error = "script call: the cluster serves the budget at " + to + " (MOVED); reconnecting there";
      ok = false;
    } else if (r->type == REDIS_REPLY_ERROR) {
      // READONLY: a master demoted by a failover; the next connection asks the sentinels.
      error = "script error: " + reply_text(r.get());
      ok = false;
    } else if (r->type == REDIS_REPLY_INTEGER) {
      out.push_back(r->integer);
    } else if (r->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; ok && i < r->elements; ++i) {
        ok = r->element[i]->type == REDIS_REPLY_INTEGER;
        if (ok) out.push_back(r->element[i]->integer);
      }
      if (!ok) error = "unexpected reply from a script";
    } else {
      error = "unexpected reply from a script";
      ok = false;
    }
    if (ok && replicas_ > 0) {
      const std::string ms = std::to_string(c_.timeout_ms);
      Reply w = conn_.command({"WAIT", "1", ms}, error);
      if (!w) {
        ok = false;
        error = "WAIT: " + error;
      } else if (w->type != REDIS_REPLY_INTEGER || w->integer < 1) {
        ok = false;
        error = "the call's writes reached no replica within " + ms + " ms (WAIT)";
        out.clear();
      }
    }
    if (!ok) conn_.close();  // out of step, or a server that is not what it should be
    return ok;
  }

 private:
  bool make_tls(std::string &error) {
    ERR_clear_error();
    tls_ = SSL_CTX_new(TLS_client_method());
    if (!tls_) return fail(error, "TLS: " + tls_errors());
    SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION);
    if (c_.tls_verify) {
      SSL_CTX_set_verify(tls_, SSL_VERIFY_PEER, nullptr);
      int ok = c_.tls_ca.empty() ? SSL_CTX_set_default_verify_paths(tls_)
                                 : SSL_CTX_load_verify_locations(tls_, c_.tls_ca.c_str(), nullptr);
      if (ok != 1) return tls_fail(error, "TLS: cannot load the CA certificates " + c_.tls_ca);
    }
    if (!c_.tls_cert.empty()) {
      if (SSL_CTX_use_certificate_chain_file(tls_, c_.tls_cert.c_str()) != 1)
        return tls_fail(error, "TLS: cannot load the client certificate " + c_.tls_cert);
      const std::string &key = c_.tls_key.empty() ? c_.tls_cert : c_.tls_key;
      if (SSL_CTX_use_PrivateKey_file(tls_, key.c_str(), SSL_FILETYPE_PEM) != 1)
        return tls_fail(error, "TLS: cannot load the client key " + key);
    }
    return true;
  }
  bool tls_fail(std::string &error, const std::string &what) {
    std::string why = tls_errors();
    SSL_CTX_free(tls_);
    tls_ = nullptr;
    return fail(error, what + (why.empty() ? "" : ": " + why));
  }

  // Asks the sentinels in turn for the master's address.
  bool find_master(std::string &host, int64_t &port, std::string &error) {
    std::string tried;
    for (size_t i = 0; i < c_.sentinels.size(); ++i) {
      const auto &[h, p] = c_.sentinels[(next_sentinel_ + i) % c_.sentinels.size()];
      std::string why;
      Conn s;
      const std::string name = c_.tls_server_name.empty() ? h : c_.tls_server_name;
      if (s.open(h, p, tls_, name, c_.tls_verify, c_.timeout_ms, why)) {
        Reply r = s.command({"SENTINEL", "get-master-addr-by-name", c_.master_name}, why);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING) {
          const std::string text = reply_text(r->element[1]);
          char *end = nullptr;
          long long n = std::strtoll(text.c_str(), &end, 10);
          if (!text.empty() && *end == 0 && n > 0 && n < 65536) {
            host = reply_text(r->element[0]);
            port = n;
            next_sentinel_ = (next_sentinel_ + i) % c_.sentinels.size();
            return true;
          }
        }
        if (r) why = r->type == REDIS_REPLY_NIL ? "does not know master \"" + c_.master_name + "\""
                                                : "answered " + reply_text(r.get());
      }
      tried += (tried.empty() ? "" : "; ") + redis_address(h, p) + ": " + why;
    }
    error = "no sentinel named the master \"" + c_.master_name + "\" (" + tried + ")";
    return false;
  }

  // A command whose reply is +OK; else fails with `what` and the server's error.
  bool simple(const std::vector<std::string_view> &a, const std::string &what,
              std::string &error) {
    Reply r = conn_.command(a, error);
    if (!r) return fail(error, what + ": " + error);
    if (r->type == REDIS_REPLY_STATUS) return true;
    return fail(error, what + " failed: " + reply_text(r.get()));
  }

  bool fail(std::string &error, const std::string &message) {
    error = message;
    conn_.close();
    return false;
  }

  SharedLimitsConfig c_;
  Conn conn_;
  SSL_CTX *tls_ = nullptr;
  size_t next_sentinel_ = 0;
  size_t replicas_ = 0;  // the master's replicas when connected
  std::string moved_host_;  // a cluster's redirection, for the next connection
  int64_t moved_port_ = 0;
  std::array<std::string, kBudgetScripts> sha_;
};

}  // namespace

std::string redis_address(const std::string &host, int64_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::unique_ptr<ScriptLink> redis_link(const SharedLimitsConfig &c) {
  return std::make_unique<RespLink>(c);
}

}  // namespace llmsvc
