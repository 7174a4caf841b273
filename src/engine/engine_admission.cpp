// Admission: a request enters the queue, waits at its gates and budgets, and is sent.
#include "engine/engine.h"

#include <algorithm>
#include <new>
#include <system_error>

#include "capi/result.h"
#include "common/alloc.h"
#include "http/transfer.h"
#include "retry/policy.h"

namespace llmsvc {

void Engine::accept(Pending *p, int64_t now) {
  if (!p->spec.previous_response_id.empty()) {
    auto it = contexts_.find(p->spec.previous_response_id);
    if (it != contexts_.end()) p->reserved.input += it->second;
  }
  live_.emplace(p->id, p);
  metrics_.submitted();
  if (wants(LLMSVC_EVENT_QUEUED)) event_queued(p, now);
  if (p->deadline_ns != kNever) timers_.emplace(p->deadline_ns, p->id, 1);
  if (p->cache && cache_accept(p, now)) return;
  if (!budgets_.empty() && !admit_budgets(p, now)) return;
  if (config_.queue.any() && shed(p, now)) return;
  enqueue(p, now);
}

int64_t Engine::expected_wait_ns(const Pending *p, int64_t ahead, int64_t now) {
  // Rate gates free about cap per window: n requests beyond what is free now wait about
  // n / cap windows. A 429 pause comes first. Several deployments in its tier share those
  // ahead evenly; the soonest of them counts.
  const std::vector<Deployment *> &tier = p->route->tiers[p->tier];
  int64_t serving = 0;
  for (Deployment *d : tier) serving += !d->out;
  const int64_t n = ahead / std::max<int64_t>(serving, 1) + 1;
  int64_t best = kNever;
  for (Deployment *d : tier) {
    if (d->out) continue;
    Gates &g = d->gates;
    const int64_t window = g.limits().window_ms * kNsPerMs;
    int64_t wait = std::max<int64_t>(g.paused_until() - now, 0);
    if (int64_t cap = g.request_cap(); cap > 0) {
      int64_t over = n - std::max<int64_t>(cap - g.requests_used(now), 0);
      if (over > 0) wait = std::max(wait, over * (window / cap));
    }
    if (int64_t cap = g.token_cap(); cap > 0) {
      int64_t need = n * (p->reserved.input + p->reserved.output);  // those ahead alike
      int64_t over = need - std::max<int64_t>(cap - g.tokens_used(now), 0);
      if (over > 0) wait = std::max(wait, int64_t(double(over) / double(cap) * double(window)));
    }
    best = std::min(best, wait);
  }
  return best == kNever ? 0 : best;
}

bool Engine::shed(Pending *p, int64_t now) {
  static const char *const kClass[] = {"high", "normal", "low"};
  const int c = p->spec.priority;
  const QueuePolicy &q = config_.queue;
  int64_t ahead = 0;  // served before it: its class and the ones above
  for (int i = 0; i <= c; ++i) ahead += queued_by_priority_[i];
  std::string why;
  if (q.max_length[c] && queued_by_priority_[c] >= q.max_length[c]) {
    why = std::string("load shed: the ") + kClass[c] + "-priority queue is full (" +
          std::to_string(queued_by_priority_[c]) + " waiting, queue.max_length " +
          std::to_string(q.max_length[c]) + ")";
  } else if (q.max_wait_ms[c]) {
    int64_t wait = expected_wait_ns(p, ahead, now);
    if (wait > q.max_wait_ms[c] * kNsPerMs)
      why = "load shed: it would wait about " + std::to_string(wait / kNsPerMs) +
            " ms for the limits (" + std::to_string(ahead) + " ahead), more than the " +
            kClass[c] + "-priority queue.max_wait_ms " + std::to_string(q.max_wait_ms[c]);
  }
  if (why.empty()) return false;
  finish(p, LLMSVC_KIND_LOAD_SHED, std::move(why), now);
  return true;
}

bool Engine::admit_budgets(Pending *p, int64_t now) {
  // The most it may use: its prompt and its output bound (the client's default bound when
  // the request sets none), priced at the model's rates.
  int64_t out = p->reserved.output > 0 ? p->reserved.output : config_.default_max_output_tokens;
  TokenUsage most{p->reserved.input, out, 0, 0, 0};
  int64_t cost = config_.prices.cost_pico(p->spec.model, most);
  std::string why;
  if (budgets_.admit(now, p->spec.operation, p->spec.model, most.prompt + most.completion, cost,
                     p->budget_holds, why))
    return true;
  finish(p, LLMSVC_KIND_BUDGET_EXCEEDED, std::move(why), now);
  return false;
}

void Engine::enqueue(Pending *p, int64_t now) {
  p->state = Pending::State::kQueued;
  p->enqueued_ns = now;
  p->wait_counted = false;
  waiting_.emplace(p->queue_key(), p);
  ++queued_by_priority_[p->spec.priority];
  // A first admission that takes longer than its class allows is shed then (the estimate
  // at submit can be wrong: slow replies, a 429 pause). A retry is never shed.
  if (int64_t max = config_.queue.max_wait_ms[p->spec.priority]; max && p->attempts.empty())
    timers_.emplace(now + max * kNsPerMs, p->id, 2);
}

void Engine::fire_timers(int64_t now) {
  while (!timers_.empty()) {
    auto [at, id, kind] = *timers_.begin();
    if (at > now) break;
    timers_.erase(timers_.begin());
    auto it = live_.find(id);
    if (it == live_.end()) continue;
    Pending *p = it->second;
    if (kind == 0) {
      if (p->state == Pending::State::kBackoff) {
        --backing_off_;
        enqueue(p, now);
      }
    } else if (kind == 2) {
      if (p->state == Pending::State::kQueued && p->attempts.empty())
        finish(p, LLMSVC_KIND_LOAD_SHED,
               "load shed: waited " + std::to_string((now - p->enqueued_ns) / kNsPerMs) +
                   " ms at the limits without being admitted (queue.max_wait_ms " +
                   std::to_string(config_.queue.max_wait_ms[p->spec.priority]) + ")",
               now);
    } else {
      std::string msg = "the request's deadline (timeout_ms " +
                        std::to_string(p->spec.timeout_ms) + ") passed";
      std::string held;  // why it was still waiting: each deployment's open breaker
      if (p->state == Pending::State::kQueued)
        for (Deployment *d : p->route->tiers[p->tier])
          if (std::string why = d->breaker.why_open(now); !why.empty())
            held += (held.empty() ? "" : "; ") +
                    (any_route_ ? why : "for deployment " + d->name + " " + why);
      if (!held.empty()) msg += " while " + held;
      if (!p->error_message.empty()) msg += "; last error: " + p->error_message;
      finish(p, LLMSVC_KIND_DEADLINE_EXCEEDED, std::move(msg), now);
    }
  }
}

void Engine::admit(int64_t now) {
  gate_wake_ns_ = kNever;
  const int64_t queued = queued_by_priority_[0] + queued_by_priority_[1] + queued_by_priority_[2];
  for (const std::unique_ptr<Deployment> &d : deps_) {  // shared limits: leases due
    d->gates.set_waiting(queued);
    d->gates.housekeep(now);
    gate_wake_ns_ = std::min(gate_wake_ns_, d->gates.next_housekeeping());
  }
  if (admission_paused_) return;  // llmsvc_client_pause: resuming wakes the engine
  // Strict order within a route: the head of the best class goes first or nobody on its
  // route does, so a large request is never starved by smaller ones behind it. Requests
  // of other routes (other deployments) go on past it.
  Route *blocked_one = nullptr;  // the common case, without a set
  std::vector<Route *> blocked;
  size_t n_blocked = 0;
  const size_t n_routes = routes_.size();
  for (auto it = waiting_.begin(); it != waiting_.end() && n_blocked < n_routes;) {
    Pending *p = it->second;
    if (p->route == blocked_one ||
        (!blocked.empty() && std::find(blocked.begin(), blocked.end(), p->route) != blocked.end())) {
      ++it;
      continue;
    }
    GateDecision d{};
    Pick pk = pick(p, now, d);
    if (pk == Pick::kFailed) {
      it = waiting_.begin();  // finished: the iterator is gone; the blocked are skipped
      continue;
    }
    if (pk == Pick::kWait) {
      if (!p->wait_counted) {
        metrics_.gate_wait_started(d.reason);
        p->wait_counted = true;
      }
      gate_wake_ns_ = std::min(gate_wake_ns_, d.wait_until);
      if (!blocked_one) blocked_one = p->route;
      else blocked.push_back(p->route);
      ++n_blocked;
      ++it;
      continue;
    }
    it = waiting_.erase(it);
    --queued_by_priority_[p->spec.priority];
    if (int64_t max = config_.queue.max_wait_ms[p->spec.priority])
      timers_.erase({p->enqueued_ns + max * kNsPerMs, p->id, 2});
    metrics_.admitted(now - p->enqueued_ns);
    if (wants(LLMSVC_EVENT_ADMITTED)) event_admitted(p, now);
    p->dep->gates.acquire(p->reserved);
    start_attempt(p, now);
  }
}

std::string Engine::too_large_message(Deployment &dep, Tokens t) const {
  Gates &g = dep.gates;
  std::string needs = "the request needs " + std::to_string(t.input) + " input and " +
                      std::to_string(t.output) + " output tokens (prompt estimate and max output tokens) but ";
  std::string where = deps_.size() > 1 ? " (deployment " + dep.name + ")" : "";
  switch (g.too_large(t)) {
    case GateReason::kInputTokens:
      return needs + "the itpm limit allows " + std::to_string(g.input_token_cap()) +
             " per window" + where;
    case GateReason::kOutputTokens:
      return needs + "the otpm limit allows " + std::to_string(g.output_token_cap()) +
             " per window" + where;
    default:
      return needs + "the tpm limit allows " + std::to_string(g.token_cap()) + " per window" + where;
  }
}

void Engine::start_attempt(Pending *p, int64_t now) {
  int64_t t0 = steady_now_ns();
  Deployment &d = *p->dep;
  std::unique_ptr<Transfer> x;
  if (!d.idle.empty()) {
    x = std::move(d.idle.back());
    d.idle.pop_back();
  } else {
    x = std::make_unique<Transfer>(d.config, *d.provider);
  }
  Attempt &a = p->attempts.emplace_back();
  a.start_ns = now;
  a.start_wall_ms = clock_.wall_ms();
  a.deployment = &d;
  ++d.attempts;
  ++d.in_flight;
  if (p->spec.stream) {
    p->st = std::make_unique<Pending::StreamPart>();  // a fresh stream for each attempt
    p->st->decoder.reset(d.provider->stream_format());
  }
  if (d.provider->url_per_request()) {  // embeddings too (Gemini: the model's method)
    x->set_url(d.provider->request_url(p->spec));
  } else if (p->spec.embedding) {
    x->set_url(d.provider->embeddings_url());
    x->other_url = true;
  } else if (x->other_url) {  // a reused handle: back to the provider's endpoint
    x->set_url(d.provider->url());
    x->other_url = false;
  }
  if (otlp_ && otlp_->traces()) {
    std::string traceparent = otlp_attempt_traceparent(p, a);
    x->start(p->body_text, p->body_len, p, a.start_wall_ms, p->spec.stream ? this : nullptr,
             traceparent, p->spec.tracestate, p->spec.extra_headers);
  } else {
    x->start(p->body_text, p->body_len, p, a.start_wall_ms, p->spec.stream ? this : nullptr,
             p->spec.traceparent, p->spec.tracestate, p->spec.extra_headers);
  }
  Shard &shard = shard_for_new();
  x->shard = shard.index;
  ++shard.transfers;
  CURLMcode mc = curl_multi_add_handle(shard.multi, x->easy());
  p->state = Pending::State::kInFlight;
  p->transfer = x.release();
  ++in_flight_;
  if (wants(LLMSVC_EVENT_ATTEMPT_STARTED)) event_attempt_started(p, now);
  metrics_.attempt_sent(now, p->prompt_estimate);
  p->overhead_ns += steady_now_ns() - t0;
  if (mc != CURLM_OK) {
    finish(p, LLMSVC_KIND_INTERNAL,
           std::string("curl_multi_add_handle failed: ") + curl_multi_strerror(mc), now);
  }
}

}  // namespace llmsvc
