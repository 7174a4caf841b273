// The engine's telemetry: the Prometheus text of its snapshot and the endpoint serving it,
// and what the OTLP exporter gets of each request (trace context, its record).
// Kept apart from engine.cpp: only the snapshot itself runs on the engine thread.
#include <algorithm>

#include "capi/result.h"
#include "common/alloc.h"
#include "engine/engine.h"
#include "telemetry/otlp.h"

namespace llmsvc {

void Engine::start_telemetry() {
  const TelemetryConfig &t = config_.telemetry;
  if (!t.enabled()) return;
  try {
    int port = t.prometheus_port == TelemetryConfig::kAutoPort ? 0 : int(t.prometheus_port);
    telemetry_ = std::make_unique<MetricsServer>(t.prometheus_host, port);
    telemetry_->start([this] { return metrics_prometheus(); });
  } catch (...) {
    // The engine thread runs already: undo what the destructor would, then fail.
    close();
    for (auto &d : deps_) d->idle.clear();
    close_shards();
    close_loop();
    throw;
  }
}

std::string Engine::metrics_prometheus() {
  std::string out;
  run_on_engine([&] { out = prometheus_snapshot(clock_.steady_ns()); });
  return out;
}

std::string Engine::prometheus_snapshot(int64_t now) {
  PromText t;
  t.family("llmsvc_info", "gauge", "The library's version, provider and allocator (always 1).");
  t.sample("llmsvc_info",
           {{"version", LLMSVC_VERSION_STRING},
            {"provider", deps_[0]->provider->name()},
            {"allocator", allocator().name}},
           int64_t(1));
  metrics_.write_prometheus(t, now, gauges(), deps_[0]->gates);  // the first's gates
  if (cache_) write_cache_prometheus(t);
  if (deps_[0]->breaker.enabled()) deps_[0]->breaker.write_prometheus(t);
  write_deployments_prometheus(t, now);
  if (!budgets_.empty()) budgets_.write_prometheus(t, now);
  if (otlp_) {
    // The OTLP exporter's own health: telemetry that could not be sent is visible here.
    OtlpExporter::Stats s = otlp_->stats();
    auto counter = [&](const char *name, const char *help, int64_t v) {
      t.family(name, "counter", help);
      t.sample(name, {}, v);
    };
    counter("llmsvc_otlp_recorded_total", "Requests handed to the OTLP exporter.", s.recorded);
    counter("llmsvc_otlp_dropped_total", "Requests the OTLP exporter dropped (its queue was full).",
            s.dropped);
    counter("llmsvc_otlp_requests_sent_total",
            "Requests whose spans the OTLP collector accepted.", s.requests_sent);
    counter("llmsvc_otlp_exports_failed_total", "OTLP exports given up after their retries.",
            s.exports_failed);
  }
  return t.take();
}

void Engine::write_cache_prometheus(PromText &t) const {
  const CacheCounters &c = cache_counters_;
  auto counter = [&](const char *name, const char *help, int64_t v) {
    t.family(name, "counter", help);
    t.sample(name, {}, v);
  };
  counter("llmsvc_cache_lookups_total", "Cacheable requests looked up in the cache.",
          c.lookups);
  t.family("llmsvc_cache_hits_total", "counter",
           "Requests answered without a provider call of their own, by source.");
  t.sample("llmsvc_cache_hits_total", {{"source", "memory"}}, c.hits_memory);
  t.sample("llmsvc_cache_hits_total", {{"source", "sqlite"}}, c.hits_sqlite);
  t.sample("llmsvc_cache_hits_total", {{"source", "coalesced"}}, c.coalesced);
  counter("llmsvc_cache_misses_total", "Lookups that found nothing.", c.misses);
  counter("llmsvc_cache_refreshes_total", "Requests that asked to refresh their entry.",
          c.refreshes);
  counter("llmsvc_cache_stores_total", "Replies stored in the cache.", c.stores);
  t.family("llmsvc_cache_waiting", "gauge",
           "Requests waiting for an identical one in flight.");
  t.sample("llmsvc_cache_waiting", {}, c.waiting);
  t.family("llmsvc_cache_saved_cost_usd_total", "counter",
           "What the hits would have cost, in USD (hits of unpriced replies excluded).");
  t.sample("llmsvc_cache_saved_cost_usd_total", {}, double(c.saved_cost_pico) / 1e12);
  counter("llmsvc_cache_saved_unpriced_total", "Hits whose original cost is unknown.",
          c.saved_unpriced);
  t.family("llmsvc_cache_saved_tokens_total", "counter", "Tokens the hits did not use.");
  t.sample("llmsvc_cache_saved_tokens_total", {{"type", "prompt"}}, c.saved_prompt_tokens);
  t.sample("llmsvc_cache_saved_tokens_total", {{"type", "completion"}},
           c.saved_completion_tokens);
}

void Engine::write_telemetry_stats(JsonWriter &w) const {
  w.Key("telemetry");
  w.StartObject();
  w.Key("prometheus_host");
  w.String(telemetry_->host().c_str());
  w.Key("prometheus_port");
  w.Int(telemetry_->port());
  w.Key("scrapes");
  w.Uint64(telemetry_->scrapes());
  w.EndObject();
}

void Engine::write_otlp_stats(JsonWriter &w) const {
  OtlpExporter::Stats s = otlp_->stats();
  w.Key("otlp");
  w.StartObject();
  w.Key("traces");
  w.Bool(otlp_->traces());
  w.Key("metrics");
  w.Bool(!otlp_->config().metrics_url.empty());
  w.Key("recorded");
  w.Int64(s.recorded);
  w.Key("dropped");  // the queue was full
  w.Int64(s.dropped);
  w.Key("requests_sent");
  w.Int64(s.requests_sent);
  w.Key("exports_failed");
  w.Int64(s.exports_failed);
  w.EndObject();
}

}  // namespace llmsvc

namespace llmsvc {
namespace {

void write_tool_call(JsonWriter &w, const ToolCall &c) {
  w.StartObject();
  w.Key("type");
  w.String("tool_call");
  w.Key("id");
  write_str(w, c.id);
  w.Key("name");
  write_str(w, c.name);
  w.Key("arguments");
  write_str(w, c.arguments);
  w.EndObject();
}

// gen_ai.input.messages in the conventions' shape: a role and its parts.
std::string input_messages(const RequestSpec &spec) {
  JsonBuffer b;
  JsonWriter w(b);
  w.StartArray();
  for (const Message &m : spec.messages) {
    w.StartObject();
    w.Key("role");
    write_str(w, m.role);
    w.Key("parts");
    w.StartArray();
    for (const ContentPart &part : m.parts) {
      w.StartObject();
      switch (part.type) {
        case ContentPart::Type::kText:
          w.Key("type");
          w.String(m.role == "tool" ? "tool_call_response" : "text");
          if (m.role == "tool") {
            w.Key("id");
            write_str(w, m.tool_call_id);
            w.Key("response");
          } else {
            w.Key("content");
          }
          write_str(w, part.text);
          break;
        case ContentPart::Type::kThinking:
          w.Key("type");
          w.String("reasoning");
          w.Key("content");
          write_str(w, part.text);
          break;
        case ContentPart::Type::kImageUrl:
          w.Key("type");
          w.String("uri");
          w.Key("modality");
          w.String("image");
          w.Key("uri");
          write_str(w, part.url.rfind("data:", 0) == 0 ? std::string_view("data:") : part.url);
          break;
        case ContentPart::Type::kAudio:
          w.Key("type");
          w.String("blob");
          w.Key("modality");
          w.String("audio");
          break;
      }
      w.EndObject();
    }
    for (const ToolCall &c : m.tool_calls) write_tool_call(w, c);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  return std::string(b.GetString(), b.GetSize());
}

void write_output_message(JsonWriter &w, const std::string &text,
                          const std::vector<ToolCall> &calls, const std::string &finish) {
  w.StartObject();
  w.Key("role");
  w.String("assistant");
  w.Key("parts");
  w.StartArray();
  if (!text.empty()) {
    w.StartObject();
    w.Key("type");
    w.String("text");
    w.Key("content");
    write_str(w, text);
    w.EndObject();
  }
  for (const ToolCall &c : calls) write_tool_call(w, c);
  w.EndArray();
  w.Key("finish_reason");
  write_str(w, finish);
  w.EndObject();
}

std::string output_messages(const ProviderReply &reply) {
  JsonBuffer b;
  JsonWriter w(b);
  w.StartArray();
  if (reply.choices.size() > 1) {
    for (const ReplyChoice &c : reply.choices)
      write_output_message(w, c.text, c.tool_calls, c.finish_reason);
  } else {
    write_output_message(w, reply.text, reply.tool_calls, reply.finish_reason);
  }
  w.EndArray();
  return std::string(b.GetString(), b.GetSize());
}

uint64_t next_id(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return z ? z : 1;  // an all-zero id is invalid
}

}  // namespace

void Engine::otlp_trace_context(Pending *p) {
  if (p->span_id) return;
  if (p->spec.traceparent.empty() ||
      !parse_traceparent(p->spec.traceparent, p->trace_hi, p->trace_lo, p->parent_span_id,
                         p->trace_sampled)) {
    p->trace_hi = next_id(trace_rng_);
    p->trace_lo = next_id(trace_rng_);
    p->parent_span_id = 0;
    p->trace_sampled = true;
  }
  p->span_id = next_id(trace_rng_);
}

std::string Engine::otlp_attempt_traceparent(Pending *p, Attempt &a) {
  otlp_trace_context(p);
  if (!p->trace_sampled) return p->spec.traceparent;  // not recorded: passed on as it came
  a.span_id = next_id(trace_rng_);
  return format_traceparent(p->trace_hi, p->trace_lo, a.span_id, true);
}

void Engine::otlp_record(Pending *p, const llmsvc_result *r, const ProviderReply *reply,
                         int64_t now) {
  if ((otlp_records_++ & 4095) == 0) otlp_wall_offset_ = clock_.wall_ns() - clock_.steady_ns();
  OtlpRecord o;
  o.end_unix_ns = now + otlp_wall_offset_;
  std::copy(r->nums, r->nums + LLMSVC_NUM_COUNT, o.nums);
  const Deployment *dep = p->dep ? p->dep : deps_[0].get();
  o.provider = dep->genai_provider;
  o.error_kind = r->kind == LLMSVC_KIND_NONE ? "" : llmsvc_error_kind_name(r->kind);
  const std::string *s = r->strs;
  o.text.reserve(256);
  o.model = o.put(p->spec.model);
  o.response_model = o.put(s[LLMSVC_STR_RESPONSE_MODEL]);
  o.response_id = o.put(s[LLMSVC_STR_RESPONSE_ID]);
  o.operation = o.put(p->spec.operation);
  o.deployment = o.put(s[LLMSVC_STR_DEPLOYMENT]);
  o.server_address = o.put(dep->server_address);
  o.service_tier = o.put(s[LLMSVC_STR_SERVICE_TIER]);
  if (r->kind != LLMSVC_KIND_NONE) o.error_message = o.put(r->error_message);
  if (p->cache && p->cache->hit != CacheSource::kNone) o.cache_source = cache_source_name(p->cache->hit);
  if (r->kind == LLMSVC_KIND_NONE && reply) {
    o.finish_reasons.at = uint32_t(o.text.size());
    if (reply->choices.size() > 1) {
      for (const ReplyChoice &c : reply->choices) o.text.append(c.finish_reason).push_back('\0');
    } else if (!reply->finish_reason.empty()) {
      o.text.append(reply->finish_reason).push_back('\0');
    }
    o.finish_reasons.len = uint32_t(o.text.size()) - o.finish_reasons.at;
  }
  o.attempts.resize(p->attempts.size());
  for (size_t i = 0; i < p->attempts.size(); ++i) {
    const llmsvc_result::Attempt &t = r->attempts[i];
    OtlpAttempt &a = o.attempts[i];
    std::copy(t.nums, t.nums + LLMSVC_ATTEMPT_COUNT, a.nums);
    a.span_id = p->attempts[i].span_id;
    a.deployment = o.put(t.deployment);
    a.request_id = o.put(t.request_id);
    if (const Deployment *d = p->attempts[i].deployment) {
      a.server_address = &d->server_address;
      a.server_port = d->server_port;
    }
  }
  const RequestSpec &q = p->spec;
  if (q.max_output_tokens >= 0) o.max_tokens = q.max_output_tokens;
  o.seed = q.seed;
  o.temperature = q.temperature;
  o.top_p = q.top_p;
  o.frequency_penalty = q.frequency_penalty;
  o.presence_penalty = q.presence_penalty;
  if (!q.stop.empty()) o.stop = o.put_list(q.stop);
  o.n = q.n;
  o.stream = q.stream;
  o.json_output = q.json_mode || !q.schema_json.empty();
  if (otlp_->traces()) {
    otlp_trace_context(p);  // a request never sent (cancelled, from the cache) has none yet
    o.trace_hi = p->trace_hi;
    o.trace_lo = p->trace_lo;
    o.span_id = p->span_id;
    o.parent_span_id = p->parent_span_id;
    o.sampled = p->trace_sampled;
    o.tracestate = o.put(q.tracestate);
  }
  if (otlp_->config().capture_content) {
    o.input_messages = o.put(input_messages(q));
    if (!q.instructions.empty()) {
      JsonBuffer b;
      JsonWriter w(b);
      w.StartArray();
      w.StartObject();
      w.Key("type");
      w.String("text");
      w.Key("content");
      write_str(w, q.instructions);
      w.EndObject();
      w.EndArray();
      o.system_instructions = o.put(std::string_view(b.GetString(), b.GetSize()));
    }
    if (r->kind == LLMSVC_KIND_NONE && reply) o.output_messages = o.put(output_messages(*reply));
  }
  otlp_->record(std::move(o));
}

}  // namespace llmsvc
