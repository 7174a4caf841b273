// A transfer ended: its reply is read and classified, and the request completes or is
// scheduled to retry.
#include "engine/engine.h"

#include <algorithm>
#include <new>
#include <system_error>

#include "capi/result.h"
#include "common/alloc.h"
#include "http/transfer.h"
#include "retry/policy.h"

namespace llmsvc {

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
    if (ok && p->spec.embedding && !reply.has_usage && !reply.usage_unreadable) {
      // An embeddings reply without counts in its body: the count a header gave (Bedrock),
      // else the input as the limiter counted it, marked as an estimate (Gemini).
      reply.has_usage = true;
      const int64_t given = x->headers().input_tokens;
      reply.usage.prompt = given >= 0 ? given : p->prompt_estimate;
      p->usage_estimated = given < 0;
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
  // A wait given in the body (Gemini) counts when no header gave one.
  if (p->provider_error.retry_after_ns >= 0 && hcopy.retry_after_ns < 0 &&
      hcopy.retry_after_ms_ns < 0)
    hcopy.retry_after_ms_ns = p->provider_error.retry_after_ns;
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

}  // namespace llmsvc
