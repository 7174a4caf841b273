// The metrics snapshot in the Prometheus text format. Counters and histograms mirror the
// JSON snapshot written by Metrics::write, with Prometheus names and units (seconds, USD).
#include <algorithm>
#include <utility>
#include <vector>

#include "metrics/metrics.h"

namespace llmsvc {

namespace {

constexpr double kNsPerSecond = 1e9;
constexpr double kPicoPerUsd = 1e12;

// Request, attempt, wait and first-token durations: 100 us to 500 s.
const PromBuckets &duration_buckets() {
  static const PromBuckets b(100'000, 500'000'000'000);
  return b;
}

// Time spent inside llmsvc per request: 1 us to 50 ms.
const PromBuckets &overhead_buckets() {
  static const PromBuckets b(1'000, 50'000'000);
  return b;
}

void counter(PromText &t, const char *name, const char *help, int64_t v) {
  t.family(name, "counter", help);
  t.sample(name, {}, v);
}

void gauge(PromText &t, const char *name, const char *help, int64_t v) {
  t.family(name, "gauge", help);
  t.sample(name, {}, v);
}

void histogram(PromText &t, const char *name, const char *help, const Histogram &h,
               const PromBuckets &b) {
  t.family(name, "histogram", help);
  t.histogram(name, {}, h, b.edges, b.size);
}

void by_kind(PromText &t, const char *name, const char *help,
             const std::array<int64_t, kKindCount> &counts) {
  t.family(name, "counter", help);
  // Every kind, zeros included, so that rate() and alerts see a series from the start.
  for (int k = 1; k < kKindCount; ++k)
    t.sample(name, {{"kind", llmsvc_error_kind_name(k)}}, counts[size_t(k)]);
}

}  // namespace

void Metrics::write_ledger_prometheus(PromText &t, const LedgerNames &names, const char *label,
                                      const std::unordered_map<std::string, UsageTotals> &m) {
  // Sorted, so that the text is stable from one scrape to the next.
  std::vector<const std::pair<const std::string, UsageTotals> *> rows;
  rows.reserve(m.size());
  for (const auto &row : m) rows.push_back(&row);
  std::sort(rows.begin(), rows.end(), [](auto *a, auto *b) { return a->first < b->first; });
  // A `deployment` label would join `label` in each series below once the ledger keys its
  // rows by deployment as well.
  const char *name = names.requests;
  t.family(name, "counter", std::string("Completed requests by ") + label + " and outcome.");
  for (auto *r : rows) {
    t.sample(name, {{label, r->first}, {"outcome", "succeeded"}}, r->second.succeeded);
    t.sample(name, {{label, r->first}, {"outcome", "failed"}},
             r->second.requests - r->second.succeeded);
  }

  name = names.tokens;
  t.family(name, "counter",
           std::string("Tokens used by ") + label +
               ", as the provider reported them (cached and reasoning tokens are part of "
               "prompt and completion).");
  for (auto *r : rows) {
    const UsageTotals &u = r->second;
    const std::pair<const char *, int64_t> types[] = {{"prompt", u.prompt_tokens},
                                                      {"completion", u.completion_tokens},
                                                      {"cached", u.cached_tokens},
                                                      {"reasoning", u.reasoning_tokens}};
    for (auto &[type, n] : types) t.sample(name, {{label, r->first}, {"type", type}}, n);
  }

  name = names.cost;
  t.family(name, "counter",
           std::string("Cost in USD of the priced requests by ") + label +
               " (absent while none was priced).");
  for (auto *r : rows) {
    const UsageTotals &u = r->second;
    if (u.priced == 0 && u.unpriced > 0) continue;  // unknown, never zero
    t.sample(name, {{label, r->first}}, double(u.cost_pico) / kPicoPerUsd);
  }

  name = names.unpriced;
  t.family(name, "counter",
           std::string("Requests with usage but no known price, by ") + label + ".");
  for (auto *r : rows) t.sample(name, {{label, r->first}}, r->second.unpriced);
}

void Metrics::write_prometheus(PromText &t, int64_t now, const EngineGauges &g,
                               Gates &gates) const {
  counter(t, "llmsvc_requests_submitted_total", "Requests accepted by submit.", submitted_);
  t.family("llmsvc_requests_total", "counter", "Completed requests by outcome.");
  t.sample("llmsvc_requests_total", {{"outcome", "succeeded"}}, succeeded_);
  t.sample("llmsvc_requests_total", {{"outcome", "failed"}}, completed_ - succeeded_);
  by_kind(t, "llmsvc_failures_total", "Failed requests by error kind (final outcomes).",
          failures_);
  counter(t, "llmsvc_internal_errors_total",
          "Exceptions the engine caught that belong to no request (0 unless llmsvc has a bug).",
          internal_errors_);
  counter(t, "llmsvc_transport_resends_total",
          "Requests libcurl sent again on a fresh connection after the reused one died before "
          "any reply byte (each also counted as an attempt).",
          transport_resends_);

  t.family("llmsvc_requests_queued", "gauge", "Requests waiting at the gates, by priority.");
  const char *const priorities[] = {"high", "normal", "low"};
  for (int i = 0; i < 3; ++i)
    t.sample("llmsvc_requests_queued", {{"priority", priorities[i]}}, g.queued_by_priority[i]);
  gauge(t, "llmsvc_requests_backing_off", "Requests waiting to retry.", g.backing_off);
  gauge(t, "llmsvc_requests_in_flight", "Requests sent and not answered yet.", g.in_flight);

  counter(t, "llmsvc_attempts_total", "Attempts sent to the provider, retries included.",
          attempts_);
  counter(t, "llmsvc_retries_total", "Attempts scheduled again after a failed one.", retries_);
  by_kind(t, "llmsvc_attempt_errors_total", "Failed attempts by error kind.", attempt_errors_);
  t.family("llmsvc_backoff_seconds_total", "counter",
           "Time spent waiting to retry, by who chose the wait (client backoff or the "
           "server's retry-after).");
  t.sample("llmsvc_backoff_seconds_total", {{"source", "client"}},
           double(backoff_client_ns_) / kNsPerSecond);
  t.sample("llmsvc_backoff_seconds_total", {{"source", "server"}},
           double(backoff_server_ns_) / kNsPerSecond);
  t.family("llmsvc_backoffs_total", "counter", "Backoffs by who chose the wait.");
  t.sample("llmsvc_backoffs_total", {{"source", "client"}}, backoffs_client_);
  t.sample("llmsvc_backoffs_total", {{"source", "server"}}, backoffs_server_);

  t.family("llmsvc_gate_waits_total", "counter",
           "How often the head of the queue had to wait, by the gate that held it.");
  for (GateReason r : {GateReason::kRequests, GateReason::kTokens, GateReason::kInputTokens,
                       GateReason::kOutputTokens, GateReason::kConcurrency, GateReason::kPaused,
                       GateReason::kCircuitOpen})
    t.sample("llmsvc_gate_waits_total", {{"gate", gate_reason_name(r)}},
             waits_by_reason_[size_t(r)]);
  const Limits &l = gates.limits();
  t.family("llmsvc_gate_limit", "gauge",
           "Configured limits: rpm, tpm, itpm, otpm per minute, concurrency in requests "
           "(0: unlimited).");
  const std::pair<const char *, int64_t> limits[] = {{"rpm", l.rpm},
                                                     {"tpm", l.tpm},
                                                     {"itpm", l.itpm},
                                                     {"otpm", l.otpm},
                                                     {"concurrency", l.concurrency}};
  for (auto &[name, v] : limits) t.sample("llmsvc_gate_limit", {{"limit", name}}, v);
  t.family("llmsvc_gate_window_seconds", "gauge", "The provider's counting window.");
  t.sample("llmsvc_gate_window_seconds", {}, double(l.window_ms) / 1000.0);
  const std::pair<const char *, int64_t> used[] = {
      {"rpm", gates.requests_used(now)},
      {"tpm", gates.tokens_used(now)},
      {"itpm", gates.input_tokens_used(now)},
      {"otpm", gates.output_tokens_used(now)}};
  t.family("llmsvc_gate_window_used", "gauge",
           "Requests (rpm) or tokens (tpm, itpm, otpm) counted in the current window.");
  for (auto &[name, v] : used) t.sample("llmsvc_gate_window_used", {{"gate", name}}, v);
  // The windows beside the per-minute ones (rpd, tpd, "windows"), by their length.
  const std::vector<Gates::WindowUse> extra = gates.windows_used(now);
  auto seconds_of = [](int64_t ms) {  // "86400", "0.5"
    std::string secs = std::to_string(double(ms) / 1000.0);
    secs.erase(secs.find_last_not_of('0') + 1);
    if (secs.back() == '.') secs.pop_back();
    return secs;
  };
  for (const Gates::WindowUse &u : extra) {
    const std::string secs = seconds_of(u.window_ms);
    t.sample("llmsvc_gate_window_used", {{"gate", "requests"}, {"window_seconds", secs}},
             u.requests_used);
    t.sample("llmsvc_gate_window_used", {{"gate", "tokens"}, {"window_seconds", secs}},
             u.tokens_used);
  }
  const std::pair<const char *, int64_t> caps[] = {{"rpm", gates.request_cap()},
                                                   {"tpm", gates.token_cap()},
                                                   {"itpm", gates.input_token_cap()},
                                                   {"otpm", gates.output_token_cap()}};
  t.family("llmsvc_gate_window_cap", "gauge", "The allowance of one window (0: unlimited).");
  for (auto &[name, v] : caps) t.sample("llmsvc_gate_window_cap", {{"gate", name}}, v);
  for (const Gates::WindowUse &u : extra) {
    const std::string secs = seconds_of(u.window_ms);
    t.sample("llmsvc_gate_window_cap", {{"gate", "requests"}, {"window_seconds", secs}},
             u.request_cap);
    t.sample("llmsvc_gate_window_cap", {{"gate", "tokens"}, {"window_seconds", secs}},
             u.token_cap);
  }
  t.family("llmsvc_gate_paused_seconds", "gauge",
           "How much longer admission is paused by a 429's retry-after.");
  t.sample("llmsvc_gate_paused_seconds", {},
           gates.paused_until() > now ? double(gates.paused_until() - now) / kNsPerSecond : 0.0);

  histogram(t, "llmsvc_request_duration_seconds", "Requests from submit to completion.",
            latency_, duration_buckets());
  histogram(t, "llmsvc_attempt_duration_seconds", "Attempts from send to answer.",
            attempt_latency_, duration_buckets());
  histogram(t, "llmsvc_gate_wait_seconds", "Time from queueing to admission.", queue_wait_,
            duration_buckets());
  histogram(t, "llmsvc_first_token_seconds",
            "Streams: from an attempt's start to its first text.", first_token_,
            duration_buckets());
  histogram(t, "llmsvc_overhead_seconds",
            "Time spent inside llmsvc per request, network excluded.", overhead_,
            overhead_buckets());

  // The model's names are the plain ones: sum() over either ledger gives the same totals,
  // and the ledger keeps no model x operation rows to put both labels on one series.
  write_ledger_prometheus(t,
                          {"llmsvc_model_requests_total", "llmsvc_tokens_total",
                           "llmsvc_cost_usd_total", "llmsvc_unpriced_requests_total"},
                          "model", by_model_);
  write_ledger_prometheus(t,
                          {"llmsvc_operation_requests_total", "llmsvc_operation_tokens_total",
                           "llmsvc_operation_cost_usd_total",
                           "llmsvc_operation_unpriced_requests_total"},
                          "operation", by_operation_);
}

}  // namespace llmsvc
