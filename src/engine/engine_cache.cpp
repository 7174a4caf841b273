// The engine's side of response caching: the key and lookup at submit, hits and coalescing
// at accept, followers when the request they wait for completes, and the cache metrics.
// Kept apart from engine.cpp; everything here but cache_lookup runs on the engine thread.
#include <algorithm>

#include "engine/engine.h"

namespace llmsvc {

void Engine::cache_lookup(Pending *p) {
  const CacheMode mode = p->spec.cache;
  if (mode == CacheMode::kBypass) return;
  // By default only what asks for a repeatable answer is cached: temperature 0, a request
  // that says so itself, or embeddings (one vector per input, the same every time).
  bool eligible = mode == CacheMode::kUse || mode == CacheMode::kRefresh ||
                  cache_->config().policy == CacheConfig::Policy::kAll ||
                  (p->spec.temperature && *p->spec.temperature == 0.0) || p->spec.embedding;
  if (!eligible) return;
  p->cache.reset(new Pending::CacheState);
  const std::string &scope = cache_->config().name_space;
  const Provider &provider = *p->route->tiers[0][0]->provider;  // whose body it is
  p->cache->key = make_cache_key(provider.name(), scope.empty() ? provider.url() : scope,
                                 std::string_view(p->body_text, p->body_len));
  if (mode != CacheMode::kRefresh)
    p->cache->hit = cache_->get(p->cache->key, clock_.wall_ms(), p->cache->reply);
}

bool Engine::cache_accept(Pending *p, int64_t now) {
  Pending::CacheState &c = *p->cache;
  const bool refresh = p->spec.cache == CacheMode::kRefresh;
  if (refresh) ++cache_counters_.refreshes;
  else ++cache_counters_.lookups;
  // Stored since the lookup on the submitting thread (an identical request just finished)?
  if (c.hit == CacheSource::kNone && !refresh && cache_->get_memory(c.key, clock_.wall_ms(), c.reply))
    c.hit = CacheSource::kMemory;
  if (c.hit != CacheSource::kNone) {
    finish_from_cache(p, now);
    return true;
  }
  auto [it, fresh] = leaders_.try_emplace(c.key, p);
  if (fresh) {
    if (!refresh) ++cache_counters_.misses;
    return false;
  }
  Pending *leader = it->second;
  p->state = Pending::State::kFollower;
  c.leader = leader;
  c.coalesced_with = leader->id;
  leader->cache->followers.push_back(p);
  ++cache_counters_.waiting;
  return true;
}

void Engine::finish_from_cache(Pending *p, int64_t now) {
  Pending::CacheState &c = *p->cache;
  switch (c.hit) {
    case CacheSource::kMemory: ++cache_counters_.hits_memory; break;
    case CacheSource::kSqlite: ++cache_counters_.hits_sqlite; break;
    case CacheSource::kCoalesced: ++cache_counters_.coalesced; break;
    case CacheSource::kNone: break;
  }
  if (c.reply.cost_pico >= 0) cache_counters_.saved_cost_pico += c.reply.cost_pico;
  else ++cache_counters_.saved_unpriced;
  cache_counters_.saved_prompt_tokens += c.reply.usage.prompt;
  cache_counters_.saved_completion_tokens += c.reply.usage.completion;
  ProviderReply reply;
  reply.text = c.reply.text;
  reply.finish_reason = c.reply.finish_reason;
  reply.response_id = c.reply.response_id;
  reply.model = c.reply.model;
  decode_reply_extras(c.reply.extra, reply);  // stored by us; a damaged entry failed decode
  // Nothing new was used: the tokens and cost the answer once took are in "cache".
  p->has_usage = true;
  p->usage = TokenUsage{};
  p->cost_pico = 0;
  if (p->spec.stream) {
    // The answer streams as it would from the provider: its text, then its tool calls
    // whole, each a piece of its start and one of its arguments.
    if (!reply.text.empty() && (p->delta_cb || p->piece_cb || p->pieces_to_queue)) {
      Delta d{p->id, p->delta_cb, p->payload, reply.text};
      d.piece_cb = p->piece_cb;
      deltas_.push_back(std::move(d));
    }
    if (p->pieces && (p->piece_cb || p->pieces_to_queue)) {
      for (size_t i = 0; i < reply.tool_calls.size(); ++i) {
        const ToolCall &call = reply.tool_calls[i];
        Delta start{p->id, nullptr, p->payload, std::string()};
        start.piece_cb = p->piece_cb;
        start.kind = LLMSVC_PIECE_TOOL_CALL;
        start.index = uint32_t(i);
        start.call_id = call.id;
        start.name = call.name;
        deltas_.push_back(std::move(start));
        Delta args{p->id, nullptr, p->payload, call.arguments};
        args.piece_cb = p->piece_cb;
        args.kind = LLMSVC_PIECE_TOOL_ARGUMENTS;
        args.index = uint32_t(i);
        deltas_.push_back(std::move(args));
      }
    }
    p->first_delta_ns = clock_.steady_ns();
    p->delta_sent = true;
  }
  finish(p, LLMSVC_KIND_NONE, std::string(), now, &reply);
}

void Engine::settle_followers(Pending *p, llmsvc_error_kind kind, const std::string &message,
                              const CachedReply *cached, int64_t now) {
  std::vector<Pending *> followers;
  followers.swap(p->cache->followers);
  if (followers.empty()) return;
  cache_counters_.waiting -= int64_t(followers.size());
  for (Pending *f : followers) {
    f->state = Pending::State::kNew;
    f->cache->leader = nullptr;
  }
  if ((kind == LLMSVC_KIND_CANCELLED || kind == LLMSVC_KIND_DEADLINE_EXCEEDED) && !stopping_) {
    // That request's own end, not the answer's: the next in line asks in its place.
    Pending *next = followers.front();
    leaders_.emplace(next->cache->key, next);
    next->cache->coalesced_with = 0;
    for (size_t i = 1; i < followers.size(); ++i) {
      Pending *f = followers[i];
      f->state = Pending::State::kFollower;
      f->cache->leader = next;
      f->cache->coalesced_with = next->id;
      next->cache->followers.push_back(f);
    }
    cache_counters_.waiting += int64_t(followers.size()) - 1;
    if (budgets_.empty() || admit_budgets(next, now)) enqueue(next, now);
    return;
  }
  for (Pending *f : followers) {
    if (cached) {
      f->cache->hit = CacheSource::kCoalesced;
      f->cache->reply = *cached;
      finish_from_cache(f, now);
    } else {
      // The same request failed: each caller gets the same answer.
      f->provider_error = p->provider_error;
      f->retry_after_ns = p->retry_after_ns;
      finish(f, kind, message, now);
    }
  }
}

void Engine::write_cache_stats(JsonWriter &w) const {
  const CacheCounters &c = cache_counters_;
  w.Key("cache");
  w.StartObject();
  w.Key("lookups");
  w.Int64(c.lookups);
  w.Key("hits");
  w.Int64(c.hits_memory + c.hits_sqlite + c.coalesced);
  w.Key("hits_memory");
  w.Int64(c.hits_memory);
  w.Key("hits_sqlite");
  w.Int64(c.hits_sqlite);
  w.Key("coalesced");
  w.Int64(c.coalesced);
  w.Key("misses");
  w.Int64(c.misses);
  w.Key("refreshes");
  w.Int64(c.refreshes);
  w.Key("stores");
  w.Int64(c.stores);
  w.Key("waiting");
  w.Int64(c.waiting);
  w.Key("saved_cost_nano_usd");
  w.Int64(c.saved_cost_pico / 1000);
  w.Key("saved_unpriced");
  w.Int64(c.saved_unpriced);
  w.Key("saved_prompt_tokens");
  w.Int64(c.saved_prompt_tokens);
  w.Key("saved_completion_tokens");
  w.Int64(c.saved_completion_tokens);
  cache_->write_stats(w);
  w.EndObject();
}

}  // namespace llmsvc
