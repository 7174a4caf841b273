// A circuit breaker in front of the provider: after a run of failed attempts that say the
// provider is unwell (5xx, timeouts, broken connections, 429s) it opens and nothing is sent
// for a cool-down; then one probe request goes; its success closes the breaker, its
// failure opens it again for twice as long (up to a ceiling). Requests wait at the gates
// meanwhile, within their deadlines. Engine thread only; times are arguments.
#pragma once

#include <cstdint>
#include <string>

#include "common/json.h"
#include "llmsvc.h"

namespace llmsvc {

class PromText;

struct BreakerConfig {
  int64_t failures = 0;  // consecutive failed attempts that open it; 0: no breaker
  int64_t cooldown_ms = 5000;
  int64_t max_cooldown_ms = 60000;
};

/// Parses "circuit_breaker" (docs/schema.md).
DocError parse_breaker(const JsonValue &v, BreakerConfig &out);

class CircuitBreaker {
 public:
  enum class State : uint8_t { kClosed, kOpen, kHalfOpen };

  void configure(const BreakerConfig &c) { config_ = c; }
  bool enabled() const { return config_.failures > 0; }
  State state() const { return state_; }

  /// May a request be sent now? In half-open state the first caller becomes the probe
  /// (`probe` set) and the others wait for its outcome. When not, `wait_until` is when to
  /// ask again (kNever: when the probe completes).
  bool admit(int64_t now, bool &probe, int64_t &wait_until);
  /// What admit() would answer now, changing nothing.
  bool would_admit(int64_t now, int64_t &wait_until) const;
  /// "closed", "open" or "half_open".
  const char *state_name() const;
  /// An attempt ended with `kind`; `probe` when it was the probe.
  void record(int64_t now, llmsvc_error_kind kind, bool probe);
  /// The probe ended without a verdict (cancelled, deadline): another may go.
  void probe_abandoned();
  /// Why requests are held, for messages ("" when closed).
  std::string why_open(int64_t now) const;
  void write(JsonWriter &w, int64_t now) const;
  void write_prometheus(PromText &t) const;

  /// Whether an attempt that ended with `kind` speaks of the provider's health.
  static bool is_health_failure(llmsvc_error_kind kind);

 private:
  void open(int64_t now);

  BreakerConfig config_;
  State state_ = State::kClosed;
  int64_t consecutive_ = 0;
  int64_t cooldown_ns_ = 0;
  int64_t reopen_ns_ = 0;
  bool probe_out_ = false;
  llmsvc_error_kind last_failure_ = LLMSVC_KIND_NONE;
  int64_t opened_ = 0, half_opened_ = 0, closed_ = 0;
};

}  // namespace llmsvc
