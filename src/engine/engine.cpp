#include "engine/engine.h"

#include <algorithm>
#include <new>
#include <system_error>

#include "capi/result.h"
#include "common/alloc.h"
#include "http/transfer.h"
#include "retry/policy.h"

namespace llmsvc {

Engine::Engine(Config config, std::unique_ptr<ResponseCache> cache, const Clock &clock)
    : config_(std::move(config)), clock_(clock), cache_(std::move(cache)) {
  build_routes();
  budgets_.configure(config_.budgets);
  open_loop();  // epoll and the wake-up first: the first shard registers with them
  try {
    add_shard();
  } catch (...) {
    close_loop();
    throw;
  }
  if (config_.seed) {
    rng_.seed(config_.seed);
  } else {
    std::random_device rd;
    rng_.seed((uint64_t(rd()) << 32) ^ rd());
  }
  try {
    if (config_.telemetry.otlp.enabled) {
      otlp_ = std::make_unique<OtlpExporter>(config_.telemetry.otlp);
      std::random_device rd;
      trace_rng_ = (uint64_t(rd()) << 32) ^ rd();
    }
    thread_ = std::thread(&Engine::run, this);
  } catch (...) {
    otlp_.reset();
    close_shards();
    close_loop();
    throw;
  }
  start_telemetry();
}

Engine::~Engine() {
  close();
  for (llmsvc_result *r : events_) delete r;  // built after the last delivery
  events_.clear();
  for (auto &d : deps_) {
    d->idle.clear();
    d->gates.set_wake(nullptr);  // before the wake-up's fd closes
  }
  close_shards();
  close_loop();
}

int Engine::submit(std::string_view request_json, llmsvc_complete_cb cb, void *payload,
                   uint64_t *out_id, std::string &message, bool stream,
                   llmsvc_delta_cb delta_cb, const Stream *pieces) {
  int64_t t0 = steady_now_ns();
  std::unique_ptr<Pending> p(new Pending);
  DocError err = parse_request(request_json, config_.model, p->spec);
  if (err) {
    message = std::move(err.message);
    return err.status;
  }
  if (stream && p->spec.stream_given && !p->spec.stream) {
    message = "request.stream: false, but the request was submitted to be streamed "
              "(llmsvc_client_submit_stream); leave \"stream\" out or set it to true";
    return LLMSVC_ESCHEMA;
  }
  p->spec.stream |= stream;
  // Pieces go to the completion queue only for the streaming calls; llmsvc_client_submit
  // promises one result, whatever its document says.
  p->pieces_to_queue = stream && !cb;
  p->delta_cb = delta_cb;
  if (pieces) {
    p->piece_cb = pieces->piece_cb;
    p->pieces = pieces->pieces;
  }
  p->route = route_for(p->spec.model);
  if (!p->route) {
    message = "request.model: no deployment serves \"" + p->spec.model + "\" (it names";
    for (size_t i = 0; i < routes_.size(); ++i)
      message += (i ? ", " : " neither ") + routes_[i]->name;
    message += ")";
    return LLMSVC_ESCHEMA;
  }
  Deployment &first = *p->route->tiers[0][0];
  const Provider &provider = *first.provider;
  if (p->spec.stream && !provider.streams()) {
    message = std::string("request: the ") + provider.name() + " provider does not stream";
    return LLMSVC_ESCHEMA;
  }
  if (p->spec.embedding && !provider.embeds()) {
    message = embeddings_unserved(provider);
    return LLMSVC_ESCHEMA;
  }
  if (std::string why = provider.unsupported(p->spec); !why.empty()) {
    message = "request: " + why;
    return LLMSVC_ESCHEMA;
  }
  if (!body_for(p.get(), first, message)) return LLMSVC_ESCHEMA;
  p->prompt_estimate = provider.estimate_prompt_tokens(p->spec);
  // Each of n choices may run to the output bound.
  p->reserved = {p->prompt_estimate, provider.output_bound(p->spec) * p->spec.n};
  p->schema_retries_left = p->spec.schema ? config_.retry.schema_retries : 0;
  if (cache_) cache_lookup(p.get());
  // The wire body carries the conversation from here on: drop the parsed copy, so a queued
  // request costs little more than its body (unless another deployment needs another body).
  // Telemetry that records content keeps it too.
  if (!p->route->rebuilds && !(otlp_ && otlp_->config().capture_content)) {
    std::vector<Message>().swap(p->spec.messages);
    std::string().swap(p->spec.instructions);
  }
  p->cb = cb;
  p->payload = payload;
  p->submit_ns = clock_.steady_ns();
  p->submit_wall_ms = clock_.wall_ms();
  if (p->spec.timeout_ms > 0) p->deadline_ns = p->submit_ns + p->spec.timeout_ms * kNsPerMs;
  uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  p->id = id;
  p->overhead_ns = steady_now_ns() - t0;
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    if (closing_) {
      message = "the client is closed";
      return LLMSVC_ECLOSED;
    }
    // Before the engine can see it: its callback may run before this call returns.
    if (out_id) *out_id = id;
    was_empty = inbox_.empty();
    inbox_.push_back(p.release());
  }
  if (was_empty) wake();  // the engine drains the whole inbox at once
  return LLMSVC_OK;
}

int Engine::set_limits(std::string_view limits_json, std::string &message) {
  JsonDoc doc;
  DocError err = parse_json(doc, limits_json, "limits");
  if (!err) {
    run_on_engine([&] {
      // Every deployment: the fields given replace its own, the others stay.
      std::vector<Limits> ls;
      for (auto &d : deps_) {
        Limits l = d->gates.limits();
        if ((err = parse_limits(doc, "limits", l))) return;
        if (d->config.shared_limits.enabled && !l.windows.empty()) {
          err = {LLMSVC_ESCHEMA, "limits: rpd, tpd and windows are not shared through Redis, "
                                 "and this client shares its limits"};
          return;
        }
        ls.push_back(l);
      }
      for (size_t i = 0; i < deps_.size(); ++i) deps_[i]->gates.set_limits(ls[i]);
    });
  }
  if (err) message = err.message;
  return err.status;
}

int Engine::set_budgets(std::string_view budgets_json, std::string &message) {
  JsonDoc doc;
  DocError err = parse_json(doc, budgets_json, "budgets");
  std::vector<BudgetSpec> specs;
  if (!err) err = parse_budgets(doc, "budgets", specs);
  if (err) {
    message = err.message;
    return err.status;
  }
  run_on_engine([&] { budgets_.configure(std::move(specs)); });
  return LLMSVC_OK;
}

std::string Engine::metrics_json() {
  std::string out;
  run_on_engine([&] { out = snapshot(clock_.steady_ns()); });
  return out;
}

std::string Engine::redact(std::string s) const {
  for (const auto &d : deps_) {
    for (const std::string *secret :
         {&d->config.api_key, &d->config.aws_secret_access_key, &d->config.aws_session_token}) {
      const std::string &key = *secret;
      if (key.size() < 4) continue;
      for (size_t at = s.find(key); at != std::string::npos; at = s.find(key, at))
        s.replace(at, key.size(), "[redacted]");
    }
  }
  return s;
}

void Engine::redact(ProviderError &e) const {
  for (std::string *s : {&e.message, &e.type, &e.code, &e.param}) *s = redact(std::move(*s));
}

void Engine::account(Pending *p, const ProviderReply &reply) {
  if (reply.usage_unreadable) {  // an attempt's tokens are unknown, so is the total cost
    p->usage_unreadable = true;
    p->cost_unknown = true;
  }
  if (!reply.has_usage) return;
  const TokenUsage &u = reply.usage;
  if (p->dep && p->dep->provider->chains() && !reply.response_id.empty() &&
      contexts_.emplace(reply.response_id, u.prompt + u.completion).second) {
    context_order_.push_back(reply.response_id);
    if (context_order_.size() > kMaxContexts) {
      contexts_.erase(context_order_.front());
      context_order_.pop_front();
    }
  }
  p->has_usage = true;
  p->usage.prompt += u.prompt;
  p->usage.completion += u.completion;
  p->usage.cached += u.cached;
  p->usage.reasoning += u.reasoning;
  p->usage.cache_write += u.cache_write;
  p->usage.cache_write_1h += u.cache_write_1h;
  // The model the provider reports (a dated snapshot) first, then the one asked for.
  // At the tier the provider says it used (flex and priority are priced apart).
  const std::string_view tier = reply.service_tier;
  int64_t cost = config_.prices.cost_pico(reply.model.empty() ? p->spec.model : reply.model, u, tier);
  if (cost < 0) cost = config_.prices.cost_pico(p->spec.model, u, tier);
  if (cost < 0) p->cost_unknown = true;
  else p->cost_pico += cost;
  if (!p->attempts.empty()) {
    Attempt &a = p->attempts.back();
    a.has_usage = true;
    a.prompt_tokens += u.prompt;
    a.completion_tokens += u.completion;
    a.cost_pico = cost < 0 ? -1 : std::max<int64_t>(a.cost_pico, 0) + cost;
  }
}

void Engine::finish(Pending *p, llmsvc_error_kind kind, std::string message, int64_t now,
                    const ProviderReply *reply) {
  int64_t t0 = steady_now_ns();
  detach(p, now);
  if (kind != LLMSVC_KIND_NONE && p->delta_sent && p->st && !p->st->accounted) {
    // Cut short after text came: the provider's own count if it arrived, else an estimate.
    if (p->st->reply.reply.has_usage) {
      account(p, p->st->reply.reply);
      p->st->accounted = true;
    } else {
      estimate_stream_usage(p);
    }
  }
  if (kind != LLMSVC_KIND_NONE && !p->attempts.empty() &&
      p->attempts.back().kind == LLMSVC_KIND_NONE && p->attempts.back().end_ns == now)
    p->attempts.back().kind = kind;  // an attempt cut short by cancel, deadline or close
  if (p->dep && kind == LLMSVC_KIND_NONE) ++p->dep->served;
  CompletedRecord rec;
  rec.kind = kind;
  rec.model = &p->spec.model;
  rec.operation = &p->spec.operation;
  rec.latency_ns = now - p->submit_ns;
  // Every attempt that got a reply was paid for, the final one and any before it.
  rec.has_usage = p->has_usage;
  rec.usage = p->usage;
  int64_t cost = p->has_usage && !p->cost_unknown ? p->cost_pico : -1;
  rec.cost_pico = cost;
  if (kind != LLMSVC_KIND_NONE) message = redact(std::move(message));
  p->overhead_ns += steady_now_ns() - t0;
  std::unique_ptr<Pending> owned(p);
  live_.erase(p->id);
  if (!p->budget_holds.empty())
    budgets_.settle(now, p->budget_holds, p->has_usage ? p->usage.prompt + p->usage.completion : 0,
                    !p->has_usage ? 0 : cost);
  // A leader stores its reply before its result is written, so the result can say so.
  bool leader = false;
  std::unique_ptr<CachedReply> cached;
  if (p->cache && p->cache->hit == CacheSource::kNone) {
    auto it = leaders_.find(p->cache->key);
    leader = it != leaders_.end() && it->second == p;
    if (leader) leaders_.erase(it);
    if (leader && kind == LLMSVC_KIND_NONE && reply) {
      cached.reset(new CachedReply);
      cached->text = reply->text;
      cached->finish_reason = reply->finish_reason;
      cached->response_id = reply->response_id;
      cached->model = reply->model;
      cached->extra = encode_reply_extras(*reply);
      cached->usage = p->usage;
      cached->cost_pico = cost;
      cached->created_ms = clock_.wall_ms();
      cache_->put(p->cache->key, *cached, cached->created_ms);
      p->cache->stored = true;
      ++cache_counters_.stores;
    }
  }
  if (wants(LLMSVC_EVENT_COMPLETED)) event_completed(p, now, kind, message, reply, cost);
  llmsvc_result *r = build_result(p, kind, message, reply, cost, now);
  if (otlp_) otlp_record(p, r, reply, now);
  rec.overhead_ns = p->overhead_ns;
  metrics_.completed(rec);
  done_.push_back({r, p->cb, p->payload});
  if (leader) settle_followers(p, kind, message, cached.get(), now);
}

void Engine::shutdown_all() {
  int64_t now = clock_.steady_ns();
  std::vector<uint64_t> ids;
  ids.reserve(live_.size());
  for (auto &[id, p] : live_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    auto it = live_.find(id);
    if (it != live_.end())
      finish(it->second, LLMSVC_KIND_SHUT_DOWN, "the client was closed before the request completed",
             now);
  }
}

EngineGauges Engine::gauges() const {
  EngineGauges g;
  g.queued = int64_t(waiting_.size());
  g.backing_off = backing_off_;
  g.in_flight = in_flight_;
  for (int i = 0; i < 3; ++i) g.queued_by_priority[i] = queued_by_priority_[i];
  return g;
}

std::string Engine::snapshot(int64_t now) {
  const EngineGauges g = gauges();
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("version");
  w.String(LLMSVC_VERSION_STRING);
  w.Key("provider");
  w.String(deps_[0]->provider->name());
  w.Key("allocator");
  w.String(allocator().name);
  w.Key("http2");
  w.Bool(http2_reliable() && (config_.http2 || config_.http2_prior_knowledge));
  w.Key("unix_ms");
  w.Int64(clock_.wall_ms());
  metrics_.write(w, now, g, deps_[0]->gates);  // the first deployment's gates
  if (cache_) write_cache_stats(w);
  if (deps_[0]->breaker.enabled()) {
    w.Key("circuit_breaker");
    deps_[0]->breaker.write(w, now);
  }
  write_deployments(w, now);
  if (!budgets_.empty()) {
    w.Key("budgets");
    budgets_.write(w, now);
  }
  if (telemetry_) write_telemetry_stats(w);
  if (otlp_) write_otlp_stats(w);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace llmsvc
