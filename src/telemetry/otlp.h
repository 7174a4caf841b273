// The OTLP/HTTP exporter (JSON encoding): GenAI spans and metrics of every completed request
// (docs/telemetry.md). The engine thread hands over one record per request and never waits:
// a bounded queue, drained by the exporter's own thread, which encodes, aggregates the
// metrics and sends over libcurl. What does not fit in the queue is dropped and counted.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "llmsvc.h"
#include "telemetry/otlp_config.h"

namespace llmsvc {

/// A piece of a record's text.
struct OtlpText {
  uint32_t at = 0, len = 0;
};

/// One attempt of a request, as telemetry reports it.
struct OtlpAttempt {
  int64_t nums[LLMSVC_ATTEMPT_COUNT] = {};
  uint64_t span_id = 0;  // sent to the provider in its traceparent
  OtlpText deployment, request_id;
  const std::string *server_address = nullptr;  // its deployment's (outlives the record)
  int server_port = 0;
};

/// Everything telemetry reports of one completed request. Its strings live in one buffer
/// (`text`): a record is made on the engine thread and freed on the exporter's, and one
/// buffer is one allocation to hand over instead of a dozen.
struct OtlpRecord {
  int64_t end_unix_ns = 0;  // completion, wall clock
  int64_t nums[LLMSVC_NUM_COUNT] = {};
  const char *provider = "";      // static strings
  const char *error_kind = "";    // "" on success
  const char *cache_source = "";  // "" unless served from the cache
  std::string text;
  OtlpText model, response_model, response_id, operation, deployment, server_address,
      service_tier, error_message, tracestate;
  OtlpText finish_reasons, stop;  // lists: each entry ends with a NUL
  std::vector<OtlpAttempt> attempts;
  // The request's parameters (those given).
  std::optional<int64_t> max_tokens, seed;
  std::optional<double> temperature, top_p, frequency_penalty, presence_penalty;
  int64_t n = 1;
  bool stream = false;
  bool json_output = false;
  // Trace context: the request span's ids, its parent's (0: a root span).
  uint64_t trace_hi = 0, trace_lo = 0, span_id = 0, parent_span_id = 0;
  bool sampled = true;
  // Opt-in content: gen_ai.input.messages / gen_ai.output.messages /
  // gen_ai.system_instructions, JSON text.
  OtlpText input_messages, output_messages, system_instructions;

  OtlpText put(std::string_view s) {
    OtlpText t{uint32_t(text.size()), uint32_t(s.size())};
    text.append(s.data(), s.size());
    return t;
  }
  OtlpText put_list(const std::vector<std::string> &items) {
    OtlpText t{uint32_t(text.size()), 0};
    for (const std::string &i : items) {
      text.append(i);
      text.push_back('\0');
    }
    t.len = uint32_t(text.size()) - t.at;
    return t;
  }
  std::string_view get(OtlpText t) const { return std::string_view(text).substr(t.at, t.len); }
  std::vector<std::string> list(OtlpText t) const {
    std::vector<std::string> out;
    std::string_view all = get(t);
    for (size_t i = 0; i < all.size();) {
      size_t end = all.find('\0', i);
      out.emplace_back(all.substr(i, end - i));
      i = end + 1;
    }
    return out;
  }
};

class OtlpExporter {
 public:
  /// Starts the exporter's thread. Throws std::runtime_error when libcurl cannot be set up.
  explicit OtlpExporter(const OtlpConfig &config);
  /// Flushes what is queued and the metrics (bounded by the configured timeout), then stops.
  ~OtlpExporter();
  OtlpExporter(const OtlpExporter &) = delete;
  OtlpExporter &operator=(const OtlpExporter &) = delete;

  const OtlpConfig &config() const { return config_; }
  bool traces() const { return !config_.traces_url.empty(); }

  /// Sends what is queued and the metrics, then stops the thread (bounded by the
  /// configured timeout). Called by the engine thread once every request has completed;
  /// records after it are dropped.
  void stop();

  /// Hands over one request (engine thread). Never blocks on the network. When the queue
  /// is full its spans are dropped and counted; its metrics are aggregated here instead.
  void record(OtlpRecord &&r);

  struct Stats {
    int64_t recorded = 0;       // requests handed over
    int64_t dropped = 0;        // requests whose spans were dropped (the queue was full)
    int64_t requests_sent = 0;  // requests whose spans the receiver accepted
    int64_t exports_failed = 0; // exports (trace or metric) that failed for good
  };
  Stats stats() const;

 private:
  using AttrList = std::vector<std::pair<std::string, std::string>>;
  struct Metric {
    struct Point {
      AttrList attrs;           // string attributes
      int64_t status_code = 0;  // http.response.status_code when > 0 (attempts)
      std::vector<uint64_t> counts;  // histograms: per bucket
      uint64_t count = 0;
      double sum = 0, min = 0, max = 0;
      int64_t value = 0;  // counters
    };
    const char *name, *unit, *description;
    bool histogram;
    const std::vector<double> *bounds;
    std::unordered_map<std::string, Point> points;  // by the values of its attributes
  };

  void run();
  void aggregate(const OtlpRecord &r);
  Metric::Point &point(Metric &m, const std::string &key,
                       const std::function<AttrList()> &attrs, int64_t status_code);
  void observe(Metric &m, const std::string &key, const std::function<AttrList()> &attrs,
               int64_t status_code, double value);
  void add(Metric &m, const std::string &key, const std::function<AttrList()> &attrs,
           int64_t status_code, int64_t value);
  void encode_spans(const OtlpRecord &r, std::string &out);
  std::string traces_document(const std::string &spans) const;
  std::string metrics_document(int64_t now_unix_ns) const;
  bool post(const std::string &url, const std::vector<std::pair<std::string, std::string>> &headers,
            const std::string &body, int64_t deadline_ns);
  void write_resource(std::string &out) const;

  const OtlpConfig config_;
  void *curl_ = nullptr;  // CURL*, the exporter thread's

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<OtlpRecord> queue_;
  bool stopping_ = false;
  Stats stats_;

  // The metrics, aggregated by the exporter's thread, and by the engine's for a request
  // that found the queue full (its spans are dropped, its metrics never).
  std::mutex metrics_mu_;
  std::vector<Metric> metrics_;
  bool metrics_touched_ = false;
  int64_t start_unix_ns_ = 0;
  // Exporter thread only.
  uint64_t rng_ = 0;
  std::thread thread_;
};

/// A W3C traceparent "00-<trace>-<span>-<flags>" for the given ids.
std::string format_traceparent(uint64_t trace_hi, uint64_t trace_lo, uint64_t span_id,
                               bool sampled);
/// Reads a traceparent (already checked for its form); false when it does not parse.
bool parse_traceparent(const std::string &t, uint64_t &trace_hi, uint64_t &trace_lo,
                       uint64_t &span_id, bool &sampled);

}  // namespace llmsvc
