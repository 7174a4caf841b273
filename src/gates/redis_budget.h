// One rate budget kept in Redis and shared by every process that names it: settled amounts
// in time buckets, what each process instance holds (a lease of capacity it admits from
// locally, its requests in flight, or the share it may admit alone after losing Redis),
// and one Lua script that reads and changes it atomically, on Redis's own clock.
// The scripts run through a ScriptLink: hiredis calls with a short timeout, made on a
// thread of the budget's own so that the engine never waits on the network, or the
// simulator's Redis, called inline. One call at a time; the caller decides what a failure
// means. Apart from that thread, touched only by the engine thread.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace llmsvc {

/// Amounts per dimension, in the order the scripts use: requests, tokens (input + output),
/// input tokens, output tokens.
using Amounts = std::array<int64_t, 4>;

/// The budget's scripts, in the order ScriptLink::eval numbers them.
enum BudgetScript { kLeaseScript, kBudgetScripts };
/// The whole Lua text of script `s` (the shared prelude and its body).
const std::string &budget_script(BudgetScript s);

/// Where the scripts run: a Redis server over hiredis, or the deterministic simulator's
/// Redis (tools/sim), which runs the same Lua text.
class ScriptLink {
 public:
  virtual ~ScriptLink() = default;
  /// Connects (or reconnects) and readies the scripts; `run_id` receives the server's id,
  /// which changes when it restarts, and `started_us` when it started, on its own clock
  /// (0: unknown). False with `error`.
  virtual bool connect(std::string &run_id, int64_t &started_us, std::string &error) = 0;
  virtual void disconnect() = 0;
  virtual bool connected() const = 0;
  /// Runs a script with `keys` and `args`; its reply, an integer or an array of integers,
  /// in `out`. False with `error` (the call may still have run, as after a timeout).
  virtual bool eval(BudgetScript s, const std::vector<std::string> &keys,
                    const std::vector<std::string> &args, std::vector<int64_t> &out,
                    std::string &error) = 0;
  /// The simulator's network: how long after the last call (or connect) began its answer
  /// arrives. A link that blocks until the answer is there says 0.
  virtual int64_t answer_delay_ns() const { return 0; }
};

struct SharedLimitsConfig;
/// A Redis server over hiredis: synchronous calls with a timeout (AUTH and SELECT after
/// connecting when configured), scripts by EVALSHA.
std::unique_ptr<ScriptLink> redis_link(const SharedLimitsConfig &c);
/// "host:port", an IPv6 host in brackets.
std::string redis_address(const std::string &host, int64_t port);

class RedisBudget {
 public:
  /// `threaded`: calls run on a thread of the budget's own and finish later (take);
  /// otherwise they run inside start_connect / start_lease (the simulator's Redis), their
  /// answer taken once the link's answer delay has passed.
  RedisBudget(std::unique_ptr<ScriptLink> link, bool threaded);
  ~RedisBudget();
  RedisBudget(const RedisBudget &) = delete;
  RedisBudget &operator=(const RedisBudget &) = delete;

  /// How long things last, in nanoseconds of Redis's clock.
  struct Timing {
    int64_t term_ns = 0;        // a holding lapses this long after the call that set it
    int64_t share_hold_ns = 0;  // then the lapsed process's share is held this long
    int64_t recovery_ns = 0;    // after Redis lost a budget, nothing new for this long
    int64_t poll_ns = 0;        // a window full of holdings: ask again after this
  };
  /// Which budget, over which window: the Redis names include the window's length, since
  /// the buckets are a fraction of it.
  void configure(const std::string &key, int64_t window_ms, const Timing &t);
  int64_t bucket_ns() const { return bucket_us_ * 1000; }

  /// Called on the budget's thread when a call has finished (wakes the engine). Set it
  /// before the first call; nullptr before the one who wakes goes away.
  void set_notify(std::function<void()> notify);

  /// Whether the last connection succeeded and no call failed since (as of the last take).
  bool connected() const { return connected_; }
  /// Drops the connection (closed on the budget's thread).
  void disconnect();
  /// The Redis server's run id from the last connect: it changes when Redis restarts.
  const std::string &run_id() const { return run_id_; }

  struct Past {
    int64_t age_ns;  // how long ago it was settled
    Amounts amounts;
  };
  struct LeaseCall {
    std::string replaces;      // instances named with this prefix are dropped first; or empty
    bool known = false;        // this process used the budget before (in any Redis run)
    bool restarted = false;    // and the server restarted since its last call (a new run id)
    bool leave = false;        // nothing more to admit: hold no share for this process
    Amounts caps{};            // per window; 0: not limited
    Amounts share{};           // what this process may admit alone, held if it lapses
    Amounts need{};            // the request to admit now (all 0: none)
    Amounts want{};            // the lease asked for (at least `need`)
    Amounts in_flight{};       // what its requests in flight hold
    std::vector<Past> past;    // what it settled since its last call
  };
  struct LeaseReply {
    bool admitted = false;  // `need` fits, and `granted` (at least `need`) is held for it
    Amounts granted{};
    int64_t wait_ns = 0;  // when refused: from Redis's now until the budget has room
    int dimension = 0;    // when refused: 1..4, the window that refused
    int64_t holders = 0;  // processes holding a lease, requests or a share
    bool polled = false;  // the wait is the poll interval: holdings fill the window
    /// From Redis's now: how long to admit no more than this process's share (Redis lost
    /// the budget, and others cut off before then may still admit theirs alone).
    int64_t share_only_ns = 0;
  };
  /// Connects (or reconnects) and loads the scripts. `now`: the caller's clock.
  void start_connect(int64_t now);
  /// Hands over `past`, holds `in_flight`, and leases `want` if `need` fits every capped
  /// window. A window full of holdings (nothing to age out) answers `poll_ns`.
  void start_lease(int64_t now, const std::string &instance, const LeaseCall &c);
  /// A call started and not yet taken.
  bool busy() const { return busy_; }
  /// The finished call's outcome: false while it runs (or none was started). `ok` false
  /// with last_error(); for a lease, its reply in `out`.
  bool take(int64_t now, bool &ok, LeaseReply &out);
  /// When the call under way answers, on the caller's clock, if known (the simulator's);
  /// else kNever (a wake-up says so).
  int64_t ready_at() const { return threaded_ || !busy_ ? kNever : ready_at_; }
  /// Blocks until the call has finished, at most `timeout_ns` (closing only).
  bool wait(int64_t timeout_ns);

  const std::string &last_error() const { return last_error_; }
  int64_t errors() const { return errors_; }
  int64_t calls() const { return calls_; }
  int64_t last_call_ns() const { return last_call_ns_; }
  int64_t mean_call_ns() const { return calls_ ? total_call_ns_ / calls_ : 0; }
  /// The longest the engine's thread spent starting a call or taking its answer (with a
  /// threaded link, never a wait on Redis).
  int64_t engine_max_ns() const { return engine_max_ns_; }

 private:
  // One call, handed to the budget's thread and back.
  struct Job {
    bool connect = false;
    std::vector<std::string> keys, args;  // the lease script's
    // Its outcome, filled where it ran.
    bool ok = false;
    std::string error;
    std::vector<int64_t> reply;
    std::string run_id;
    int64_t started_us = 0;
    int64_t took_ns = 0;
  };
  void start(int64_t now, Job job);
  void run(Job &job);  // on the budget's thread, or inline
  void worker();
  void fail(const std::string &message);

  std::unique_ptr<ScriptLink> link_;
  const bool threaded_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, drop_ = false;
  bool queued_ = false, finished_ = false;  // the job's state, under mu_
  Job job_;
  std::function<void()> notify_;
  bool busy_ = false, connected_ = false;
  int64_t ready_at_ = 0;  // inline: when the answer may be taken
  std::string run_id_;
  int64_t started_us_ = 0;
  std::vector<std::string> keys_;
  int64_t window_us_ = 0;
  int64_t bucket_us_ = 0;
  Timing timing_;
  std::string last_error_;
  int64_t errors_ = 0;
  int64_t calls_ = 0;
  int64_t last_call_ns_ = 0;
  int64_t total_call_ns_ = 0;
  int64_t engine_max_ns_ = 0;
};

}  // namespace llmsvc
