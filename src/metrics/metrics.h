// Everything the engine counts: live rates, latency and overhead histograms, attempts,
// retries, backoff, errors by kind, gate waits, and the usage and cost ledger per model
// and per operation. Owned and written by the engine thread only; a snapshot is taken
// there too, so it is consistent without locks.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/json.h"
#include "gates/gates.h"
#include "llmsvc.h"
#include "metrics/histogram.h"
#include "metrics/prometheus.h"
#include "metrics/rate_window.h"
#include "usage/prices.h"

namespace llmsvc {

constexpr int kKindCount = LLMSVC_KIND_LOAD_SHED + 1;  // the last kind + 1

struct UsageTotals {
  int64_t requests = 0;
  int64_t succeeded = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t reasoning_tokens = 0;
  int64_t cost_pico = 0;        // over the requests with a known price
  int64_t priced = 0;           // requests with usage and a known price
  int64_t unpriced = 0;         // requests with usage but no known price
};

/// What the engine knows of one finished request, for the ledger.
struct CompletedRecord {
  llmsvc_error_kind kind = LLMSVC_KIND_NONE;
  const std::string *model = nullptr;
  const std::string *operation = nullptr;
  bool has_usage = false;
  TokenUsage usage;
  int64_t cost_pico = -1;  // -1: unknown
  int64_t latency_ns = 0;
  int64_t overhead_ns = 0;
};

/// Gauges the engine reads at snapshot time.
struct EngineGauges {
  int64_t queued = 0;
  int64_t backing_off = 0;
  int64_t in_flight = 0;
  int64_t queued_by_priority[3] = {0, 0, 0};
};

class Metrics {
 public:
  void submitted() { ++submitted_; }
  void gate_wait_started(GateReason r) { ++waits_by_reason_[size_t(r)]; }
  void admitted(int64_t waited_ns) { queue_wait_.record(waited_ns); }
  void attempt_sent(int64_t now, int64_t prompt_tokens);
  /// An attempt ended: kind NONE for success. Latency is the attempt's own.
  void attempt_done(int64_t now, llmsvc_error_kind kind, int64_t latency_ns,
                    int64_t completion_tokens);
  void backoff(int64_t wait_ns, bool server_asked);
  /// A stream's first text, `ns` after its attempt started.
  void first_token(int64_t ns) { first_token_.record(ns); }
  void completed(const CompletedRecord &r);
  /// The engine caught an exception it could not attribute to a request.
  void internal_error() { ++internal_errors_; }
  /// libcurl sent a request again on a fresh connection (the attempt is counted too).
  void resent_by_transport() { ++transport_resends_; }

  /// Writes the snapshot object's members (the caller opens and closes the object).
  void write(JsonWriter &w, int64_t now, const EngineGauges &g, Gates &gates) const;
  /// The same snapshot in the Prometheus text format (docs/schema.md, "Prometheus").
  void write_prometheus(PromText &t, int64_t now, const EngineGauges &g, Gates &gates) const;

  static constexpr size_t kMaxLedgerKeys = 1024;

 private:
  static void write_usage(JsonWriter &w, const UsageTotals &u);
  /// A histogram of nanoseconds in units of `unit_ns` (1e6: milliseconds).
  static void write_histogram(JsonWriter &w, const Histogram &h, double unit_ns);
  static void add_to(UsageTotals &u, const CompletedRecord &r);
  /// One usage ledger (by model or by operation) as Prometheus families.
  struct LedgerNames {
    const char *requests, *tokens, *cost, *unpriced;
  };
  static void write_ledger_prometheus(PromText &t, const LedgerNames &names, const char *label,
                                      const std::unordered_map<std::string, UsageTotals> &m);
  void add_usage(std::unordered_map<std::string, UsageTotals> &m, const std::string &key,
                 const CompletedRecord &r);

  int64_t submitted_ = 0;
  int64_t completed_ = 0;
  int64_t succeeded_ = 0;
  int64_t attempts_ = 0;
  int64_t retries_ = 0;
  int64_t backoff_client_ns_ = 0;
  int64_t backoff_server_ns_ = 0;
  int64_t backoffs_client_ = 0;
  int64_t backoffs_server_ = 0;
  int64_t internal_errors_ = 0;
  int64_t transport_resends_ = 0;
  std::array<int64_t, kKindCount> attempt_errors_{};
  std::array<int64_t, kKindCount> failures_{};
  std::array<int64_t, size_t(GateReason::kCircuitOpen) + 1> waits_by_reason_{};
  mutable RateWindow requests_sent_;
  mutable RateWindow tokens_sent_;
  mutable RateWindow responses_;
  mutable RateWindow tokens_received_;
  Histogram latency_;
  Histogram attempt_latency_;
  Histogram queue_wait_;
  Histogram overhead_;
  Histogram first_token_;
  UsageTotals total_;
  std::unordered_map<std::string, UsageTotals> by_model_;
  std::unordered_map<std::string, UsageTotals> by_operation_;
};

}  // namespace llmsvc
