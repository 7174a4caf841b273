#include "engine/engine.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
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
    thread_ = std::thread(&Engine::run, this);
  } catch (...) {
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
  for (auto &d : deps_) d->idle.clear();
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
  if (!p->route->rebuilds) {
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
  x->start(p->body_text, p->body_len, p, a.start_wall_ms, p->spec.stream ? this : nullptr,
           p->spec.traceparent, p->spec.tracestate, p->spec.extra_headers);
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

bool Engine::read_done() {
  bool any = false;
  int left = 0;
  for (size_t i = 0; i < shards_.size(); ++i) {
    while (CURLMsg *m = curl_multi_info_read(shards_[i]->multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      void *priv = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
      on_transfer_done(static_cast<Pending *>(priv), m->data.result, clock_.steady_ns());
      any = true;
    }
  }
  return any;
}

namespace {

Gates::Remaining remaining(const ResponseHeaders &h) {
  Gates::Remaining r;
  r.requests = h.remaining_requests;
  r.requests_reset_ns = h.reset_requests_ns;
  r.tokens = h.remaining_tokens;
  r.tokens_reset_ns = h.reset_tokens_ns;
  r.input_tokens = h.remaining_input_tokens;
  r.input_tokens_reset_ns = h.reset_input_tokens_ns;
  r.output_tokens = h.remaining_output_tokens;
  r.output_tokens_reset_ns = h.reset_output_tokens_ns;
  return r;
}

std::string body_excerpt(const std::string &body) {
  if (body.empty()) return "(empty body)";
  std::string s = to_utf8(std::string_view(body).substr(0, 200));
  for (char &c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

void Engine::on_transfer_done(Pending *p, CURLcode code, int64_t now) {
  int64_t t0 = steady_now_ns();
  std::unique_ptr<Transfer> x(p->transfer);
  Shard &shard = *shards_[x->shard];
  curl_multi_remove_handle(shard.multi, x->easy());
  --shard.transfers;
  p->transfer = nullptr;
  p->state = Pending::State::kNew;
  --in_flight_;
  Deployment &d = *p->dep;
  --d.in_flight;
  Gates &gates = d.gates;
  const Provider &provider = *d.provider;
  // libcurl sends a request again by itself when the reused connection it went out on
  // proved dead before any reply byte: the provider may have seen each send, so each is
  // an attempt (failed on the connection), in the results and the metrics.
  for (int k = 1; k < x->sends(); ++k) {
    Attempt lost = p->attempts.back();
    lost.end_ns = lost.start_ns;
    lost.kind = LLMSVC_KIND_CONNECTION;
    lost.http_status = 0;
    p->attempts.insert(p->attempts.end() - 1, std::move(lost));
    metrics_.attempt_sent(now, p->prompt_estimate);
    metrics_.attempt_done(now, LLMSVC_KIND_CONNECTION, 0, 0);
    metrics_.resent_by_transport();
  }
  Attempt &a = p->attempts.back();
  a.end_ns = now;
  const ResponseHeaders &h = x->headers();
  a.request_id = h.request_id;
  const Tokens reserved = p->reserved;

  if (code == CURLE_WRITE_ERROR && p->st && p->st->failed) {
    a.http_status = int(x->http_status());
    stream_failed(p, std::move(x), now, t0);  // we stopped it at the provider's error event
    return;
  }
  if (code == CURLE_WRITE_ERROR && x->too_large()) {
    // Read no further than the bound; the provider served it, so its reservation stays.
    a.http_status = int(x->http_status());
    a.kind = LLMSVC_KIND_PROTOCOL;
    gates.settle(now, reserved, reserved);
    p->provider_error = ProviderError{};
    p->error_message = "the reply is longer than http.max_reply_bytes (" +
                       std::to_string(x->max_body_bytes()) + " bytes); the rest was not read";
    attempt_ended(p, now, a.kind, a.end_ns - a.start_ns, 0);
    recycle(p, std::move(x));
    p->overhead_ns += steady_now_ns() - t0;
    retry_or_fail(p, Classification{LLMSVC_KIND_PROTOCOL, false}, ResponseHeaders{}, now);
    return;
  }
  if (code != CURLE_OK) {
    TransportClass tc = classify_transport(code);
    // Sent but unanswered: the provider may have counted it, so keep the reservation.
    if (tc.reached_server) gates.settle(now, reserved, reserved);
    else gates.release(reserved);
    a.kind = tc.c.kind;
    a.http_status = int(x->http_status());
    p->provider_error = ProviderError{};
    p->error_message = curl_easy_strerror(code);
    if (x->error_text()[0]) p->error_message += std::string(": ") + x->error_text();
    attempt_ended(p, now, a.kind, a.end_ns - a.start_ns, 0);
    ResponseHeaders none;
    recycle(p, std::move(x));
    p->overhead_ns += steady_now_ns() - t0;
    retry_or_fail(p, tc.c, none, now);
    return;
  }

  int status = int(x->http_status());
  a.http_status = status;
  if (status >= 200 && status < 300 && p->spec.stream) {
    stream_events_.clear();
    p->st->decoder.finish(stream_events_);
    if (!p->st->failed) take_stream_events(p);
    if (p->st->failed || !p->st->reply.done) {
      stream_failed(p, std::move(x), now, t0);
      return;
    }
  }
  if (status >= 200 && status < 300) {
    ProviderReply reply;
    std::string perr;
    bool ok = true;
    if (p->spec.stream) reply = std::move(p->st->reply.reply);
    else ok = provider.parse_reply(x->response(), reply, perr);
    if (ok && p->spec.stream && !reply.has_usage && !reply.usage_unreadable) {
      p->st->reply.reply = reply;  // no usage from the provider: estimate from what came
      estimate_stream_usage(p);
    }
    gates.settle(now, reserved, ok && reply.has_usage ? provider.metered(reply.usage) : reserved);
    gates.observe(now, remaining(h));
    a.kind = ok ? LLMSVC_KIND_NONE : LLMSVC_KIND_PROTOCOL;
    if (ok) account(p, reply);
    if (p->st) p->st->accounted = true;  // whatever the stream used is counted now
    SchemaViolation violation;
    std::string failed_output;
    if (ok && !settle_tool_calls(p, reply, violation, failed_output)) {
      a.kind = LLMSVC_KIND_SCHEMA_MISMATCH;
      p->error_message = violation.message;
      p->schema_failure.reset(
          new Pending::SchemaFailure{{}, std::move(violation), std::move(failed_output)});
    }
    attempt_ended(p, now, a.kind, a.end_ns - a.start_ns, reply.usage.completion);
    recycle(p, std::move(x));
    p->overhead_ns += steady_now_ns() - t0;
    if (!ok) {
      finish(p, LLMSVC_KIND_PROTOCOL, "HTTP " + std::to_string(status) + " but " + perr, now);
    } else if (a.kind != LLMSVC_KIND_SCHEMA_MISMATCH) {
      finish(p, LLMSVC_KIND_NONE, std::string(), now, &reply);
    } else if (p->schema_retries_left > 0 && !p->delta_sent) {
      --p->schema_retries_left;  // ask again at once: the provider was fine, the output not
      metrics_.backoff(0, false);
      if (wants(LLMSVC_EVENT_RETRY_SCHEDULED)) event_retry(p, now, 0, "schema_mismatch");
      enqueue(p, now);
    } else {
      finish(p, LLMSVC_KIND_SCHEMA_MISMATCH, p->error_message, now);
    }
    return;
  }

  // An error answer: the provider did not serve it, so no tokens are counted.
  gates.settle(now, reserved, Tokens{});
  gates.observe(now, remaining(h));
  ProviderError pe = provider.parse_error(x->response());
  Classification c = classify_http(status, pe.type, pe.code, h.should_retry);
  a.kind = c.kind;
  // What the provider says may echo the key: redacted before it is kept anywhere.
  redact(pe);
  p->error_message = redact("HTTP " + std::to_string(status) + ": " +
                            (pe.message.empty() ? body_excerpt(x->response()) : pe.message));
  p->provider_error = std::move(pe);
  attempt_ended(p, now, a.kind, a.end_ns - a.start_ns, 0);
  ResponseHeaders hcopy = h;
  recycle(p, std::move(x));
  p->overhead_ns += steady_now_ns() - t0;
  retry_or_fail(p, c, hcopy, now);
}

void Engine::attempt_ended(Pending *p, int64_t now, llmsvc_error_kind kind,
                           int64_t duration_ns, int64_t completion_tokens) {
  metrics_.attempt_done(now, kind, duration_ns, completion_tokens);
  Deployment &d = *p->dep;
  d.breaker.record(now, kind, p->breaker_probe);
  p->breaker_probe = false;
  if (kind != LLMSVC_KIND_NONE) ++d.failed_attempts;
  // Latency for routing: what an answer took; a failure of the endpoint itself counts
  // as slow, so the lowest-latency choice never prefers a deployment that fails fast.
  const int http = p->attempts.back().http_status;
  if (CircuitBreaker::is_health_failure(kind))
    d.observe_latency(std::max({duration_ns, 2 * d.latency_ewma_ns, kNsPerSec}));
  else if (http >= 200 && http < 300)
    d.observe_latency(duration_ns);
  if (wants(LLMSVC_EVENT_ATTEMPT_FINISHED)) event_attempt_finished(p, now);
}

void Engine::stream_failed(Pending *p, std::unique_ptr<Transfer> x, int64_t now, int64_t t0) {
  // An error event, or a body that ended before the provider's closing event.
  const ProviderError &e = p->st->error;
  Classification c{LLMSVC_KIND_CONNECTION, true};
  if (!p->st->failed) {
    p->error_message = "the stream ended before the provider's closing event";
  } else {
    int as_status = e.type == "rate_limit_error"        ? 429
                    : e.type == "invalid_request_error" ? 400
                    : e.type == "overloaded_error"      ? 529
                                                        : 500;
    c = classify_http(as_status, e.type, e.code, -1);
    if (e.type.empty() && e.code.empty()) c = {LLMSVC_KIND_PROTOCOL, false};  // unreadable
    p->provider_error = e;
    redact(p->provider_error);
    p->error_message = "stream error" + (e.type.empty() ? std::string() : " " + e.type) + ": " +
                       p->provider_error.message;
  }
  const Tokens reserved = p->reserved;
  Deployment &d = *p->dep;
  d.gates.settle(now, reserved,
                 p->st->reply.reply.has_usage ? d.provider->metered(p->st->reply.reply.usage)
                                              : reserved);
  Attempt &a = p->attempts.back();
  a.kind = c.kind;
  attempt_ended(p, now, a.kind, a.end_ns - a.start_ns, 0);
  recycle(p, std::move(x));
  p->overhead_ns += steady_now_ns() - t0;
  retry_or_fail(p, c, ResponseHeaders{}, now);
}

void Engine::retry_or_fail(Pending *p, const Classification &c, const ResponseHeaders &h,
                           int64_t now) {
  const RetryPolicy &policy = config_.retry;
  Deployment &d = *p->dep;
  // Attempts on this tier: a fallback tier gets retries of its own.
  int64_t failures = int64_t(p->attempts.size()) - p->tier_first_attempt;
  if (condemns_deployment(c.kind) && take_out(d, c.kind, p->error_message) && !p->delta_sent) {
    // The key, account or region is at fault, not the request: no retry on it, but
    // another deployment (or the next tier) may serve the request at once.
    bool others = false;
    for (Deployment *o : p->route->tiers[p->tier]) others |= !o->out;
    if (others || next_tier(p)) {
      if (wants(LLMSVC_EVENT_RETRY_SCHEDULED)) event_retry(p, now, 0, "out_of_rotation");
      enqueue(p, now);
      return;
    }
    return finish(p, c.kind, p->error_message + " (every deployment it may use is out of rotation)",
                  now);
  }
  if (!c.retryable) return finish(p, c.kind, p->error_message, now);
  if (p->delta_sent)
    return finish(p, c.kind,
                  p->error_message +
                      " (the stream broke after text was delivered, so it is not retried)",
                  now);
  const int64_t server = h.retry_after_ms_ns >= 0 ? h.retry_after_ms_ns : h.retry_after_ns;
  if (server >= 0) {
    p->retry_after_ns = server;
    // A 429 with a wait holds the key for it (up to retry.max_pause_ms), whatever becomes
    // of this request, so the requests behind it draw no 429s of their own. Requests that
    // would wait longer than retry.max_retry_after_ms fail at admission (Engine::pick).
    if (c.kind == LLMSVC_KIND_RATE_LIMITED && c.pauses_key)
      d.gates.pause_until(now + std::min(server, policy.max_pause_ms * kNsPerMs));
  }
  if (failures >= policy.max_attempts) {
    if (next_tier(p)) {
      if (wants(LLMSVC_EVENT_RETRY_SCHEDULED)) event_retry(p, now, 0, "fallback");
      enqueue(p, now);  // its tier is exhausted: on to the fallback at once
      return;
    }
    return finish(p, c.kind,
                  p->error_message + " (gave up after " + std::to_string(failures) +
                      (failures == 1 ? " attempt)" : " attempts)"),
                  now);
  }
  int64_t delay;
  BackoffSource source;
  if (server >= 0) {
    if (server > policy.max_retry_after_ms * kNsPerMs) {
      if (next_tier(p)) {
        if (wants(LLMSVC_EVENT_RETRY_SCHEDULED)) event_retry(p, now, 0, "fallback");
        enqueue(p, now);  // this deployment is out for longer than we wait: fall back
        return;
      }
      return finish(p, c.kind,
                    p->error_message + " (the server asked to wait " +
                        std::to_string(server / kNsPerMs) +
                        " ms, longer than retry.max_retry_after_ms " +
                        std::to_string(policy.max_retry_after_ms) + ")",
                    now);
    }
    delay = server;
    source = BackoffSource::kServer;
  } else {
    delay = backoff_ns(policy, failures, std::uniform_real_distribution<double>(0, 1)(rng_));
    source = BackoffSource::kClient;
  }
  // One 429 stops the whole gate for the client's backoff too, so a burst never becomes a herd.
  if (c.kind == LLMSVC_KIND_RATE_LIMITED && c.pauses_key && source == BackoffSource::kClient)
    d.gates.pause_until(now + std::min(delay, policy.max_pause_ms * kNsPerMs));
  if (p->deadline_ns != kNever && now + delay >= p->deadline_ns)
    return finish(p, LLMSVC_KIND_DEADLINE_EXCEEDED,
                  "the deadline (timeout_ms " + std::to_string(p->spec.timeout_ms) +
                      ") would pass before the next attempt; last error: " + p->error_message,
                  now);
  Attempt &a = p->attempts.back();
  a.backoff_ns = delay;
  a.backoff_source = source;
  metrics_.backoff(delay, source == BackoffSource::kServer);
  if (wants(LLMSVC_EVENT_RETRY_SCHEDULED)) event_retry(p, now, delay, "backoff");
  p->state = Pending::State::kBackoff;
  p->wake_ns = now + delay;
  timers_.emplace(p->wake_ns, p->id, 0);
  ++backing_off_;
}

void Engine::detach(Pending *p, int64_t now) {
  switch (p->state) {
    case Pending::State::kQueued:
      waiting_.erase(p->queue_key());
      --queued_by_priority_[p->spec.priority];
      if (int64_t max = config_.queue.max_wait_ms[p->spec.priority])
        timers_.erase({p->enqueued_ns + max * kNsPerMs, p->id, 2});
      break;
    case Pending::State::kBackoff:
      timers_.erase({p->wake_ns, p->id, 0});
      --backing_off_;
      break;
    case Pending::State::kInFlight: {
      std::unique_ptr<Transfer> x(p->transfer);
      Shard &shard = *shards_[x->shard];
      curl_multi_remove_handle(shard.multi, x->easy());
      --shard.transfers;
      p->transfer = nullptr;
      recycle(p, std::move(x));
      --in_flight_;
      --p->dep->in_flight;
      // It was sent: count it as the provider may have.
      p->dep->gates.settle(now, p->reserved, p->reserved);
      p->attempts.back().end_ns = now;
      if (p->breaker_probe) p->dep->breaker.probe_abandoned();  // no verdict: another may probe
      p->breaker_probe = false;
      break;
    }
    case Pending::State::kFollower: {
      std::vector<Pending *> &fs = p->cache->leader->cache->followers;
      fs.erase(std::find(fs.begin(), fs.end(), p));
      p->cache->leader = nullptr;
      --cache_counters_.waiting;
      break;
    }
    case Pending::State::kNew: break;
  }
  p->state = Pending::State::kNew;
  if (p->deadline_ns != kNever) timers_.erase({p->deadline_ns, p->id, 1});
}

std::string Engine::redact(std::string s) const {
  for (const auto &d : deps_) {
    const std::string &key = d->config.api_key;
    if (key.size() < 4) continue;
    for (size_t at = s.find(key); at != std::string::npos; at = s.find(key, at))
      s.replace(at, key.size(), "[redacted]");
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
  rec.overhead_ns = p->overhead_ns;
  metrics_.completed(rec);
  done_.push_back({r, p->cb, p->payload});
  if (leader) settle_followers(p, kind, message, cached.get(), now);
}

bool Engine::on_stream_bytes(void *owner, std::string_view bytes) {
  auto *p = static_cast<Pending *>(owner);
  int64_t t0 = steady_now_ns();
  stream_events_.clear();
  p->st->decoder.feed(bytes, stream_events_);
  bool ok = take_stream_events(p);
  if (ok && int64_t(p->st->decoder.pending_bytes()) > config_.max_stream_event_bytes)
    ok = event_too_large(p);
  p->overhead_ns += steady_now_ns() - t0;
  return ok;
}

bool Engine::event_too_large(Pending *p) {
  p->st->failed = true;
  p->st->error = ProviderError{};
  p->st->error.message = "a stream event is longer than http.max_stream_event_bytes (" +
                         std::to_string(config_.max_stream_event_bytes) + " bytes)";
  return false;  // aborts the transfer; stream_failed reports it as a protocol error
}

bool Engine::take_stream_events(Pending *p) {
  for (const StreamEvent &ev : stream_events_) {
    if (int64_t(ev.data.size()) > config_.max_stream_event_bytes) return event_too_large(p);
    std::string delta;
    if (!p->dep->provider->on_stream_event(ev, p->st->reply, delta, p->st->error)) {
      p->st->failed = true;
      return false;  // aborts the transfer; on_transfer_done reports the error event
    }
    if (!p->st->reply.tool_pieces.empty()) take_tool_pieces(p);
    if (delta.empty()) continue;
    p->st->reply.reply.text += delta;
    queue_text(p, std::move(delta));
  }
  return true;
}

void Engine::queue_text(Pending *p, std::string text) {
  if (!p->first_delta_ns) {
    p->first_delta_ns = clock_.steady_ns();
    metrics_.first_token(p->first_delta_ns - p->attempts.back().start_ns);
  }
  p->delta_sent = true;
  if (p->delta_cb || p->piece_cb || p->pieces_to_queue) {
    Delta d{p->id, p->delta_cb, p->payload, std::move(text)};
    d.piece_cb = p->piece_cb;
    deltas_.push_back(std::move(d));
  }
}

void Engine::estimate_stream_usage(Pending *p) {
  ProviderReply est = p->st->reply.reply;
  if (est.usage.prompt <= 0) est.usage.prompt = p->prompt_estimate;
  // What came, but never more than the request allowed: a reply that broke its own bound
  // is not billed past it.
  est.usage.completion = text_tokens(p->st->reply.reply.text.size());
  if (p->reserved.output > 0) est.usage.completion = std::min(est.usage.completion, p->reserved.output);
  est.has_usage = true;
  p->usage_estimated = true;
  p->st->accounted = true;
  account(p, est);
}

void Engine::flush_completions() {
  do {
    flush_events();  // what happened, then the pieces and completions it led to
    deliver_to_queue();  // queued events before any completion callback runs
    flush_deltas_and_done();
    deliver_to_queue();  // what goes to the queue goes in one batch
  } while (!events_.empty() || !deltas_.empty() || !done_.empty());
}

void Engine::flush_deltas_and_done() {
  // Deltas first: a request's pieces always come before its completion.
  while (!deltas_.empty()) {
    std::vector<Delta> batch;
    batch.swap(deltas_);
    for (Delta &d : batch) {
      if (d.piece_cb) {
        try {
          d.piece_cb(d.id, d.kind, d.index, d.call_id.c_str(), d.name.c_str(), d.text.data(),
                     d.text.size(), d.payload);
        } catch (...) {
        }
        continue;
      }
      if (d.cb) {
        try {
          d.cb(d.id, d.text.data(), d.text.size(), d.payload);
        } catch (...) {
        }
        continue;
      }
      auto *r = new llmsvc_result;
      r->id = d.id;
      r->type = LLMSVC_RESULT_DELTA;
      JsonWriter w(r->json);
      w.StartObject();
      w.Key("id");
      w.Uint64(d.id);
      if (d.kind != LLMSVC_PIECE_TEXT) {
        w.Key("piece");
        w.String(d.kind == LLMSVC_PIECE_TOOL_CALL ? "tool_call" : "tool_arguments");
        w.Key("index");
        w.Uint(d.index);
        write_opt_str(w, "call_id", d.call_id);
        write_opt_str(w, "name", d.name);
      }
      w.Key("delta");
      write_str(w, d.text);
      w.EndObject();
      r->json_text = r->json.GetString();
      r->json_len = r->json.GetSize();
      r->text = std::move(d.text);
      r->piece_kind = d.kind;
      r->piece_index = d.index;
      r->call_id = std::move(d.call_id);
      r->call_name = std::move(d.name);
      to_queue_.emplace_back(r, d.payload);
    }
  }
  // A callback may cancel other requests, which completes them: those go in the next round.
  while (!done_.empty()) {
    std::vector<Done> batch;
    batch.swap(done_);
    for (Done &d : batch) {
      if (!d.cb) {
        to_queue_.emplace_back(d.result, d.payload);
        continue;
      }
      try {
        d.cb(d.result, d.payload);
      } catch (...) {
        // A C++ host's callback threw; it must not unwind through the engine.
      }
    }
  }
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

namespace {

void write_usage_object(JsonWriter &w, const TokenUsage &u) {
  w.StartObject();
  w.Key("prompt_tokens");
  w.Int64(u.prompt);
  w.Key("completion_tokens");
  w.Int64(u.completion);
  w.Key("total_tokens");
  w.Int64(u.prompt + u.completion);
  w.Key("cached_tokens");
  w.Int64(u.cached);
  w.Key("cache_write_tokens");
  w.Int64(u.cache_write);
  if (u.cache_write_1h > 0) {  // of the writes, those kept for an hour (priced higher)
    w.Key("cache_write_1h_tokens");
    w.Int64(u.cache_write_1h);
  }
  w.Key("reasoning_tokens");
  w.Int64(u.reasoning);
}

// The result's "cache" member: whether the answer came from the cache (and what it saved)
// or was fetched (and stored).
void write_result_cache(JsonWriter &w, const Pending::CacheState &c, int64_t now_ms) {
  w.Key("cache");
  w.StartObject();
  w.Key("hit");
  w.Bool(c.hit != CacheSource::kNone);
  w.Key("key");
  write_str(w, c.key.hex());
  if (c.hit != CacheSource::kNone) {
    w.Key("source");
    w.String(cache_source_name(c.hit));
    w.Key("age_ms");
    w.Int64(std::max<int64_t>(now_ms - c.reply.created_ms, 0));
    w.Key("saved_usage");
    write_usage_object(w, c.reply.usage);
    w.EndObject();
    w.Key("saved_cost_nano_usd");
    if (c.reply.cost_pico >= 0) w.Int64(c.reply.cost_pico / 1000);
    else w.Null();
  } else {
    w.Key("stored");
    w.Bool(c.stored);
  }
  if (c.coalesced_with) {
    w.Key("coalesced_with");  // the request whose provider call this one shared
    w.Uint64(c.coalesced_with);
  }
  w.EndObject();
}

}  // namespace

void Engine::fill_typed(llmsvc_result *r, const Pending *p, const ProviderReply *reply,
                        int64_t cost_pico, int64_t now) const {
  int64_t *n = r->nums;
  const bool ok = r->kind == LLMSVC_KIND_NONE && reply;
  n[LLMSVC_NUM_KIND] = r->kind;
  n[LLMSVC_NUM_HTTP_STATUS] = r->http_status;
  const TokenUsage &u = p->usage;
  const bool used = p->has_usage;
  n[LLMSVC_NUM_PROMPT_TOKENS] = used ? u.prompt : LLMSVC_UNKNOWN;
  n[LLMSVC_NUM_COMPLETION_TOKENS] = used ? u.completion : LLMSVC_UNKNOWN;
  n[LLMSVC_NUM_CACHED_TOKENS] = used ? u.cached : LLMSVC_UNKNOWN;
  n[LLMSVC_NUM_CACHE_WRITE_TOKENS] = used ? u.cache_write : LLMSVC_UNKNOWN;
  n[LLMSVC_NUM_REASONING_TOKENS] = used ? u.reasoning : LLMSVC_UNKNOWN;
  n[LLMSVC_NUM_USAGE] = p->usage_unreadable ? 3 : !used ? 0 : p->usage_estimated ? 2 : 1;
  n[LLMSVC_NUM_COST_NANO_USD] = cost_pico >= 0 ? cost_pico / 1000 : LLMSVC_UNKNOWN;
  n[LLMSVC_NUM_ATTEMPTS] = int64_t(p->attempts.size());
  n[LLMSVC_NUM_RETRY_AFTER_MS] = p->retry_after_ns >= 0 ? p->retry_after_ns / kNsPerMs
                                                         : LLMSVC_UNKNOWN;
  n[LLMSVC_NUM_SUBMIT_UNIX_MS] = p->submit_wall_ms;
  n[LLMSVC_NUM_TOTAL_NS] = now - p->submit_ns;
  n[LLMSVC_NUM_FIRST_TOKEN_NS] = p->first_delta_ns ? p->first_delta_ns - p->submit_ns
                                                   : LLMSVC_UNKNOWN;
  n[LLMSVC_NUM_OVERHEAD_NS] = p->overhead_ns;
  n[LLMSVC_NUM_CHOICES] = !ok ? 0 : reply->choices.empty() ? 1 : int64_t(reply->choices.size());
  n[LLMSVC_NUM_TOOL_CALLS] = ok ? int64_t(reply->tool_calls.size()) : 0;
  n[LLMSVC_NUM_CACHE_HIT] = !p->cache                                 ? 0
                            : p->cache->hit == CacheSource::kMemory ? 1
                            : p->cache->hit == CacheSource::kSqlite ? 2
                                                                     : 0;
  std::string *s = r->strs;
  s[LLMSVC_STR_MODEL] = p->spec.model;
  s[LLMSVC_STR_OPERATION] = p->spec.operation;
  if (p->dep && any_route_ == nullptr) s[LLMSVC_STR_DEPLOYMENT] = p->dep->name;
  s[LLMSVC_STR_TRACE_ID] = p->spec.trace_id;
  if (ok) {
    s[LLMSVC_STR_RESPONSE_MODEL] = reply->model;
    s[LLMSVC_STR_RESPONSE_ID] = reply->response_id;
    s[LLMSVC_STR_FINISH_REASON] = reply->finish_reason;
    s[LLMSVC_STR_SERVICE_TIER] = reply->service_tier;
    s[LLMSVC_STR_THINKING] = reply->thinking;
    if (reply->choices.size() > 1) r->choices = reply->choices;
  } else {
    s[LLMSVC_STR_PROVIDER_ERROR_TYPE] = p->provider_error.type;
    s[LLMSVC_STR_PROVIDER_ERROR_CODE] = p->provider_error.code;
    s[LLMSVC_STR_PROVIDER_MESSAGE] = p->provider_error.message;
  }
  r->attempts.resize(p->attempts.size());
  for (size_t i = 0; i < p->attempts.size(); ++i) {
    const Attempt &a = p->attempts[i];
    llmsvc_result::Attempt &t = r->attempts[i];
    int64_t *an = t.nums;
    an[LLMSVC_ATTEMPT_HTTP_STATUS] = a.http_status;
    an[LLMSVC_ATTEMPT_KIND] = a.kind;
    an[LLMSVC_ATTEMPT_START_NS] = a.start_ns - p->submit_ns;
    an[LLMSVC_ATTEMPT_DURATION_NS] = (a.end_ns ? a.end_ns : now) - a.start_ns;
    an[LLMSVC_ATTEMPT_BACKOFF_NS] = a.backoff_source != BackoffSource::kNone ? a.backoff_ns : 0;
    an[LLMSVC_ATTEMPT_BACKOFF_SOURCE] = int64_t(a.backoff_source);
    an[LLMSVC_ATTEMPT_PROMPT_TOKENS] = a.has_usage ? a.prompt_tokens : LLMSVC_UNKNOWN;
    an[LLMSVC_ATTEMPT_COMPLETION_TOKENS] = a.has_usage ? a.completion_tokens : LLMSVC_UNKNOWN;
    an[LLMSVC_ATTEMPT_COST_NANO_USD] = a.has_usage && a.cost_pico >= 0 ? a.cost_pico / 1000
                                                                       : LLMSVC_UNKNOWN;
    an[LLMSVC_ATTEMPT_START_UNIX_MS] = a.start_wall_ms;
    t.request_id = a.request_id;
    if (a.deployment && any_route_ == nullptr) t.deployment = a.deployment->name;
  }
}

llmsvc_result *Engine::build_result(Pending *p, llmsvc_error_kind kind,
                                    const std::string &message, const ProviderReply *reply,
                                    int64_t cost_pico, int64_t now) {
  auto *r = new llmsvc_result;
  r->id = p->id;
  r->kind = kind;
  r->http_status = p->attempts.empty() ? 0 : p->attempts.back().http_status;
  fill_typed(r, p, reply, cost_pico, now);
  JsonWriter w(r->json);
  w.StartObject();
  w.Key("id");
  w.Uint64(p->id);
  w.Key("ok");
  w.Bool(kind == LLMSVC_KIND_NONE);
  w.Key("model");
  write_str(w, p->spec.model);
  w.Key("operation");
  write_str(w, p->spec.operation);
  if (p->dep && any_route_ == nullptr) {
    // Which deployment served it (or gave the final answer).
    w.Key("deployment");
    write_str(w, p->dep->name);
  }
  write_opt_str(w, "trace_id", p->spec.trace_id);
  if (!p->spec.metadata_json.empty()) {
    w.Key("metadata");
    w.RawValue(p->spec.metadata_json.data(), p->spec.metadata_json.size(), rapidjson::kObjectType);
  }
  if (kind == LLMSVC_KIND_NONE && reply) {
    r->text = reply->text;
    w.Key("text");
    write_str(w, reply->text);
    write_opt_str(w, "finish_reason", reply->finish_reason);
    write_opt_str(w, "response_id", reply->response_id);
    write_opt_str(w, "response_model", reply->model);
    if ((p->spec.schema || p->spec.json_mode) && !reply->text.empty()) {
      w.Key("json");  // validated against the schema (or as JSON), so it is a JSON document
      w.RawValue(reply->text.data(), reply->text.size(), rapidjson::kObjectType);
    }
    write_reply_extras(w, p, *reply);
    r->tool_calls = reply->tool_calls;
  } else {
    r->error_message = message;
    w.Key("error");
    w.StartObject();
    w.Key("kind");
    w.String(llmsvc_error_kind_name(kind));
    w.Key("message");
    write_str(w, message);
    w.Key("http_status");
    w.Int(r->http_status);
    write_opt_str(w, "provider_message", p->provider_error.message);
    write_opt_str(w, "provider_type", p->provider_error.type);
    write_opt_str(w, "provider_code", p->provider_error.code);
    write_opt_str(w, "provider_param", p->provider_error.param);
    if (p->retry_after_ns >= 0) {
      w.Key("retry_after_ms");
      w.Int64(p->retry_after_ns / kNsPerMs);
    }
    if (kind == LLMSVC_KIND_SCHEMA_MISMATCH && p->schema_failure) {
      w.Key("pointer");
      write_str(w, p->schema_failure->violation.pointer);
      w.Key("keyword");
      write_str(w, p->schema_failure->violation.keyword);
      w.Key("output");
      write_str(w, p->schema_failure->output);
    }
    w.EndObject();
  }
  w.Key("usage");
  if (p->has_usage) {
    write_usage_object(w, p->usage);
    if (p->usage_estimated) {
      w.Key("estimated");  // the stream ended without the provider's own count
      w.Bool(true);
    }
    w.EndObject();
  } else {
    w.Null();
  }
  if (p->usage_unreadable) {
    w.Key("usage_unreadable");  // the provider sent counts that are not counts: cost unknown
    w.Bool(true);
  }
  w.Key("cost_nano_usd");
  if (cost_pico >= 0) w.Int64(cost_pico / 1000);
  else w.Null();
  if (p->cache) write_result_cache(w, *p->cache, clock_.wall_ms());
  w.Key("attempts");
  w.StartArray();
  for (const Attempt &a : p->attempts) {
    w.StartObject();
    w.Key("start_unix_ms");
    w.Int64(a.start_wall_ms);
    w.Key("start_ms");
    w.Double(double(a.start_ns - p->submit_ns) / 1e6);
    w.Key("duration_ms");
    w.Double(double((a.end_ns ? a.end_ns : now) - a.start_ns) / 1e6);
    w.Key("http_status");
    w.Int(a.http_status);
    w.Key("kind");
    w.String(llmsvc_error_kind_name(a.kind));
    if (a.backoff_source != BackoffSource::kNone) {
      w.Key("backoff_ms");
      w.Double(double(a.backoff_ns) / 1e6);
      w.Key("backoff_source");
      w.String(backoff_source_name(a.backoff_source));
    }
    write_opt_str(w, "request_id", a.request_id);
    if (a.deployment && any_route_ == nullptr) {
      w.Key("deployment");
      write_str(w, a.deployment->name);
    }
    write_attempt_usage(w, a);
    w.EndObject();
  }
  w.EndArray();
  w.Key("timing");
  w.StartObject();
  w.Key("submit_unix_ms");
  w.Int64(p->submit_wall_ms);
  w.Key("total_ms");
  w.Double(double(now - p->submit_ns) / 1e6);
  w.Key("overhead_us");
  w.Double(double(p->overhead_ns) / 1e3);
  if (p->first_delta_ns) {
    w.Key("first_token_ms");
    w.Double(double(p->first_delta_ns - p->submit_ns) / 1e6);
  }
  w.EndObject();
  w.EndObject();
  r->json_text = r->json.GetString();
  r->json_len = r->json.GetSize();
  return r;
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
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace llmsvc
