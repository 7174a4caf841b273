#include "telemetry/otlp.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <random>
#include <stdexcept>

#include <curl/curl.h>

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

void append(std::string &out, const JsonBuffer &b) {
  if (!out.empty()) out += ',';
  out.append(b.GetString(), b.GetSize());
}

using AttrList = std::vector<std::pair<std::string, std::string>>;

std::string attr_key(const AttrList &attrs, int64_t status_code) {
  std::string k;
  for (const auto &[name, value] : attrs) {
    k += name;
    k += '\x1f';
    k += value;
    k += '\x1e';
  }
  if (status_code) k += std::to_string(status_code);
  return k;
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
                         true, &kSecondsBounds, {}, {}};
  metrics_[kTokens] = {"gen_ai.client.token.usage", "{token}",
                       "Number of input and output tokens used.", true, &kTokenBounds, {}, {}};
  metrics_[kFirstChunk] = {"gen_ai.client.operation.time_to_first_chunk", "s",
                           "Time to receive the first chunk of a streamed response.", true,
                           &kSecondsBounds, {}, {}};
  metrics_[kAttempts] = {"llmsvc.client.attempts", "{attempt}",
                         "Attempts sent to the provider, by outcome.", false, nullptr, {}, {}};
  metrics_[kGateWait] = {"llmsvc.client.gate.wait", "s",
                         "Time an attempt waited at the rate and concurrency gates.", true,
                         &kWaitBounds, {}, {}};
  metrics_[kBackoff] = {"llmsvc.client.backoff", "s", "Waits between attempts, by who set them.",
                        true, &kWaitBounds, {}, {}};
  metrics_[kCost] = {"llmsvc.client.cost", "{nano_usd}", "Cost of the requests in nano-dollars.",
                     false, nullptr, {}, {}};
  try {
    thread_ = std::thread(&OtlpExporter::run, this);
  } catch (...) {
    curl_easy_cleanup(static_cast<CURL *>(curl_));
    throw;
  }
}

OtlpExporter::~OtlpExporter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  curl_easy_cleanup(static_cast<CURL *>(curl_));
}

void OtlpExporter::record(OtlpRecord &&r) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.recorded;
    if (int64_t(queue_.size()) >= config_.max_queue) {
      ++stats_.dropped;
      return;
    }
    queue_.push_back(std::move(r));
    wake = int64_t(queue_.size()) == config_.max_batch;
  }
  if (wake) cv_.notify_one();
}

OtlpExporter::Stats OtlpExporter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void OtlpExporter::run() {
  std::vector<OtlpRecord> batch;
  std::string spans;
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
    for (const OtlpRecord &r : batch) {
      if (!config_.metrics_url.empty()) aggregate(r);
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
      if (metrics_touched_) {
        bool ok = post(config_.metrics_url, config_.metrics_headers, metrics_document(unix_now_ns()),
                       deadline);
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

void OtlpExporter::encode_spans(const OtlpRecord &r, std::string &out) {
  const int64_t *n = r.nums;
  const int64_t start = r.end_unix_ns - n[LLMSVC_NUM_TOTAL_NS];
  const std::string trace = hex_trace(r.trace_hi, r.trace_lo);
  const std::string request_span = hex_id(r.span_id);
  JsonBuffer b;
  JsonWriter w(b);
  auto open_span = [&](const std::string &span_id, const std::string &parent,
                       std::string_view name, int kind, int64_t t0, int64_t t1) {
    b.Clear();
    w.Reset(b);
    w.StartObject();
    w.Key("traceId");
    w.String(trace.c_str());
    w.Key("spanId");
    w.String(span_id.c_str());
    if (!parent.empty()) {
      w.Key("parentSpanId");
      w.String(parent.c_str());
    }
    if (!r.tracestate.empty()) {
      w.Key("traceState");
      write_str(w, r.tracestate);
    }
    w.Key("name");
    write_str(w, name);
    w.Key("kind");
    w.Int(kind);
    write_time(w, "startTimeUnixNano", t0);
    write_time(w, "endTimeUnixNano", std::max(t0, t1));
  };
  auto close_span = [&](bool error, std::string_view message) {
    if (error) {
      w.Key("status");
      w.StartObject();
      w.Key("code");
      w.Int(2);  // STATUS_CODE_ERROR
      if (!message.empty()) {
        w.Key("message");
        write_str(w, message);
      }
      w.EndObject();
    }
    w.EndObject();
    append(out, b);
  };
  auto known = [](int64_t v) { return v != LLMSVC_UNKNOWN; };

  // The request.
  open_span(request_span, r.parent_span_id ? hex_id(r.parent_span_id) : std::string(),
            "chat " + r.model, kSpanKindClient, start, r.end_unix_ns);
  w.Key("attributes");
  w.StartArray();
  Attrs a{w};
  a.str("gen_ai.operation.name", "chat");
  a.str("gen_ai.provider.name", r.provider);
  a.str("gen_ai.request.model", r.model);
  a.str_if("gen_ai.response.model", r.response_model);
  a.str_if("gen_ai.response.id", r.response_id);
  if (!r.finish_reasons.empty()) a.strings("gen_ai.response.finish_reasons", r.finish_reasons);
  if (known(n[LLMSVC_NUM_PROMPT_TOKENS])) {
    a.num("gen_ai.usage.input_tokens", n[LLMSVC_NUM_PROMPT_TOKENS]);
    a.num("gen_ai.usage.output_tokens", n[LLMSVC_NUM_COMPLETION_TOKENS]);
    a.num("gen_ai.usage.cache_read.input_tokens", n[LLMSVC_NUM_CACHED_TOKENS]);
    a.num("gen_ai.usage.cache_creation.input_tokens", n[LLMSVC_NUM_CACHE_WRITE_TOKENS]);
    a.num("gen_ai.usage.reasoning.output_tokens", n[LLMSVC_NUM_REASONING_TOKENS]);
  }
  if (r.max_tokens) a.num("gen_ai.request.max_tokens", *r.max_tokens);
  if (r.temperature) a.real("gen_ai.request.temperature", *r.temperature);
  if (r.top_p) a.real("gen_ai.request.top_p", *r.top_p);
  if (r.frequency_penalty) a.real("gen_ai.request.frequency_penalty", *r.frequency_penalty);
  if (r.presence_penalty) a.real("gen_ai.request.presence_penalty", *r.presence_penalty);
  if (r.seed) a.num("gen_ai.request.seed", *r.seed);
  if (!r.stop.empty()) a.strings("gen_ai.request.stop_sequences", r.stop);
  if (r.n != 1) a.num("gen_ai.request.choice.count", r.n);
  a.boolean("gen_ai.request.stream", r.stream);
  if (r.json_output) a.str("gen_ai.output.type", "json");
  if (r.stream && known(n[LLMSVC_NUM_FIRST_TOKEN_NS]))
    a.real("gen_ai.response.time_to_first_chunk", seconds(n[LLMSVC_NUM_FIRST_TOKEN_NS]));
  a.str_if("server.address", r.server_address);
  if (n[LLMSVC_NUM_SERVER_PORT] > 0) a.num("server.port", n[LLMSVC_NUM_SERVER_PORT]);
  if (*r.error_kind) a.str("error.type", r.error_kind);
  if (r.provider == std::string_view("openai"))
    a.str_if("openai.response.service_tier", r.service_tier);
  a.str_if("llmsvc.operation", r.operation);
  a.str_if("llmsvc.deployment", r.deployment);
  a.num("llmsvc.attempts", n[LLMSVC_NUM_ATTEMPTS]);
  a.real("llmsvc.gate.wait", seconds(n[LLMSVC_NUM_GATE_WAIT_NS]));
  if (known(n[LLMSVC_NUM_COST_NANO_USD])) a.num("llmsvc.cost.nano_usd", n[LLMSVC_NUM_COST_NANO_USD]);
  a.str_if("llmsvc.cache.hit", r.cache_source);
  a.str_if("gen_ai.input.messages", r.input_messages);
  a.str_if("gen_ai.output.messages", r.output_messages);
  a.str_if("gen_ai.system_instructions", r.system_instructions);
  w.EndArray();
  close_span(*r.error_kind != '\0', r.error_message);

  // Its attempts, and the gate waits before them.
  for (size_t i = 0; i < r.attempts.size(); ++i) {
    const OtlpAttempt &t = r.attempts[i];
    const int64_t *an = t.nums;
    const int64_t t0 = start + an[LLMSVC_ATTEMPT_START_NS];
    const int64_t wait = an[LLMSVC_ATTEMPT_GATE_WAIT_NS];
    if (wait >= kGateSpanNs) {
      open_span(hex_id(splitmix(rng_)), request_span, "llmsvc.gate.wait", kSpanKindInternal,
                t0 - wait, t0);
      w.Key("attributes");
      w.StartArray();
      a.num("llmsvc.attempt", int64_t(i));
      w.EndArray();
      close_span(false, {});
    }
    open_span(hex_id(t.span_id ? t.span_id : splitmix(rng_)), request_span, "POST",
              kSpanKindClient, t0, t0 + an[LLMSVC_ATTEMPT_DURATION_NS]);
    w.Key("attributes");
    w.StartArray();
    a.str("http.request.method", "POST");
    if (an[LLMSVC_ATTEMPT_HTTP_STATUS] > 0)
      a.num("http.response.status_code", an[LLMSVC_ATTEMPT_HTTP_STATUS]);
    if (i > 0) a.num("http.request.resend_count", int64_t(i));
    a.str_if("server.address", r.server_address);
    if (n[LLMSVC_NUM_SERVER_PORT] > 0) a.num("server.port", n[LLMSVC_NUM_SERVER_PORT]);
    const bool failed = an[LLMSVC_ATTEMPT_KIND] != LLMSVC_KIND_NONE;
    if (failed) a.str("error.type", llmsvc_error_kind_name(llmsvc_error_kind(an[LLMSVC_ATTEMPT_KIND])));
    a.str_if("llmsvc.deployment", t.deployment);
    a.real("llmsvc.gate.wait", seconds(wait));
    if (an[LLMSVC_ATTEMPT_BACKOFF_SOURCE] != 0) {
      a.real("llmsvc.backoff", seconds(an[LLMSVC_ATTEMPT_BACKOFF_NS]));
      a.str("llmsvc.backoff.source",
            an[LLMSVC_ATTEMPT_BACKOFF_SOURCE] == 2 ? "retry_after" : "client");
    }
    a.str_if("llmsvc.provider.request_id", t.request_id);
    if (known(an[LLMSVC_ATTEMPT_PROMPT_TOKENS])) {
      a.num("gen_ai.usage.input_tokens", an[LLMSVC_ATTEMPT_PROMPT_TOKENS]);
      a.num("gen_ai.usage.output_tokens", an[LLMSVC_ATTEMPT_COMPLETION_TOKENS]);
    }
    if (known(an[LLMSVC_ATTEMPT_COST_NANO_USD]))
      a.num("llmsvc.cost.nano_usd", an[LLMSVC_ATTEMPT_COST_NANO_USD]);
    w.EndArray();
    close_span(failed, {});
  }
}

void OtlpExporter::observe(Metric &m, AttrList attrs, int64_t status_code, double value) {
  std::string key = attr_key(attrs, status_code);
  auto it = m.hist.find(key);
  if (it == m.hist.end()) {
    if (m.hist.size() >= kMaxPoints) {
      attrs = {{"otel.metric.overflow", "true"}};
      status_code = 0;
      key = attr_key(attrs, 0);
      it = m.hist.find(key);
    }
    if (it == m.hist.end()) {
      Histogram h;
      h.attrs = std::move(attrs);
      h.status_code = status_code;
      h.bounds = m.bounds;
      h.counts.assign(m.bounds->size() + 1, 0);
      h.min = h.max = value;
      it = m.hist.emplace(std::move(key), std::move(h)).first;
    }
  }
  Histogram &h = it->second;
  size_t bucket = size_t(std::lower_bound(h.bounds->begin(), h.bounds->end(), value) -
                         h.bounds->begin());  // upper bounds are inclusive
  ++h.counts[bucket];
  ++h.count;
  h.sum += value;
  h.min = std::min(h.min, value);
  h.max = std::max(h.max, value);
  metrics_touched_ = true;
}

void OtlpExporter::add(Metric &m, AttrList attrs, int64_t status_code, int64_t value) {
  std::string key = attr_key(attrs, status_code);
  auto it = m.sums.find(key);
  if (it == m.sums.end()) {
    if (m.sums.size() >= kMaxPoints) {
      attrs = {{"otel.metric.overflow", "true"}};
      status_code = 0;
      key = attr_key(attrs, 0);
      it = m.sums.find(key);
    }
    if (it == m.sums.end()) {
      Counter c;
      c.attrs = std::move(attrs);
      c.status_code = status_code;
      it = m.sums.emplace(std::move(key), std::move(c)).first;
    }
  }
  it->second.value += value;
  metrics_touched_ = true;
}

void OtlpExporter::aggregate(const OtlpRecord &r) {
  const int64_t *n = r.nums;
  AttrList base = {{"gen_ai.operation.name", "chat"},
                   {"gen_ai.provider.name", r.provider},
                   {"gen_ai.request.model", r.model}};
  AttrList full = base;
  if (!r.response_model.empty()) full.emplace_back("gen_ai.response.model", r.response_model);
  if (!r.server_address.empty()) full.emplace_back("server.address", r.server_address);
  if (n[LLMSVC_NUM_SERVER_PORT] > 0)
    full.emplace_back("server.port", std::to_string(n[LLMSVC_NUM_SERVER_PORT]));
  AttrList duration = full;
  if (*r.error_kind) duration.emplace_back("error.type", r.error_kind);
  observe(metrics_[kDuration], duration, 0, seconds(n[LLMSVC_NUM_TOTAL_NS]));
  if (n[LLMSVC_NUM_PROMPT_TOKENS] != LLMSVC_UNKNOWN) {
    AttrList in = full, out = full;
    in.emplace_back("gen_ai.token.type", "input");
    out.emplace_back("gen_ai.token.type", "output");
    observe(metrics_[kTokens], std::move(in), 0, double(n[LLMSVC_NUM_PROMPT_TOKENS]));
    observe(metrics_[kTokens], std::move(out), 0, double(n[LLMSVC_NUM_COMPLETION_TOKENS]));
  }
  if (r.stream && n[LLMSVC_NUM_FIRST_TOKEN_NS] != LLMSVC_UNKNOWN)
    observe(metrics_[kFirstChunk], duration, 0, seconds(n[LLMSVC_NUM_FIRST_TOKEN_NS]));
  for (const OtlpAttempt &t : r.attempts) {
    AttrList attempt = base;
    if (t.nums[LLMSVC_ATTEMPT_KIND] != LLMSVC_KIND_NONE)
      attempt.emplace_back("error.type",
                           llmsvc_error_kind_name(llmsvc_error_kind(t.nums[LLMSVC_ATTEMPT_KIND])));
    add(metrics_[kAttempts], std::move(attempt), t.nums[LLMSVC_ATTEMPT_HTTP_STATUS], 1);
    observe(metrics_[kGateWait], base, 0, seconds(t.nums[LLMSVC_ATTEMPT_GATE_WAIT_NS]));
    if (t.nums[LLMSVC_ATTEMPT_BACKOFF_SOURCE] != 0) {
      AttrList backoff = base;
      backoff.emplace_back("llmsvc.backoff.source",
                           t.nums[LLMSVC_ATTEMPT_BACKOFF_SOURCE] == 2 ? "retry_after" : "client");
      observe(metrics_[kBackoff], std::move(backoff), 0, seconds(t.nums[LLMSVC_ATTEMPT_BACKOFF_NS]));
    }
  }
  if (n[LLMSVC_NUM_COST_NANO_USD] != LLMSVC_UNKNOWN && n[LLMSVC_NUM_COST_NANO_USD] > 0) {
    AttrList cost = base;
    if (!r.operation.empty()) cost.emplace_back("llmsvc.operation", r.operation);
    add(metrics_[kCost], std::move(cost), 0, n[LLMSVC_NUM_COST_NANO_USD]);
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
    if (m.hist.empty() && m.sums.empty()) continue;
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
      for (const auto &[key, h] : m.hist) {
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
        for (double d : *h.bounds) w.Double(d);
        w.EndArray();
        w.EndObject();
      }
    } else {
      for (const auto &[key, c] : m.sums) {
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
