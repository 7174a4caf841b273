// Client configuration (docs/schema.md), parsed once at llmsvc_client_new.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <vector>

#include "common/json.h"
#include "gates/breaker.h"
#include "gates/budgets.h"
#include "telemetry/otlp_config.h"
#include "usage/prices.h"

namespace llmsvc {

/// Provider limits. 0 means unlimited. rpm and tpm are per-minute rates; the window over
/// which the provider counts them is window_ms (OpenAI: 60 s), and the allowance within one
/// window is rate * window_ms / 60000.
struct Limits {
  int64_t rpm = 0;
  int64_t tpm = 0;   // input + output tokens
  int64_t itpm = 0;  // input tokens, cache reads excluded (Anthropic)
  int64_t otpm = 0;  // output tokens (Anthropic)
  int64_t concurrency = 0;
  int64_t window_ms = 60000;
  /// More windows held at the same time as the per-minute ones: each allows `requests`
  /// and `tokens` (input + output; 0: no bound) per `window_ms` ("rpd"/"tpd" are one of a
  /// day, "windows" any number).
  struct Window {
    int64_t window_ms = 0;
    int64_t requests = 0;
    int64_t tokens = 0;
  };
  std::vector<Window> windows;
};

struct RetryPolicy {
  int64_t max_attempts = 5;         // attempts in all, the first included
  int64_t base_delay_ms = 500;      // first backoff
  int64_t max_delay_ms = 30000;     // backoff ceiling
  double jitter = 0.25;             // a backoff is shortened by up to this fraction
  int64_t max_retry_after_ms = 60000;  // a longer server wait fails fast instead
  int64_t max_pause_ms = 3600000;      // a 429's pause of the key's gate lasts at most this
  int64_t schema_retries = 1;          // new attempts when output misses its JSON Schema
};

/// Load shedding per priority class (high, normal, low); 0 means no bound.
struct QueuePolicy {
  int64_t max_length[3] = {0, 0, 0};   // requests waiting at the gates
  int64_t max_wait_ms[3] = {0, 0, 0};  // expected or actual wait before admission
  bool any() const {
    for (int i = 0; i < 3; ++i)
      if (max_length[i] || max_wait_ms[i]) return true;
    return false;
  }
};

/// Response caching (docs/schema.md). No layer configured: no caching.
struct CacheConfig {
  enum class Policy : uint8_t { kDeterministic, kAll };
  Policy policy = Policy::kDeterministic;  // which requests are cached without being asked
  std::string name_space;  // what the key is scoped to instead of the endpoint's URL
  bool memory = false;
  int64_t memory_max_entries = 10000;
  int64_t memory_max_bytes = int64_t(64) << 20;
  int64_t memory_ttl_ms = 3600 * 1000;
  std::string sqlite_path;  // empty: no SQLite layer
  int64_t sqlite_max_entries = 1000000;
  int64_t sqlite_max_bytes = int64_t(1) << 30;
  int64_t sqlite_ttl_ms = int64_t(7) * 24 * 3600 * 1000;
  bool sqlite_set_aside_corrupt = false;  // move an unusable file aside instead of failing
  int64_t sqlite_busy_timeout_ms = 5000;
  bool enabled() const { return memory || !sqlite_path.empty(); }
};

/// The Prometheus endpoint (docs/schema.md, "Telemetry"). Port 0: no endpoint.
struct TelemetryConfig {
  static constexpr int64_t kAutoPort = -1;  // "auto": an ephemeral port the system picks
  int64_t prometheus_port = 0;
  std::string prometheus_host = "127.0.0.1";
  bool allow_remote = false;  // listening on an address other hosts reach
  bool enabled() const { return prometheus_port != 0; }
  OtlpConfig otlp;  // the OTLP/HTTP exporter (docs/telemetry.md)
};

/// A rate budget shared through Redis by every process that uses the same key
/// (docs/schema.md, "shared_limits"). The limits themselves are Config::limits.
struct SharedLimitsConfig {
  bool enabled = false;
  std::string host = "127.0.0.1";
  int64_t port = 6379;
  std::string user;      // ACL user (AUTH user password); empty: the default user
  std::string password;  // AUTH; empty: none. Never written anywhere
  int64_t db = 0;        // SELECT
  // TLS (rediss://): the CA bundle (empty: the system's), a client certificate and key, the
  // name the certificate must carry (empty: the host's), and whether it is checked at all.
  bool tls = false;
  std::string tls_ca, tls_cert, tls_key, tls_server_name;
  bool tls_verify = true;
  // Sentinel: the sentinels' addresses and the master's name; host and port unused then.
  std::vector<std::pair<std::string, int64_t>> sentinels;
  std::string master_name;
  std::string key;     // the budget's name; never the API key itself
  double share = 0.5;  // fraction of the limits used alone while Redis is unreachable
  int64_t timeout_ms = 50;
  int64_t fallback_ms = -1;  // how long a process cut off from Redis uses its share; -1: 10 windows
};

/// How a request picks among the deployments of its model group, and where it goes when
/// they are exhausted (docs/schema.md, "Deployments and routing").
struct RoutingConfig {
  enum class Strategy : uint8_t { kRoundRobin, kLeastLoaded, kLowestLatency, kWeighted };
  Strategy strategy = Strategy::kRoundRobin;
  /// Per group (or "*" for every group): the groups or deployments tried, in order, after
  /// the group's own deployments are exhausted.
  std::vector<std::pair<std::string, std::vector<std::string>>> fallbacks;
};

const char *routing_strategy_name(RoutingConfig::Strategy s);

struct DeploymentSpec;

struct Config {
  std::string provider = "openai_chat";  // or "anthropic"
  std::string base_url;                  // the provider's own when not given
  std::string api_key;  // never logged, never in errors or results
  std::string anthropic_version = "2023-06-01";
  int64_t default_max_output_tokens = 4096;  // where the provider requires a bound
  std::string organization;
  std::string project;
  std::string model;  // default model for requests without one
  std::string max_tokens_field = "max_completion_tokens";
  /// Azure OpenAI: the API version (the api-version query parameter) and the deployment
  /// requests go to (the model's name when not given).
  std::string api_version;
  std::string azure_deployment;
  /// AWS Bedrock: the region, and the credentials requests are signed with (Signature
  /// Version 4); from the standard AWS_* environment variables when not given.
  std::string aws_region;
  std::string aws_access_key_id;
  std::string aws_secret_access_key;  // never logged, never in errors or results
  std::string aws_session_token;      // temporary credentials only
  /// Headers every request carries beside the provider's own ("headers"; per deployment
  /// too); credentials and framing headers are refused.
  std::vector<std::pair<std::string, std::string>> headers;
  Limits limits;
  RetryPolicy retry;
  int64_t connect_timeout_ms = 5000;
  int64_t request_timeout_ms = 600000;  // one attempt, transfer included
  bool http2 = true;                    // HTTP/2 over TLS when the server offers it
  bool http2_prior_knowledge = false;   // h2c without upgrade (local servers)
  int64_t max_connections = 0;          // per host; 0 = as many as needed
  int64_t max_reply_bytes = 64 << 20;        // one attempt's body, whole or streamed
  int64_t max_stream_event_bytes = 8 << 20;  // one stream event (line, data or NDJSON line)
  uint64_t seed = 0;                    // jitter seed; 0 = random
  PriceTable prices = PriceTable::builtin();
  CacheConfig cache;
  std::vector<BudgetSpec> budgets;
  QueuePolicy queue;
  BreakerConfig breaker;
  TelemetryConfig telemetry;
  SharedLimitsConfig shared_limits;
  /// Several endpoints, keys or models behind one client; empty: the client's own
  /// provider, base URL, key and limits are its one deployment.
  std::vector<DeploymentSpec> deployments;
  RoutingConfig routing;
};

/// One deployment: a provider endpoint with its key, model and limits. `config` is the
/// client's configuration with the deployment's own fields over it.
struct DeploymentSpec {
  std::string name;   // unique; in results and metrics
  std::string group;  // the model name requests use to reach it (default: its model)
  int64_t weight = 1;
  Config config;
};

/// Parses a configuration document; NULL or empty text gives the defaults. Environment
/// fallbacks (OPENAI_API_KEY, OPENAI_BASE_URL) apply when the document does not say.
DocError parse_config(const char *json, Config &out);

/// The default name of a shared budget: provider, base URL (without credentials) and the
/// first 16 hex digits of the API key's SHA-256, so sharers of one key and endpoint meet
/// without the key being written anywhere.
std::string default_shared_key(const std::string &provider, const std::string &base_url,
                               const std::string &api_key);

/// Parses a "limits" object over `inout` (fields not given keep their value).
DocError parse_limits(const JsonValue &v, const std::string &path, Limits &inout);

}  // namespace llmsvc
