#include "gates/gates.h"

#include <algorithm>

namespace llmsvc {

const char *gate_reason_name(GateReason r) {
  switch (r) {
    case GateReason::kNone: return "none";
    case GateReason::kRequests: return "rpm";
    case GateReason::kTokens: return "tpm";
    case GateReason::kConcurrency: return "concurrency";
    case GateReason::kPaused: return "paused";
    case GateReason::kTooLarge: return "too_large";
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
}

GateDecision Gates::check(int64_t now, int64_t tokens) {
  if (!tokens_.unlimited() && tokens > tokens_.cap())
    return {false, kNever, GateReason::kTooLarge};
  if (paused_until_ > now) return {false, paused_until_, GateReason::kPaused};
  if (limits_.concurrency > 0 && in_flight_ >= limits_.concurrency)
    return {false, kNever, GateReason::kConcurrency};
  int64_t r = requests_.earliest_fit(now, 1);
  int64_t t = tokens_.earliest_fit(now, tokens);
  if (r <= now && t <= now) return {true, now, GateReason::kNone};
  if (r >= t) return {false, r, GateReason::kRequests};
  return {false, t, GateReason::kTokens};
}

void Gates::acquire(int64_t tokens) {
  ++in_flight_;
  requests_.reserve(1);
  tokens_.reserve(tokens);
}

void Gates::settle(int64_t now, int64_t reserved_tokens, int64_t actual_tokens) {
  --in_flight_;
  requests_.settle(now, 1, 1);
  tokens_.settle(now, reserved_tokens, actual_tokens);
}

void Gates::release(int64_t reserved_tokens) {
  --in_flight_;
  requests_.release(1);
  tokens_.release(reserved_tokens);
}

void Gates::pause_until(int64_t until) { paused_until_ = std::max(paused_until_, until); }

void Gates::observe(int64_t now, int64_t remaining_requests, int64_t reset_requests_ns,
                    int64_t remaining_tokens, int64_t reset_tokens_ns) {
  if (remaining_requests >= 0 && reset_requests_ns >= 0)
    requests_.clamp(now, remaining_requests, reset_requests_ns);
  if (remaining_tokens >= 0 && reset_tokens_ns >= 0)
    tokens_.clamp(now, remaining_tokens, reset_tokens_ns);
}

}  // namespace llmsvc
