// The C boundary: argument checks, handle <-> object, and no exception ever crosses it.
#include <curl/curl.h>

#include <condition_variable>
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_set>

#include "batch/batch_job.h"
#include "capi/result.h"
#include "core/config_file.h"
#include "core/config.h"
#include "engine/engine.h"
#include "llmsvc.h"

struct llmsvc_client {
  std::unique_ptr<llmsvc::Engine> engine;
};

struct llmsvc_batch_job {
  llmsvc_client *client;
  std::unique_ptr<llmsvc::BatchJob> job;
};

namespace {

// Live clients, so that a destroyed handle is told apart from a live one instead of being
// used after free. (A handle freed while another thread still uses it cannot be helped.)
std::mutex g_clients_mu;
std::unordered_set<const llmsvc_client *> g_clients;

bool live(const llmsvc_client *c) {
  if (!c) return false;
  std::lock_guard<std::mutex> lock(g_clients_mu);
  return g_clients.count(c) != 0;
}

int fail(llmsvc_error **out_err, int status, std::string message) {
  if (out_err) {
    *out_err = nullptr;
    try {
      *out_err = new llmsvc_error{status, std::move(message)};
    } catch (...) {
    }
  }
  return status;
}

int check_client(const llmsvc_client *c, llmsvc_error **out_err) {
  if (!c) return fail(out_err, LLMSVC_EINVAL, "client is NULL");
  if (!live(c)) return fail(out_err, LLMSVC_EHANDLE, "client was destroyed");
  return LLMSVC_OK;
}

// Runs `body`, turning any exception into a status with a message.
template <typename F>
int guarded(llmsvc_error **out_err, F &&body) {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return fail(out_err, LLMSVC_ENOMEM, "out of memory");
  } catch (const std::system_error &e) {
    return fail(out_err, LLMSVC_ESYSTEM, e.what());
  } catch (const std::exception &e) {
    return fail(out_err, LLMSVC_EINTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(out_err, LLMSVC_EINTERNAL, "internal error");
  }
}

// A string the caller frees with llmsvc_free.
char *copy_string(const std::string &s) {
  char *copy = static_cast<char *>(llmsvc::mem_alloc(s.size() + 1));
  if (!copy) throw std::bad_alloc();
  std::memcpy(copy, s.c_str(), s.size() + 1);
  return copy;
}

}  // namespace

extern "C" {

const char *llmsvc_version(void) { return LLMSVC_VERSION_STRING; }

uint32_t llmsvc_version_number(void) { return LLMSVC_VERSION_NUMBER; }

const char *llmsvc_strerror(int status) {
  switch (status) {
    case LLMSVC_OK: return "ok";
    case LLMSVC_EINVAL: return "invalid argument";
    case LLMSVC_EJSON: return "malformed JSON document";
    case LLMSVC_ESCHEMA: return "JSON document does not match the schema";
    case LLMSVC_ENOMEM: return "out of memory";
    case LLMSVC_ECLOSED: return "client is closed";
    case LLMSVC_ENOTFOUND: return "no pending request with that id";
    case LLMSVC_ERECURSIVE: return "blocking call from inside a completion callback";
    case LLMSVC_ETIMEOUT: return "timed out";
    case LLMSVC_EHANDLE: return "handle is not a live object";
    case LLMSVC_ESYSTEM: return "system resource unavailable";
    case LLMSVC_EINTERNAL: return "internal error";
    default: return "unknown status";
  }
}

const char *llmsvc_error_kind_name(int kind) {
  static const char *const names[] = {
      "none",           "rate_limited",  "insufficient_quota", "unsupported_region",
      "auth",           "permission",    "bad_request",        "not_found",
      "conflict",       "server_error",  "timeout",            "connection",
      "cancelled",      "deadline_exceeded", "shut_down",      "invalid_request",
      "protocol",       "budget_exceeded", "schema_mismatch",  "internal",
      "load_shed"};
  if (kind < 0 || kind >= int(sizeof names / sizeof names[0])) return "unknown";
  return names[kind];
}

void llmsvc_free(void *ptr) { llmsvc::mem_free(ptr); }

int llmsvc_error_status(const llmsvc_error *err) { return err ? err->status : LLMSVC_EINVAL; }

const char *llmsvc_error_message(const llmsvc_error *err) {
  return err ? err->message.c_str() : "";
}

void llmsvc_error_free(llmsvc_error *err) { delete err; }

int llmsvc_client_new(llmsvc_client **out, const char *config, llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (!out) return fail(out_err, LLMSVC_EINVAL, "out is NULL");
  *out = nullptr;
  return guarded(out_err, [&]() -> int {
    static std::once_flag curl_once;
    static CURLcode curl_init = CURLE_OK;
    std::call_once(curl_once, [] { curl_init = curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (curl_init != CURLE_OK)
      return fail(out_err, LLMSVC_ESYSTEM,
                  std::string("libcurl failed to initialise: ") + curl_easy_strerror(curl_init));
    llmsvc::Config cfg;
    llmsvc::DocError err = llmsvc::parse_config(config, cfg);
    if (err) return fail(out_err, err.status, err.message);
    std::unique_ptr<llmsvc::ResponseCache> cache;
    if (cfg.cache.enabled()) {
      err = llmsvc::ResponseCache::open(cfg.cache, llmsvc::SystemClock::instance().wall_ms(), cache);
      if (err) return fail(out_err, err.status, err.message);
    }
    auto c = std::make_unique<llmsvc_client>();
    c->engine = std::make_unique<llmsvc::Engine>(std::move(cfg), std::move(cache));
    {
      std::lock_guard<std::mutex> lock(g_clients_mu);
      g_clients.insert(c.get());
    }
    *out = c.release();
    return LLMSVC_OK;
  });
}

int llmsvc_config_load(const char *path, char **out_config, char **out_warnings,
                       llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (out_warnings) *out_warnings = nullptr;
  if (!out_config) return fail(out_err, LLMSVC_EINVAL, "out_config is NULL");
  *out_config = nullptr;
  if (!path) return fail(out_err, LLMSVC_EINVAL, "path is NULL");
  return guarded(out_err, [&]() -> int {
    llmsvc::LoadedConfig loaded;
    llmsvc::DocError err = llmsvc::load_config_file(path, loaded);
    if (err) return fail(out_err, err.status, err.message);
    std::string warnings;
    if (out_warnings) {
      llmsvc::JsonBuffer buf;
      llmsvc::JsonWriter w(buf);
      w.StartArray();
      for (const std::string &warning : loaded.warnings) llmsvc::write_str(w, warning);
      w.EndArray();
      warnings.assign(buf.GetString(), buf.GetSize());
    }
    std::unique_ptr<char, void (*)(void *)> config(copy_string(loaded.json), llmsvc_free);
    if (out_warnings) *out_warnings = copy_string(warnings);
    *out_config = config.release();
    return LLMSVC_OK;
  });
}

int llmsvc_client_new_from_file(llmsvc_client **out, const char *path, llmsvc_error **out_err) {
  if (out) *out = nullptr;
  char *config = nullptr;
  if (int rc = llmsvc_config_load(path, &config, nullptr, out_err)) return rc;
  int rc = llmsvc_client_new(out, config, out_err);
  llmsvc_free(config);
  return rc;
}

int llmsvc_client_submit(llmsvc_client *client, const char *request, llmsvc_complete_cb cb,
                         void *payload, uint64_t *out_id, llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (out_id) *out_id = 0;
  if (int rc = check_client(client, out_err)) return rc;
  if (!request) return fail(out_err, LLMSVC_EINVAL, "request is NULL");
  return guarded(out_err, [&]() -> int {
    std::string message;
    int rc = client->engine->submit(request, cb, payload, out_id, message);
    return rc ? fail(out_err, rc, std::move(message)) : LLMSVC_OK;
  });
}

int llmsvc_client_submit_stream(llmsvc_client *client, const char *request,
                                llmsvc_delta_cb on_delta, llmsvc_complete_cb on_done,
                                void *payload, uint64_t *out_id, llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (out_id) *out_id = 0;
  if (int rc = check_client(client, out_err)) return rc;
  if (!request) return fail(out_err, LLMSVC_EINVAL, "request is NULL");
  if (!on_done && on_delta)
    return fail(out_err, LLMSVC_EINVAL,
                "on_delta needs on_done: without a callback, deltas go to the completion queue");
  return guarded(out_err, [&]() -> int {
    std::string message;
    int rc = client->engine->submit(request, on_done, payload, out_id, message, true, on_delta);
    return rc ? fail(out_err, rc, std::move(message)) : LLMSVC_OK;
  });
}

int llmsvc_client_submit_stream_pieces(llmsvc_client *client, const char *request,
                                       llmsvc_piece_cb on_piece, llmsvc_complete_cb on_done,
                                       void *payload, uint64_t *out_id, llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (out_id) *out_id = 0;
  if (int rc = check_client(client, out_err)) return rc;
  if (!request) return fail(out_err, LLMSVC_EINVAL, "request is NULL");
  if (!on_done && on_piece)
    return fail(out_err, LLMSVC_EINVAL,
                "on_piece needs on_done: without a callback, pieces go to the completion queue");
  return guarded(out_err, [&]() -> int {
    std::string message;
    llmsvc::Engine::Stream stream;
    stream.piece_cb = on_piece;
    stream.pieces = true;
    int rc = client->engine->submit(request, on_done, payload, out_id, message, true, nullptr,
                                    &stream);
    return rc ? fail(out_err, rc, std::move(message)) : LLMSVC_OK;
  });
}

namespace {

struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  llmsvc_result *result = nullptr;
};

void wake_waiter(llmsvc_result *result, void *payload) {
  auto *w = static_cast<Waiter *>(payload);
  std::lock_guard<std::mutex> lock(w->mu);
  w->result = result;
  w->cv.notify_one();
}

}  // namespace

int llmsvc_client_generate(llmsvc_client *client, const char *request, llmsvc_result **out,
                           llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (!out) return fail(out_err, LLMSVC_EINVAL, "out is NULL");
  *out = nullptr;
  if (int rc = check_client(client, out_err)) return rc;
  if (!request) return fail(out_err, LLMSVC_EINVAL, "request is NULL");
  if (client->engine->on_engine_thread())
    return fail(out_err, LLMSVC_ERECURSIVE,
                "llmsvc_client_generate called from a completion callback would deadlock; "
                "use llmsvc_client_submit there");
  return guarded(out_err, [&]() -> int {
    Waiter w;
    std::string message;
    int rc = client->engine->submit(request, &wake_waiter, &w, nullptr, message);
    if (rc) return fail(out_err, rc, std::move(message));
    std::unique_lock<std::mutex> lock(w.mu);
    w.cv.wait(lock, [&] { return w.result != nullptr; });
    *out = w.result;
    return LLMSVC_OK;
  });
}

int llmsvc_client_cancel(llmsvc_client *client, uint64_t request_id) {
  if (int rc = check_client(client, nullptr)) return rc;
  return guarded(nullptr, [&] { return client->engine->cancel(request_id); });
}

int llmsvc_client_poll(llmsvc_client *client, int timeout_ms, llmsvc_result **out,
                       void **out_payload) {
  if (out_payload) *out_payload = nullptr;
  if (!out) return LLMSVC_EINVAL;
  *out = nullptr;
  if (int rc = check_client(client, nullptr)) return rc;
  if (timeout_ms != 0 && client->engine->on_engine_thread()) return LLMSVC_ERECURSIVE;
  return guarded(nullptr, [&] {
    return client->engine->completion_queue().pop(timeout_ms, out, out_payload);
  });
}

int llmsvc_client_poll_batch(llmsvc_client *client, int timeout_ms, llmsvc_result **out,
                             void **out_payloads, size_t max, size_t *out_n) {
  if (out_n) *out_n = 0;
  if (!out || !out_n || max == 0) return LLMSVC_EINVAL;
  if (int rc = check_client(client, nullptr)) return rc;
  if (timeout_ms != 0 && client->engine->on_engine_thread()) return LLMSVC_ERECURSIVE;
  return guarded(nullptr, [&] {
    return client->engine->completion_queue().pop_some(timeout_ms, out, out_payloads, max,
                                                       out_n);
  });
}

int llmsvc_client_set_batch_callback(llmsvc_client *client, llmsvc_batch_cb cb, void *user) {
  if (int rc = check_client(client, nullptr)) return rc;
  return guarded(nullptr, [&] {
    client->engine->set_batch_callback(cb, user);
    return LLMSVC_OK;
  });
}

int llmsvc_client_cancel_async(llmsvc_client *client, uint64_t request_id) {
  if (int rc = check_client(client, nullptr)) return rc;
  return guarded(nullptr, [&] { return client->engine->cancel_async(request_id); });
}

int llmsvc_client_close_async(llmsvc_client *client, llmsvc_closed_cb cb, void *payload) {
  if (int rc = check_client(client, nullptr)) return rc;
  return guarded(nullptr, [&] {
    client->engine->close_async(cb, payload);
    return LLMSVC_OK;
  });
}

int llmsvc_client_pause(llmsvc_client *client, int paused) {
  if (int rc = check_client(client, nullptr)) return rc;
  return guarded(nullptr, [&] {
    client->engine->pause(paused != 0);
    return LLMSVC_OK;
  });
}

int llmsvc_client_fd(llmsvc_client *client, int *out_fd) {
  if (!out_fd) return LLMSVC_EINVAL;
  *out_fd = -1;
  if (int rc = check_client(client, nullptr)) return rc;
  *out_fd = client->engine->completion_queue().fd();
  return LLMSVC_OK;
}

int llmsvc_client_set_limits(llmsvc_client *client, const char *limits, llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (int rc = check_client(client, out_err)) return rc;
  if (!limits) return fail(out_err, LLMSVC_EINVAL, "limits is NULL");
  return guarded(out_err, [&]() -> int {
    std::string message;
    int rc = client->engine->set_limits(limits, message);
    return rc ? fail(out_err, rc, std::move(message)) : LLMSVC_OK;
  });
}

int llmsvc_client_set_budgets(llmsvc_client *client, const char *budgets,
                              llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (int rc = check_client(client, out_err)) return rc;
  if (!budgets) return fail(out_err, LLMSVC_EINVAL, "budgets is NULL");
  return guarded(out_err, [&]() -> int {
    std::string message;
    int rc = client->engine->set_budgets(budgets, message);
    return rc ? fail(out_err, rc, std::move(message)) : LLMSVC_OK;
  });
}

int llmsvc_client_set_event_hook(llmsvc_client *client, unsigned events, unsigned flags,
                                 llmsvc_event_cb cb, void *payload, llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (int rc = check_client(client, out_err)) return rc;
  if (events & ~unsigned(LLMSVC_EVENT_ALL))
    return fail(out_err, LLMSVC_EINVAL, "events: unknown bits (LLMSVC_EVENT_* only)");
  if (flags & ~LLMSVC_EVENTS_WITH_CONTENT)
    return fail(out_err, LLMSVC_EINVAL, "flags: unknown bits (0 or LLMSVC_EVENTS_WITH_CONTENT)");
  return guarded(out_err, [&]() -> int {
    client->engine->set_event_hook(events, flags, cb, payload);
    return LLMSVC_OK;
  });
}

const char *llmsvc_event_type_name(unsigned type) { return llmsvc::event_type_name(type); }

int llmsvc_client_set_deployment(llmsvc_client *client, const char *deployment,
                                 llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (int rc = check_client(client, out_err)) return rc;
  if (!deployment) return fail(out_err, LLMSVC_EINVAL, "deployment is NULL");
  return guarded(out_err, [&]() -> int {
    std::string message;
    int rc = client->engine->set_deployment(deployment, message);
    return rc ? fail(out_err, rc, std::move(message)) : LLMSVC_OK;
  });
}

int llmsvc_client_metrics(llmsvc_client *client, char **out_json, llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (!out_json) return fail(out_err, LLMSVC_EINVAL, "out_json is NULL");
  *out_json = nullptr;
  if (int rc = check_client(client, out_err)) return rc;
  return guarded(out_err, [&]() -> int {
    std::string json = client->engine->metrics_json();
    *out_json = copy_string(json);
    return LLMSVC_OK;
  });
}

int llmsvc_client_metrics_prometheus(llmsvc_client *client, char **out_text,
                                     llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (!out_text) return fail(out_err, LLMSVC_EINVAL, "out_text is NULL");
  *out_text = nullptr;
  if (int rc = check_client(client, out_err)) return rc;
  return guarded(out_err, [&]() -> int {
    std::string text = client->engine->metrics_prometheus();
    *out_text = copy_string(text);
    return LLMSVC_OK;
  });
}

int llmsvc_client_close(llmsvc_client *client) {
  if (int rc = check_client(client, nullptr)) return rc;
  if (client->engine->on_engine_thread()) return LLMSVC_ERECURSIVE;
  return guarded(nullptr, [&] {
    client->engine->close();
    return LLMSVC_OK;
  });
}

int llmsvc_client_destroy(llmsvc_client *client) {
  if (!client) return LLMSVC_OK;
  if (int rc = check_client(client, nullptr)) return rc;
  if (client->engine->on_engine_thread()) return LLMSVC_ERECURSIVE;
  return guarded(nullptr, [&] {
    client->engine->close();  // callbacks still running may use the handle until here
    {
      std::lock_guard<std::mutex> lock(g_clients_mu);
      if (!g_clients.erase(client)) return int(LLMSVC_EHANDLE);  // destroyed concurrently
    }
    delete client;
    return int(LLMSVC_OK);
  });
}

uint64_t llmsvc_result_id(const llmsvc_result *r) { return r ? r->id : 0; }

int llmsvc_result_type(const llmsvc_result *r) { return r ? r->type : LLMSVC_RESULT_COMPLETION; }

int llmsvc_result_kind(const llmsvc_result *r) { return r ? r->kind : LLMSVC_KIND_INTERNAL; }

int llmsvc_result_http_status(const llmsvc_result *r) { return r ? r->http_status : 0; }

const char *llmsvc_result_text(const llmsvc_result *r) {
  return r && r->kind == LLMSVC_KIND_NONE ? r->text.c_str() : nullptr;
}

size_t llmsvc_result_tool_call_count(const llmsvc_result *r) { return r ? r->tool_calls.size() : 0; }

int llmsvc_result_tool_call(const llmsvc_result *r, size_t i, const char **out_id,
                            const char **out_name, const char **out_arguments) {
  if (!r || i >= r->tool_calls.size()) return LLMSVC_EINVAL;
  const llmsvc::ToolCall &c = r->tool_calls[i];
  if (out_id) *out_id = c.id.c_str();
  if (out_name) *out_name = c.name.c_str();
  if (out_arguments) *out_arguments = c.arguments.c_str();
  return LLMSVC_OK;
}

int64_t llmsvc_result_number(const llmsvc_result *r, int key) {
  if (!r || key < 0 || key >= LLMSVC_NUM_COUNT) return LLMSVC_UNKNOWN;
  return r->nums[key];
}

size_t llmsvc_result_numbers(const llmsvc_result *r, int64_t *out, size_t n) {
  if (!r || !out) return 0;
  size_t have = std::min<size_t>(n, LLMSVC_NUM_COUNT);
  std::memcpy(out, r->nums, have * sizeof(int64_t));
  for (size_t i = have; i < n; ++i) out[i] = LLMSVC_UNKNOWN;
  return have;
}

const char *llmsvc_result_string(const llmsvc_result *r, int key, size_t *out_len) {
  if (out_len) *out_len = 0;
  if (!r || key < 0 || key >= LLMSVC_STR_COUNT) return nullptr;
  const std::string *s;
  if (key == LLMSVC_STR_TEXT) s = &r->text;
  else if (key == LLMSVC_STR_ERROR_MESSAGE) s = &r->error_message;
  else if (key == LLMSVC_STR_ERROR_KIND) {
    const char *name = llmsvc_error_kind_name(r->kind);
    if (out_len) *out_len = std::strlen(name);
    return name;
  } else s = &r->strs[key];
  if (out_len) *out_len = s->size();
  return s->c_str();
}

size_t llmsvc_result_attempt(const llmsvc_result *r, size_t i, int64_t *out, size_t n,
                             const char **out_request_id, const char **out_deployment) {
  if (!r || i >= r->attempts.size()) return 0;
  const llmsvc_result::Attempt &a = r->attempts[i];
  size_t have = out ? std::min<size_t>(n, LLMSVC_ATTEMPT_COUNT) : 0;
  if (out) {
    std::memcpy(out, a.nums, have * sizeof(int64_t));
    for (size_t k = have; k < n; ++k) out[k] = LLMSVC_UNKNOWN;
  }
  if (out_request_id) *out_request_id = a.request_id.c_str();
  if (out_deployment) *out_deployment = a.deployment.c_str();
  return have;
}

int llmsvc_result_choice(const llmsvc_result *r, size_t i, const char **out_text,
                         size_t *out_len, const char **out_finish_reason,
                         size_t *out_tool_calls) {
  if (!r || r->kind != LLMSVC_KIND_NONE || r->type != LLMSVC_RESULT_COMPLETION ||
      i >= size_t(r->nums[LLMSVC_NUM_CHOICES]))
    return LLMSVC_EINVAL;
  const std::string *text = &r->text, *finish = &r->strs[LLMSVC_STR_FINISH_REASON];
  size_t calls = r->tool_calls.size();
  if (!r->choices.empty()) {
    const llmsvc::ReplyChoice &c = r->choices[i];
    text = &c.text;
    finish = &c.finish_reason;
    calls = c.tool_calls.size();
  }
  if (out_text) *out_text = text->c_str();
  if (out_len) *out_len = text->size();
  if (out_finish_reason) *out_finish_reason = finish->c_str();
  if (out_tool_calls) *out_tool_calls = calls;
  return LLMSVC_OK;
}

const float *llmsvc_result_embedding(const llmsvc_result *r, size_t i, size_t *out_dimensions) {
  if (out_dimensions) *out_dimensions = 0;
  if (!r || r->kind != LLMSVC_KIND_NONE || r->type != LLMSVC_RESULT_COMPLETION ||
      i >= r->embeddings.size())
    return nullptr;
  if (out_dimensions) *out_dimensions = r->embeddings[i].size();
  return r->embeddings[i].data();
}

int llmsvc_result_choice_tool_call(const llmsvc_result *r, size_t i, size_t j,
                                   const char **out_id, const char **out_name,
                                   const char **out_arguments) {
  size_t calls = 0;
  if (llmsvc_result_choice(r, i, nullptr, nullptr, nullptr, &calls) != LLMSVC_OK || j >= calls)
    return LLMSVC_EINVAL;
  const llmsvc::ToolCall &c = r->choices.empty() ? r->tool_calls[j] : r->choices[i].tool_calls[j];
  if (out_id) *out_id = c.id.c_str();
  if (out_name) *out_name = c.name.c_str();
  if (out_arguments) *out_arguments = c.arguments.c_str();
  return LLMSVC_OK;
}

int llmsvc_result_piece(const llmsvc_result *r, int *out_kind, uint32_t *out_index,
                        const char **out_call_id, const char **out_name) {
  if (!r || r->type != LLMSVC_RESULT_DELTA) return LLMSVC_EINVAL;
  if (out_kind) *out_kind = r->piece_kind;
  if (out_index) *out_index = r->piece_index;
  if (out_call_id) *out_call_id = r->call_id.c_str();
  if (out_name) *out_name = r->call_name.c_str();
  return LLMSVC_OK;
}

const char *llmsvc_result_error_message(const llmsvc_result *r) {
  return r && r->kind != LLMSVC_KIND_NONE ? r->error_message.c_str() : nullptr;
}

const char *llmsvc_result_json(const llmsvc_result *r, size_t *out_len) {
  if (!r) {
    if (out_len) *out_len = 0;
    return nullptr;
  }
  if (out_len) *out_len = r->json_len;
  return r->json_text;
}

void llmsvc_result_free(llmsvc_result *r) { delete r; }


int llmsvc_batch_job_open(llmsvc_client *client, const char *state_path,
                          const char *options_json, llmsvc_batch_job **out,
                          llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (!out) return fail(out_err, LLMSVC_EINVAL, "out is NULL");
  *out = nullptr;
  if (!state_path) return fail(out_err, LLMSVC_EINVAL, "state_path is NULL");
  if (int rc = check_client(client, out_err)) return rc;
  return guarded(out_err, [&]() -> int {
    llmsvc::BatchJobOptions options;
    if (llmsvc::DocError e = llmsvc::parse_batch_options(options_json, options))
      return fail(out_err, e.status, e.message);
    std::unique_ptr<llmsvc::BatchJob> job;
    std::string message;
    if (int rc = llmsvc::BatchJob::open(*client->engine, state_path, options, job, message))
      return fail(out_err, rc, message);
    *out = new llmsvc_batch_job{client, std::move(job)};
    return LLMSVC_OK;
  });
}

int llmsvc_batch_job_add(llmsvc_batch_job *job, const char *id, const char *request_json,
                         size_t len, int *out_known, llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (out_known) *out_known = 0;
  if (!job) return fail(out_err, LLMSVC_EINVAL, "job is NULL");
  if (!id || !*id) return fail(out_err, LLMSVC_EINVAL, "id is NULL or empty");
  if (!request_json) return fail(out_err, LLMSVC_EINVAL, "request_json is NULL");
  return guarded(out_err, [&]() -> int {
    bool known = false;
    std::string message;
    int rc = job->job->add(id, std::string_view(request_json, len), known, message);
    if (rc) return fail(out_err, rc, message);
    if (out_known) *out_known = known ? 1 : 0;
    return LLMSVC_OK;
  });
}

int llmsvc_batch_job_step(llmsvc_batch_job *job, int timeout_ms, llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (!job) return fail(out_err, LLMSVC_EINVAL, "job is NULL");
  return guarded(out_err, [&]() -> int {
    std::string message;
    int rc = job->job->step(timeout_ms, message);
    return rc < 0 ? fail(out_err, rc, message) : rc;
  });
}

llmsvc_result *llmsvc_batch_job_next(llmsvc_batch_job *job) {
  return job ? job->job->next() : nullptr;
}

int llmsvc_batch_job_commit(llmsvc_batch_job *job, llmsvc_error **out_err) {
  if (out_err) *out_err = nullptr;
  if (!job) return fail(out_err, LLMSVC_EINVAL, "job is NULL");
  return guarded(out_err, [&]() -> int {
    std::string message;
    int rc = job->job->commit(message);
    return rc ? fail(out_err, rc, message) : LLMSVC_OK;
  });
}

int llmsvc_batch_job_status(llmsvc_batch_job *job, char **out_json) {
  if (!out_json) return LLMSVC_EINVAL;
  *out_json = nullptr;
  if (!job) return LLMSVC_EINVAL;
  return guarded(nullptr, [&]() -> int {
    *out_json = copy_string(job->job->status_json());
    return LLMSVC_OK;
  });
}

void llmsvc_batch_job_close(llmsvc_batch_job *job) { delete job; }

}  // extern "C"
