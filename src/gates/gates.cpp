#include "gates/gates.h"

#include <algorithm>
#include <deque>
#include <random>

#include "gates/redis_budget.h"

namespace llmsvc {

namespace {
// While Redis is unreachable, it is asked again at most this often.
constexpr int64_t kReconnectNs = kNsPerSec;

Amounts amounts_of(int64_t requests, Tokens t) { return {requests, t.total(), t.input, t.output}; }

GateReason reason_of_dimension(int d) {
  switch (d) {
    case 2: return GateReason::kTokens;
    case 3: return GateReason::kInputTokens;
    case 4: return GateReason::kOutputTokens;
    default: return GateReason::kRequests;
  }
}
}  // namespace

// The shared mode's state: the Redis budget, whether it is reachable, the lease this
// process admits from, when it may admit its share alone, and what it settled since its
// last call (handed over with the next one).
struct Gates::Shared {
  Shared(const SharedLimitsConfig &c, std::unique_ptr<ScriptLink> link, std::string name)
      : config(c),
        // A link given is the simulator's: called inline, on its own clock.
        redis(link ? std::move(link) : redis_link(c), !link),
        base(std::move(name)) {
    if (!base.empty()) return;
    std::random_device rd;
    static const char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) base += kHex[rd() & 15];
  }
  SharedLimitsConfig config;
  RedisBudget redis;
  int64_t window_ms = 0;
  std::string base;      // this client's random name in Redis
  std::string instance;  // base:epoch, a new one at every (re)join
  int64_t epoch = 0;
  std::string run_id;    // the Redis server last joined
  bool join_restarted = false;  // the join under way follows a restart of the server
  bool fallback = false;    // cut off from Redis
  bool rejoin_all = false;  // the budget's names changed: hand over everything
  bool known = false;       // a call against this budget succeeded once
  bool member = false;      // Redis may hold a share for this process when it lapses
  int64_t next_attempt = 0;
  int64_t last_now = 0;  // the destructor is not told the time

  // The call to Redis under way (one at a time): what it is for and when it started (the
  // time everything it may have done counts from). Requests wait until it has finished.
  enum class Call { kNone, kConnect, kJoin, kAdmit, kRenew, kLeave };
  Call call = Call::kNone;
  int64_t call_at = 0;
  bool call_all = false;     // a join: hand over everything settled in the window
  bool recovering = false;   // a connect or join retrying after a failed call
  int recoveries = 0;        // in a row, without a call succeeding
  bool renew_busy = false, renew_idle = false;  // a renewal's kind
  Tokens call_tokens;        // an admission call's request
  int64_t names = 0;         // changes with the budget's names in Redis (the window)
  int64_t call_names = 0;    // the names the call under way is for

  // Times, from the window (set_limits): the lease is used for `use` after the call that
  // granted it; Redis lets a holding lapse `term` after that call, then holds the share
  // for `share_hold`; a process cut off admits its share from `wait` after its last call
  // that may have reached Redis.
  int64_t use = 0, term = 0, share_hold = 0, wait = 0;
  int64_t timeout = 0;  // the longest a call takes

  Amounts lease{};        // left of the lease (capped windows only)
  int64_t lease_until = 0;  // 0: no lease and nothing to report
  int64_t admitted = 0;   // requests admitted since the lease was last renewed
  int64_t waiting = -1;   // requests waiting for admission (-1: not known)
  Tokens last;            // the last request's tokens: what the next ones may need
  int64_t fb_from = kNever, fb_until = 0;  // when this process may admit its share alone
  // Redis lost the budget: until then, admit no more than the share, whatever Redis grants.
  int64_t share_only_until = 0;
  int64_t holders = 1;
  int64_t leases = 0, fallbacks = 0, rejoins = 0, reconnects = 0;
  struct Settled {
    int64_t at, start;
    Amounts amounts;
    bool synced;  // counted in Redis already
    bool sent;    // handed to the call under way
  };
  std::deque<Settled> history;
  // The last refusal from Redis, answered again until its time comes, unless a settlement
  // of ours made room sooner: waiting requests do not cost a script call per loop.
  bool refusal_valid = false;
  bool refusal_polled = false;  // a settlement of ours may let Redis say more
  Tokens refused_for;
  GateDecision refusal;
};

Gates::Gates(const Limits &limits) { set_limits(limits); }

Gates::Gates(const Config &config, std::unique_ptr<ScriptLink> link, std::string name) {
  if (config.shared_limits.enabled)
    shared_ = std::make_unique<Shared>(config.shared_limits, std::move(link), std::move(name));
  set_limits(config.limits);
}

Gates::~Gates() {
  if (!shared_) return;
  Shared &s = *shared_;
  s.redis.set_notify(nullptr);  // whoever it woke may be gone already
  // A call under way ends first (within its timeout); then leaving: Redis holds nothing
  // more for this process, no lease and no share. The only wait on Redis here.
  const int64_t limit = 2 * s.timeout + kNsPerSec;
  if (s.call != Shared::Call::kNone && s.redis.wait(limit)) pump(s.last_now);
  if (s.call != Shared::Call::kNone || s.fallback || !s.redis.connected() || s.instance.empty())
    return;
  start_call(s.last_now, int(Shared::Call::kLeave), Amounts{}, Amounts{});
  if (s.redis.wait(limit)) pump(s.last_now);
}

void Gates::set_wake(std::function<void()> wake) {
  if (shared_) shared_->redis.set_notify(std::move(wake));
}

const char *gate_reason_name(GateReason r) {
  switch (r) {
    case GateReason::kNone: return "none";
    case GateReason::kRequests: return "rpm";
    case GateReason::kTokens: return "tpm";
    case GateReason::kInputTokens: return "itpm";
    case GateReason::kOutputTokens: return "otpm";
    case GateReason::kConcurrency: return "concurrency";
    case GateReason::kPaused: return "paused";
    case GateReason::kTooLarge: return "too_large";
    case GateReason::kCircuitOpen: return "circuit_open";
  }
  return "none";
}

void Gates::set_limits(const Limits &limits) {
  limits_ = limits;
  int64_t window_ns = limits.window_ms * kNsPerMs;
  // The allowance in one window: the per-minute rate scaled to the window.
  auto per_window = [&](int64_t per_minute) -> int64_t {
    if (per_minute <= 0) return 0;
    return std::max<int64_t>(1, int64_t(double(per_minute) * double(limits.window_ms) / 60000.0));
  };
  requests_.configure(per_window(limits.rpm), window_ns);
  tokens_.configure(per_window(limits.tpm), window_ns);
  // Windows of the same length keep what they counted; others start empty.
  std::vector<Extra> extra(limits.windows.size());
  for (size_t i = 0; i < extra.size(); ++i) {
    const Limits::Window &w = limits.windows[i];
    if (i < extra_.size() && extra_[i].window_ms == w.window_ms) extra[i] = std::move(extra_[i]);
    extra[i].window_ms = w.window_ms;
    extra[i].requests.configure(w.requests, w.window_ms * kNsPerMs);
    extra[i].tokens.configure(w.tokens, w.window_ms * kNsPerMs);
  }
  extra_ = std::move(extra);
  input_tokens_.configure(per_window(limits.itpm), window_ns);
  output_tokens_.configure(per_window(limits.otpm), window_ns);
  if (shared_ && shared_->window_ms != limits.window_ms) {
    // Other names in Redis: join them with everything this process holds and used.
    Shared &s = *shared_;
    const int64_t w = limits.window_ms * kNsPerMs;
    const int64_t bucket = std::max<int64_t>(kNsPerMs, w / 100);
    // A lease lasts a quarter of the window (at most 5 s): long enough that a busy process
    // renews it seldom, short enough that one cut off soon stops admitting from it.
    s.use = std::clamp<int64_t>(w / 4, kNsPerMs, 5 * kNsPerSec);
    s.term = s.use + 2 * bucket;  // the requests admitted last have reached the provider
    s.timeout = s.config.timeout_ms * kNsPerMs;
    // Others' leases granted before Redis held our share end `use` after our lapse, and
    // what they admitted from them counts for a window (and a bucket) more.
    s.wait = s.timeout + s.term + s.use + w + 2 * bucket;
    const int64_t alone = s.config.fallback_ms >= 0 ? s.config.fallback_ms * kNsPerMs : 10 * w;
    s.share_hold = s.wait + alone;
    RedisBudget::Timing t;
    t.term_ns = s.term;
    t.share_hold_ns = s.share_hold;
    // After Redis lost the budget: old leases end, processes cut off come back within a
    // reconnection, and what they admitted ages out.
    t.recovery_ns = std::max(s.term, kReconnectNs + s.timeout) + w + 2 * bucket;
    // Others' leases come back at their renewals (every `use` at most): asked again a few
    // times within that, and at each settlement of ours.
    t.poll_ns = std::clamp<int64_t>(s.use / 8, kNsPerMs, 250 * kNsPerMs);
    s.redis.configure(s.config.key, limits.window_ms, t);
    if (s.window_ms) s.rejoin_all = true;
    ++s.names;  // an answer still to come is about the old names
    s.window_ms = limits.window_ms;
    s.lease_until = std::min<int64_t>(s.lease_until, 1);  // a lease of the old names is void
    s.lease = {};
  }
  if (shared_) shared_->refusal_valid = false;
}

GateReason Gates::too_large(Tokens t) const {
  if (!tokens_.unlimited() && t.total() > tokens_.cap()) return GateReason::kTokens;
  if (!input_tokens_.unlimited() && t.input > input_tokens_.cap()) return GateReason::kInputTokens;
  if (!output_tokens_.unlimited() && t.output > output_tokens_.cap())
    return GateReason::kOutputTokens;
  for (const Extra &e : extra_)
    if (!e.tokens.unlimited() && t.total() > e.tokens.cap()) return GateReason::kTokens;
  return GateReason::kNone;
}

GateDecision Gates::local_fit(int64_t now, Tokens t, double share) {
  // The latest of the windows' earliest fits is when all of them have room.
  GateDecision d{true, now, GateReason::kNone};
  auto consider = [&](SlidingWindow &w, int64_t amount, GateReason why) {
    int64_t cap = w.cap();
    if (cap <= 0) return;
    int64_t at;
    if (share < 1) {
      // Exactly what Redis holds for this process (rounded down, as there): the shares of
      // all sharers must fit the limit together.
      cap = int64_t(double(cap) * share + 1e-6);
      at = cap > 0 ? w.earliest_fit(now, amount, cap) : kNever;
    } else {
      at = w.earliest_fit(now, amount, cap);
    }
    if (at > d.wait_until) d = {false, at, why};
  };
  consider(requests_, 1, GateReason::kRequests);
  consider(tokens_, t.total(), GateReason::kTokens);
  consider(input_tokens_, t.input, GateReason::kInputTokens);
  consider(output_tokens_, t.output, GateReason::kOutputTokens);
  for (Extra &e : extra_) {  // never with shared limits (the configuration refuses both)
    auto later = [&](SlidingWindow &w, int64_t amount, GateReason why) {
      if (w.unlimited()) return;
      int64_t at = w.earliest_fit(now, amount);
      if (at > d.wait_until) d = {false, at, why};
    };
    later(e.requests, 1, GateReason::kRequests);
    later(e.tokens, t.total(), GateReason::kTokens);
  }
  return d;
}

Amounts Gates::caps() const {
  return {requests_.cap(), tokens_.cap(), input_tokens_.cap(), output_tokens_.cap()};
}

Amounts Gates::share_amounts() const {
  if (shared_->config.fallback_ms == 0) return Amounts{};  // never alone: nothing to hold
  Amounts a = caps();
  for (int64_t &v : a) v = int64_t(double(v) * shared_->config.share + 1e-6);
  return a;
}

Amounts Gates::in_flight_amounts() const {
  return {requests_.in_flight(), tokens_.in_flight(), input_tokens_.in_flight(),
          output_tokens_.in_flight()};
}

bool Gates::take_from_lease(int64_t now, Tokens t) {
  Shared &s = *shared_;
  if (now >= s.lease_until) return false;
  const Amounts c = caps(), need = amounts_of(1, t);
  for (size_t i = 0; i < need.size(); ++i)
    if (c[i] > 0 && s.lease[i] < need[i]) return false;
  for (size_t i = 0; i < need.size(); ++i)
    if (c[i] > 0) s.lease[i] -= need[i];
  ++s.admitted;
  if (s.waiting > 0) --s.waiting;  // told at the start of an admission pass
  s.last = t;
  return true;
}

GateDecision Gates::fallback_fit(int64_t now, Tokens t) {
  Shared &s = *shared_;
  // Cut off from Redis: first what is left of the lease, then, once Redis has held this
  // process's share for long enough, the share; else only Redis can admit.
  if (take_from_lease(now, t)) return {true, now, GateReason::kNone};
  GateDecision d{false, s.next_attempt, GateReason::kRequests};
  if (!s.member || now >= s.fb_until || s.config.fallback_ms == 0) return d;
  if (now < s.fb_from) {
    d.wait_until = std::min(s.next_attempt, s.fb_from);
    return d;
  }
  d = local_fit(now, t, s.config.share);
  if (!d.admit) d.wait_until = std::min({d.wait_until, s.next_attempt, s.fb_until});
  return d;
}

GateDecision Gates::check(int64_t now, Tokens t) {
  if (too_large(t) != GateReason::kNone) return {false, kNever, GateReason::kTooLarge};
  if (paused_until_ > now) return {false, paused_until_, GateReason::kPaused};
  if (limits_.concurrency > 0 && in_flight_ >= limits_.concurrency)
    return {false, kNever, GateReason::kConcurrency};
  if (!shared_) return local_fit(now, t, 1);
  return shared_fit(now, t);
}

Amounts Gates::lease_wanted(Tokens t) const {
  const Shared &s = *shared_;
  // As many as wait (when not known: about twice what it admitted in the last lease's
  // time), at most an equal part of the limit among the processes holding some of it, at
  // least this request.
  const Amounts c = caps(), need = amounts_of(1, t);
  const int64_t holders = std::max<int64_t>(s.holders, 1);
  Amounts want{};
  const int64_t n = s.waiting >= 0 ? std::max<int64_t>(s.waiting, 1) : 2 * s.admitted + 1;
  for (size_t i = 0; i < want.size(); ++i) {
    if (c[i] <= 0) continue;
    int64_t fair = std::max<int64_t>(c[i] / holders, need[i]);
    want[i] = std::min(fair, n * std::max<int64_t>(need[i], 1));
    want[i] = std::max(want[i], need[i]);
  }
  return want;
}

GateDecision Gates::shared_fit(int64_t now, Tokens t) {
  Shared &s = *shared_;
  // Each round starts a call or answers. A link called inline (the simulator's) finishes
  // each call at once, so a few rounds decide; Redis over the network answers later, and
  // the request waits for that (the engine is woken then).
  for (int round = 0; round < 8; ++round) {
    pump(now);
    if (s.call == Shared::Call::kConnect && s.fallback) return fallback_fit(now, t);
    if (s.call != Shared::Call::kNone) break;
    if (s.fallback) {
      if (now < s.next_attempt) return fallback_fit(now, t);
      start_join(now, false);
      continue;
    }
    if (!s.redis.connected() || s.rejoin_all) {
      start_join(now, false);
      continue;
    }
    const Amounts c = caps();
    if (c[0] <= 0 && c[1] <= 0 && c[2] <= 0 && c[3] <= 0) return {true, now, GateReason::kNone};
    if (now < s.share_only_until) {
      // Others cut off when Redis lost the budget may admit their shares alone: this
      // process takes no more than its own, besides what Redis grants.
      GateDecision d = local_fit(now, t, s.config.share);
      if (!d.admit) {
        d.wait_until = std::min(d.wait_until, s.share_only_until);
        return d;
      }
    }
    if (take_from_lease(now, t)) return {true, now, GateReason::kNone};
    if (s.refusal_valid && now < s.refusal.wait_until && s.refused_for.input == t.input &&
        s.refused_for.output == t.output)
      return s.refusal;
    s.call_tokens = t;
    start_call(now, int(Shared::Call::kAdmit), amounts_of(1, t), lease_wanted(t));
  }
  // Until the call under way has finished; its end wakes the engine sooner.
  return {false, std::max(now + 1, std::min(s.call_at + 6 * s.timeout + kNsPerMs, s.redis.ready_at())),
          GateReason::kRequests};
}

void Gates::start_call(int64_t now, int kind, const Amounts &need, const Amounts &want) {
  Shared &s = *shared_;
  const auto k = Shared::Call(kind);
  s.last_now = now;
  forget_aged(now);
  RedisBudget::LeaseCall c;
  if (k == Shared::Call::kJoin) c.replaces = s.base + ":";
  c.known = s.known;
  c.restarted = k == Shared::Call::kJoin && s.join_restarted;
  c.leave = k == Shared::Call::kLeave || (k == Shared::Call::kRenew && s.renew_idle);
  c.caps = caps();
  c.share = share_amounts();
  c.need = need;
  c.want = want;
  c.in_flight = in_flight_amounts();
  const bool all = k == Shared::Call::kJoin && s.call_all;
  for (Shared::Settled &h : s.history)
    if (all || !h.synced) {
      c.past.push_back({now - h.at, h.amounts});
      h.sent = true;
    }
  // Whatever the outcome, the lease held so far is gone: the call replaces it.
  s.lease = {};
  s.lease_until = 0;
  s.call = k;
  s.call_at = now;
  s.call_names = s.names;
  s.redis.start_lease(now, s.instance, c);
}

void Gates::start_join(int64_t now, bool recovering) {
  Shared &s = *shared_;
  // Connecting changes nothing in Redis: a failure leaves the last call's terms standing.
  // A connected link joins at once.
  s.recovering = recovering;
  if (recovering) {
    s.redis.disconnect();
    ++s.recoveries;
  }
  if (s.redis.connected()) return join_call(now);
  // Cut off, it keeps admitting what it may alone meanwhile; the next attempt is a
  // reconnection's time away (the answer wakes it sooner).
  if (s.fallback) s.next_attempt = now + kReconnectNs;
  s.call = Shared::Call::kConnect;
  s.call_at = now;
  s.last_now = now;
  s.redis.start_connect(now);
}

void Gates::join_call(int64_t now) {
  Shared &s = *shared_;
  // A restarted Redis forgot everything: hand over all this process used in the window,
  // else only what it settled since its last call.
  const bool restarted = !s.run_id.empty() && s.run_id != s.redis.run_id();
  s.call_all = s.rejoin_all || restarted;
  s.join_restarted = restarted;
  s.instance = s.base + ":" + std::to_string(++s.epoch);
  start_call(now, int(Shared::Call::kJoin), Amounts{}, Amounts{});
}

void Gates::pump(int64_t now) {
  Shared &s = *shared_;
  bool ok = false;
  RedisBudget::LeaseReply r;
  // A call finished inline may start the next (connect, then join): take until none has.
  while (s.call != Shared::Call::kNone && s.redis.take(now, ok, r)) {
    const Shared::Call k = s.call;
    s.call = Shared::Call::kNone;
    if (k == Shared::Call::kConnect) {
      if (ok) join_call(now);
      else to_fallback(now);
      continue;
    }
    const bool leave = k == Shared::Call::kLeave || (k == Shared::Call::kRenew && s.renew_idle);
    finish_call(ok, leave, r);
    if (!ok) {
      // A failed call may be a moment's stall or a dropped connection rather than a lost
      // Redis, and falling back while the others still share through Redis costs the
      // whole wait for the share. So reconnect and rejoin as a new instance once, which
      // also drops whatever the failed call may have left; only if that fails too is
      // Redis treated as gone.
      if (k == Shared::Call::kLeave) continue;
      if (k == Shared::Call::kJoin || s.recoveries > 0) to_fallback(now);
      else start_join(now, true);
      continue;
    }
    s.recoveries = 0;
    const bool same_names = s.call_names == s.names;
    switch (k) {
      case Shared::Call::kJoin:
        s.run_id = s.redis.run_id();
        if (same_names) s.rejoin_all = false;
        s.refusal_valid = false;
        s.admitted = 0;
        if (s.recovering) ++s.reconnects;
        s.recovering = false;
        if (s.fallback) {
          s.fallback = false;
          ++s.rejoins;
        }
        break;
      case Shared::Call::kAdmit:
        if (!same_names) break;  // the limits changed under it: other names now
        s.refusal_valid = !r.admitted;
        if (r.admitted) {
          s.lease = r.granted;  // the request that asked takes from it next
          s.admitted = 0;
          break;
        }
        s.refused_for = s.call_tokens;
        s.refusal_polled = r.polled;
        s.refusal = {false, s.call_at + std::max<int64_t>(r.wait_ns, 1),
                     reason_of_dimension(r.dimension)};
        break;
      case Shared::Call::kRenew:
        s.admitted = 0;
        s.refusal_valid = s.renew_busy && !r.admitted;
        if (s.refusal_valid) {
          s.refused_for = s.last;
          s.refusal_polled = r.polled;
          s.refusal = {false, s.call_at + std::max<int64_t>(r.wait_ns, 1),
                       reason_of_dimension(r.dimension)};
        }
        if (r.admitted && same_names) s.lease = r.granted;
        break;
      default:
        break;
    }
  }
}

void Gates::finish_call(bool ok, bool leave, const RedisBudget::LeaseReply &r) {
  Shared &s = *shared_;
  const int64_t at = s.call_at;
  if (!ok) {
    // It may have run. If it did, Redis lets the holding it set lapse `term` after it and
    // then holds the share (unless it was a leave); if not, the last one stands.
    if (leave) s.member = false;
    s.fb_from = std::max(s.fb_from, at + s.wait);
    s.fb_until = std::min(s.fb_until, at + s.term + s.share_hold - s.redis.bucket_ns());
    s.lease_until = 1;  // still something to report
    for (Shared::Settled &h : s.history) h.sent = false;
    return;
  }
  for (Shared::Settled &h : s.history) {
    h.synced = h.synced || h.sent;
    h.sent = false;
  }
  s.known = true;
  s.member = !leave;
  s.fb_from = at + s.wait;
  s.fb_until = at + s.term + s.share_hold - s.redis.bucket_ns();
  s.holders = std::max<int64_t>(r.holders, 1);
  if (r.share_only_ns > 0)  // from Redis's now, which is after the call started
    s.share_only_until = std::max(s.share_only_until, at + r.share_only_ns + s.timeout);
  if (r.admitted && r.granted[0] > 0) ++s.leases;
  // Holding requests in flight or a share: report again when the lease ends. Settled
  // since the call began: to report too.
  if (!leave) s.lease_until = at + s.use;
  else if (std::any_of(s.history.begin(), s.history.end(),
                       [](const Shared::Settled &h) { return !h.synced; }))
    s.lease_until = 1;
}

void Gates::housekeep(int64_t now) {
  if (!shared_) return;
  Shared &s = *shared_;
  pump(now);
  if (s.call != Shared::Call::kNone) return;
  if (s.lease_until == 0 || now < s.lease_until || s.fallback || s.rejoin_all) return;
  if (!s.redis.connected()) return start_join(now, false);  // the join reports too
  // The lease's time is up: hand over what was settled and hold what is in flight; renew
  // the lease if it was used and requests wait, else leave once nothing is in flight (no
  // share held for an idle process).
  s.renew_busy = s.admitted > 0 && s.waiting != 0;
  s.renew_idle = in_flight_ == 0 && (s.waiting == 0 || (s.waiting < 0 && s.admitted == 0));
  // A busy process asks as if for one more request like its last, so that a refusal is
  // the answer its next request would get.
  Amounts need{}, want{};
  if (s.renew_busy) {
    need = amounts_of(1, s.last);
    want = lease_wanted(s.last);
  }
  start_call(now, int(Shared::Call::kRenew), need, want);
  pump(now);
}

bool Gates::cut_off() const { return shared_ && shared_->fallback; }

void Gates::set_waiting(int64_t n) {
  if (shared_) shared_->waiting = n;
}

int64_t Gates::next_housekeeping() const {
  if (!shared_) return kNever;
  if (shared_->call != Shared::Call::kNone) return shared_->redis.ready_at();  // to take it
  if (shared_->fallback) return kNever;
  return shared_->lease_until == 0 ? kNever : std::max<int64_t>(shared_->lease_until, 1);
}

void Gates::to_fallback(int64_t now) {
  Shared &s = *shared_;
  if (!s.fallback) ++s.fallbacks;
  s.fallback = true;
  s.recovering = false;
  s.recoveries = 0;
  s.redis.disconnect();
  s.next_attempt = now + kReconnectNs;
  s.refusal_valid = false;
}

void Gates::forget_aged(int64_t now) {
  Shared &s = *shared_;
  const int64_t window = limits_.window_ms * kNsPerMs, bucket = s.redis.bucket_ns();
  while (!s.history.empty() && s.history.front().at + window + bucket <= now)
    s.history.pop_front();
}

void Gates::remember(int64_t now, Tokens actual) {
  Shared &s = *shared_;
  const int64_t bucket = s.redis.bucket_ns();
  forget_aged(now);
  Amounts a = amounts_of(1, actual);
  // Bounded like the buckets: one entry per bucket's time at most (per synced state).
  if (!s.history.empty() && !s.history.back().synced && !s.history.back().sent &&
      now - s.history.back().start < bucket) {
    Shared::Settled &b = s.history.back();
    b.at = now;
    for (size_t i = 0; i < a.size(); ++i) b.amounts[i] += a[i];
  } else {
    s.history.push_back({now, now, a, false, false});
  }
  if (s.lease_until == 0) s.lease_until = 1;  // to report
}

void Gates::acquire(Tokens t) {
  ++in_flight_;
  requests_.reserve(1);
  tokens_.reserve(t.total());
  input_tokens_.reserve(t.input);
  output_tokens_.reserve(t.output);
  for (Extra &e : extra_) {
    e.requests.reserve(1);
    e.tokens.reserve(t.total());
  }
}

void Gates::settle(int64_t now, Tokens reserved, Tokens actual) {
  --in_flight_;
  requests_.settle(now, 1, 1);
  tokens_.settle(now, reserved.total(), actual.total());
  input_tokens_.settle(now, reserved.input, actual.input);
  output_tokens_.settle(now, reserved.output, actual.output);
  for (Extra &e : extra_) {
    e.requests.settle(now, 1, 1);
    e.tokens.settle(now, reserved.total(), actual.total());
  }
  if (!shared_) return;
  // Handed over with the next call; until then Redis holds its reservation as in flight.
  remember(now, actual);
  // Room or a better answer for a waiting request: ask again.
  Shared &s = *shared_;
  const GateReason why = s.refusal.reason;
  const bool fewer_tokens =
      (why == GateReason::kTokens && actual.total() < reserved.total()) ||
      (why == GateReason::kInputTokens && actual.input < reserved.input) ||
      (why == GateReason::kOutputTokens && actual.output < reserved.output);
  if (s.refusal_polled || fewer_tokens) s.refusal_valid = false;
}

void Gates::release(Tokens reserved) {
  --in_flight_;
  requests_.release(1);
  tokens_.release(reserved.total());
  input_tokens_.release(reserved.input);
  output_tokens_.release(reserved.output);
  for (Extra &e : extra_) {
    e.requests.release(1);
    e.tokens.release(reserved.total());
  }
  if (!shared_) return;
  Shared &s = *shared_;
  s.refusal_valid = false;
  // Never sent: Redis holds it still (in the lease or in flight), so the lease may use it
  // again; a lease renewed since, which counted it in flight, too.
  if (s.lease_until > 1) {
    const Amounts c = caps(), a = amounts_of(1, reserved);
    for (size_t i = 0; i < a.size(); ++i)
      if (c[i] > 0) s.lease[i] += a[i];
  }
}

std::vector<Gates::WindowUse> Gates::windows_used(int64_t now) {
  std::vector<WindowUse> out;
  for (Extra &e : extra_)
    out.push_back({e.window_ms, e.requests.cap(), e.requests.used(now), e.tokens.cap(),
                   e.tokens.used(now)});
  return out;
}

void Gates::pause_until(int64_t until) { paused_until_ = std::max(paused_until_, until); }

void Gates::observe(int64_t now, const Remaining &r) {
  auto clamp = [now](SlidingWindow &w, int64_t remaining, int64_t reset_ns) {
    if (remaining >= 0 && reset_ns >= 0) w.clamp(now, remaining, reset_ns);
  };
  clamp(requests_, r.requests, r.requests_reset_ns);
  clamp(tokens_, r.tokens, r.tokens_reset_ns);
  clamp(input_tokens_, r.input_tokens, r.input_tokens_reset_ns);
  clamp(output_tokens_, r.output_tokens, r.output_tokens_reset_ns);
}

void Gates::write_shared(JsonWriter &w, int64_t now) {
  if (!shared_) return;
  Shared &s = *shared_;
  pump(now);
  if (s.fallback && now >= s.next_attempt && s.call == Shared::Call::kNone) start_join(now, false);
  w.Key("shared_limits");
  w.StartObject();
  w.Key("mode");
  w.String(s.fallback ? "local_fallback" : "shared");
  w.Key("redis");
  std::string redis = redis_address(s.config.host, s.config.port);
  if (!s.config.sentinels.empty()) {
    redis = "master " + s.config.master_name + " via";
    for (const auto &[h, p] : s.config.sentinels) redis += " " + redis_address(h, p);
  }
  write_str(w, redis + (s.config.db ? "/" + std::to_string(s.config.db) : ""));
  w.Key("tls");
  w.Bool(s.config.tls);
  w.Key("key");
  write_str(w, s.config.key);
  w.Key("share");
  w.Double(s.config.share);
  w.Key("share_only_ms");  // Redis lost the budget: no more than the share until then
  w.Int64(now < s.share_only_until ? (s.share_only_until - now) / kNsPerMs : 0);
  w.Key("errors");
  w.Int64(s.redis.errors());
  w.Key("last_error");
  if (s.redis.last_error().empty()) w.Null();
  else write_str(w, s.redis.last_error());
  w.Key("fallbacks");
  w.Int64(s.fallbacks);
  w.Key("rejoins");
  w.Int64(s.rejoins);
  w.Key("reconnects");
  w.Int64(s.reconnects);
  w.Key("leases");
  w.Int64(s.leases);
  w.Key("lease_requests_left");
  w.Int64(now < s.lease_until ? s.lease[0] : 0);
  w.Key("holders");
  w.Int64(s.holders);
  w.Key("alone");  // cut off: what it may admit without Redis
  if (!s.fallback) w.String("no");
  else if (now < s.lease_until && s.lease[0] > 0) w.String("lease");
  else if (s.member && now >= s.fb_from && now < s.fb_until) w.String("share");
  else w.String("waiting");
  w.Key("script_calls");
  w.Int64(s.redis.calls());
  w.Key("script_last_us");
  w.Double(double(s.redis.last_call_ns()) / 1e3);
  w.Key("script_mean_us");
  w.Double(double(s.redis.mean_call_ns()) / 1e3);
  w.Key("engine_max_us");  // the engine thread's longest moment on a call: never a wait
  w.Double(double(s.redis.engine_max_ns()) / 1e3);
  w.EndObject();
}

}  // namespace llmsvc
