#include "telemetry/otlp_config.h"

#include <cctype>
#include <cstdlib>
#include <string_view>

#include <curl/curl.h>

namespace llmsvc {
namespace {

bool is_true(const char *v) {
  if (!v) return false;
  std::string s(v);
  for (char &c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s == "true" || s == "1";
}

bool is_none(const char *v) { return v && std::string_view(v) == "none"; }

// An http:// or https:// URL that libcurl parses; the message names `what`.
DocError check_url(const std::string &url, const std::string &what) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    return {LLMSVC_ESCHEMA, what + ": expected an http:// or https:// URL, got \"" + url + "\""};
  CURLU *u = curl_url();
  if (!u) return {LLMSVC_ENOMEM, what + ": out of memory"};
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, url.c_str(), 0);
  curl_url_cleanup(u);
  if (rc != CURLUE_OK)
    return {LLMSVC_ESCHEMA, what + ": \"" + url + "\" is not a URL (" + curl_url_strerror(rc) + ")"};
  return {};
}

// The signal's URL under a base endpoint: OTLP/HTTP appends v1/traces or v1/metrics.
std::string under(std::string base, const char *signal_path) {
  if (base.empty() || base.back() != '/') base += '/';
  return base + signal_path;
}

// "k1=v1,k2=v2" with percent-encoded keys and values (the W3C baggage form the OTLP
// exporter specification uses for headers and resource attributes).
DocError parse_pairs(const char *text, const char *what,
                     std::vector<std::pair<std::string, std::string>> &out) {
  std::string_view s(text);
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    auto trim = [](std::string_view t) {
      while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
      while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
      return t;
    };
    item = trim(item);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return {LLMSVC_ESCHEMA, std::string(what) + ": expected key=value pairs separated by ','"};
    auto decode = [](std::string_view t) {
      int n = 0;
      char *d = curl_easy_unescape(nullptr, t.data(), int(t.size()), &n);
      std::string r = d ? std::string(d, size_t(n)) : std::string(t);
      curl_free(d);
      return r;
    };
    out.emplace_back(decode(trim(item.substr(0, eq))), decode(trim(item.substr(eq + 1))));
  }
  return {};
}

// A header name and value that fit on one HTTP header line.
DocError check_header(const std::string &name, const std::string &value, const std::string &what) {
  if (name.empty()) return {LLMSVC_ESCHEMA, what + ": a header without a name"};
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
      return {LLMSVC_ESCHEMA, what + ": header \"" + name + "\" is not a valid header name"};
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0')
      return {LLMSVC_ESCHEMA, what + ": the value of header \"" + name +
                                  "\" holds a line break or NUL"};
  return {};
}

DocError read_string_object(const JsonValue &v, const std::string &path,
                            std::vector<std::pair<std::string, std::string>> &out) {
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, path + ": expected an object of strings"};
  for (const auto &m : v.GetObject()) {
    if (!m.value.IsString())
      return {LLMSVC_ESCHEMA, path + "." + std::string(sv(m.name)) + ": expected a string"};
    out.emplace_back(std::string(sv(m.name)), std::string(sv(m.value)));
  }
  return {};
}

// An integer environment variable in [min, max] (milliseconds or counts).
DocError env_int(const char *(*getenv)(const char *), const char *name, int64_t &out,
                 int64_t min, int64_t max) {
  const char *v = getenv(name);
  if (!v) return {};
  char *end = nullptr;
  long long n = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || n < min || n > max)
    return {LLMSVC_ESCHEMA, std::string(name) + ": expected a whole number from " +
                                std::to_string(min) + " to " + std::to_string(max) + ", got \"" +
                                v + "\""};
  out = n;
  return {};
}

}  // namespace

DocError parse_otlp(const JsonValue &v, const std::string &path, OtlpConfig &c) {
  DocError err;
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, path + ": expected an object"};
  ObjectReader r(v, path);
  static const char *const known[] = {
      "enabled",          "endpoint",          "traces_endpoint", "metrics_endpoint",
      "headers",          "service_name",      "resource_attributes", "capture_content",
      "schedule_delay_ms", "metric_interval_ms", "timeout_ms",      "max_queue",
      "max_batch",        nullptr};
  if (!r.only(known, err)) return err;
  c.configured = true;
  c.enabled = true;
  if (!r.get_bool("enabled", c.enabled, err)) return err;
  std::string endpoint;
  if (!r.get_string("endpoint", endpoint, err) ||
      !r.get_string("traces_endpoint", c.traces_url, err) ||
      !r.get_string("metrics_endpoint", c.metrics_url, err))
    return err;
  if (!endpoint.empty()) {
    if ((err = check_url(endpoint, path + ".endpoint"))) return err;
    c.given_endpoint = true;
    if (c.traces_url.empty()) c.traces_url = under(endpoint, "v1/traces");
    if (c.metrics_url.empty()) c.metrics_url = under(endpoint, "v1/metrics");
  }
  c.given_traces = !c.traces_url.empty();
  c.given_metrics = !c.metrics_url.empty();
  if (c.given_traces && (err = check_url(c.traces_url, path + ".traces_endpoint"))) return err;
  if (c.given_metrics && (err = check_url(c.metrics_url, path + ".metrics_endpoint"))) return err;
  if (const JsonValue *h = r.find("headers")) {
    if ((err = read_string_object(*h, r.path("headers"), c.traces_headers))) return err;
    for (const auto &[name, value] : c.traces_headers)
      if ((err = check_header(name, value, r.path("headers")))) return err;
    c.metrics_headers = c.traces_headers;
    c.given_headers = true;
  }
  if (const JsonValue *a = r.find("resource_attributes"))
    if ((err = read_string_object(*a, r.path("resource_attributes"), c.resource))) return err;
  c.given_service = r.find("service_name") != nullptr;
  c.given_capture = r.find("capture_content") != nullptr;
  c.given_delay = r.find("schedule_delay_ms") != nullptr;
  c.given_interval = r.find("metric_interval_ms") != nullptr;
  c.given_timeout = r.find("timeout_ms") != nullptr;
  c.given_queue = r.find("max_queue") != nullptr;
  c.given_batch = r.find("max_batch") != nullptr;
  if (!r.get_string("service_name", c.service_name, err) ||
      !r.get_bool("capture_content", c.capture_content, err) ||
      !r.get_int("schedule_delay_ms", c.schedule_delay_ms, err, 1, 3600000) ||
      !r.get_int("metric_interval_ms", c.metric_interval_ms, err, 1, 86400000) ||
      !r.get_int("timeout_ms", c.timeout_ms, err, 1, 600000) ||
      !r.get_int("max_queue", c.max_queue, err, 1, 1 << 20) ||
      !r.get_int("max_batch", c.max_batch, err, 1, 1 << 16))
    return err;
  return {};
}

DocError resolve_otlp(OtlpConfig &c, const char *(*getenv)(const char *)) {
  DocError err;
  const bool configured = c.configured;  // {"otlp": {}} too: on, endpoints from the environment
  if (configured && !c.enabled) return {};
  if (is_true(getenv("OTEL_SDK_DISABLED")) && !configured) {
    c.enabled = false;
    return {};
  }
  // Endpoints: the configuration's, else the per-signal variable as is, else the base
  // endpoint with the signal's path.
  auto signal = [&](std::string &url, bool given, const char *per_signal, const char *path,
                    const char *exporter_var, const char *protocol_var) -> DocError {
    if (is_none(getenv(exporter_var))) {
      if (!given) url.clear();
      return {};
    }
    if (given) return {};
    const char *protocol = getenv(protocol_var);
    if (!protocol) protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    std::string where;
    if (const char *u = getenv(per_signal)) {
      url = u;
      where = per_signal;
    } else if (const char *b = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) {
      url = under(b, path);
      where = "OTEL_EXPORTER_OTLP_ENDPOINT";
    } else if (configured) {
      url = under("http://localhost:4318", path);  // the specification's default
      where = "the default endpoint";
    } else {
      return {};
    }
    // Only OTLP over HTTP with JSON is spoken; an environment that asks for protobuf or
    // gRPC (meant for another exporter in the process) does not turn this one on.
    if (!configured && (!protocol || std::string_view(protocol) != "http/json")) {
      url.clear();
      return {};
    }
    return check_url(url, where);
  };
  if ((err = signal(c.traces_url, c.given_traces, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "v1/traces", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")))
    return err;
  if ((err = signal(c.metrics_url, c.given_metrics, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    "v1/metrics", "OTEL_METRICS_EXPORTER",
                    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")))
    return err;
  c.enabled = !c.traces_url.empty() || !c.metrics_url.empty();
  if (!c.enabled) return {};

  if (!c.given_headers) {
    auto headers = [&](const char *per_signal, auto &out) -> DocError {
      DocError e;
      if (const char *h = getenv("OTEL_EXPORTER_OTLP_HEADERS"))
        if ((e = parse_pairs(h, "OTEL_EXPORTER_OTLP_HEADERS", out))) return e;
      if (const char *h = getenv(per_signal))
        if ((e = parse_pairs(h, per_signal, out))) return e;
      for (const auto &[name, value] : out)
        if ((e = check_header(name, value, per_signal))) return e;
      return e;
    };
    if ((err = headers("OTEL_EXPORTER_OTLP_TRACES_HEADERS", c.traces_headers))) return err;
    if ((err = headers("OTEL_EXPORTER_OTLP_METRICS_HEADERS", c.metrics_headers))) return err;
  }
  if (const char *a = getenv("OTEL_RESOURCE_ATTRIBUTES")) {
    std::vector<std::pair<std::string, std::string>> env_attrs;
    if ((err = parse_pairs(a, "OTEL_RESOURCE_ATTRIBUTES", env_attrs))) return err;
    for (auto &kv : env_attrs) {  // the configuration's win
      bool have = false;
      for (const auto &mine : c.resource) have = have || mine.first == kv.first;
      if (!have) c.resource.push_back(std::move(kv));
    }
  }
  if (!c.given_service) {
    if (const char *s = getenv("OTEL_SERVICE_NAME")) c.service_name = s;
  }
  if (c.service_name.empty()) {
    for (const auto &[k, v] : c.resource)
      if (k == "service.name") c.service_name = v;
  }
  if (c.service_name.empty()) c.service_name = "unknown_service";
  if (!c.given_capture)
    c.capture_content = is_true(getenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"));
  if ((!c.given_delay && (err = env_int(getenv, "OTEL_BSP_SCHEDULE_DELAY", c.schedule_delay_ms,
                                        1, 3600000))) ||
      (!c.given_interval && (err = env_int(getenv, "OTEL_METRIC_EXPORT_INTERVAL",
                                           c.metric_interval_ms, 1, 86400000))) ||
      (!c.given_timeout &&
       (err = env_int(getenv, "OTEL_EXPORTER_OTLP_TIMEOUT", c.timeout_ms, 1, 600000))) ||
      (!c.given_queue &&
       (err = env_int(getenv, "OTEL_BSP_MAX_QUEUE_SIZE", c.max_queue, 1, 1 << 20))) ||
      (!c.given_batch &&
       (err = env_int(getenv, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", c.max_batch, 1, 1 << 16))))
    return err;
  return {};
}

}  // namespace llmsvc
