// Delivery: results are built (typed view and JSON) and handed to callbacks, the batch
// callback or the completion queue.
#include "engine/engine.h"

#include <algorithm>
#include <cstdio>
#include <new>
#include <system_error>

#include "capi/result.h"
#include "common/alloc.h"
#include "http/transfer.h"
#include "retry/policy.h"

namespace llmsvc {

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
  n[LLMSVC_NUM_EMBEDDINGS] = ok ? int64_t(reply->embeddings.size()) : 0;
  n[LLMSVC_NUM_CACHE_HIT] = !p->cache                                 ? 0
                            : p->cache->hit == CacheSource::kMemory ? 1
                            : p->cache->hit == CacheSource::kSqlite ? 2
                                                                     : 0;
  const Deployment *dep = p->dep ? p->dep : deps_[0].get();
  n[LLMSVC_NUM_SERVER_PORT] = dep->server_port;
  std::string *s = r->strs;
  s[LLMSVC_STR_PROVIDER] = dep->genai_provider;
  s[LLMSVC_STR_SERVER_ADDRESS] = dep->server_address;
  s[LLMSVC_STR_MODEL] = p->spec.model;
  s[LLMSVC_STR_OPERATION] = p->spec.operation;
  if (p->dep && any_route_ == nullptr) s[LLMSVC_STR_DEPLOYMENT] = p->dep->name;
  s[LLMSVC_STR_TRACE_ID] = p->spec.trace_id;
  if (p->batch) {
    s[LLMSVC_STR_BATCH_ID] = p->batch->batch_id;
    s[LLMSVC_STR_CUSTOM_ID] = p->batch->custom_id;
  }
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
  int64_t gate_wait = 0;
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
    an[LLMSVC_ATTEMPT_GATE_WAIT_NS] = attempt_gate_wait(*p, i);
    gate_wait += an[LLMSVC_ATTEMPT_GATE_WAIT_NS];
    t.request_id = a.request_id;
    if (a.deployment && any_route_ == nullptr) t.deployment = a.deployment->name;
  }
  n[LLMSVC_NUM_GATE_WAIT_NS] = gate_wait;
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
  if (p->batch) {  // a line of a provider batch job
    w.Key("batch");
    w.StartObject();
    w.Key("id");
    write_str(w, p->batch->batch_id);
    w.Key("custom_id");
    write_str(w, p->batch->custom_id);
    w.EndObject();
  }
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
    if (!reply->embeddings.empty()) {
      // Each float with the 9 significant digits that bring it back exactly.
      w.Key("embeddings");
      w.StartArray();
      char buf[32];
      for (const std::vector<float> &v : reply->embeddings) {
        w.StartArray();
        for (float f : v) {
          int len = std::snprintf(buf, sizeof buf, "%.9g", double(f));
          w.RawValue(buf, size_t(len), rapidjson::kNumberType);
        }
        w.EndArray();
      }
      w.EndArray();
      r->embeddings = reply->embeddings;
    }
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

}  // namespace llmsvc
