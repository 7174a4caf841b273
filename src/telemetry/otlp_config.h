// The OTLP/HTTP exporter's settings: the configuration's "telemetry.otlp", then the standard
// OTEL_* environment variables for whatever the configuration leaves out (docs/telemetry.md).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "llmsvc.h"

namespace llmsvc {

struct OtlpConfig {
  bool enabled = false;
  std::string traces_url;   // full URL (…/v1/traces); "" when traces are not exported
  std::string metrics_url;  // full URL (…/v1/metrics); "" when metrics are not exported
  std::vector<std::pair<std::string, std::string>> traces_headers;
  std::vector<std::pair<std::string, std::string>> metrics_headers;
  std::string service_name;
  std::vector<std::pair<std::string, std::string>> resource;  // OTEL_RESOURCE_ATTRIBUTES
  bool capture_content = false;
  int64_t schedule_delay_ms = 5000;     // spans wait at most this long to be sent
  int64_t metric_interval_ms = 60000;   // metrics are sent this often (and at close)
  int64_t timeout_ms = 10000;           // one export; also the bound on the flush at close
  int64_t max_queue = 2048;             // requests waiting to be encoded; more are dropped
  int64_t max_batch = 512;              // spans of requests per export

  // The configuration has "otlp", and which of its fields it gave (the environment fills
  // the others).
  bool configured = false;
  bool given_endpoint = false, given_traces = false,
       given_metrics = false, given_headers = false, given_service = false,
       given_capture = false, given_delay = false, given_interval = false,
       given_timeout = false, given_queue = false, given_batch = false;
};

/// Reads "telemetry.otlp" (an object; `path` names it in errors).
DocError parse_otlp(const JsonValue &v, const std::string &path, OtlpConfig &out);

/// Fills what the configuration left out from the environment (`getenv` is the lookup, so
/// tests can give their own) and decides whether the exporter runs: a configuration with
/// "otlp" turns it on unless "enabled": false; without one, OTEL_EXPORTER_OTLP_ENDPOINT (or a
/// per-signal endpoint) with OTEL_EXPORTER_OTLP_PROTOCOL=http/json does. OTEL_SDK_DISABLED=true
/// turns it off; OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER = none turn one signal off.
DocError resolve_otlp(OtlpConfig &c, const char *(*getenv)(const char *));

}  // namespace llmsvc
