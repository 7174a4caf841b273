#include "metrics/metrics.h"

namespace llmsvc {

void Metrics::attempt_sent(int64_t now, int64_t prompt_tokens) {
  ++attempts_;
  requests_sent_.add(now, 1);
  tokens_sent_.add(now, prompt_tokens);
}

void Metrics::attempt_done(int64_t now, llmsvc_error_kind kind, int64_t latency_ns,
                           int64_t completion_tokens) {
  attempt_latency_.record(latency_ns);
  responses_.add(now, 1);
  if (completion_tokens > 0) tokens_received_.add(now, completion_tokens);
  if (kind != LLMSVC_KIND_NONE) ++attempt_errors_[size_t(kind)];
}

void Metrics::backoff(int64_t wait_ns, bool server_asked) {
  ++retries_;
  if (server_asked) {
    ++backoffs_server_;
    backoff_server_ns_ += wait_ns;
  } else {
    ++backoffs_client_;
    backoff_client_ns_ += wait_ns;
  }
}

void Metrics::add_usage(std::unordered_map<std::string, UsageTotals> &m, const std::string &key,
                        const CompletedRecord &r) {
  auto it = m.find(key);
  if (it == m.end()) {
    // Bounded however many distinct names callers invent.
    it = m.size() < kMaxLedgerKeys ? m.emplace(key, UsageTotals{}).first
                                   : m.emplace("(other)", UsageTotals{}).first;
  }
  add_to(it->second, r);
}

void Metrics::add_to(UsageTotals &u, const CompletedRecord &r) {
  ++u.requests;
  if (r.kind == LLMSVC_KIND_NONE) ++u.succeeded;
  if (!r.has_usage) return;
  u.prompt_tokens += r.usage.prompt;
  u.completion_tokens += r.usage.completion;
  u.cached_tokens += r.usage.cached;
  u.reasoning_tokens += r.usage.reasoning;
  if (r.cost_pico >= 0) {
    u.cost_pico += r.cost_pico;
    ++u.priced;
  } else {
    ++u.unpriced;
  }
}

void Metrics::completed(const CompletedRecord &r) {
  ++completed_;
  if (r.kind == LLMSVC_KIND_NONE) ++succeeded_;
  else ++failures_[size_t(r.kind)];
  latency_.record(r.latency_ns);
  overhead_.record(r.overhead_ns);
  static const std::string kNone = "(none)";
  add_usage(by_model_, r.model ? *r.model : kNone, r);
  add_usage(by_operation_, r.operation ? *r.operation : kNone, r);
  add_to(total_, r);
}

void Metrics::write_usage(JsonWriter &w, const UsageTotals &u) {
  w.StartObject();
  w.Key("requests");
  w.Int64(u.requests);
  w.Key("succeeded");
  w.Int64(u.succeeded);
  w.Key("prompt_tokens");
  w.Int64(u.prompt_tokens);
  w.Key("completion_tokens");
  w.Int64(u.completion_tokens);
  w.Key("cached_tokens");
  w.Int64(u.cached_tokens);
  w.Key("reasoning_tokens");
  w.Int64(u.reasoning_tokens);
  w.Key("total_tokens");
  w.Int64(u.prompt_tokens + u.completion_tokens);
  // Unknown, never zero, when nothing was priced; the known part plus a count otherwise.
  w.Key("cost_nano_usd");
  if (u.priced == 0 && u.unpriced > 0) w.Null();
  else w.Int64(u.cost_pico / 1000);
  w.Key("unpriced_requests");
  w.Int64(u.unpriced);
  w.EndObject();
}

void Metrics::write_histogram(JsonWriter &w, const Histogram &h, double unit_ns) {
  w.StartObject();
  w.Key("count");
  w.Uint64(h.count());
  const std::pair<const char *, double> qs[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}};
  for (auto &[name, q] : qs) {
    w.Key(name);
    w.Double(double(h.quantile(q)) / unit_ns);
  }
  w.Key("max");
  w.Double(double(h.max()) / unit_ns);
  w.Key("mean");
  w.Double(h.count() ? double(h.sum()) / double(h.count()) / unit_ns : 0.0);
  w.EndObject();
}

void Metrics::write(JsonWriter &w, int64_t now, const EngineGauges &g, Gates &gates) const {
  w.Key("requests");
  w.StartObject();
  w.Key("submitted");
  w.Int64(submitted_);
  w.Key("completed");
  w.Int64(completed_);
  w.Key("succeeded");
  w.Int64(succeeded_);
  w.Key("failed");
  w.Int64(completed_ - succeeded_);
  w.Key("queued");
  w.Int64(g.queued);
  w.Key("backing_off");
  w.Int64(g.backing_off);
  w.Key("in_flight");
  w.Int64(g.in_flight);
  w.Key("queued_by_priority");
  w.StartObject();
  w.Key("high");
  w.Int64(g.queued_by_priority[0]);
  w.Key("normal");
  w.Int64(g.queued_by_priority[1]);
  w.Key("low");
  w.Int64(g.queued_by_priority[2]);
  w.EndObject();
  w.EndObject();

  w.Key("rates");
  w.StartObject();
  w.Key("requests_sent_per_minute");
  w.Int64(requests_sent_.last_minute(now));
  w.Key("tokens_sent_per_minute");
  w.Int64(tokens_sent_.last_minute(now));
  w.Key("responses_per_minute");
  w.Int64(responses_.last_minute(now));
  w.Key("tokens_received_per_minute");
  w.Int64(tokens_received_.last_minute(now));
  w.EndObject();

  w.Key("gates");
  w.StartObject();
  const Limits &l = gates.limits();
  w.Key("limits");
  w.StartObject();
  w.Key("rpm");
  w.Int64(l.rpm);
  w.Key("tpm");
  w.Int64(l.tpm);
  w.Key("itpm");
  w.Int64(l.itpm);
  w.Key("otpm");
  w.Int64(l.otpm);
  w.Key("concurrency");
  w.Int64(l.concurrency);
  w.Key("window_ms");
  w.Int64(l.window_ms);
  w.EndObject();
  w.Key("window_requests_used");
  w.Int64(gates.requests_used(now));
  w.Key("window_requests_cap");
  w.Int64(gates.request_cap());
  w.Key("window_tokens_used");
  w.Int64(gates.tokens_used(now));
  w.Key("window_tokens_cap");
  w.Int64(gates.token_cap());
  w.Key("window_input_tokens_used");
  w.Int64(gates.input_tokens_used(now));
  w.Key("window_input_tokens_cap");
  w.Int64(gates.input_token_cap());
  w.Key("window_output_tokens_used");
  w.Int64(gates.output_tokens_used(now));
  w.Key("window_output_tokens_cap");
  w.Int64(gates.output_token_cap());
  if (!gates.limits().windows.empty()) {
    // The windows beside the per-minute ones (rpd, tpd, "windows").
    w.Key("windows");
    w.StartArray();
    for (const Gates::WindowUse &u : gates.windows_used(now)) {
      w.StartObject();
      w.Key("window_ms");
      w.Int64(u.window_ms);
      w.Key("requests_used");
      w.Int64(u.requests_used);
      w.Key("requests_cap");
      w.Int64(u.request_cap);
      w.Key("tokens_used");
      w.Int64(u.tokens_used);
      w.Key("tokens_cap");
      w.Int64(u.token_cap);
      w.EndObject();
    }
    w.EndArray();
  }
  w.Key("paused_for_ms");
  w.Int64(gates.paused_until() > now ? (gates.paused_until() - now) / kNsPerMs : 0);
  w.Key("waits");
  w.StartObject();
  for (GateReason r : {GateReason::kRequests, GateReason::kTokens, GateReason::kInputTokens,
                       GateReason::kOutputTokens, GateReason::kConcurrency, GateReason::kPaused,
                       GateReason::kCircuitOpen}) {
    w.Key(gate_reason_name(r));
    w.Int64(waits_by_reason_[size_t(r)]);
  }
  w.EndObject();
  w.Key("wait_ms");
  write_histogram(w, queue_wait_, 1e6);
  w.EndObject();
  gates.write_shared(w, now);

  w.Key("attempts");
  w.StartObject();
  w.Key("total");
  w.Int64(attempts_);
  w.Key("retries");
  w.Int64(retries_);
  w.Key("backoff_client_ms");
  w.Int64(backoff_client_ns_ / kNsPerMs);
  w.Key("backoff_server_ms");
  w.Int64(backoff_server_ns_ / kNsPerMs);
  w.Key("backoffs_client");
  w.Int64(backoffs_client_);
  w.Key("backoffs_server");
  w.Int64(backoffs_server_);
  w.Key("errors_by_kind");
  w.StartObject();
  for (int k = 1; k < kKindCount; ++k) {
    if (!attempt_errors_[size_t(k)]) continue;
    w.Key(llmsvc_error_kind_name(k));
    w.Int64(attempt_errors_[size_t(k)]);
  }
  w.EndObject();
  w.Key("latency_ms");
  write_histogram(w, attempt_latency_, 1e6);
  w.EndObject();

  w.Key("failures_by_kind");
  w.StartObject();
  for (int k = 1; k < kKindCount; ++k) {
    if (!failures_[size_t(k)]) continue;
    w.Key(llmsvc_error_kind_name(k));
    w.Int64(failures_[size_t(k)]);
  }
  w.EndObject();
  w.Key("internal_errors");
  w.Int64(internal_errors_);
  w.Key("transport_resends");
  w.Int64(transport_resends_);
  w.Key("latency_ms");
  write_histogram(w, latency_, 1e6);
  w.Key("overhead_us");
  write_histogram(w, overhead_, 1e3);
  w.Key("first_token_ms");
  write_histogram(w, first_token_, 1e6);

  w.Key("usage");
  w.StartObject();
  w.Key("total");
  write_usage(w, total_);
  w.Key("by_model");
  w.StartObject();
  for (const auto &[k, u] : by_model_) {
    write_key(w, k);
    write_usage(w, u);
  }
  w.EndObject();
  w.Key("by_operation");
  w.StartObject();
  for (const auto &[k, u] : by_operation_) {
    write_key(w, k);
    write_usage(w, u);
  }
  w.EndObject();
  w.EndObject();
}

}  // namespace llmsvc
