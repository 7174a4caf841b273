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

// The shared mode's state: the Redis budget, whether it is reachable, and what this process
// settled within the last window (to hand over when it rejoins after an outage).
struct Gates::Shared {
  Shared(const SharedLimitsConfig &c, int64_t hold, std::unique_ptr<ScriptLink> link,
         std::string name)
      : config(c),
        redis(link ? std::move(link) : redis_link(c.host, int(c.port), c.timeout_ms)),
        hold_ms(hold),
        base(std::move(name)) {
    if (!base.empty()) return;
    std::random_device rd;
    static const char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) base += kHex[rd() & 15];
  }
  SharedLimitsConfig config;
  RedisBudget redis;
  int64_t hold_ms;
  int64_t window_ms = 0;
  std::string base;      // this client's random name in Redis
  std::string instance;  // base:epoch, a new one at every (re)join
  int64_t epoch = 0;
  std::string run_id;    // the Redis server last joined
  bool fallback = false;
  bool rejoin_all = false;  // the budget's names changed: hand over everything
  int64_t next_attempt = 0;
  int64_t last_now = 0;  // release() is not told the time
  int64_t probation_until = 0;
  int64_t cut_off_until = 0;   // the first window without Redis
  Amounts held_when_cut_off{};  // what this process held in each window then
  int64_t fallbacks = 0;
  int64_t rejoins = 0;
  int64_t reconnects = 0;  // failed calls recovered at once by a rejoin
  struct Settled {
    int64_t at, start;
    Amounts amounts;
    bool synced;  // counted in Redis already
  };
  std::deque<Settled> history;
  // The last refusal from Redis, answered again until its time comes, unless a settlement
  // of ours made room sooner: waiting requests do not cost a script call per loop.
  bool refusal_valid = false;
  Tokens refused_for;
  GateDecision refusal;
};

Gates::Gates(const Limits &limits) { set_limits(limits); }

Gates::Gates(const Config &config, std::unique_ptr<ScriptLink> link, std::string name) {
  if (config.shared_limits.enabled) {
    // A reservation outlives no attempt: after connect and transfer timeouts (and a
    // second's grace) its process is presumed gone and Redis releases it.
    shared_ = std::make_unique<Shared>(
        config.shared_limits, config.connect_timeout_ms + config.request_timeout_ms + 1000,
        std::move(link), std::move(name));
  }
  set_limits(config.limits);
}

Gates::~Gates() = default;

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
    shared_->redis.configure(shared_->config.key, limits.window_ms, shared_->hold_ms);
    if (shared_->window_ms) shared_->rejoin_all = true;
    shared_->window_ms = limits.window_ms;
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
  const Shared *s = shared_.get();
  // Just cut off from Redis: what the others use is unknown, but it all fitted the limit
  // together with what we held then. So until that has aged out, hold no more than then.
  const bool cut_off = s && s->fallback && now < s->cut_off_until;
  // The latest of the windows' earliest fits is when all of them have room.
  GateDecision d{true, now, GateReason::kNone};
  auto consider = [&](SlidingWindow &w, int64_t amount, GateReason why, int dim) {
    int64_t cap = w.cap();
    if (cap <= 0) return;
    if (share < 1) cap = std::max<int64_t>(1, int64_t(double(cap) * share + 1e-6));
    int64_t at;
    if (cut_off && s->held_when_cut_off[size_t(dim)] < cap) {
      cap = s->held_when_cut_off[size_t(dim)];
      at = cap > 0 ? w.earliest_fit(now, amount, cap) : kNever;
      if (at == kNever) at = s->cut_off_until;
    } else {
      at = w.earliest_fit(now, amount, cap);
    }
    if (at > d.wait_until) d = {false, at, why};
  };
  consider(requests_, 1, GateReason::kRequests, 0);
  consider(tokens_, t.total(), GateReason::kTokens, 1);
  consider(input_tokens_, t.input, GateReason::kInputTokens, 2);
  consider(output_tokens_, t.output, GateReason::kOutputTokens, 3);
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

GateDecision Gates::fallback_fit(int64_t now, Tokens t) {
  GateDecision d = local_fit(now, t, shared_->config.share);
  // Wake for the next attempt at Redis too: it may have room the share has not.
  if (!d.admit) d.wait_until = std::min(d.wait_until, shared_->next_attempt);
  return d;
}

GateDecision Gates::check(int64_t now, Tokens t) {
  if (too_large(t) != GateReason::kNone) return {false, kNever, GateReason::kTooLarge};
  if (paused_until_ > now) return {false, paused_until_, GateReason::kPaused};
  if (limits_.concurrency > 0 && in_flight_ >= limits_.concurrency)
    return {false, kNever, GateReason::kConcurrency};
  if (!shared_) return local_fit(now, t, 1);
  if (!shared_active(now)) return fallback_fit(now, t);
  return shared_fit(now, t, true);
}

GateDecision Gates::shared_fit(int64_t now, Tokens t, bool may_recover) {
  Shared &s = *shared_;
  if (now < s.probation_until) {
    // Just back from an outage: others may not have handed over what they used alone yet.
    GateDecision d = local_fit(now, t, s.config.share);
    if (!d.admit) return d;
  }
  if (s.refusal_valid && now < s.refusal.wait_until && s.refused_for.input == t.input &&
      s.refused_for.output == t.output)
    return s.refusal;
  const Amounts caps = {requests_.cap(), tokens_.cap(), input_tokens_.cap(), output_tokens_.cap()};
  // Processes that share the key settle without telling us: ask again after a bucket.
  const int64_t poll_ns = std::clamp<int64_t>(s.redis.bucket_ns(), kNsPerMs, 50 * kNsPerMs);
  RedisBudget::Admission a;
  if (!s.redis.reserve(s.instance, caps, amounts_of(1, t), poll_ns, a)) {
    if (may_recover && recover(now)) return shared_fit(now, t, false);
    if (!s.fallback) to_fallback(now);
    return fallback_fit(now, t);
  }
  s.refusal_valid = !a.admitted;
  if (a.admitted) return {true, now, GateReason::kNone};
  s.refused_for = t;
  s.refusal = {false, now + std::max<int64_t>(a.wait_ns, 1), reason_of_dimension(a.dimension)};
  return s.refusal;
}

bool Gates::recover(int64_t now) {
  // A failed call may be a moment's stall or a dropped connection rather than a lost
  // Redis, and falling back while the others still share through Redis lets the two
  // sides together pass the limit. So reconnect and rejoin as a new instance once, which
  // also drops whatever the failed call may have reserved; only if that fails too is
  // Redis treated as gone.
  Shared &s = *shared_;
  s.redis.disconnect();
  join(now);
  if (s.fallback) return false;
  ++s.reconnects;
  return true;
}

bool Gates::shared_active(int64_t now) {
  Shared &s = *shared_;
  s.last_now = now;
  if (!s.fallback && s.redis.connected() && !s.rejoin_all) return true;
  if (s.fallback && now < s.next_attempt) return false;
  join(now);
  return !s.fallback;
}

void Gates::join(int64_t now) {
  Shared &s = *shared_;
  const bool was_away = s.fallback;
  if (!s.redis.connected() && !s.redis.connect()) return to_fallback(now);
  // A restarted Redis forgot everything: hand over all this process used in the window,
  // else only what it settled while away.
  const bool restarted = !s.run_id.empty() && s.run_id != s.redis.run_id();
  const bool all = s.rejoin_all || restarted;
  forget_aged(now);
  std::vector<RedisBudget::Past> past;
  for (const Shared::Settled &h : s.history)
    if (all || !h.synced) past.push_back({now - h.at, h.amounts});
  const Amounts in_flight = {requests_.in_flight(), tokens_.in_flight(),
                             input_tokens_.in_flight(), output_tokens_.in_flight()};
  std::string instance = s.base + ":" + std::to_string(++s.epoch);
  if (!s.redis.rejoin(s.instance, instance, in_flight, past)) return to_fallback(now);
  for (Shared::Settled &h : s.history) h.synced = true;
  s.instance = std::move(instance);
  s.run_id = s.redis.run_id();
  s.rejoin_all = false;
  s.refusal_valid = false;
  if (s.fallback) {
    s.fallback = false;
    ++s.rejoins;
  }
  if (was_away || restarted) {
    // Others come back within a reconnection interval and then hand over what they used
    // alone (or, after a restart Redis did not survive, all they used): until that has
    // aged out of the window, keep to the share as well.
    s.probation_until = now + limits_.window_ms * kNsPerMs + kReconnectNs + s.redis.bucket_ns();
  }
}

void Gates::to_fallback(int64_t now) {
  Shared &s = *shared_;
  if (!s.fallback) {
    ++s.fallbacks;
    s.held_when_cut_off = {requests_.used(now), tokens_.used(now), input_tokens_.used(now),
                           output_tokens_.used(now)};
    s.cut_off_until = now + limits_.window_ms * kNsPerMs + s.redis.bucket_ns();
  }
  s.fallback = true;
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

void Gates::remember(int64_t now, Tokens actual, bool synced) {
  Shared &s = *shared_;
  const int64_t bucket = s.redis.bucket_ns();
  forget_aged(now);
  Amounts a = amounts_of(1, actual);
  // Bounded like the buckets: one entry per bucket's time at most (per synced state).
  if (!s.history.empty() && s.history.back().synced == synced &&
      now - s.history.back().start < bucket) {
    Shared::Settled &b = s.history.back();
    b.at = now;
    for (size_t i = 0; i < a.size(); ++i) b.amounts[i] += a[i];
  } else {
    s.history.push_back({now, now, a, synced});
  }
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
  Shared &s = *shared_;
  s.last_now = now;
  if (s.fallback || !s.redis.connected() || s.rejoin_all) {
    remember(now, actual, false);
    shared_active(now);  // a join now hands this settlement over with the rest
    return;
  }
  bool ok = s.redis.settle(s.instance, amounts_of(1, reserved), amounts_of(1, actual));
  remember(now, actual, ok);
  if (!ok) recover(now);  // hands this settlement over with the rest, or falls back
  // Fewer tokens used than reserved: room a cached refusal does not know of.
  if (actual.input < reserved.input || actual.output < reserved.output) s.refusal_valid = false;
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
  // While away, nothing to do: the rejoin holds only what is still in flight.
  if (s.fallback || !s.redis.connected() || s.rejoin_all) return;
  // A rejoin holds only what is still in flight, which this no longer is.
  if (!s.redis.settle(s.instance, amounts_of(1, reserved), Amounts{})) recover(s.last_now);
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
  shared_active(now);
  w.Key("shared_limits");
  w.StartObject();
  w.Key("mode");
  w.String(s.fallback ? "local_fallback" : "shared");
  w.Key("redis");
  write_str(w, (s.config.host.find(':') != std::string::npos ? "[" + s.config.host + "]"
                                                              : s.config.host) +
                   ":" + std::to_string(s.config.port));
  w.Key("key");
  write_str(w, s.config.key);
  w.Key("share");
  w.Double(s.config.share);
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
  w.Key("script_calls");
  w.Int64(s.redis.calls());
  w.Key("script_last_us");
  w.Double(double(s.redis.last_call_ns()) / 1e3);
  w.Key("script_mean_us");
  w.Double(double(s.redis.mean_call_ns()) / 1e3);
  w.EndObject();
}

}  // namespace llmsvc
