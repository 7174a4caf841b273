// One rate budget kept in Redis and shared by every process that names it: settled amounts
// in time buckets, reservations in flight per process instance, and three Lua scripts
// (reserve, settle, rejoin) that each read and change it atomically, on Redis's own clock.
// The scripts run through a ScriptLink: synchronous hiredis calls with a short timeout, or
// the simulator's Redis; the caller decides what a failure means.
// Touched only by the engine thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmsvc {

/// Amounts per dimension, in the order the scripts use: requests, tokens (input + output),
/// input tokens, output tokens.
using Amounts = std::array<int64_t, 4>;

/// The budget's three scripts, in the order ScriptLink::eval numbers them.
enum BudgetScript { kReserveScript, kSettleScript, kRejoinScript, kBudgetScripts };
/// The whole Lua text of script `s` (the shared prelude and its body).
const std::string &budget_script(BudgetScript s);

/// Where the scripts run: a Redis server over hiredis, or the deterministic simulator's
/// Redis (tools/sim), which runs the same Lua text.
class ScriptLink {
 public:
  virtual ~ScriptLink() = default;
  /// Connects (or reconnects) and readies the scripts; `run_id` receives the server's id,
  /// which changes when it restarts. False with `error`.
  virtual bool connect(std::string &run_id, std::string &error) = 0;
  virtual void disconnect() = 0;
  virtual bool connected() const = 0;
  /// Runs a script with `keys` and `args`; its reply, an integer or an array of integers,
  /// in `out`. False with `error` (the call may still have run, as after a timeout).
  virtual bool eval(BudgetScript s, const std::vector<std::string> &keys,
                    const std::vector<std::string> &args, std::vector<int64_t> &out,
                    std::string &error) = 0;
};

/// A Redis server over hiredis: synchronous calls with a timeout, scripts by EVALSHA.
std::unique_ptr<ScriptLink> redis_link(std::string host, int port, int64_t timeout_ms);

class RedisBudget {
 public:
  explicit RedisBudget(std::unique_ptr<ScriptLink> link);
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
  bool connected() const { return link_->connected(); }
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
  bool eval(BudgetScript s, const std::vector<std::string> &args, std::vector<int64_t> &out);
  bool fail(const std::string &message);

  std::unique_ptr<ScriptLink> link_;
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
