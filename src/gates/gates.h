// The gates one key's requests pass: requests per window, tokens per window, concurrency,
// and a pause the provider asked for with retry-after. Touched only by the engine thread.
#pragma once

#include <cstdint>

#include "core/config.h"
#include "gates/window.h"

namespace llmsvc {

enum class GateReason { kNone, kRequests, kTokens, kConcurrency, kPaused, kTooLarge };
const char *gate_reason_name(GateReason r);

struct GateDecision {
  bool admit = false;
  int64_t wait_until = 0;  // when not admitted: earliest retry time, or kNever
  GateReason reason = GateReason::kNone;
};

class Gates {
 public:
  explicit Gates(const Limits &limits) { set_limits(limits); }
  void set_limits(const Limits &limits);
  const Limits &limits() const { return limits_; }

  /// Can a request reserving `tokens` go now? Does not take anything.
  GateDecision check(int64_t now, int64_t tokens);
  /// Takes one request and `tokens` (after check said admit).
  void acquire(int64_t tokens);
  /// The request got a response: count it from now, with `actual_tokens` used.
  void settle(int64_t now, int64_t reserved_tokens, int64_t actual_tokens);
  /// The request never reached the provider: give everything back.
  void release(int64_t reserved_tokens);

  /// Stop admitting until `until` (a 429 with retry-after, or our own backoff after one).
  void pause_until(int64_t until);
  int64_t paused_until() const { return paused_until_; }

  /// Rate-limit headers: what the provider says is left and when it is whole again.
  /// Negative values mean "not given".
  void observe(int64_t now, int64_t remaining_requests, int64_t reset_requests_ns,
               int64_t remaining_tokens, int64_t reset_tokens_ns);

  int64_t in_flight() const { return in_flight_; }
  int64_t requests_used(int64_t now) { return requests_.used(now); }
  int64_t tokens_used(int64_t now) { return tokens_.used(now); }
  int64_t request_cap() const { return requests_.cap(); }
  int64_t token_cap() const { return tokens_.cap(); }

 private:
  Limits limits_;
  SlidingWindow requests_;
  SlidingWindow tokens_;
  int64_t in_flight_ = 0;
  int64_t paused_until_ = 0;
};

}  // namespace llmsvc
