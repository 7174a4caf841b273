// The gates one key's requests pass: requests per window, tokens per window, concurrency,
// and a pause the provider asked for with retry-after. With shared limits the windows are
// kept in Redis for every process that uses the key (gates/redis_budget.h), and in this
// process's own windows, at a share of the limits, while Redis cannot be reached.
// Touched only by the engine thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/tokens.h"
#include "gates/redis_budget.h"
#include "gates/window.h"

namespace llmsvc {

enum class GateReason {
  kNone,
  kRequests,
  kTokens,
  kInputTokens,
  kOutputTokens,
  kConcurrency,
  kPaused,
  kTooLarge,
  kCircuitOpen  // not a gate of these: the circuit breaker holds requests back
};
const char *gate_reason_name(GateReason r);

struct GateDecision {
  bool admit = false;
  int64_t wait_until = 0;  // when not admitted: earliest retry time, or kNever
  GateReason reason = GateReason::kNone;
};

class Gates {
 public:
  explicit Gates(const Limits &limits);
  /// The configuration's limits, shared through Redis when it has `shared_limits`: over
  /// hiredis, or over `link` when given (the simulator's Redis). `name`: this client's
  /// name in Redis (random when empty).
  explicit Gates(const Config &config, std::unique_ptr<ScriptLink> link = nullptr,
                 std::string name = {});
  ~Gates();
  Gates(const Gates &) = delete;
  Gates &operator=(const Gates &) = delete;
  void set_limits(const Limits &limits);
  const Limits &limits() const { return limits_; }

  /// Can a request reserving `tokens` go now? Takes nothing locally; with shared limits an
  /// admitting answer has already reserved in Redis, so acquire must follow it.
  GateDecision check(int64_t now, Tokens tokens);
  /// Takes one request and `tokens` (after check said admit).
  void acquire(Tokens tokens);
  /// The request got a response: count it from now, with `actual` used.
  void settle(int64_t now, Tokens reserved, Tokens actual);
  /// The request never reached the provider: give everything back.
  void release(Tokens reserved);
  /// The window that refuses `tokens` outright (more than a whole window allows), if any.
  GateReason too_large(Tokens tokens) const;

  /// Stop admitting until `until` (a 429 with retry-after, or our own backoff after one).
  void pause_until(int64_t until);
  int64_t paused_until() const { return paused_until_; }

  /// Rate-limit headers: what the provider says is left and when it is whole again.
  /// Negative values mean "not given".
  struct Remaining {
    int64_t requests = -1, requests_reset_ns = -1;
    int64_t tokens = -1, tokens_reset_ns = -1;
    int64_t input_tokens = -1, input_tokens_reset_ns = -1;
    int64_t output_tokens = -1, output_tokens_reset_ns = -1;
  };
  void observe(int64_t now, const Remaining &r);

  int64_t in_flight() const { return in_flight_; }
  int64_t requests_used(int64_t now) { return requests_.used(now); }
  int64_t tokens_used(int64_t now) { return tokens_.used(now); }
  int64_t input_tokens_used(int64_t now) { return input_tokens_.used(now); }
  int64_t output_tokens_used(int64_t now) { return output_tokens_.used(now); }
  int64_t request_cap() const { return requests_.cap(); }
  int64_t token_cap() const { return tokens_.cap(); }
  int64_t input_token_cap() const { return input_tokens_.cap(); }
  int64_t output_token_cap() const { return output_tokens_.cap(); }

  /// The windows beside the per-minute ones: their length, caps and use.
  struct WindowUse {
    int64_t window_ms, request_cap, requests_used, token_cap, tokens_used;
  };
  std::vector<WindowUse> windows_used(int64_t now);

  /// The "shared_limits" member of the metrics snapshot (nothing without shared limits).
  void write_shared(JsonWriter &w, int64_t now);

  /// With shared limits, when a lease's time is up: hand over what was settled, then renew
  /// the lease or leave. The engine calls it at next_housekeeping() (kNever: nothing due).
  void housekeep(int64_t now);
  int64_t next_housekeeping() const;
  /// With shared limits: cut off from Redis (admitting from a lease or a share, or waiting).
  bool cut_off() const;
  /// How many requests wait for admission here (at most): leases are sized to them.
  void set_waiting(int64_t n);
  /// With shared limits: called on another thread when a call to Redis has finished (the
  /// engine's wake-up); the next housekeep or check takes its answer.
  void set_wake(std::function<void()> wake);

 private:
  struct Shared;
  GateDecision local_fit(int64_t now, Tokens t, double share);
  GateDecision fallback_fit(int64_t now, Tokens t);
  GateDecision shared_fit(int64_t now, Tokens t);
  void start_call(int64_t now, int kind, const Amounts &need, const Amounts &want);
  void start_join(int64_t now, bool recovering);
  void join_call(int64_t now);
  void pump(int64_t now);
  void finish_call(bool ok, bool leave, const RedisBudget::LeaseReply &r);
  bool take_from_lease(int64_t now, Tokens t);
  Amounts lease_wanted(Tokens t) const;
  Amounts caps() const;
  Amounts share_amounts() const;
  Amounts in_flight_amounts() const;
  void to_fallback(int64_t now);
  void remember(int64_t now, Tokens actual);
  void forget_aged(int64_t now);

  Limits limits_;
  SlidingWindow requests_;
  SlidingWindow tokens_;         // input + output (tpm)
  SlidingWindow input_tokens_;   // itpm
  SlidingWindow output_tokens_;  // otpm
  // The windows beside the per-minute ones (Limits::windows), in the same order.
  struct Extra {
    int64_t window_ms = 0;
    SlidingWindow requests;
    SlidingWindow tokens;
  };
  std::vector<Extra> extra_;
  int64_t in_flight_ = 0;
  int64_t paused_until_ = 0;
  std::unique_ptr<Shared> shared_;
};

}  // namespace llmsvc
