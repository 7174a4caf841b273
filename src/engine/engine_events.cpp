// Lifecycle events: each is built as a JSON object where it happens (with the times of
// that moment) and delivered with the completions, never in the middle of the engine's
// work, so a hook may call the client as a completion callback may. Nothing here runs
// unless a hook asked for the event's type.
#include <memory>

#include "capi/result.h"
#include "engine/engine.h"
#include "retry/policy.h"

namespace llmsvc {

namespace {
void write_attempt_of(JsonWriter &w, int64_t attempt, const Deployment &d) {
  w.Key("attempt");
  w.Int64(attempt);
  w.Key("deployment");
  write_str(w, d.name);
}
}  // namespace

const char *event_type_name(unsigned type) {
  switch (type) {
    case LLMSVC_EVENT_QUEUED: return "queued";
    case LLMSVC_EVENT_ADMITTED: return "admitted";
    case LLMSVC_EVENT_ATTEMPT_STARTED: return "attempt_started";
    case LLMSVC_EVENT_ATTEMPT_FINISHED: return "attempt_finished";
    case LLMSVC_EVENT_RETRY_SCHEDULED: return "retry_scheduled";
    case LLMSVC_EVENT_COMPLETED: return "completed";
    default: return "unknown";
  }
}

void Engine::set_event_hook(unsigned events, unsigned flags, llmsvc_event_cb cb, void *payload) {
  run_on_engine([&] {
    event_mask_ = events;
    event_flags_ = flags;
    event_cb_ = cb;
    event_payload_ = payload;
  });
}

void Engine::write_event_head(JsonWriter &w, unsigned type, const Pending *p, int64_t now) const {
  w.StartObject();
  w.Key("type");
  w.String(event_type_name(type));
  w.Key("request_id");
  w.Uint64(p->id);
  write_opt_str(w, "trace_id", p->spec.trace_id);
  write_opt_str(w, "traceparent", p->spec.traceparent);
  w.Key("model");
  write_str(w, p->spec.model);
  w.Key("operation");
  write_str(w, p->spec.operation);
  w.Key("unix_ms");
  w.Int64(clock_.wall_ms());
  w.Key("since_submit_ms");
  w.Double(double(now - p->submit_ns) / 1e6);
}

std::unique_ptr<llmsvc_result> Engine::new_event(unsigned type, uint64_t id) {
  std::unique_ptr<llmsvc_result> r(new llmsvc_result);
  r->id = id;
  r->type = LLMSVC_RESULT_EVENT;
  r->http_status = int(type);  // read back at delivery, then 0
  r->nums[LLMSVC_NUM_EVENT_TYPE] = int64_t(type);
  return r;
}

void Engine::push_event(std::unique_ptr<llmsvc_result> r, int kind) {
  r->kind = kind;
  r->json_text = r->json.GetString();
  r->json_len = r->json.GetSize();
  events_.push_back(r.get());
  r.release();
}

void Engine::event_queued(const Pending *p, int64_t now) {
  std::unique_ptr<llmsvc_result> r = new_event(LLMSVC_EVENT_QUEUED, p->id);
  JsonWriter w(r->json);
  write_event_head(w, LLMSVC_EVENT_QUEUED, p, now);
  w.Key("priority");
  w.Int(p->spec.priority);
  w.Key("waiting");
  w.Int64(int64_t(waiting_.size()));
  if ((event_flags_ & LLMSVC_EVENTS_WITH_CONTENT) && p->body_len) {
    w.Key("request");
    w.RawValue(p->body_text, p->body_len, rapidjson::kObjectType);
  }
  w.EndObject();
  push_event(std::move(r), 0);
}

void Engine::event_admitted(const Pending *p, int64_t now) {
  std::unique_ptr<llmsvc_result> r = new_event(LLMSVC_EVENT_ADMITTED, p->id);
  JsonWriter w(r->json);
  write_event_head(w, LLMSVC_EVENT_ADMITTED, p, now);
  write_attempt_of(w, int64_t(p->attempts.size()) + 1, *p->dep);
  w.Key("queue_ms");
  w.Double(double(now - p->enqueued_ns) / 1e6);
  w.EndObject();
  push_event(std::move(r), 0);
}

void Engine::event_attempt_started(const Pending *p, int64_t now) {
  std::unique_ptr<llmsvc_result> r = new_event(LLMSVC_EVENT_ATTEMPT_STARTED, p->id);
  JsonWriter w(r->json);
  write_event_head(w, LLMSVC_EVENT_ATTEMPT_STARTED, p, now);
  write_attempt_of(w, int64_t(p->attempts.size()), *p->dep);
  w.Key("provider");
  w.String(p->dep->provider->name());
  w.Key("stream");
  w.Bool(p->spec.stream);
  w.EndObject();
  push_event(std::move(r), 0);
}

void Engine::event_attempt_finished(const Pending *p, int64_t now) {
  const Attempt &a = p->attempts.back();
  std::unique_ptr<llmsvc_result> r = new_event(LLMSVC_EVENT_ATTEMPT_FINISHED, p->id);
  JsonWriter w(r->json);
  write_event_head(w, LLMSVC_EVENT_ATTEMPT_FINISHED, p, now);
  write_attempt_of(w, int64_t(p->attempts.size()), *p->dep);
  w.Key("kind");
  w.String(llmsvc_error_kind_name(a.kind));
  w.Key("http_status");
  w.Int(a.http_status);
  w.Key("duration_ms");
  w.Double(double((a.end_ns ? a.end_ns : now) - a.start_ns) / 1e6);
  write_opt_str(w, "provider_request_id", a.request_id);
  write_attempt_usage(w, a);
  w.EndObject();
  push_event(std::move(r), a.kind);
}

void Engine::event_retry(const Pending *p, int64_t now, int64_t backoff_ns, const char *reason) {
  const Attempt &a = p->attempts.back();
  std::unique_ptr<llmsvc_result> r = new_event(LLMSVC_EVENT_RETRY_SCHEDULED, p->id);
  JsonWriter w(r->json);
  write_event_head(w, LLMSVC_EVENT_RETRY_SCHEDULED, p, now);
  w.Key("after_attempt");
  w.Int64(int64_t(p->attempts.size()));
  w.Key("cause");
  w.String(llmsvc_error_kind_name(a.kind));
  w.Key("reason");
  w.String(reason);
  w.Key("backoff_ms");
  w.Double(double(backoff_ns) / 1e6);
  if (a.backoff_source != BackoffSource::kNone) {
    w.Key("backoff_source");
    w.String(backoff_source_name(a.backoff_source));
  }
  w.EndObject();
  push_event(std::move(r), a.kind);
}

void Engine::event_completed(const Pending *p, int64_t now, llmsvc_error_kind kind,
                             const std::string &message, const ProviderReply *reply,
                             int64_t cost_pico) {
  std::unique_ptr<llmsvc_result> r = new_event(LLMSVC_EVENT_COMPLETED, p->id);
  JsonWriter w(r->json);
  write_event_head(w, LLMSVC_EVENT_COMPLETED, p, now);
  w.Key("ok");
  w.Bool(kind == LLMSVC_KIND_NONE);
  w.Key("kind");
  w.String(llmsvc_error_kind_name(kind));
  if (kind != LLMSVC_KIND_NONE) {
    w.Key("message");
    write_str(w, message);
  }
  w.Key("attempts");
  w.Int64(int64_t(p->attempts.size()));
  if (p->dep) {
    w.Key("deployment");
    write_str(w, p->dep->name);
  }
  if (p->cache && p->cache->hit != CacheSource::kNone) {
    w.Key("cache");
    w.String(cache_source_name(p->cache->hit));
  }
  w.Key("total_ms");
  w.Double(double(now - p->submit_ns) / 1e6);
  if (p->has_usage) {
    w.Key("prompt_tokens");
    w.Int64(p->usage.prompt);
    w.Key("completion_tokens");
    w.Int64(p->usage.completion);
  }
  w.Key("cost_nano_usd");
  if (cost_pico >= 0) w.Int64(cost_pico / 1000);
  else w.Null();
  if ((event_flags_ & LLMSVC_EVENTS_WITH_CONTENT) && reply) {
    w.Key("text");
    write_str(w, reply->text);
  }
  w.EndObject();
  push_event(std::move(r), kind);
}

void Engine::flush_events() {
  while (!events_.empty()) {
    std::vector<llmsvc_result *> batch;
    batch.swap(events_);
    for (llmsvc_result *r : batch) {
      if (!event_cb_) {
        r->http_status = 0;
        to_queue_.emplace_back(r, event_payload_);
        continue;
      }
      try {
        event_cb_(unsigned(r->http_status), r->id, r->json_text, r->json_len, event_payload_);
      } catch (...) {
        // A C++ host's hook threw; it must not unwind through the engine.
      }
      delete r;
    }
  }
}

}  // namespace llmsvc
