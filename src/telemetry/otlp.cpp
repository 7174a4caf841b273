#include "telemetry/otlp.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <random>
#include <stdexcept>

#include <curl/curl.h>
#include <pthread.h>

#include "common/json.h"

namespace llmsvc {
namespace {

// Buckets the GenAI conventions advise, and ours for waits that are often below 10 ms.
const std::vector<double> kSecondsBounds = {0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64,
                                            1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
const std::vector<double> kTokenBounds = {1,      4,       16,      64,       256,
                                          1024,   4096,    16384,   65536,    262144,
                                          1048576, 4194304, 16777216, 67108864};
const std::vector<double> kWaitBounds = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2,
                                         0.5,   1,     2,     5,    10,   30,   60};

enum MetricIndex {
  kDuration,
  kTokens,
  kFirstChunk,
  kAttempts,
  kGateWait,
  kBackoff,
  kCost,
  kMetricCount
};

constexpr int64_t kGateSpanNs = 1000000;  // gate waits of 1 ms or more get a span
constexpr int kSpanKindInternal = 1;
constexpr int kSpanKindClient = 3;

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t splitmix(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void hex64(char *out, uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, v >>= 4) out[i] = digits[v & 15];
}

std::string hex_id(uint64_t v) {
  char b[16];
  hex64(b, v);
  return std::string(b, 16);
}

std::string hex_trace(uint64_t hi, uint64_t lo) { return hex_id(hi) + hex_id(lo); }

bool read_hex64(const std::string &s, size_t at, uint64_t &out) {
  out = 0;
  for (size_t i = at; i < at + 16; ++i) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    out = (out << 4) | uint64_t(d);
  }
  return true;
}

// OTLP/JSON attribute writers: {"key": k, "value": {"<type>Value": v}}; 64-bit integers are
// strings, as the protobuf JSON mapping has them.
struct Attrs {
  JsonWriter &w;
  void head(std::string_view key) {
    w.StartObject();
    w.Key("key");
    write_str(w, key);
    w.Key("value");
    w.StartObject();
  }
  void tail() {
    w.EndObject();
    w.EndObject();
  }
  void str(std::string_view key, std::string_view v) {
    head(key);
    w.Key("stringValue");
    write_str(w, v);
    tail();
  }
  void str_if(std::string_view key, std::string_view v) {
    if (!v.empty()) str(key, v);
  }
  void num(std::string_view key, int64_t v) {
    head(key);
    w.Key("intValue");
    w.String(std::to_string(v).c_str());
    tail();
  }
  void real(std::string_view key, double v) {
    head(key);
    w.Key("doubleValue");
    w.Double(v);
    tail();
  }
  void boolean(std::string_view key, bool v) {
    head(key);
    w.Key("boolValue");
    w.Bool(v);
    tail();
  }
  void strings(std::string_view key, const std::vector<std::string> &v) {
    head(key);
    w.Key("arrayValue");
    w.StartObject();
    w.Key("values");
    w.StartArray();
    for (const auto &s : v) {
      w.StartObject();
      w.Key("stringValue");
      write_str(w, s);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    tail();
  }
};

double seconds(int64_t ns) { return double(ns) / 1e9; }

void write_time(JsonWriter &w, const char *key, int64_t unix_ns) {
  w.Key(key);
  w.String(std::to_string(std::max<int64_t>(unix_ns, 0)).c_str());
}

// Points per metric beyond which new attribute sets fold into one overflow point, as the
// OpenTelemetry metrics SDK specification does (otel.metric.overflow = true).
constexpr size_t kMaxPoints = 2000;

}  // namespace

std::string format_traceparent(uint64_t trace_hi, uint64_t trace_lo, uint64_t span_id,
                               bool sampled) {
  return "00-" + hex_trace(trace_hi, trace_lo) + "-" + hex_id(span_id) + (sampled ? "-01" : "-00");
}

bool parse_traceparent(const std::string &t, uint64_t &trace_hi, uint64_t &trace_lo,
                       uint64_t &span_id, bool &sampled) {
  if (t.size() < 55) return false;
  uint64_t flags = 0;
  if (!read_hex64(t, 3, trace_hi) || !read_hex64(t, 19, trace_lo) || !read_hex64(t, 36, span_id))
    return false;
  std::string f = t.substr(53, 2);
  flags = std::strtoull(f.c_str(), nullptr, 16);
  sampled = (flags & 1) != 0;
  return true;
}

OtlpExporter::OtlpExporter(const OtlpConfig &config) : config_(config) {
  curl_ = curl_easy_init();
  if (!curl_) throw std::runtime_error("telemetry.otlp: libcurl could not make a handle");
  std::random_device rd;
  rng_ = (uint64_t(rd()) << 32) ^ rd();
  start_unix_ns_ = unix_now_ns();
  metrics_.resize(kMetricCount);
  metrics_[kDuration] = {"gen_ai.client.operation.duration", "s", "GenAI operation duration.",
                         true, &kSecondsBounds, {}};
  metrics_[kTokens] = {"gen_ai.client.token.usage", "{token}",
                       "Number of input and output tokens used.", true, &kTokenBounds, {}};
  metrics_[kFirstChunk] = {"gen_ai.client.operation.time_to_first_chunk", "s",
                           "Time to receive the first chunk of a streamed response.", true,
                           &kSecondsBounds, {}};
  metrics_[kAttempts] = {"llmsvc.client.attempts", "{attempt}",
                         "Attempts sent to the provider, by outcome.", false, nullptr, {}};
  metrics_[kGateWait] = {"llmsvc.client.gate.wait", "s",
                         "Time an attempt waited at the rate and concurrency gates.", true,
                         &kWaitBounds, {}};
  metrics_[kBackoff] = {"llmsvc.client.backoff", "s", "Waits between attempts, by who set them.",
                        true, &kWaitBounds, {}};
  metrics_[kCost] = {"llmsvc.client.cost", "{nano_usd}", "Cost of the requests in nano-dollars.",
                     false, nullptr, {}};
  try {
    thread_ = std::thread(&OtlpExporter::run, this);
  } catch (...) {
    curl_easy_cleanup(static_cast<CURL *>(curl_));
    throw;
  }
}

OtlpExporter::~OtlpExporter() {
  stop();
  curl_easy_cleanup(static_cast<CURL *>(curl_));
}

void OtlpExporter::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OtlpExporter::record(OtlpRecord &&r) {
  bool queued = false, wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.recorded;
    if (!stopping_ && int64_t(queue_.size()) < config_.max_queue) {
      queue_.push_back(std::move(r));
      queued = true;
      wake = int64_t(queue_.size()) == config_.max_batch;
    } else {
      ++stats_.dropped;
    }
  }
  if (wake) cv_.notify_one();
  if (!queued && !config_.metrics_url.empty()) {
    // No room for its spans; its numbers still count, or the metrics would undercount
    // exactly when traffic peaks.
    std::lock_guard<std::mutex> lock(metrics_mu_);
    aggregate(r);
  }
}

OtlpExporter::Stats OtlpExporter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void OtlpExporter::run() {
  pthread_setname_np(pthread_self(), "llmsvc-otlp");  // for top, perf and debuggers
  std::vector<OtlpRecord> batch;
  std::string spans;
  spans.reserve(size_t(std::min<int64_t>(config_.max_batch, 4096)) * 2048);
  int64_t span_requests = 0;
  const int64_t delay_ns = config_.schedule_delay_ms * 1000000;
  const int64_t interval_ns = config_.metric_interval_ms * 1000000;
  int64_t next_spans = steady_ns() + delay_ns;
  int64_t next_metrics = steady_ns() + interval_ns;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    int64_t wake_at = std::min(next_spans, next_metrics);
    cv_.wait_for(lock, std::chrono::nanoseconds(std::max<int64_t>(wake_at - steady_ns(), 0)),
                 [&] {
                   return stopping_ || int64_t(queue_.size()) >= config_.max_batch ||
                          steady_ns() >= wake_at;
                 });
    const bool stopping = stopping_;
    batch.clear();
    batch.swap(queue_);
    lock.unlock();

    // The final flush, at close, gets the export timeout as a whole.
    const int64_t now = steady_ns();
    const int64_t deadline = now + config_.timeout_ms * 1000000;
    auto send_spans = [&] {
      if (spans.empty()) return;
      bool ok = post(config_.traces_url, config_.traces_headers, traces_document(spans), deadline);
      std::lock_guard<std::mutex> g(mu_);
      if (ok) stats_.requests_sent += span_requests;
      else ++stats_.exports_failed;
      spans.clear();
      span_requests = 0;
    };
    if (!config_.metrics_url.empty() && !batch.empty()) {
      std::lock_guard<std::mutex> g(metrics_mu_);
      for (const OtlpRecord &r : batch) aggregate(r);
    }
    for (const OtlpRecord &r : batch) {
      if (!config_.traces_url.empty() && r.sampled) {
        encode_spans(r, spans);
        if (++span_requests >= config_.max_batch) send_spans();
      }
    }
    if (now >= next_spans || stopping) {
      send_spans();
      next_spans = now + delay_ns;
    }
    if (now >= next_metrics || stopping) {
      std::string doc;
      {
        std::lock_guard<std::mutex> g(metrics_mu_);
        if (metrics_touched_) doc = metrics_document(unix_now_ns());
      }
      if (!doc.empty()) {
        bool ok = post(config_.metrics_url, config_.metrics_headers, doc, deadline);
        if (!ok) {
          std::lock_guard<std::mutex> g(mu_);
          ++stats_.exports_failed;
        }
      }
      next_metrics = now + interval_ns;
    }
    lock.lock();
    if (stopping && queue_.empty()) return;
  }
}

bool OtlpExporter::post(const std::string &url,
                        const std::vector<std::pair<std::string, std::string>> &headers,
                        const std::string &body, int64_t deadline_ns) {
  CURL *c = static_cast<CURL *>(curl_);
  curl_slist *list = curl_slist_append(nullptr, "Content-Type: application/json");
  for (const auto &[name, value] : headers) {
    if (!list) break;
    std::string line = name + ": " + value;
    curl_slist *next = curl_slist_append(list, line.c_str());
    if (!next) {
      curl_slist_free_all(list);
      list = nullptr;
    } else {
      list = next;
    }
  }
  if (!list) return false;
  bool ok = false;
  // Retried as the OTLP specification asks: 429, 502, 503, 504 and failed connections,
  // with a growing wait, never past the deadline.
  for (int attempt = 0; attempt < 4; ++attempt) {
    int64_t left_ms = (deadline_ns - steady_ns()) / 1000000;
    if (left_ms <= 0) break;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.size()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, long(std::min<int64_t>(left_ms, config_.timeout_ms)));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION,
                     +[](char *, size_t size, size_t n, void *) { return size * n; });
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status >= 200 && status < 300) {
      ok = true;
      break;
    }
    bool retry = rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
                 rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
                 status == 429 || status == 502 || status == 503 || status == 504;
    if (!retry) break;
    int64_t wait_ns = int64_t(100000000) << attempt;  // 100, 200, 400 ms
    if (steady_ns() + wait_ns >= deadline_ns) break;
    std::this_thread::sleep_for(std::chrono::nanoseconds(wait_ns));
  }
  curl_slist_free_all(list);
  return ok;
}

void OtlpExporter::write_resource(std::string &out) const {
  JsonBuffer b;
  JsonWriter w(b);
  w.StartObject();
  w.Key("attributes");
  w.StartArray();
  Attrs a{w};
  a.str("service.name", config_.service_name);
  a.str("telemetry.sdk.name", "llmsvc");
  a.str("telemetry.sdk.language", "cpp");
  a.str("telemetry.sdk.version", LLMSVC_VERSION_STRING);
  for (const auto &[k, v] : config_.resource)
    if (k != "service.name") a.str(k, v);
  w.EndArray();
  w.EndObject();
  out.append(b.GetString(), b.GetSize());
}

std::string OtlpExporter::traces_document(const std::string &spans) const {
  std::string out = "{\"resourceSpans\":[{\"resource\":";
  write_resource(out);
  out += ",\"scopeSpans\":[{\"scope\":{\"name\":\"llmsvc\",\"version\":\"" LLMSVC_VERSION_STRING
         "\"},\"spans\":[";
  out += spans;
  out += "]}]}]}";
  return out;
}

namespace {

// Spans are the exporter's hot path: their constant parts (keys, structure) are appended as
// they are, and only the strings that come from requests and replies go through RapidJSON's
// writer, which escapes them.
class SpanJson {
 public:
  explicit SpanJson(std::string &out) : out_(out), w_(scratch_) {}

  void lit(std::string_view s) { out_.append(s.data(), s.size()); }
  void text(std::string_view s) {  // a JSON string, escaped
    scratch_.Clear();
    w_.Reset(scratch_);
    write_str(w_, s);
    out_.append(scratch_.GetString(), scratch_.GetSize());
  }
  void integer(int64_t v) {
    char b[24];
    auto res = std::to_chars(b, b + sizeof b, v);
    out_.append(b, size_t(res.ptr - b));
  }
  void real(double v) {
    char b[32];
    auto res = std::to_chars(b, b + sizeof b, v);
    out_.append(b, size_t(res.ptr - b));
  }
  void hex(uint64_t v) {
    char b[16];
    hex64(b, v);
    out_.append(b, 16);
  }

  // Attributes; `key` is one of ours, never in need of escaping. `first` is false for all
  // but the first of a list.
  void key(std::string_view k) {
    lit(first_ ? "{\"key\":\"" : ",{\"key\":\"");
    first_ = false;
    lit(k);
    lit("\",\"value\":{");
  }
  void attr(std::string_view k, std::string_view v) {
    key(k);
    lit("\"stringValue\":");
    text(v);
    lit("}}");
  }
  void attr_if(std::string_view k, std::string_view v) {
    if (!v.empty()) attr(k, v);
  }
  void attr(std::string_view k, int64_t v) {
    key(k);
    lit("\"intValue\":\"");
    integer(v);
    lit("\"}}");
  }
  void attr_real(std::string_view k, double v) {
    key(k);
    lit("\"doubleValue\":");
    real(v);
    lit("}}");
  }
  void attr_bool(std::string_view k, bool v) {
    key(k);
    lit(v ? "\"boolValue\":true}}" : "\"boolValue\":false}}");
  }
  void attr(std::string_view k, const std::vector<std::string> &v) {
    key(k);
    lit("\"arrayValue\":{\"values\":[");
    for (size_t i = 0; i < v.size(); ++i) {
      lit(i ? ",{\"stringValue\":" : "{\"stringValue\":");
      text(v[i]);
      lit("}");
    }
    lit("]}}}");
  }
  void begin_attrs() {
    lit(",\"attributes\":[");
    first_ = true;
  }
  void end_attrs() { lit("]"); }

 private:
  std::string &out_;
  JsonBuffer scratch_;
  JsonWriter w_;
  bool first_ = true;
};

}  // namespace

void OtlpExporter::encode_spans(const OtlpRecord &r, std::string &out) {
  const int64_t *n = r.nums;
  const int64_t start = r.end_unix_ns - n[LLMSVC_NUM_TOTAL_NS];
  SpanJson j(out);
  auto open_span = [&](uint64_t span_id, uint64_t parent, std::string_view name, int kind,
                       int64_t t0, int64_t t1) {
    j.lit(out.empty() ? "{\"traceId\":\"" : ",{\"traceId\":\"");
    j.hex(r.trace_hi);
    j.hex(r.trace_lo);
    j.lit("\",\"spanId\":\"");
    j.hex(span_id);
    if (parent) {
      j.lit("\",\"parentSpanId\":\"");
      j.hex(parent);
    }
    j.lit("\"");
    if (r.tracestate.len) {
      j.lit(",\"traceState\":");
      j.text(r.get(r.tracestate));
    }
    j.lit(",\"name\":");
    j.text(name);
    j.lit(kind == kSpanKindClient ? ",\"kind\":3" : ",\"kind\":1");
    j.lit(",\"startTimeUnixNano\":\"");
    j.integer(std::max<int64_t>(t0, 0));
    j.lit("\",\"endTimeUnixNano\":\"");
    j.integer(std::max<int64_t>(std::max(t0, t1), 0));
    j.lit("\"");
    j.begin_attrs();
  };
  auto close_span = [&](bool error, std::string_view message) {
    j.end_attrs();
    if (error) {
      j.lit(",\"status\":{\"code\":2");  // STATUS_CODE_ERROR
      if (!message.empty()) {
        j.lit(",\"message\":");
        j.text(message);
      }
      j.lit("}");
    }
    j.lit("}");
  };
  auto known = [](int64_t v) { return v != LLMSVC_UNKNOWN; };

  // The request.
  std::string name = "chat ";
  name += r.get(r.model);
  open_span(r.span_id, r.parent_span_id, name, kSpanKindClient, start, r.end_unix_ns);
  j.attr("gen_ai.operation.name", "chat");
  j.attr("gen_ai.provider.name", r.provider);
  j.attr("gen_ai.request.model", r.get(r.model));
  j.attr_if("gen_ai.response.model", r.get(r.response_model));
  j.attr_if("gen_ai.response.id", r.get(r.response_id));
  if (r.finish_reasons.len) j.attr("gen_ai.response.finish_reasons", r.list(r.finish_reasons));
  if (known(n[LLMSVC_NUM_PROMPT_TOKENS])) {
    j.attr("gen_ai.usage.input_tokens", n[LLMSVC_NUM_PROMPT_TOKENS]);
    j.attr("gen_ai.usage.output_tokens", n[LLMSVC_NUM_COMPLETION_TOKENS]);
    j.attr("gen_ai.usage.cache_read.input_tokens", n[LLMSVC_NUM_CACHED_TOKENS]);
    j.attr("gen_ai.usage.cache_creation.input_tokens", n[LLMSVC_NUM_CACHE_WRITE_TOKENS]);
    j.attr("gen_ai.usage.reasoning.output_tokens", n[LLMSVC_NUM_REASONING_TOKENS]);
  }
  if (r.max_tokens) j.attr("gen_ai.request.max_tokens", *r.max_tokens);
  if (r.temperature) j.attr_real("gen_ai.request.temperature", *r.temperature);
  if (r.top_p) j.attr_real("gen_ai.request.top_p", *r.top_p);
  if (r.frequency_penalty) j.attr_real("gen_ai.request.frequency_penalty", *r.frequency_penalty);
  if (r.presence_penalty) j.attr_real("gen_ai.request.presence_penalty", *r.presence_penalty);
  if (r.seed) j.attr("gen_ai.request.seed", *r.seed);
  if (r.stop.len) j.attr("gen_ai.request.stop_sequences", r.list(r.stop));
  if (r.n != 1) j.attr("gen_ai.request.choice.count", r.n);
  j.attr_bool("gen_ai.request.stream", r.stream);
  if (r.json_output) j.attr("gen_ai.output.type", "json");
  if (r.stream && known(n[LLMSVC_NUM_FIRST_TOKEN_NS]))
    j.attr_real("gen_ai.response.time_to_first_chunk", seconds(n[LLMSVC_NUM_FIRST_TOKEN_NS]));
  j.attr_if("server.address", r.get(r.server_address));
  if (n[LLMSVC_NUM_SERVER_PORT] > 0) j.attr("server.port", n[LLMSVC_NUM_SERVER_PORT]);
  if (*r.error_kind) j.attr("error.type", r.error_kind);
  if (r.provider == std::string_view("openai"))
    j.attr_if("openai.response.service_tier", r.get(r.service_tier));
  j.attr_if("llmsvc.operation", r.get(r.operation));
  j.attr_if("llmsvc.deployment", r.get(r.deployment));
  j.attr("llmsvc.attempts", n[LLMSVC_NUM_ATTEMPTS]);
  j.attr_real("llmsvc.gate.wait", seconds(n[LLMSVC_NUM_GATE_WAIT_NS]));
  if (known(n[LLMSVC_NUM_COST_NANO_USD])) j.attr("llmsvc.cost.nano_usd", n[LLMSVC_NUM_COST_NANO_USD]);
  j.attr_if("llmsvc.cache.hit", r.cache_source);
  j.attr_if("gen_ai.input.messages", r.get(r.input_messages));
  j.attr_if("gen_ai.output.messages", r.get(r.output_messages));
  j.attr_if("gen_ai.system_instructions", r.get(r.system_instructions));
  close_span(*r.error_kind != '\0', r.get(r.error_message));

  // Its attempts, and the gate waits before them.
  for (size_t i = 0; i < r.attempts.size(); ++i) {
    const OtlpAttempt &t = r.attempts[i];
    const int64_t *an = t.nums;
    const int64_t t0 = start + an[LLMSVC_ATTEMPT_START_NS];
    const int64_t wait = an[LLMSVC_ATTEMPT_GATE_WAIT_NS];
    if (wait >= kGateSpanNs) {
      open_span(splitmix(rng_) | 1, r.span_id, "llmsvc.gate.wait", kSpanKindInternal, t0 - wait,
                t0);
      j.attr("llmsvc.attempt", int64_t(i));
      close_span(false, {});
    }
    open_span(t.span_id ? t.span_id : splitmix(rng_) | 1, r.span_id, "POST", kSpanKindClient, t0,
              t0 + an[LLMSVC_ATTEMPT_DURATION_NS]);
    j.attr("http.request.method", "POST");
    if (an[LLMSVC_ATTEMPT_HTTP_STATUS] > 0)
      j.attr("http.response.status_code", an[LLMSVC_ATTEMPT_HTTP_STATUS]);
    if (i > 0) j.attr("http.request.resend_count", int64_t(i));
    // Where this attempt went (deployments may differ), else where the last one did.
    j.attr_if("server.address",
              t.server_address ? std::string_view(*t.server_address) : r.get(r.server_address));
    if (int64_t port = t.server_address ? t.server_port : n[LLMSVC_NUM_SERVER_PORT]; port > 0)
      j.attr("server.port", port);
    const bool failed = an[LLMSVC_ATTEMPT_KIND] != LLMSVC_KIND_NONE;
    if (failed)
      j.attr("error.type", llmsvc_error_kind_name(llmsvc_error_kind(an[LLMSVC_ATTEMPT_KIND])));
    j.attr_if("llmsvc.deployment", r.get(t.deployment));
    j.attr_real("llmsvc.gate.wait", seconds(wait));
    if (an[LLMSVC_ATTEMPT_BACKOFF_SOURCE] != 0) {
      j.attr_real("llmsvc.backoff", seconds(an[LLMSVC_ATTEMPT_BACKOFF_NS]));
      j.attr("llmsvc.backoff.source",
             an[LLMSVC_ATTEMPT_BACKOFF_SOURCE] == 2 ? "retry_after" : "client");
    }
    j.attr_if("llmsvc.provider.request_id", r.get(t.request_id));
    if (known(an[LLMSVC_ATTEMPT_PROMPT_TOKENS])) {
      j.attr("gen_ai.usage.input_tokens", an[LLMSVC_ATTEMPT_PROMPT_TOKENS]);
      j.attr("gen_ai.usage.output_tokens", an[LLMSVC_ATTEMPT_COMPLETION_TOKENS]);
    }
    if (known(an[LLMSVC_ATTEMPT_COST_NANO_USD]))
      j.attr("llmsvc.cost.nano_usd", an[LLMSVC_ATTEMPT_COST_NANO_USD]);
    close_span(failed, {});
  }
}

OtlpExporter::Metric::Point &OtlpExporter::point(Metric &m, const std::string &key,
                                   const std::function<AttrList()> &attrs,
                                   int64_t status_code) {
  auto it = m.points.find(key);
  if (it != m.points.end()) return it->second;
  std::string k = key;
  Metric::Point p;
  if (m.points.size() >= kMaxPoints) {
    k = "\x01overflow";
    it = m.points.find(k);
    if (it != m.points.end()) return it->second;
    p.attrs = {{"otel.metric.overflow", "true"}};
  } else {
    p.attrs = attrs();
    p.status_code = status_code;
  }
  if (m.histogram) p.counts.assign(m.bounds->size() + 1, 0);
  return m.points.emplace(std::move(k), std::move(p)).first->second;
}

void OtlpExporter::observe(Metric &m, const std::string &key,
                           const std::function<AttrList()> &attrs, int64_t status_code,
                           double value) {
  Metric::Point &h = point(m, key, attrs, status_code);
  size_t bucket = size_t(std::lower_bound(m.bounds->begin(), m.bounds->end(), value) -
                         m.bounds->begin());  // upper bounds are inclusive
  ++h.counts[bucket];
  h.min = h.count ? std::min(h.min, value) : value;
  h.max = h.count ? std::max(h.max, value) : value;
  ++h.count;
  h.sum += value;
  metrics_touched_ = true;
}

void OtlpExporter::add(Metric &m, const std::string &key, const std::function<AttrList()> &attrs,
                       int64_t status_code, int64_t value) {
  point(m, key, attrs, status_code).value += value;
  metrics_touched_ = true;
}

// Each point is found by a key made of the values of its attributes (\x1f between them);
// its attribute list is built only when the point is new.
void OtlpExporter::aggregate(const OtlpRecord &r) {
  const int64_t *n = r.nums;
  const int64_t port = n[LLMSVC_NUM_SERVER_PORT];
  auto base = [&] {
    return AttrList{{"gen_ai.operation.name", "chat"},
                    {"gen_ai.provider.name", r.provider},
                    {"gen_ai.request.model", std::string(r.get(r.model))}};
  };
  auto full = [&] {
    AttrList a = base();
    if (r.response_model.len) a.emplace_back("gen_ai.response.model", r.get(r.response_model));
    if (r.server_address.len) a.emplace_back("server.address", r.get(r.server_address));
    if (port > 0) a.emplace_back("server.port", std::to_string(port));
    return a;
  };
  std::string base_key = r.provider;
  base_key += '\x1f';
  base_key += r.get(r.model);
  std::string full_key = base_key;
  full_key += '\x1f';
  full_key += r.get(r.response_model);
  full_key += '\x1f';
  full_key += r.get(r.server_address);
  full_key += '\x1f';
  full_key += std::to_string(port);
  std::string key = full_key + '\x1f' + r.error_kind;
  auto with_error = [&] {
    AttrList a = full();
    if (*r.error_kind) a.emplace_back("error.type", r.error_kind);
    return a;
  };
  observe(metrics_[kDuration], key, with_error, 0, seconds(n[LLMSVC_NUM_TOTAL_NS]));
  if (r.stream && n[LLMSVC_NUM_FIRST_TOKEN_NS] != LLMSVC_UNKNOWN)
    observe(metrics_[kFirstChunk], key, with_error, 0, seconds(n[LLMSVC_NUM_FIRST_TOKEN_NS]));
  if (n[LLMSVC_NUM_PROMPT_TOKENS] != LLMSVC_UNKNOWN) {
    for (const char *type : {"input", "output"}) {
      key = full_key + '\x1f' + type;
      observe(metrics_[kTokens], key,
              [&] {
                AttrList a = full();
                a.emplace_back("gen_ai.token.type", type);
                return a;
              },
              0,
              double(n[*type == 'i' ? LLMSVC_NUM_PROMPT_TOKENS : LLMSVC_NUM_COMPLETION_TOKENS]));
    }
  }
  for (const OtlpAttempt &t : r.attempts) {
    const int64_t kind = t.nums[LLMSVC_ATTEMPT_KIND];
    const int64_t status = t.nums[LLMSVC_ATTEMPT_HTTP_STATUS];
    key = base_key + '\x1f' + std::to_string(kind) + '\x1f' + std::to_string(status);
    add(metrics_[kAttempts], key,
        [&] {
          AttrList a = base();
          if (kind != LLMSVC_KIND_NONE)
            a.emplace_back("error.type", llmsvc_error_kind_name(llmsvc_error_kind(kind)));
          return a;
        },
        status, 1);
    observe(metrics_[kGateWait], base_key, base, 0, seconds(t.nums[LLMSVC_ATTEMPT_GATE_WAIT_NS]));
    if (const int64_t source = t.nums[LLMSVC_ATTEMPT_BACKOFF_SOURCE]; source != 0) {
      const char *who = source == 2 ? "retry_after" : "client";
      key = base_key + '\x1f' + who;
      observe(metrics_[kBackoff], key,
              [&] {
                AttrList a = base();
                a.emplace_back("llmsvc.backoff.source", who);
                return a;
              },
              0, seconds(t.nums[LLMSVC_ATTEMPT_BACKOFF_NS]));
    }
  }
  if (n[LLMSVC_NUM_COST_NANO_USD] != LLMSVC_UNKNOWN && n[LLMSVC_NUM_COST_NANO_USD] > 0) {
    key = base_key + '\x1f';
    key += r.get(r.operation);
    add(metrics_[kCost], key,
        [&] {
          AttrList a = base();
          if (r.operation.len) a.emplace_back("llmsvc.operation", r.get(r.operation));
          return a;
        },
        0, n[LLMSVC_NUM_COST_NANO_USD]);
  }
}

std::string OtlpExporter::metrics_document(int64_t now_unix_ns) const {
  JsonBuffer b;
  JsonWriter w(b);
  Attrs a{w};
  auto point_attrs = [&](const AttrList &attrs, int64_t status_code) {
    w.Key("attributes");
    w.StartArray();
    for (const auto &[k, v] : attrs) {
      if (k == "server.port") a.num(k, std::strtoll(v.c_str(), nullptr, 10));
      else if (k == "otel.metric.overflow") a.boolean(k, true);
      else a.str(k, v);
    }
    if (status_code > 0) a.num("http.response.status_code", status_code);
    w.EndArray();
    write_time(w, "startTimeUnixNano", start_unix_ns_);
    write_time(w, "timeUnixNano", now_unix_ns);
  };
  w.StartObject();
  w.Key("resourceMetrics");
  w.StartArray();
  w.StartObject();
  w.Key("resource");
  {
    std::string res;
    write_resource(res);
    w.RawValue(res.data(), res.size(), rapidjson::kObjectType);
  }
  w.Key("scopeMetrics");
  w.StartArray();
  w.StartObject();
  w.Key("scope");
  w.StartObject();
  w.Key("name");
  w.String("llmsvc");
  w.Key("version");
  w.String(LLMSVC_VERSION_STRING);
  w.EndObject();
  w.Key("metrics");
  w.StartArray();
  for (const Metric &m : metrics_) {
    if (m.points.empty()) continue;
    w.StartObject();
    w.Key("name");
    w.String(m.name);
    w.Key("unit");
    w.String(m.unit);
    w.Key("description");
    w.String(m.description);
    w.Key(m.histogram ? "histogram" : "sum");
    w.StartObject();
    w.Key("aggregationTemporality");
    w.Int(2);  // AGGREGATION_TEMPORALITY_CUMULATIVE
    if (!m.histogram) {
      w.Key("isMonotonic");
      w.Bool(true);
    }
    w.Key("dataPoints");
    w.StartArray();
    if (m.histogram) {
      for (const auto &[key, h] : m.points) {
        w.StartObject();
        point_attrs(h.attrs, h.status_code);
        w.Key("count");
        w.String(std::to_string(h.count).c_str());
        w.Key("sum");
        w.Double(h.sum);
        w.Key("min");
        w.Double(h.min);
        w.Key("max");
        w.Double(h.max);
        w.Key("bucketCounts");
        w.StartArray();
        for (uint64_t c : h.counts) w.String(std::to_string(c).c_str());
        w.EndArray();
        w.Key("explicitBounds");
        w.StartArray();
        for (double d : *m.bounds) w.Double(d);
        w.EndArray();
        w.EndObject();
      }
    } else {
      for (const auto &[key, c] : m.points) {
        w.StartObject();
        point_attrs(c.attrs, c.status_code);
        w.Key("asInt");
        w.String(std::to_string(c.value).c_str());
        w.EndObject();
      }
    }
    w.EndArray();
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return std::string(b.GetString(), b.GetSize());
}

}  // namespace llmsvc
