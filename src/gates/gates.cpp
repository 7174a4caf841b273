#include "gates/gates.h"

#include <algorithm>

namespace llmsvc {

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
  input_tokens_.configure(per_window(limits.itpm), window_ns);
  output_tokens_.configure(per_window(limits.otpm), window_ns);
}

GateReason Gates::too_large(Tokens t) const {
  if (!tokens_.unlimited() && t.total() > tokens_.cap()) return GateReason::kTokens;
  if (!input_tokens_.unlimited() && t.input > input_tokens_.cap()) return GateReason::kInputTokens;
  if (!output_tokens_.unlimited() && t.output > output_tokens_.cap())
    return GateReason::kOutputTokens;
  return GateReason::kNone;
}

GateDecision Gates::check(int64_t now, Tokens t) {
  if (too_large(t) != GateReason::kNone) return {false, kNever, GateReason::kTooLarge};
  if (paused_until_ > now) return {false, paused_until_, GateReason::kPaused};
  if (limits_.concurrency > 0 && in_flight_ >= limits_.concurrency)
    return {false, kNever, GateReason::kConcurrency};
  // The latest of the windows' earliest fits is when all of them have room.
  GateDecision d{true, now, GateReason::kNone};
  auto consider = [&](SlidingWindow &w, int64_t amount, GateReason why) {
    int64_t at = w.earliest_fit(now, amount);
    if (at > d.wait_until) d = {false, at, why};
  };
  consider(requests_, 1, GateReason::kRequests);
  consider(tokens_, t.total(), GateReason::kTokens);
  consider(input_tokens_, t.input, GateReason::kInputTokens);
  consider(output_tokens_, t.output, GateReason::kOutputTokens);
  return d;
}

void Gates::acquire(Tokens t) {
  ++in_flight_;
  requests_.reserve(1);
  tokens_.reserve(t.total());
  input_tokens_.reserve(t.input);
  output_tokens_.reserve(t.output);
}

void Gates::settle(int64_t now, Tokens reserved, Tokens actual) {
  --in_flight_;
  requests_.settle(now, 1, 1);
  tokens_.settle(now, reserved.total(), actual.total());
  input_tokens_.settle(now, reserved.input, actual.input);
  output_tokens_.settle(now, reserved.output, actual.output);
}

void Gates::release(Tokens reserved) {
  --in_flight_;
  requests_.release(1);
  tokens_.release(reserved.total());
  input_tokens_.release(reserved.input);
  output_tokens_.release(reserved.output);
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

}  // namespace llmsvc
