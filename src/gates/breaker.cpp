#include "gates/breaker.h"

#include <algorithm>

#include "common/clock.h"
#include "metrics/prometheus.h"

namespace llmsvc {

DocError parse_breaker(const JsonValue &v, BreakerConfig &out) {
  DocError err;
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, "config.circuit_breaker: expected an object"};
  ObjectReader r(v, "config.circuit_breaker");
  static const char *const known[] = {"failures", "cooldown_ms", "max_cooldown_ms", nullptr};
  if (!r.only(known, err) || !r.get_int("failures", out.failures, err, 0, 1000000) ||
      !r.get_int("cooldown_ms", out.cooldown_ms, err, 1, 3600000) ||
      !r.get_int("max_cooldown_ms", out.max_cooldown_ms, err, 1, 24LL * 3600000))
    return err;
  if (out.max_cooldown_ms < out.cooldown_ms)
    return {LLMSVC_ESCHEMA, "config.circuit_breaker: max_cooldown_ms is smaller than cooldown_ms"};
  return {};
}

bool CircuitBreaker::is_health_failure(llmsvc_error_kind kind) {
  switch (kind) {
    case LLMSVC_KIND_SERVER_ERROR:
    case LLMSVC_KIND_TIMEOUT:
    case LLMSVC_KIND_CONNECTION:
    case LLMSVC_KIND_RATE_LIMITED:
      return true;
    default:
      return false;
  }
}

bool CircuitBreaker::admit(int64_t now, bool &probe, int64_t &wait_until) {
  probe = false;
  if (!enabled() || state_ == State::kClosed) return true;
  if (state_ == State::kOpen) {
    if (now < reopen_ns_) {
      wait_until = reopen_ns_;
      return false;
    }
    state_ = State::kHalfOpen;
    ++half_opened_;
  }
  if (probe_out_) {
    wait_until = kNever;  // the probe's completion wakes the engine
    return false;
  }
  probe_out_ = true;
  probe = true;
  return true;
}

bool CircuitBreaker::would_admit(int64_t now, int64_t &wait_until) const {
  if (!enabled() || state_ == State::kClosed) return true;
  if (state_ == State::kOpen && now < reopen_ns_) {
    wait_until = reopen_ns_;
    return false;
  }
  if (probe_out_) {
    wait_until = kNever;
    return false;
  }
  return true;
}

const char *CircuitBreaker::state_name() const {
  static const char *const kStates[] = {"closed", "open", "half_open"};
  return kStates[int(state_)];
}

void CircuitBreaker::open(int64_t now) {
  state_ = State::kOpen;
  reopen_ns_ = now + cooldown_ns_;
  ++opened_;
}

void CircuitBreaker::record(int64_t now, llmsvc_error_kind kind, bool probe) {
  if (!enabled()) return;
  if (probe) probe_out_ = false;
  if (!is_health_failure(kind)) {
    // The provider answered: it is well, whatever it thought of the request.
    if (state_ != State::kClosed && (probe || state_ == State::kHalfOpen)) {
      state_ = State::kClosed;
      ++closed_;
    }
    if (state_ == State::kClosed) consecutive_ = 0;
    return;
  }
  last_failure_ = kind;
  if (state_ == State::kHalfOpen && probe) {
    cooldown_ns_ = std::min(cooldown_ns_ * 2, config_.max_cooldown_ms * kNsPerMs);
    open(now);
    return;
  }
  if (state_ == State::kClosed && ++consecutive_ >= config_.failures) {
    cooldown_ns_ = config_.cooldown_ms * kNsPerMs;
    consecutive_ = 0;
    open(now);
  }
}

void CircuitBreaker::probe_abandoned() { probe_out_ = false; }

std::string CircuitBreaker::why_open(int64_t now) const {
  if (!enabled() || state_ == State::kClosed) return "";
  std::string s = "the circuit breaker is ";
  if (state_ == State::kOpen)
    s += "open for " + std::to_string(std::max<int64_t>(reopen_ns_ - now, 0) / kNsPerMs) +
         " ms more";
  else
    s += "half-open, waiting for its probe";
  return s + " after failed attempts (last: " + llmsvc_error_kind_name(last_failure_) + ")";
}

void CircuitBreaker::write(JsonWriter &w, int64_t now) const {
  static const char *const kStates[] = {"closed", "open", "half_open"};
  w.StartObject();
  w.Key("state");
  w.String(kStates[int(state_)]);
  w.Key("consecutive_failures");
  w.Int64(consecutive_);
  if (state_ == State::kOpen) {
    w.Key("reopens_in_ms");
    w.Int64(std::max<int64_t>(reopen_ns_ - now, 0) / kNsPerMs);
  }
  w.Key("opened");
  w.Int64(opened_);
  w.Key("half_opened");
  w.Int64(half_opened_);
  w.Key("closed");
  w.Int64(closed_);
  if (last_failure_ != LLMSVC_KIND_NONE) {
    w.Key("last_failure");
    w.String(llmsvc_error_kind_name(last_failure_));
  }
  w.EndObject();
}

void CircuitBreaker::write_prometheus(PromText &t) const {
  static const char *const kStates[] = {"closed", "open", "half_open"};
  t.family("llmsvc_circuit_breaker_state", "gauge",
           "1 for the circuit breaker's current state, 0 for the others.");
  for (int i = 0; i < 3; ++i)
    t.sample("llmsvc_circuit_breaker_state", {{"state", kStates[i]}},
             int64_t(int(state_) == i ? 1 : 0));
  t.family("llmsvc_circuit_breaker_transitions_total", "counter",
           "Times the circuit breaker went into each state.");
  t.sample("llmsvc_circuit_breaker_transitions_total", {{"to", "open"}}, opened_);
  t.sample("llmsvc_circuit_breaker_transitions_total", {{"to", "half_open"}}, half_opened_);
  t.sample("llmsvc_circuit_breaker_transitions_total", {{"to", "closed"}}, closed_);
}

}  // namespace llmsvc
