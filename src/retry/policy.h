// Retry decisions: what a failure means (error kind, retry or not) and how long to wait.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/config.h"
#include "llmsvc.h"

namespace llmsvc {

struct Classification {
  llmsvc_error_kind kind = LLMSVC_KIND_NONE;
  bool retryable = false;
  /// A 429 that says the key is over its limit, so every request of the key waits. A flex
  /// tier's "resource unavailable" is the provider's capacity for that tier, not the key's.
  bool pauses_key = true;
};

/// An HTTP error status with the provider's error.type / error.code and the value of the
/// x-should-retry header (-1 absent, 0 false, 1 true), which overrides the status.
Classification classify_http(int status, std::string_view type, std::string_view code,
                             int should_retry);

/// A transport failure (a CURLcode). `reached_server` tells whether the request may have
/// been received, which decides whether its gate reservation is settled or given back.
struct TransportClass {
  Classification c;
  bool reached_server = true;
};
TransportClass classify_transport(int curl_code);

/// Client backoff before attempt `failures + 1`: base * 2^(failures-1), capped at max,
/// shortened by up to `jitter` of itself; `u` is uniform in [0, 1).
int64_t backoff_ns(const RetryPolicy &p, int64_t failures, double u);

/// retry-after-ms (milliseconds, may be fractional) to ns; -1 when absent or malformed.
int64_t parse_retry_after_ms(std::string_view v);
/// retry-after: delta-seconds or an HTTP date (relative to `wall_now_s`); -1 when malformed.
int64_t parse_retry_after(std::string_view v, int64_t wall_now_s);
/// An RFC 3339 timestamp ("2025-01-01T00:00:30Z", fractions and offsets allowed) as
/// Anthropic sends in anthropic-ratelimit-*-reset, as ns from `wall_now_ms`; never
/// negative; -1 when malformed.
int64_t parse_rfc3339_from(std::string_view v, int64_t wall_now_ms);
/// A Go-style duration as OpenAI sends in x-ratelimit-reset-*: "6m0s", "120ms", "1.5s",
/// "1h2m3s", "20us"; -1 when malformed.
int64_t parse_go_duration(std::string_view v);

}  // namespace llmsvc
