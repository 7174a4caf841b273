// The engine's telemetry: the Prometheus text of its snapshot and the endpoint serving it.
// Kept apart from engine.cpp: only the snapshot itself runs on the engine thread.
#include "common/alloc.h"
#include "engine/engine.h"

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

}  // namespace llmsvc
