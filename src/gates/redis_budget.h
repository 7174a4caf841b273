// One rate budget kept in Redis and shared by every process that names it: settled amounts
// in time buckets, reservations in flight per process instance, and three Lua scripts
// (reserve, settle, rejoin) that each read and change it atomically, on Redis's own clock.
// Synchronous hiredis calls with a short timeout; the caller decides what a failure means.
// Touched only by the engine thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

struct redisContext;
struct redisReply;

namespace llmsvc {

/// Amounts per dimension, in the order the scripts use: requests, tokens (input + output),
/// input tokens, output tokens.
using Amounts = std::array<int64_t, 4>;

class RedisBudget {
 public:
  RedisBudget(std::string host, int port, int64_t timeout_ms);
  ~RedisBudget();
  RedisBudget(const RedisBudget &) = delete;
  RedisBudget &operator=(const RedisBudget &) = delete;

  /// Which budget, over which window: the Redis names include the window's length, since
  /// the buckets are a fraction of it. `hold_ms`: how long a reservation may stay in
  /// flight before it is presumed lost with its process.
  void configure(const std::string &key, int64_t window_ms, int64_t hold_ms);
  int64_t bucket_ns() const { return bucket_us_ * 1000; }

  /// Connects (or reconnects) and loads the scripts. False with last_error() on failure.
  bool connect();
  void disconnect();
  bool connected() const { return ctx_ != nullptr; }
  /// The Redis server's run id from the last connect: it changes when Redis restarts.
  const std::string &run_id() const { return run_id_; }

  struct Admission {
    bool admitted = false;
    int64_t wait_ns = 0;  // when refused: from Redis's now until the budget has room
    int dimension = 0;    // when refused: 1..4, the window that refused
  };
  /// Reserves `amounts` under `instance` if every capped window (cap > 0) has room; else
  /// says how long to wait. A window full of reservations in flight (nothing to age out)
  /// answers `poll_ns`: only a settlement, maybe another process's, can make room.
  bool reserve(const std::string &instance, const Amounts &caps, const Amounts &amounts,
               int64_t poll_ns, Admission &out);
  /// Removes a reservation and counts `actual` from now (all zero: a release).
  bool settle(const std::string &instance, const Amounts &reserved, const Amounts &actual);

  struct Past {
    int64_t age_ns;  // how long ago it was settled
    Amounts amounts;
  };
  /// After an outage: drops `old_instance`'s reservations, holds `in_flight` under
  /// `instance` and counts what was settled meanwhile (`past`), each at its own age.
  bool rejoin(const std::string &old_instance, const std::string &instance,
              const Amounts &in_flight, const std::vector<Past> &past);

  const std::string &last_error() const { return last_error_; }
  int64_t errors() const { return errors_; }
  int64_t calls() const { return calls_; }
  int64_t last_call_ns() const { return last_call_ns_; }
  int64_t mean_call_ns() const { return calls_ ? total_call_ns_ / calls_ : 0; }

 private:
  enum Script { kReserve, kSettle, kRejoin, kScripts };
  bool eval(Script s, std::vector<std::string> &args, redisReply *&reply);
  bool fail(const std::string &message);

  std::string host_;
  int port_;
  int64_t timeout_ms_;
  redisContext *ctx_ = nullptr;
  std::array<std::string, kScripts> sha_;
  std::string run_id_;
  std::vector<std::string> keys_;
  int64_t window_us_ = 0;
  int64_t bucket_us_ = 0;
  int64_t hold_us_ = 0;
  std::string last_error_;
  int64_t errors_ = 0;
  int64_t calls_ = 0;
  int64_t last_call_ns_ = 0;
  int64_t total_call_ns_ = 0;
};

}  // namespace llmsvc
