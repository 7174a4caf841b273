// llmsvc-sim: a deterministic simulation of processes sharing one provider limit through
// Redis. It drives the real gates (src/gates) and the real shared-limit scripts (run by the
// simulated Redis in Lua, as Redis runs them) on a simulated clock, against a simulated
// provider that counts what arrives in its own sliding window, and schedules faults from a
// seed: Redis outages, restarts that forget everything, requests and replies lost on the
// way to Redis, processes that pause for seconds, die holding reservations or join late,
// clock offsets between processes. After every step it checks that the provider's window
// never holds more than the limit (requests and tokens) and that every request completes
// exactly once; at the end, that the group used the limit again once the faults ended.
//
//   llmsvc-sim [--seeds N] [--first S]   run seeds S .. S+N-1 (default 0, 1000)
//   llmsvc-sim --seed S --trace          one seed, every event printed
//   llmsvc-sim --minutes M               as many seeds as fit in M minutes
//
// Exit status 0 when every seed held every invariant, 1 otherwise (the failing seeds are
// printed with the command that replays them).
#include <array>
#include <chrono>
#include <cstdarg>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "common/clock.h"
#include "core/config.h"
#include "gates/gates.h"
#include "sim_redis.h"

namespace llmsvc::sim {
namespace {

constexpr int64_t kMs = kNsPerMs;
// After the faults, at least this share of the limit is used again in the last windows.
constexpr double kMinFinalUse = 0.4;

struct Request {
  int id;
  int client;
  Tokens reserved;       // what the client reserves: prompt + max output
  int64_t actual_out;    // what the provider will have produced
  int64_t charged = 0;   // what the provider's window holds for it
  int64_t arrived_at = -1;
  size_t window_slot = 0;
  int completions = 0;
};

struct Client {
  std::unique_ptr<Gates> gates;
  std::deque<int> backlog;
  int64_t skew_ns = 0;  // this process's steady clock against the simulation's
  int64_t start_ns = 0;
  int64_t pause_from = kNever;
  int64_t paused_until = 0;
  int64_t crash_at = kNever;
  bool dead = false;
  int64_t wake_at = kNever;  // the wake-up already scheduled
};

enum class Ev : uint8_t { kWake, kArrive, kRespond, kReply, kRedisDown, kRedisUp, kRedisRestart };

const char *ev_name(Ev e) {
  switch (e) {
    case Ev::kWake: return "wake";
    case Ev::kArrive: return "arrive";
    case Ev::kRespond: return "respond";
    case Ev::kReply: return "reply";
    case Ev::kRedisDown: return "redis-down";
    case Ev::kRedisUp: return "redis-up";
    case Ev::kRedisRestart: return "redis-restart";
  }
  return "?";
}

struct Outcome {
  bool ok = true;
  std::string failure;
  int64_t checks = 0;       // invariant checks made
  int64_t steps = 0;        // events processed
  int64_t redis_calls = 0;
  int64_t completed = 0;
  int64_t alone = 0;        // requests admitted while cut off from Redis
  double final_use = 0;     // share of the limit used once the faults were over
  double max_over = 0;      // the most the provider's window held, against its limit
  std::string summary;      // the seed's parameters
};

/// The kinds of fault a run may schedule (--faults).
struct FaultSet {
  bool outage = true, restart = true, lossy = true, pause = true, crash = true, join = true;
  // Redis answering late (the network between): only when asked for, so that the seeds
  // of the other kinds keep exploring the schedules they always did.
  bool slow = false;
  bool parse(const std::string &list) {
    outage = restart = lossy = pause = crash = join = slow = false;
    size_t at = 0;
    while (at <= list.size()) {
      size_t end = list.find(',', at);
      std::string f = list.substr(at, end == std::string::npos ? std::string::npos : end - at);
      if (f == "outage") outage = true;
      else if (f == "restart") restart = true;
      else if (f == "lossy") lossy = true;
      else if (f == "pause") pause = true;
      else if (f == "crash") crash = true;
      else if (f == "join") join = true;
      else if (f == "slow") slow = true;
      else if (f == "none" || f.empty()) {
      } else return false;
      if (end == std::string::npos) break;
      at = end + 1;
    }
    return true;
  }
};

class Simulation final : public LinkFaults {
 public:
  Simulation(uint64_t seed, bool trace, const FaultSet &faults, double allow_over, bool alone)
      : rng_(seed), seed_(seed), trace_(trace), kinds_(faults), allow_over_(allow_over),
        alone_(alone) {}

  Outcome run();

  bool lose_request() override {
    return now_ >= lossy_from_ && now_ < lossy_until_ && chance(lose_request_p_);
  }
  bool lose_reply() override {
    return now_ >= lossy_from_ && now_ < lossy_until_ && chance(lose_reply_p_);
  }
  int64_t answer_delay_ns(bool timed_out) override {
    if (!kinds_.slow) return 0;
    if (timed_out) return timeout_ns_;
    return redis_rtt_ns_ ? redis_rtt_ns_ + uniform(0, redis_rtt_ns_) : 0;
  }
  void called(int client, const char *what, bool ok, const std::vector<int64_t> &out) override {
    if (!trace_) return;
    std::string r;
    for (int64_t v : out) r += " " + std::to_string(v);
    trace("c%d redis %s: %s%s", client, what, ok ? "ok" : "failed", r.c_str());
  }

 private:
  int64_t uniform(int64_t lo, int64_t hi) {  // [lo, hi]
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  void at(int64_t t, Ev e, int who) { events_.emplace(std::make_tuple(t, seq_++), std::make_pair(e, who)); }
  void wake(int c, int64_t t) {
    Client &cl = clients_[size_t(c)];
    if (cl.dead) return;
    if (cl.wake_at <= t) return;  // an earlier one will look again
    cl.wake_at = t;
    at(t, Ev::kWake, c);
  }
  void fail(const std::string &why) {
    if (out_.ok) out_.failure = "at " + std::to_string(now_ / kMs) + " ms: " + why;
    out_.ok = false;
  }
  void trace(const char *fmt, ...) __attribute__((format(printf, 2, 3)));

  void setup();
  void on_wake(int c);
  void on_arrive(int r);
  void on_respond(int r);
  void on_reply(int r);
  bool paused(const Client &c) const { return now_ >= c.pause_from && now_ < c.paused_until; }
  void prune_provider();
  int64_t local(const Client &c) const { return now_ + c.skew_ns; }

  std::mt19937_64 rng_;
  uint64_t seed_;
  bool trace_;
  FaultSet kinds_;
  double allow_over_;  // how far over the limit the provider's window may go (0: not at all)
  bool alone_;         // processes cut off from Redis admit their share alone
  Outcome out_;
  SimRedis redis_;
  std::vector<Client> clients_;
  std::vector<Request> reqs_;
  std::multimap<std::tuple<int64_t, uint64_t>, std::pair<Ev, int>> events_;
  uint64_t seq_ = 0;
  int64_t now_ = 0;

  // The provider: its limit per window and its own sliding window of what arrived.
  int64_t window_ns_ = 0;
  int64_t cap_requests_ = 0;
  int64_t cap_tokens_ = 0;  // 0: no token limit
  std::deque<int> provider_;  // requests in the window, by arrival
  int64_t provider_tokens_ = 0;
  int64_t latency_lo_ = 0, latency_hi_ = 0, net_ns_ = 0;
  int64_t redis_rtt_ns_ = 0, timeout_ns_ = 0;  // slow: Redis's answers, and a lost call's

  // Faults.
  double lose_request_p_ = 0, lose_reply_p_ = 0;
  int64_t lossy_from_ = 0, lossy_until_ = 0;
  int64_t faults_end_ = 0;
  int64_t end_ = 0;
  int64_t hold_ns_ = 0;
  bool draining = false;
  std::vector<int64_t> arrivals_;  // arrival times, for the final use
};

void Simulation::trace(const char *fmt, ...) {
  if (!trace_) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::printf("%9.3f ms  %s\n", double(now_) / 1e6, buf);
}

void Simulation::setup() {
  const int64_t window_ms = std::array<int64_t, 4>{500, 1000, 2000, 10000}[size_t(uniform(0, 3))];
  window_ns_ = window_ms * kMs;
  cap_requests_ = uniform(2, 60);
  cap_tokens_ = chance(0.5) ? cap_requests_ * uniform(40, 200) : 0;
  const int n_clients = int(uniform(1, 6));
  latency_lo_ = uniform(1, window_ns_ / 20);
  latency_hi_ = latency_lo_ + uniform(0, window_ns_ / 2);
  net_ns_ = uniform(0, window_ns_ / 100);
  const int64_t windows = 8;
  end_ = windows * window_ns_;

  Config config;
  config.limits.window_ms = window_ms;
  config.limits.rpm = cap_requests_ * 60000 / window_ms;
  config.limits.tpm = cap_tokens_ * 60000 / window_ms;
  // The caps the gates derive from the per-minute figures must be the provider's.
  config.shared_limits.enabled = true;
  config.shared_limits.key = "sim";
  timeout_ns_ = config.shared_limits.timeout_ms * kMs;
  // As documented: with N processes on one key, a share of 1/N each keeps them within the
  // limit together while Redis is away.
  config.shared_limits.share = 1.0 / double(n_clients);
  // A process cut off admits its share alone for a window (after waiting a window and a
  // little more); then Redis stops holding that share for it.
  config.shared_limits.fallback_ms = alone_ ? window_ms : 0;
  // How long a dead process's lease and then its share are held: its lease's term, the
  // wait before a process admits alone, and the time it may.
  const int64_t bucket = std::max<int64_t>(kMs, window_ns_ / 100);
  const int64_t term = window_ns_ / 4 + 2 * bucket;
  hold_ns_ = term + (config.shared_limits.timeout_ms * kMs + term + window_ns_ / 4 + window_ns_ +
                     2 * bucket) + window_ns_ + window_ns_ + bucket;

  // Demand beyond what the limit allows over the run, for each client alone, so the group
  // presses the limit whoever is left.
  const int64_t total = cap_requests_ * (windows + 4) * n_clients;
  clients_.resize(size_t(n_clients));
  for (int c = 0; c < n_clients; ++c) {
    Client &cl = clients_[size_t(c)];
    cl.gates = std::make_unique<Gates>(config, std::make_unique<SimLink>(redis_, *this, c),
                                       "c" + std::to_string(c));
    cl.skew_ns = uniform(0, 10000) * kMs;  // steady clocks start at different moments
  }
  for (int64_t i = 0; i < total; ++i) {
    Request r;
    r.id = int(i);
    r.client = int(i % n_clients);
    int64_t prompt = uniform(5, 30), max_out = uniform(5, 30);
    if (cap_tokens_ && prompt + max_out > cap_tokens_) max_out = std::max<int64_t>(1, cap_tokens_ - prompt);
    r.reserved = Tokens{prompt, max_out};
    r.actual_out = uniform(0, max_out);
    reqs_.push_back(r);
    clients_[size_t(r.client)].backlog.push_back(r.id);
  }

  // Faults, all within the first five windows; the last three show whether the group
  // uses the limit again.
  const int64_t fault_span = 5 * window_ns_;
  faults_end_ = 0;
  auto span = [&](int64_t lo_windows_pct, int64_t hi_windows_pct) {
    return uniform(lo_windows_pct * window_ns_ / 100, hi_windows_pct * window_ns_ / 100);
  };
  std::string faults;
  // After Redis comes back every sharer rejoins within a second and hands over what it
  // used alone; a restart that lost the budget admits nothing new until what was
  // admitted against it has aged out (a lease's term or a reconnection, and a window).
  const int64_t settle = window_ns_ + kNsPerSec + window_ns_ / 100;
  const int64_t recovery = std::max(window_ns_ / 4 + window_ns_ / 50, kNsPerSec + 50 * kMs) +
                           window_ns_ + window_ns_ / 50 + kNsPerSec;
  const bool outage = chance(0.5) && kinds_.outage;
  int64_t outage_from = -1, outage_to = -1;
  if (outage) {
    int64_t t = uniform(0, fault_span), d = span(5, 300);
    d = std::min(d, fault_span - t);
    outage_from = t;
    outage_to = t + d;
    at(t, Ev::kRedisDown, -1);
    at(t + d, Ev::kRedisUp, -1);
    faults_end_ = std::max(faults_end_, t + d + settle);
    faults += " outage@" + std::to_string(t / kMs) + "+" + std::to_string(d / kMs);
  }
  if (chance(0.3) && kinds_.restart) {
    int64_t t = uniform(0, fault_span);
    at(t, Ev::kRedisRestart, -1);
    faults_end_ = std::max(faults_end_, t + recovery);
    // A budget lost with Redis's data: from the server's start (its return, when it
    // restarted while unreachable), each process admits no more than its share until the
    // alone periods that may have begun before and what they admitted have passed (a
    // lease's term, the wait and the time alone, a window and two buckets).
    const int64_t start = t >= outage_from && t < outage_to ? outage_to : t;
    faults_end_ = std::max(faults_end_, start + hold_ns_ + std::max<int64_t>(kMs, window_ns_ / 100));
    faults += " restart@" + std::to_string(t / kMs);
  }
  if (kinds_.slow) {
    // A round trip from a tenth of a millisecond to a good part of the call timeout.
    redis_rtt_ns_ = std::array<int64_t, 4>{100, 1000, 5000, 20000}[size_t(uniform(0, 3))] * 1000;
    faults += " redis_rtt=" + std::to_string(redis_rtt_ns_ / 1000) + "us";
  }
  if (chance(0.5) && kinds_.lossy) {
    lose_request_p_ = std::array<double, 3>{0.01, 0.05, 0.2}[size_t(uniform(0, 2))];
    lose_reply_p_ = std::array<double, 3>{0.01, 0.05, 0.2}[size_t(uniform(0, 2))];
    lossy_from_ = uniform(0, fault_span);
    lossy_until_ = std::min(fault_span, lossy_from_ + span(10, 300));
    faults_end_ = std::max(faults_end_, lossy_until_ + settle);
    faults += " lossy@" + std::to_string(lossy_from_ / kMs) + "-" +
              std::to_string(lossy_until_ / kMs);
  }
  for (int c = 0; c < n_clients; ++c) {
    Client &cl = clients_[size_t(c)];
    if (c > 0 && chance(0.3) && kinds_.join) {
      cl.start_ns = uniform(0, fault_span);
      faults += " join" + std::to_string(c) + "@" + std::to_string(cl.start_ns / kMs);
    }
    if (chance(0.3) && kinds_.pause) {
      // The process stops (a GC pause, swapping, CPU throttling): nothing of it runs,
      // replies wait in its socket, and its clock goes on.
      int64_t t = uniform(cl.start_ns, fault_span), d = span(10, 250);
      cl.pause_from = t;
      cl.paused_until = t + d;
      faults_end_ = std::max(faults_end_, t + d);
      faults += " pause" + std::to_string(c) + "@" + std::to_string(t / kMs) + "+" +
                std::to_string(d / kMs);
    }
    if (n_clients > 1 && chance(0.15) && kinds_.crash) {
      cl.crash_at = uniform(cl.start_ns, fault_span);
      faults_end_ = std::max(faults_end_, cl.crash_at + hold_ns_);  // its reservations' hold
      faults += " crash" + std::to_string(c) + "@" + std::to_string(cl.crash_at / kMs);
    }
    wake(c, cl.start_ns);
  }
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "window %" PRId64 " ms, %" PRId64 " requests and %" PRId64
                " tokens per window, %d clients, latency %" PRId64 "-%" PRId64 " ms, net %" PRId64 " ms;",
                window_ms, cap_requests_, cap_tokens_, n_clients, latency_lo_ / kMs,
                latency_hi_ / kMs, net_ns_ / kMs);
  out_.summary = buf + (faults.empty() ? std::string(" no faults") : faults);
}

void Simulation::on_wake(int c) {
  Client &cl = clients_[size_t(c)];
  if (cl.wake_at != now_) return;  // superseded by an earlier wake-up
  cl.wake_at = kNever;
  if (cl.dead || draining) return;
  if (now_ >= cl.crash_at) {
    cl.dead = true;  // with whatever it holds in Redis and in flight
    trace("c%d dies", c);
    return;
  }
  if (paused(cl)) {
    wake(c, cl.paused_until);
    return;
  }
  if (cl.crash_at != kNever) wake(c, cl.crash_at);
  cl.gates->set_waiting(int64_t(cl.backlog.size()));
  cl.gates->housekeep(local(cl));
  // A lease's time ends (to renew it, or leave) whether or not requests wait.
  auto housekeeping = [&] {
    if (int64_t t = cl.gates->next_housekeeping(); t != kNever)
      wake(c, std::max(t - cl.skew_ns, now_ + 1));
  };
  while (!cl.backlog.empty()) {
    Request &r = reqs_[size_t(cl.backlog.front())];
    GateDecision d = cl.gates->check(local(cl), r.reserved);
    if (!d.admit) {
      int64_t t = d.wait_until == kNever ? now_ + 50 * kMs : d.wait_until - cl.skew_ns;
      trace("c%d waits for %s until %.3f ms", c, gate_reason_name(d.reason), double(t) / 1e6);
      wake(c, std::max(t, now_ + 1));
      housekeeping();
      return;
    }
    cl.gates->acquire(r.reserved);
    out_.alone += cl.gates->cut_off();
    cl.backlog.pop_front();
    trace("c%d sends #%d (%" PRId64 "+%" PRId64 " tokens)", c, r.id, r.reserved.input,
          r.reserved.output);
    at(now_ + net_ns_, Ev::kArrive, r.id);
  }
  housekeeping();
}

void Simulation::prune_provider() {
  while (!provider_.empty() && reqs_[size_t(provider_.front())].arrived_at <= now_ - window_ns_) {
    provider_tokens_ -= reqs_[size_t(provider_.front())].charged;
    provider_.pop_front();
  }
}

void Simulation::on_arrive(int id) {
  Request &r = reqs_[size_t(id)];
  prune_provider();
  // What the provider counts at arrival: the request, and its prompt and output bound.
  const int64_t charge = r.reserved.total();
  ++out_.checks;
  out_.max_over = std::max(out_.max_over, double(provider_.size() + 1) / double(cap_requests_));
  if (double(provider_.size() + 1) > double(cap_requests_) * (1 + allow_over_) + 1e-9)
    fail("the provider's window would hold " + std::to_string(provider_.size() + 1) +
         " requests, over its limit of " + std::to_string(cap_requests_) + " (request #" +
         std::to_string(id) + " of client " + std::to_string(r.client) + ")");
  if (cap_tokens_) {
    ++out_.checks;
    out_.max_over = std::max(out_.max_over, double(provider_tokens_ + charge) / double(cap_tokens_));
    if (double(provider_tokens_ + charge) > double(cap_tokens_) * (1 + allow_over_) + 1e-9)
      fail("the provider's window would hold " + std::to_string(provider_tokens_ + charge) +
           " tokens, over its limit of " + std::to_string(cap_tokens_) + " (request #" +
           std::to_string(id) + ")");
  }
  r.arrived_at = now_;
  r.charged = charge;
  provider_.push_back(id);
  provider_tokens_ += charge;
  arrivals_.push_back(now_);
  trace("provider takes #%d: %zu requests, %" PRId64 " tokens in its window", id,
        provider_.size(), provider_tokens_);
  at(now_ + uniform(latency_lo_, latency_hi_), Ev::kRespond, id);
}

void Simulation::on_respond(int id) {
  Request &r = reqs_[size_t(id)];
  // The answer's real usage replaces the bound (the entry keeps its arrival time).
  const int64_t actual = r.reserved.input + r.actual_out;
  if (r.arrived_at > now_ - window_ns_) provider_tokens_ += actual - r.charged;
  r.charged = actual;
  at(now_ + net_ns_, Ev::kReply, id);
}

void Simulation::on_reply(int id) {
  Request &r = reqs_[size_t(id)];
  Client &cl = clients_[size_t(r.client)];
  if (cl.dead) return;  // lost with its process
  if (paused(cl)) {
    at(cl.paused_until, Ev::kReply, id);
    return;
  }
  cl.gates->settle(local(cl), r.reserved, Tokens{r.reserved.input, r.actual_out});
  ++out_.checks;
  if (++r.completions != 1) fail("request #" + std::to_string(id) + " completed twice");
  ++out_.completed;
  trace("c%d settles #%d (%" PRId64 " output tokens)", r.client, id, r.actual_out);
  wake(r.client, now_);
}

Outcome Simulation::run() {
  setup();
  while (!events_.empty() && out_.ok) {
    auto it = events_.begin();
    now_ = std::get<0>(it->first);
    auto [ev, who] = it->second;
    events_.erase(it);
    if (now_ >= end_) draining = true;  // nothing new is sent; what is in flight ends
    redis_.set_time_us(now_ / 1000);
    ++out_.steps;
    switch (ev) {
      case Ev::kWake: on_wake(who); break;
      case Ev::kArrive: on_arrive(who); break;
      case Ev::kRespond: on_respond(who); break;
      case Ev::kReply: on_reply(who); break;
      case Ev::kRedisDown:
        redis_.up = false;
        trace("redis down");
        break;
      case Ev::kRedisUp:
        redis_.come_up();
        trace("redis up");
        break;
      case Ev::kRedisRestart:
        redis_.restart();
        trace("redis restarts, empty");
        break;
    }
  }
  out_.redis_calls = redis_.calls();
  if (!out_.ok) return out_;
  for (const Request &r : reqs_) {
    ++out_.checks;
    if (r.arrived_at >= 0 && !clients_[size_t(r.client)].dead && r.completions != 1)
      fail("request #" + std::to_string(r.id) + " completed " + std::to_string(r.completions) +
           " times");
  }
  // Once the faults are over, the group uses the limit again: the last windows' arrivals
  // against what they allow (by requests, or by tokens when those bind).
  const int64_t from = end_ - 3 * window_ns_;
  bool anyone_left = false;
  for (const Client &cl : clients_) anyone_left |= !cl.dead && cl.crash_at == kNever;
  if (faults_end_ <= from && anyone_left) {
    int64_t n = 0;
    for (int64_t t : arrivals_) n += t >= from && t < end_;
    double use = double(n) / double(3 * cap_requests_);
    if (cap_tokens_) {
      int64_t tokens = 0;
      for (const Request &r : reqs_)
        if (r.arrived_at >= from && r.arrived_at < end_) tokens += r.reserved.total();
      use = std::max(use, double(tokens) / double(3 * cap_tokens_));
    }
    out_.final_use = use;
    ++out_.checks;
    if (use < kMinFinalUse)
      fail("after the faults the group used " + std::to_string(int(use * 100)) +
           "% of the limit in the last three windows");
  } else {
    out_.final_use = -1;  // faults lasted to the end
  }
  return out_;
}

}  // namespace
}  // namespace llmsvc::sim

int main(int argc, char **argv) {
  using namespace llmsvc::sim;
  uint64_t first = 0, count = 1000;
  bool trace = false, one = false, fallback = true;
  FaultSet faults;
  std::string replay_flags;  // what a failing seed's replay needs besides --seed
  double allow_over = 0;
  double minutes = 0;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> const char * {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "llmsvc-sim: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--seeds")) count = std::strtoull(next(), nullptr, 10);
    else if (!std::strcmp(argv[i], "--first")) first = std::strtoull(next(), nullptr, 10);
    else if (!std::strcmp(argv[i], "--seed")) first = std::strtoull(next(), nullptr, 10), count = 1, one = true;
    else if (!std::strcmp(argv[i], "--trace")) trace = true;
    else if (!std::strcmp(argv[i], "--no-fallback")) fallback = false, replay_flags += " --no-fallback";
    else if (!std::strcmp(argv[i], "--allow-over")) allow_over = std::strtod(next(), nullptr) / 100;
    else if (!std::strcmp(argv[i], "--faults")) {
      replay_flags += std::string(" --faults ") + argv[i + 1 < argc ? i + 1 : i];
      if (!faults.parse(next())) {
        std::fprintf(stderr, "llmsvc-sim: --faults takes outage,restart,lossy,pause,crash,join,slow or none\n");
        return 2;
      }
    }
    else if (!std::strcmp(argv[i], "--minutes")) minutes = std::strtod(next(), nullptr), count = UINT64_MAX;
    else {
      std::fprintf(stderr,
                   "usage: llmsvc-sim [--seeds N] [--first S] | --seed S [--trace] | --minutes M\n"
                   "                  [--faults LIST] [--no-fallback] [--allow-over PERCENT]\n");
      return 2;
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  int64_t failed = 0, steps = 0, checks = 0, calls = 0, seeds = 0, judged = 0, completed = 0,
          alone = 0;
  double use_sum = 0, use_min = 1e9, over_max = 0;
  for (uint64_t seed = first; seed - first < count; ++seed) {
    if (minutes > 0 && std::chrono::steady_clock::now() - t0 >
                           std::chrono::duration<double>(minutes * 60))
      break;
    Simulation sim(seed, trace, faults, allow_over, fallback);
    Outcome o = sim.run();
    ++seeds;
    steps += o.steps;
    checks += o.checks;
    calls += o.redis_calls;
    completed += o.completed;
    alone += o.alone;
    over_max = std::max(over_max, o.max_over);
    if (o.final_use >= 0) {
      ++judged;
      use_sum += o.final_use;
      use_min = std::min(use_min, o.final_use);
    }
    if (one || !o.ok)
      std::printf("seed %" PRIu64 ": %s\n  %s\n", seed, o.ok ? "ok" : o.failure.c_str(),
                  o.summary.c_str());
    if (!o.ok) {
      ++failed;
      std::printf("  replay: llmsvc-sim --seed %" PRIu64 "%s --trace\n", seed, replay_flags.c_str());
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%" PRId64 " seeds, %" PRId64 " failed; %" PRId64 " steps, %" PRId64
              " invariant checks; %" PRId64 " requests (%" PRId64 " admitted while cut off from "
              "Redis), %.2f Redis script calls per request; the provider's window held at "
              "most %.1f%% of its limit; final use of the limit "
              "%.0f%% on average, %.0f%% at least (%" PRId64 " seeds whose faults ended early); %.1f s\n",
              seeds, failed, steps, checks, completed, alone,
              completed ? double(calls) / double(completed) : 0.0, 100 * over_max,
              judged ? 100 * use_sum / double(judged) : 0, judged ? 100 * use_min : 0, judged, secs);
  return failed ? 1 : 0;
}
