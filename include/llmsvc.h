/*
 * llmsvc.h - the whole public C interface of libllmsvc.
 *
 * llmsvc is a client-side core for calling LLM APIs: it admits requests through
 * rate-limit gates (requests per minute, tokens per minute, concurrency), sends them
 * through a provider over libcurl, retries what is transient, and records metrics,
 * usage and cost. Configuration, requests, results and metric snapshots are JSON
 * documents (see docs/schema.md); this header only moves them across the boundary.
 *
 * Conventions
 *  - Every function that can fail returns an `int` status: LLMSVC_OK (0) or a negative
 *    `llmsvc_status`. `llmsvc_strerror()` names it; the detailed message travels on an
 *    `llmsvc_error` object (optional `out_err` parameter) or on the result.
 *  - What comes back through an `out` parameter belongs to the caller and has a free
 *    function that accepts NULL. Strings the library allocates are freed with
 *    `llmsvc_free()`. Getters return pointers borrowed from their parent object.
 *  - Inputs are copied before a call returns; callers may release their buffers at once.
 *  - Threads: see docs/threading.md. A client may be used from any thread. Completion
 *    callbacks run on the client's engine thread, never inside the submitting call,
 *    exactly once per accepted submission.
 */
#ifndef LLMSVC_H
#define LLMSVC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(LLMSVC_BUILDING)
#define LLMSVC_API __declspec(dllexport)
#elif defined(_WIN32)
#define LLMSVC_API __declspec(dllimport)
#elif defined(__GNUC__)
#define LLMSVC_API __attribute__((visibility("default")))
#else
#define LLMSVC_API
#endif

/** @name Version
 *
 * New in 0.2: streamed tool calls as typed pieces (llmsvc_piece_kind_t, llmsvc_piece_cb,
 * llmsvc_client_submit_stream_pieces, llmsvc_result_piece) and a result's tool calls read
 * without JSON (llmsvc_result_tool_call_count, llmsvc_result_tool_call); configuration
 * files in YAML, in llmsvc's, llm.yaml's or LiteLLM's layout (llmsvc_config_load,
 * llmsvc_client_new_from_file). The request and result documents
 * grew with tools, n, logprobs, JSON mode, service tiers, thinking and prompt caching
 * (docs/schema.md); nothing earlier changed.
 *
 * New in 0.3: results read without JSON (llmsvc_result_number(s), llmsvc_result_string,
 * llmsvc_result_attempt, llmsvc_result_choice, llmsvc_result_choice_tool_call); results
 * taken in batches (llmsvc_client_poll_batch, llmsvc_client_set_batch_callback); calls
 * that never block the caller (llmsvc_client_cancel_async, llmsvc_client_close_async);
 * admission paused and resumed (llmsvc_client_pause). Changed behaviour:
 * llmsvc_client_submit_stream refuses a document with "stream": false; a request given to
 * llmsvc_client_submit with "stream": true in completion-queue mode no longer puts its
 * pieces on the queue (the call promises one result); an attempt that libcurl re-sent on a
 * fresh connection after a reused one died counts as an attempt of its own.
 *
 * New in 0.4: what telemetry needs, read without JSON: the provider as the OpenTelemetry
 * GenAI conventions name it (LLMSVC_STR_PROVIDER), the server's address and port
 * (LLMSVC_STR_SERVER_ADDRESS, LLMSVC_NUM_SERVER_PORT), the time spent waiting at the gates
 * (LLMSVC_NUM_GATE_WAIT_NS, LLMSVC_ATTEMPT_GATE_WAIT_NS); an OTLP/HTTP exporter in the core,
 * turned on by the configuration's "telemetry.otlp" or the standard OTEL_* environment
 * variables (docs/telemetry.md). Nothing earlier changed.
 *
 * New in 0.5: embeddings. A request document with "input" (a string, a list of strings or
 * of token ids) and no messages or prompt is an embeddings request, sent through the same
 * gates (its input tokens count toward tpm), retries and cost accounting; its vectors are
 * read without JSON by llmsvc_result_embedding (LLMSVC_NUM_EMBEDDINGS of them) and are in
 * the result JSON's "embeddings". Nothing earlier changed.
 *
 * New in 0.6: provider batch jobs (llmsvc_batch_job_*): requests sent through OpenAI's
 * Batch API or Anthropic's Message Batches at batch prices, resumable from a state file;
 * each line's result is an ordinary result with "batch" in its JSON (LLMSVC_STR_BATCH_ID,
 * LLMSVC_STR_CUSTOM_ID). Nothing earlier changed.
 */
/**@{*/
#define LLMSVC_VERSION_MAJOR 0
#define LLMSVC_VERSION_MINOR 6
#define LLMSVC_VERSION_PATCH 0
/** The version as a string literal. */
#define LLMSVC_VERSION_STRING "0.6.0"
/** The version as one number: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define LLMSVC_VERSION_NUMBER \
  (LLMSVC_VERSION_MAJOR * 10000 + LLMSVC_VERSION_MINOR * 100 + LLMSVC_VERSION_PATCH)
/** True when the headers in use are at least version MAJOR.MINOR.PATCH. */
#define LLMSVC_VERSION_CHECK(major, minor, patch) \
  (LLMSVC_VERSION_NUMBER >= ((major) * 10000 + (minor) * 100 + (patch)))
/**@}*/

/** Status codes returned by every fallible function. */
typedef enum llmsvc_status {
  LLMSVC_OK = 0,
  LLMSVC_EINVAL = -1,     /**< an argument is invalid (NULL handle or pointer, bad value) */
  LLMSVC_EJSON = -2,      /**< a JSON document could not be parsed */
  LLMSVC_ESCHEMA = -3,    /**< a JSON document is well formed but a field is wrong */
  LLMSVC_ENOMEM = -4,     /**< out of memory */
  LLMSVC_ECLOSED = -5,    /**< the client is closed and accepts no new work */
  LLMSVC_ENOTFOUND = -6,  /**< no pending request has that id */
  LLMSVC_ERECURSIVE = -7, /**< a blocking call or destroy made from a completion callback */
  LLMSVC_ETIMEOUT = -8,   /**< llmsvc_client_poll: nothing completed in time */
  LLMSVC_EHANDLE = -9,    /**< the handle is not (or no longer) a live object */
  LLMSVC_ESYSTEM = -10,   /**< the operating system refused a resource (thread, fd) */
  LLMSVC_EINTERNAL = -11  /**< a bug in llmsvc; the message says where */
} llmsvc_status;

/**
 * What went wrong with a request. Carried by every result; LLMSVC_KIND_NONE on success.
 * Names (`llmsvc_error_kind_name`) are the strings used in result and metric documents.
 */
typedef enum llmsvc_error_kind {
  LLMSVC_KIND_NONE = 0,               /**< "none": success */
  LLMSVC_KIND_RATE_LIMITED = 1,       /**< "rate_limited": 429 retries spent or wait too long */
  LLMSVC_KIND_INSUFFICIENT_QUOTA = 2, /**< "insufficient_quota": billing quota, never retried */
  LLMSVC_KIND_UNSUPPORTED_REGION = 3, /**< "unsupported_region" */
  LLMSVC_KIND_AUTH = 4,               /**< "auth": 401, invalid or missing key */
  LLMSVC_KIND_PERMISSION = 5,         /**< "permission": 403 */
  LLMSVC_KIND_BAD_REQUEST = 6,        /**< "bad_request": 400 or 422 from the provider */
  LLMSVC_KIND_NOT_FOUND = 7,          /**< "not_found": 404, e.g. unknown model */
  LLMSVC_KIND_CONFLICT = 8,           /**< "conflict": 409 retries spent */
  LLMSVC_KIND_SERVER_ERROR = 9,       /**< "server_error": 5xx retries spent */
  LLMSVC_KIND_TIMEOUT = 10,           /**< "timeout": 408 or transfer timeout, retries spent */
  LLMSVC_KIND_CONNECTION = 11,        /**< "connection": refused, reset, TLS, DNS */
  LLMSVC_KIND_CANCELLED = 12,         /**< "cancelled": llmsvc_client_cancel */
  LLMSVC_KIND_DEADLINE_EXCEEDED = 13, /**< "deadline_exceeded": the request's timeout_ms */
  LLMSVC_KIND_SHUT_DOWN = 14,         /**< "shut_down": the client closed before completion */
  LLMSVC_KIND_INVALID_REQUEST = 15,   /**< "invalid_request": rejected before sending */
  LLMSVC_KIND_PROTOCOL = 16,          /**< "protocol": the provider's reply made no sense */
  LLMSVC_KIND_BUDGET_EXCEEDED = 17,   /**< "budget_exceeded": a budget would be overrun; not sent */
  LLMSVC_KIND_SCHEMA_MISMATCH = 18,   /**< "schema_mismatch": output does not fit the schema */
  LLMSVC_KIND_INTERNAL = 19,          /**< "internal": a bug in llmsvc */
  LLMSVC_KIND_LOAD_SHED = 20          /**< "load_shed": its priority's queue was full or it
                                           would have waited longer than allowed; not sent */
} llmsvc_error_kind;

/** A client: one engine thread, its gates, connections, metrics and usage ledger. */
typedef struct llmsvc_client llmsvc_client;
/** The outcome of one request: success or error, with usage, cost and attempts. */
typedef struct llmsvc_result llmsvc_result;
/** A detailed error from a call that failed synchronously. */
typedef struct llmsvc_error llmsvc_error;

/**
 * Completion callback. Called exactly once per accepted submission, on the client's
 * engine thread, never inside the submitting call. The callee OWNS `result` and must
 * release it with llmsvc_result_free() (on any thread, at any later time). Keep it short:
 * every request of the client waits while it runs. It may call llmsvc_client_submit,
 * llmsvc_client_cancel, llmsvc_client_metrics and llmsvc_client_set_limits; blocking
 * calls (llmsvc_client_generate, llmsvc_client_close, llmsvc_client_destroy,
 * llmsvc_client_poll) are refused with LLMSVC_ERECURSIVE.
 */
typedef void (*llmsvc_complete_cb)(llmsvc_result *result, void *payload);

/**
 * Delta callback of a streamed request: `text` (`len` bytes, not NUL-terminated) is the
 * next piece of the reply. Called on the engine thread, in order, before the request's
 * completion; `text` is valid only during the call. The completion carries the whole text.
 */
typedef void (*llmsvc_delta_cb)(uint64_t request_id, const char *text, size_t len,
                                void *payload);

/** What a piece of a streamed reply is (llmsvc_piece_cb, llmsvc_result_piece). */
typedef enum llmsvc_piece_kind_t {
  LLMSVC_PIECE_TEXT = 0,           /**< the next piece of the answer's text */
  LLMSVC_PIECE_TOOL_CALL = 1,      /**< tool call `index` begins: its `call_id` and `name` */
  LLMSVC_PIECE_TOOL_ARGUMENTS = 2  /**< the next piece of call `index`'s arguments (JSON text) */
} llmsvc_piece_kind_t;

/**
 * Piece callback of llmsvc_client_submit_stream_pieces: `kind` is an llmsvc_piece_kind_t;
 * `index` numbers the reply's tool calls from 0 (0 for text); `call_id` and `name` are the
 * call's (NUL-terminated; "" except for LLMSVC_PIECE_TOOL_CALL); `text` (`len` bytes, not
 * NUL-terminated) is the text or arguments piece. Called on the engine thread, in order,
 * before the request's completion, which carries the whole text and the assembled calls.
 * Every pointer is valid only during the call.
 */
typedef void (*llmsvc_piece_cb)(uint64_t request_id, int kind, uint32_t index,
                                const char *call_id, const char *name, const char *text,
                                size_t len, void *payload);

/** What a result object is (llmsvc_result_type). */
typedef enum llmsvc_result_type_t {
  LLMSVC_RESULT_COMPLETION = 0, /**< the one completion of a request */
  LLMSVC_RESULT_DELTA = 1,      /**< a piece of a streamed reply (completion-queue mode) */
  LLMSVC_RESULT_EVENT = 2       /**< a lifecycle event (llmsvc_client_set_event_hook) */
} llmsvc_result_type_t;

/**
 * Lifecycle events of a request, as bits for llmsvc_client_set_event_hook. Each event is a
 * JSON object (docs/schema.md, "Events") with its "type", the request id, trace id,
 * model, operation, times, and what the event is about; prompts, replies and keys are not
 * in it unless LLMSVC_EVENTS_WITH_CONTENT asks for prompts and replies.
 */
typedef enum llmsvc_event_type_t {
  LLMSVC_EVENT_QUEUED = 1 << 0,           /**< "queued": accepted, waiting for admission */
  LLMSVC_EVENT_ADMITTED = 1 << 1,         /**< "admitted": through the gates, to a deployment */
  LLMSVC_EVENT_ATTEMPT_STARTED = 1 << 2,  /**< "attempt_started": sent */
  LLMSVC_EVENT_ATTEMPT_FINISHED = 1 << 3, /**< "attempt_finished": answered or failed */
  LLMSVC_EVENT_RETRY_SCHEDULED = 1 << 4,  /**< "retry_scheduled": another attempt will follow */
  LLMSVC_EVENT_COMPLETED = 1 << 5,        /**< "completed": its one completion is next */
  LLMSVC_EVENT_ALL = (1 << 6) - 1
} llmsvc_event_type_t;

/** Flag for llmsvc_client_set_event_hook: include the request's wire body in "queued"
 *  and the reply's text in "completed" events. */
#define LLMSVC_EVENTS_WITH_CONTENT 1u

/**
 * Event callback: `type` is one LLMSVC_EVENT_* bit, `json` (`len` bytes, NUL-terminated)
 * the event, valid only during the call. Called on the engine thread, in order, never in
 * the middle of the engine's work: calling the client from it is allowed as from a
 * completion callback.
 */
typedef void (*llmsvc_event_cb)(unsigned type, uint64_t request_id, const char *json,
                                size_t len, void *payload);

/** @name Library */
/**@{*/
/** The runtime version string, "MAJOR.MINOR.PATCH". Static; never free it. */
LLMSVC_API const char *llmsvc_version(void);
/** The runtime version as LLMSVC_VERSION_NUMBER computes it. */
LLMSVC_API uint32_t llmsvc_version_number(void);
/** A static English description of a status code ("unknown status" for others). */
LLMSVC_API const char *llmsvc_strerror(int status);
/** The stable name of an error kind ("rate_limited", ...); "unknown" for others. */
LLMSVC_API const char *llmsvc_error_kind_name(int kind);
/** Frees a string the library allocated (metrics documents, ...). Accepts NULL. */
LLMSVC_API void llmsvc_free(void *ptr);
/**@}*/

/** @name Errors */
/**@{*/
/** The status this error came with. Returns LLMSVC_EINVAL for NULL. */
LLMSVC_API int llmsvc_error_status(const llmsvc_error *err);
/** The detailed message, borrowed from `err`. "" for NULL. Never contains an API key. */
LLMSVC_API const char *llmsvc_error_message(const llmsvc_error *err);
/** Frees an error. Accepts NULL. */
LLMSVC_API void llmsvc_error_free(llmsvc_error *err);
/**@}*/

/** @name Clients */
/**@{*/
/**
 * Creates a client from a configuration document (JSON, see docs/schema.md; NULL or
 * "{}" for all defaults) and starts its engine thread.
 *
 * @param out     receives the client; set to NULL on failure
 * @param config  NUL-terminated JSON configuration, copied
 * @param out_err optional; on failure receives an error the caller frees
 * @return LLMSVC_OK, LLMSVC_EINVAL, LLMSVC_EJSON, LLMSVC_ESCHEMA, LLMSVC_ENOMEM, LLMSVC_ESYSTEM
 */
LLMSVC_API int llmsvc_client_new(llmsvc_client **out, const char *config,
                                 llmsvc_error **out_err);

/**
 * Loads a configuration file: YAML or JSON, in llmsvc's layout, the `llm.yaml` key-pool
 * layout (providers.NAME with parallel api_keys, models and rate_limits lists) or LiteLLM's
 * `config.yaml` (model_list, router_settings, litellm_settings); environment references
 * (${NAME}, ${NAME:-default}, os.environ/NAME) resolved (docs/schema.md, "Configuration
 * files"). `*out_config` receives llmsvc's configuration document (JSON, for
 * llmsvc_client_new; it holds the resolved keys: keep it to yourself), `*out_warnings`
 * (optional) a JSON array of strings naming what a foreign layout has that llmsvc does not
 * use; both are freed with llmsvc_free(). Errors name the file, line and column, and never
 * a value read from the environment. New in 0.2.
 * @return LLMSVC_OK, LLMSVC_EINVAL (no such file), LLMSVC_EJSON (not YAML), LLMSVC_ESCHEMA
 */
LLMSVC_API int llmsvc_config_load(const char *path, char **out_config, char **out_warnings,
                                  llmsvc_error **out_err);

/**
 * Creates a client from a configuration file, as llmsvc_config_load reads it, then
 * llmsvc_client_new. New in 0.2.
 */
LLMSVC_API int llmsvc_client_new_from_file(llmsvc_client **out, const char *path,
                                           llmsvc_error **out_err);

/**
 * Submits a request (JSON, see docs/schema.md) without blocking on the network.
 *
 * When `cb` is not NULL it is called once with the result and `payload`. When `cb` is NULL
 * the result goes to the client's completion queue, to be taken with llmsvc_client_poll()
 * together with `payload`.
 *
 * A request whose document is malformed is rejected here (LLMSVC_EJSON, LLMSVC_ESCHEMA) and
 * then no completion follows. Once LLMSVC_OK is returned exactly one completion follows.
 *
 * @param out_id  optional; receives the request id (for llmsvc_client_cancel), never 0
 * @return LLMSVC_OK, LLMSVC_EINVAL, LLMSVC_EJSON, LLMSVC_ESCHEMA, LLMSVC_ECLOSED,
 *         LLMSVC_EHANDLE, LLMSVC_ENOMEM
 */
LLMSVC_API int llmsvc_client_submit(llmsvc_client *client, const char *request,
                                    llmsvc_complete_cb cb, void *payload, uint64_t *out_id,
                                    llmsvc_error **out_err);

/**
 * Submits a request whose reply is streamed: the text arrives piece by piece through
 * `on_delta` (may be NULL) while the provider produces it, then `on_done` completes the
 * request once, as for llmsvc_client_submit, with the whole text, usage and cost. Time to
 * first token is recorded. A stream is retried only before its first delta was delivered.
 *
 * When `on_done` is NULL, deltas and the completion go to the completion queue in order:
 * deltas are results of type LLMSVC_RESULT_DELTA whose text is the piece (`on_delta` must
 * then be NULL). Returns LLMSVC_ESCHEMA when the client's provider cannot stream.
 */
LLMSVC_API int llmsvc_client_submit_stream(llmsvc_client *client, const char *request,
                                           llmsvc_delta_cb on_delta, llmsvc_complete_cb on_done,
                                           void *payload, uint64_t *out_id,
                                           llmsvc_error **out_err);

/**
 * Submits a streamed request as llmsvc_client_submit_stream does, with every piece of the
 * reply typed: text, and tool calls as they are produced (a call's start with its id and
 * name, then its arguments piece by piece; llmsvc_piece_kind_t). `on_piece` may be NULL.
 * When `on_done` is NULL, pieces and the completion go to the completion queue in order:
 * pieces are results of type LLMSVC_RESULT_DELTA, read with llmsvc_result_piece() (`on_piece`
 * must then be NULL). llmsvc_client_submit_stream delivers text pieces only. New in 0.2.
 * @return as llmsvc_client_submit_stream
 */
LLMSVC_API int llmsvc_client_submit_stream_pieces(llmsvc_client *client, const char *request,
                                                  llmsvc_piece_cb on_piece,
                                                  llmsvc_complete_cb on_done, void *payload,
                                                  uint64_t *out_id, llmsvc_error **out_err);

/**
 * Sends a request and waits for its result, on the same path as llmsvc_client_submit.
 * Returns LLMSVC_OK whenever a result was produced, whether the request succeeded or not:
 * look at llmsvc_result_kind(). Refused with LLMSVC_ERECURSIVE inside a completion callback.
 */
LLMSVC_API int llmsvc_client_generate(llmsvc_client *client, const char *request,
                                      llmsvc_result **out, llmsvc_error **out_err);

/**
 * Cancels a pending request, whether it waits at a gate, waits to retry or is in flight.
 * Its completion follows (kind LLMSVC_KIND_CANCELLED) on the engine thread.
 * @return LLMSVC_OK, or LLMSVC_ENOTFOUND when the id is unknown or already completed
 */
LLMSVC_API int llmsvc_client_cancel(llmsvc_client *client, uint64_t request_id);

/**
 * Takes one completion from the completion queue (requests submitted with a NULL callback),
 * waiting up to `timeout_ms` (0: do not wait; negative: wait without limit).
 * @param out      receives the result, which the caller frees
 * @param out_payload optional; receives the payload given at submit
 * @return LLMSVC_OK, LLMSVC_ETIMEOUT, LLMSVC_ECLOSED (closed and the queue is empty),
 *         LLMSVC_ERECURSIVE (called from a callback with a timeout other than 0)
 */
LLMSVC_API int llmsvc_client_poll(llmsvc_client *client, int timeout_ms, llmsvc_result **out,
                                  void **out_payload);

/**
 * A file descriptor that is readable while completions wait in the completion queue, for
 * event loops. It belongs to the client; do not read from or close it.
 */
LLMSVC_API int llmsvc_client_fd(llmsvc_client *client, int *out_fd);

/**
 * Changes the limits at run time (a JSON "limits" object, see docs/schema.md: rpm, tpm,
 * concurrency, window_ms). Fields not given keep their value. With several deployments
 * the fields given apply to each (llmsvc_client_set_deployment changes one). Takes effect
 * before any request submitted after this call returns is admitted.
 */
LLMSVC_API int llmsvc_client_set_limits(llmsvc_client *client, const char *limits,
                                        llmsvc_error **out_err);

/**
 * Replaces the client's spending budgets at run time (a JSON array of budgets, see
 * docs/schema.md; "[]" removes them all). A budget named like one already in force keeps
 * what was spent under it. Applies to every request submitted after it returns.
 * @return LLMSVC_OK, LLMSVC_EINVAL, LLMSVC_EJSON, LLMSVC_ESCHEMA, LLMSVC_EHANDLE
 */
LLMSVC_API int llmsvc_client_set_budgets(llmsvc_client *client, const char *budgets,
                                         llmsvc_error **out_err);

/**
 * Turns lifecycle events on (`events`: LLMSVC_EVENT_* bits), changes them, or turns them
 * off (`events` 0). With a callback they go to it; with `cb` NULL they go to the completion
 * queue as results of type LLMSVC_RESULT_EVENT (llmsvc_result_json is the event,
 * llmsvc_result_id the request, the poll's payload is `payload`). `flags`: 0 or
 * LLMSVC_EVENTS_WITH_CONTENT. Costs nothing while off. Applies to what happens after the
 * call returns.
 * @return LLMSVC_OK, LLMSVC_EINVAL (unknown bits), LLMSVC_EHANDLE
 */
LLMSVC_API int llmsvc_client_set_event_hook(llmsvc_client *client, unsigned events,
                                            unsigned flags, llmsvc_event_cb cb, void *payload,
                                            llmsvc_error **out_err);

/** The name of one LLMSVC_EVENT_* bit ("queued", ...), or "unknown". */
LLMSVC_API const char *llmsvc_event_type_name(unsigned type);

/**
 * Changes one of the client's configured deployments at run time (a JSON object, see
 * docs/schema.md "Deployments and routing"): "name" (required), "enabled" (true puts a
 * deployment taken out of rotation by an auth, permission, quota or region error back
 * into it; false takes it out), "weight", "limits" (fields not given keep their value).
 * Applies before any request is admitted after this call returns.
 * @return LLMSVC_OK, LLMSVC_EINVAL, LLMSVC_EJSON, LLMSVC_ESCHEMA (also: no such
 *         deployment), LLMSVC_EHANDLE
 */
LLMSVC_API int llmsvc_client_set_deployment(llmsvc_client *client, const char *deployment,
                                            llmsvc_error **out_err);

/**
 * One consistent snapshot of the client's metrics, usage and cost as a JSON document
 * (docs/schema.md). `*out_json` is the caller's, freed with llmsvc_free().
 */
LLMSVC_API int llmsvc_client_metrics(llmsvc_client *client, char **out_json,
                                     llmsvc_error **out_err);

/**
 * The same snapshot as llmsvc_client_metrics, taken the same way (on the engine thread, in
 * one piece), in the Prometheus text exposition format 0.0.4: counters, gauges and
 * histograms named `llmsvc_*` (docs/schema.md, "Prometheus"), ready to be served as
 * `text/plain; version=0.0.4`. A client configured with `telemetry.prometheus_port` serves
 * it itself on `GET /metrics`. `*out_text` is the caller's, freed with llmsvc_free().
 * Callable from any thread and from a completion callback.
 * @return LLMSVC_OK, LLMSVC_EINVAL, LLMSVC_EHANDLE, LLMSVC_ENOMEM
 */
LLMSVC_API int llmsvc_client_metrics_prometheus(llmsvc_client *client, char **out_text,
                                                llmsvc_error **out_err);

/**
 * Closes a client without freeing it: new submissions are refused with LLMSVC_ECLOSED,
 * every pending request completes with LLMSVC_KIND_SHUT_DOWN, and the engine thread
 * stops. Poll, metrics and the fd stay usable until llmsvc_client_destroy. Idempotent.
 * Refused with LLMSVC_ERECURSIVE inside a completion callback.
 */
LLMSVC_API int llmsvc_client_close(llmsvc_client *client);

/**
 * Closes the client (see llmsvc_client_close), frees results left in its completion queue
 * and frees the client. Every callback has run when it returns. Accepts NULL. Refused with
 * LLMSVC_ERECURSIVE inside a completion callback; LLMSVC_EHANDLE for a destroyed client.
 */
LLMSVC_API int llmsvc_client_destroy(llmsvc_client *client);
/**@}*/

/** @name Results (all getters borrow from the result and accept NULL) */
/**@{*/
/** The id llmsvc_client_submit returned for this request. */
LLMSVC_API uint64_t llmsvc_result_id(const llmsvc_result *result);
/** LLMSVC_RESULT_COMPLETION, or LLMSVC_RESULT_DELTA for a streamed piece taken from the
 * completion queue. */
LLMSVC_API int llmsvc_result_type(const llmsvc_result *result);
/** LLMSVC_KIND_NONE on success, else the error kind. */
LLMSVC_API int llmsvc_result_kind(const llmsvc_result *result);
/** The HTTP status of the last attempt, 0 when no response was received. */
LLMSVC_API int llmsvc_result_http_status(const llmsvc_result *result);
/** The assistant's text on success ("" when none), or a delta's piece; NULL on error. */
LLMSVC_API const char *llmsvc_result_text(const llmsvc_result *result);
/** The error message on error (provider's own message included); NULL on success. */
LLMSVC_API const char *llmsvc_result_error_message(const llmsvc_result *result);
/**
 * The whole result as a JSON document (docs/schema.md): text, usage, cost, attempts,
 * timing and error details. `out_len` (optional) receives its length.
 */
LLMSVC_API const char *llmsvc_result_json(const llmsvc_result *result, size_t *out_len);
/** The number of tool calls in a successful result (0 when none, on error, or for NULL).
 *  New in 0.2. */
LLMSVC_API size_t llmsvc_result_tool_call_count(const llmsvc_result *result);
/**
 * Tool call `i` (from 0) of a result: its id, the tool's name and the arguments' JSON text as
 * the model wrote it (NUL-terminated, borrowed from `result`). Each out parameter may be NULL.
 * New in 0.2.
 * @return LLMSVC_OK, or LLMSVC_EINVAL when `i` is out of range
 */
LLMSVC_API int llmsvc_result_tool_call(const llmsvc_result *result, size_t i,
                                       const char **out_id, const char **out_name,
                                       const char **out_arguments);

/**
 * What a piece taken from the completion queue is (a result of type LLMSVC_RESULT_DELTA):
 * its kind (llmsvc_piece_kind_t), the tool call's index, id and name (borrowed; "" unless
 * the kind is LLMSVC_PIECE_TOOL_CALL); llmsvc_result_text() is its text. Each out parameter
 * may be NULL. New in 0.2.
 * @return LLMSVC_OK, or LLMSVC_EINVAL when `result` is not a piece
 */
LLMSVC_API int llmsvc_result_piece(const llmsvc_result *result, int *out_kind,
                                   uint32_t *out_index, const char **out_call_id,
                                   const char **out_name);
/** Frees a result. Accepts NULL. */
LLMSVC_API void llmsvc_result_free(llmsvc_result *result);
/**@}*/

/** @name Typed results (new in 0.3)
 *
 * Everything a binding needs to build its own result type, without parsing JSON. Numbers
 * are read by key, one at a time or all at once into an array (keys are indices, so a
 * program built against this header keeps working when later versions add keys: it asks
 * for the first LLMSVC_NUM_COUNT it knows). A number that is not known (an unpriced model,
 * no usage, no retry-after, a request that never streamed) reads as LLMSVC_UNKNOWN, which
 * is never a real value.
 */
/**@{*/
/** A number that is not known. */
#define LLMSVC_UNKNOWN INT64_MIN

/** Keys of llmsvc_result_number. Times are nanoseconds unless the name says otherwise. */
typedef enum llmsvc_result_num_t {
  LLMSVC_NUM_KIND = 0,                /**< llmsvc_error_kind (LLMSVC_KIND_NONE on success) */
  LLMSVC_NUM_HTTP_STATUS = 1,         /**< of the last attempt; 0 when none answered */
  LLMSVC_NUM_PROMPT_TOKENS = 2,       /**< input tokens, summed over attempts (UNKNOWN: no usage) */
  LLMSVC_NUM_COMPLETION_TOKENS = 3,   /**< output tokens */
  LLMSVC_NUM_CACHED_TOKENS = 4,       /**< of the input, read from the provider's cache */
  LLMSVC_NUM_CACHE_WRITE_TOKENS = 5,  /**< of the input, written to the provider's cache */
  LLMSVC_NUM_REASONING_TOKENS = 6,    /**< of the output, spent thinking */
  LLMSVC_NUM_USAGE = 7,               /**< 0 none, 1 the provider's count, 2 estimated (a
                                           stream ended without one), 3 unreadable */
  LLMSVC_NUM_COST_NANO_USD = 8,       /**< UNKNOWN: no price for the model, or no usage */
  LLMSVC_NUM_ATTEMPTS = 9,            /**< attempts sent (llmsvc_result_attempt) */
  LLMSVC_NUM_RETRY_AFTER_MS = 10,     /**< the provider's last retry-after; UNKNOWN if none */
  LLMSVC_NUM_SUBMIT_UNIX_MS = 11,     /**< when it was submitted (wall clock) */
  LLMSVC_NUM_TOTAL_NS = 12,           /**< from submit to completion */
  LLMSVC_NUM_FIRST_TOKEN_NS = 13,     /**< from submit to the first piece; UNKNOWN if none */
  LLMSVC_NUM_OVERHEAD_NS = 14,        /**< spent inside llmsvc on the submitting thread */
  LLMSVC_NUM_CHOICES = 15,            /**< choices of a successful reply (1 unless n > 1) */
  LLMSVC_NUM_TOOL_CALLS = 16,         /**< tool calls of the first choice */
  LLMSVC_NUM_CACHE_HIT = 17,          /**< 0 fetched, 1 from the memory cache, 2 from SQLite */
  LLMSVC_NUM_EVENT_TYPE = 18,         /**< an event's LLMSVC_EVENT_* bit; 0 for other results */
  LLMSVC_NUM_SERVER_PORT = 19,        /**< the port of the server that answered last (0.4) */
  LLMSVC_NUM_GATE_WAIT_NS = 20,       /**< held by the gates, summed over attempts (0.4) */
  LLMSVC_NUM_EMBEDDINGS = 21,         /**< vectors of an embeddings reply (0.5) */
  LLMSVC_NUM_COUNT = 22               /**< keys in this version */
} llmsvc_result_num_t;

/** One number of a result (LLMSVC_UNKNOWN for an unknown key or a NULL result). */
LLMSVC_API int64_t llmsvc_result_number(const llmsvc_result *result, int key);
/**
 * The first `n` numbers of a result (keys 0 .. n-1) in one call; keys this version does
 * not have read as LLMSVC_UNKNOWN. Returns how many keys this version has that were
 * filled (min(n, LLMSVC_NUM_COUNT)); 0 for NULL.
 */
LLMSVC_API size_t llmsvc_result_numbers(const llmsvc_result *result, int64_t *out, size_t n);

/** Keys of llmsvc_result_string. */
typedef enum llmsvc_result_str_t {
  LLMSVC_STR_MODEL = 0,             /**< the model the request named */
  LLMSVC_STR_RESPONSE_MODEL = 1,    /**< the model the provider says answered */
  LLMSVC_STR_RESPONSE_ID = 2,       /**< the provider's id of the reply */
  LLMSVC_STR_FINISH_REASON = 3,     /**< of the first choice */
  LLMSVC_STR_OPERATION = 4,         /**< the request's "operation" */
  LLMSVC_STR_DEPLOYMENT = 5,        /**< the deployment that answered (configured ones only) */
  LLMSVC_STR_SERVICE_TIER = 6,      /**< the tier the provider says it used */
  LLMSVC_STR_ERROR_KIND = 7,        /**< llmsvc_error_kind_name of the kind ("none" on success) */
  LLMSVC_STR_ERROR_MESSAGE = 8,     /**< as llmsvc_result_error_message */
  LLMSVC_STR_PROVIDER_ERROR_TYPE = 9,   /**< the provider's error.type */
  LLMSVC_STR_PROVIDER_ERROR_CODE = 10,  /**< the provider's error.code */
  LLMSVC_STR_PROVIDER_MESSAGE = 11,     /**< the provider's own error message */
  LLMSVC_STR_THINKING = 12,         /**< reasoning text apart from the answer */
  LLMSVC_STR_TRACE_ID = 13,         /**< the request's trace_id */
  LLMSVC_STR_TEXT = 14,             /**< the answer's text (or a piece's) */
  LLMSVC_STR_PROVIDER = 15,         /**< gen_ai.provider.name: "openai", "anthropic",
                                         "azure.ai.openai", "ollama" (0.4) */
  LLMSVC_STR_SERVER_ADDRESS = 16,   /**< the host of the server that answered last (0.4) */
  LLMSVC_STR_BATCH_ID = 17,         /**< the provider batch a batch job's line ran in (0.6) */
  LLMSVC_STR_CUSTOM_ID = 18,        /**< a batch job's line: the id it was added with (0.6) */
  LLMSVC_STR_COUNT = 19             /**< keys in this version */
} llmsvc_result_str_t;

/**
 * One string of a result, NUL-terminated and borrowed from it; "" when the result has
 * none. NULL for an unknown key or a NULL result. `out_len` (optional) receives its length.
 */
LLMSVC_API const char *llmsvc_result_string(const llmsvc_result *result, int key,
                                            size_t *out_len);

/** Keys of llmsvc_result_attempt. */
typedef enum llmsvc_attempt_num_t {
  LLMSVC_ATTEMPT_HTTP_STATUS = 0,       /**< 0 when nothing was answered */
  LLMSVC_ATTEMPT_KIND = 1,              /**< llmsvc_error_kind of this attempt */
  LLMSVC_ATTEMPT_START_NS = 2,          /**< from submit */
  LLMSVC_ATTEMPT_DURATION_NS = 3,
  LLMSVC_ATTEMPT_BACKOFF_NS = 4,        /**< the wait that followed it (0 when none) */
  LLMSVC_ATTEMPT_BACKOFF_SOURCE = 5,    /**< 0 none, 1 the client's backoff, 2 the server's
                                             retry-after */
  LLMSVC_ATTEMPT_PROMPT_TOKENS = 6,     /**< what this attempt's reply used; UNKNOWN if none */
  LLMSVC_ATTEMPT_COMPLETION_TOKENS = 7,
  LLMSVC_ATTEMPT_COST_NANO_USD = 8,     /**< UNKNOWN: no usage, or no price */
  LLMSVC_ATTEMPT_START_UNIX_MS = 9,
  LLMSVC_ATTEMPT_GATE_WAIT_NS = 10,     /**< held by the gates before it was sent: from submit
                                             (or the end of the backoff before it) to its start
                                             (0.4) */
  LLMSVC_ATTEMPT_COUNT = 11             /**< keys in this version */
} llmsvc_attempt_num_t;

/**
 * Attempt `i` (from 0, in the order sent) of a result: its first `n` numbers (keys
 * llmsvc_attempt_num_t) into `out`, the provider's request id and the deployment's name
 * (borrowed; "" when none). Pointers may be NULL. Returns the numbers filled, 0 when `i`
 * is out of range.
 */
LLMSVC_API size_t llmsvc_result_attempt(const llmsvc_result *result, size_t i, int64_t *out,
                                        size_t n, const char **out_request_id,
                                        const char **out_deployment);

/**
 * Choice `i` of a successful result (0 is the answer; more when the request asked for n):
 * its text (`out_len` bytes, NUL-terminated), finish reason and number of tool calls.
 * Pointers may be NULL. @return LLMSVC_OK, LLMSVC_EINVAL when out of range
 */
LLMSVC_API int llmsvc_result_choice(const llmsvc_result *result, size_t i,
                                    const char **out_text, size_t *out_len,
                                    const char **out_finish_reason, size_t *out_tool_calls);

/** Tool call `j` of choice `i`, as llmsvc_result_tool_call reads those of choice 0. */
LLMSVC_API int llmsvc_result_choice_tool_call(const llmsvc_result *result, size_t i, size_t j,
                                              const char **out_id, const char **out_name,
                                              const char **out_arguments);

/**
 * Vector `i` of an embeddings result (a request with "input"; LLMSVC_NUM_EMBEDDINGS of
 * them, in the order of the inputs): its `*out_dimensions` floats, owned by the result
 * and valid until it is freed. NULL (and 0 dimensions) when `i` is out of range, the
 * result is not a successful embeddings result, or `result` is NULL. New in 0.5.
 */
LLMSVC_API const float *llmsvc_result_embedding(const llmsvc_result *result, size_t i,
                                                size_t *out_dimensions);
/**@}*/

/** @name Batches and calls that never block (new in 0.3) */
/**@{*/
/**
 * Takes up to `max` results from the completion queue in one call, waiting up to
 * `timeout_ms` for the first (as llmsvc_client_poll). `out` has room for `max` results,
 * `out_payloads` (may be NULL) for `max` payloads; `*out_n` receives how many were taken
 * (the caller frees each). Results keep their order.
 * @return LLMSVC_OK (at least one), LLMSVC_ETIMEOUT, LLMSVC_ECLOSED, LLMSVC_EINVAL,
 *         LLMSVC_ERECURSIVE, LLMSVC_EHANDLE
 */
LLMSVC_API int llmsvc_client_poll_batch(llmsvc_client *client, int timeout_ms,
                                        llmsvc_result **out, void **out_payloads, size_t max,
                                        size_t *out_n);

/**
 * Batch callback: `n` results (completions, pieces and events, in order) with the payload
 * each was submitted with. The callee owns the results (llmsvc_result_free each); the
 * arrays are valid only during the call. Runs on the engine thread.
 */
typedef void (*llmsvc_batch_cb)(llmsvc_result **results, void **payloads, size_t n,
                                void *user);

/**
 * Hands what would go to the completion queue (requests submitted without a callback,
 * their pieces, events without a hook) to `cb` instead, a batch per pass of the engine:
 * one call however many requests completed at once. `cb` NULL goes back to the queue.
 * Applies to what completes after the call returns.
 * @return LLMSVC_OK, LLMSVC_EHANDLE
 */
LLMSVC_API int llmsvc_client_set_batch_callback(llmsvc_client *client, llmsvc_batch_cb cb,
                                                void *user);

/**
 * Cancels a pending request without waiting for the engine: returns at once; when the
 * request is still pending, its completion follows (kind LLMSVC_KIND_CANCELLED) through
 * its normal path; when it has completed already, nothing happens. Callable from any
 * thread and from callbacks.
 * @return LLMSVC_OK, LLMSVC_ENOTFOUND (an id this client never gave), LLMSVC_ECLOSED,
 *         LLMSVC_EHANDLE
 */
LLMSVC_API int llmsvc_client_cancel_async(llmsvc_client *client, uint64_t request_id);

/** Called once when a client closed with llmsvc_client_close_async has completed all. */
typedef void (*llmsvc_closed_cb)(void *payload);

/**
 * Closes a client without waiting: new submissions are refused at once, every pending
 * request completes with LLMSVC_KIND_SHUT_DOWN, and `cb` (may be NULL) is called on the
 * engine thread after the last completion was delivered; the completion queue's fd then
 * stays readable. llmsvc_client_destroy is still needed (it then returns at once).
 * Callable from callbacks. A second close (of either form) closes nothing more; its `cb`
 * is called too, at once when everything has completed already.
 * @return LLMSVC_OK, LLMSVC_EHANDLE
 */
LLMSVC_API int llmsvc_client_close_async(llmsvc_client *client, llmsvc_closed_cb cb,
                                         void *payload);

/**
 * Pauses admission (`paused` non-zero): nothing more is sent, what is in flight goes on,
 * queued requests keep waiting (their deadlines still apply) and new ones queue; 0 resumes.
 * A graceful stop for a batch job. Callable from any thread and from callbacks.
 * @return LLMSVC_OK, LLMSVC_EHANDLE
 */
LLMSVC_API int llmsvc_client_pause(llmsvc_client *client, int paused);
/**@}*/

/** @name Provider batch jobs (new in 0.6) */
/**@{*/
/**
 * A provider batch job: requests sent through OpenAI's Batch API (the openai_chat and
 * openai_responses providers; chat and embeddings requests) or Anthropic's Message
 * Batches instead of one at a time, at batch prices (half the standard ones unless the
 * price table says otherwise). The job cuts them into provider batches of one model each
 * within the provider's limits and "max_enqueued_tokens", creates them, polls them and
 * hands over each line's result, as the same result a live request gets.
 *
 * Everything sent is recorded in the job's state file first, so a job stopped at any
 * moment, even killed, resumes when opened again with the same file: no request is ever
 * sent twice, and results handed over but not committed are handed over again.
 *
 * The calls block (one provider call at a time, up to the client's request_timeout_ms) and
 * run on the caller's thread; the client's gates, retries and metrics are not involved.
 * One thread at a time per job.
 */
typedef struct llmsvc_batch_job llmsvc_batch_job;

/**
 * Opens the job whose state is the file `state_path`, or starts one there. `options_json`
 * (NULL for defaults): {"deployment": name (default: each request's route's first),
 * "max_requests", "max_bytes" (per provider batch; default the provider's 50,000 requests
 * and 200 MB, or 100,000 and 256 MB), "max_enqueued_tokens" (input tokens of unfinished
 * batches per model; 0, the default, for none), "poll_ms" (first wait, default 10000),
 * "max_poll_ms" (the wait grows by half up to it; default 60000), "completion_window"}.
 * The client must outlive the job.
 * @return LLMSVC_OK, LLMSVC_EHANDLE, LLMSVC_EINVAL, LLMSVC_EJSON, LLMSVC_ESCHEMA,
 *         LLMSVC_ESYSTEM (the state file cannot be read or written)
 */
LLMSVC_API int llmsvc_batch_job_open(llmsvc_client *client, const char *state_path,
                                     const char *options_json, llmsvc_batch_job **out,
                                     llmsvc_error **out_err);

/**
 * Adds a request (a request document as llmsvc_client_submit takes, not streamed) under
 * `id`, unique in the job, which its result carries (LLMSVC_STR_CUSTOM_ID). `*out_known`
 * (optional) is set to 1 when the job already holds `id` from its state file: nothing is
 * added then. A request the provider could not be sent is refused with the reason.
 * @return LLMSVC_OK, LLMSVC_EINVAL, LLMSVC_EJSON, LLMSVC_ESCHEMA
 */
LLMSVC_API int llmsvc_batch_job_add(llmsvc_batch_job *job, const char *id,
                                    const char *request_json, size_t len, int *out_known,
                                    llmsvc_error **out_err);

/**
 * Does the next piece of work: at most one provider call (upload, create, poll, or poll
 * and download), or a wait of up to `timeout_ms` until one is due. Transient failures
 * (no answer, 408, 409, 429, 5xx) are tried again later, honouring retry-after.
 * @return 1 while work remains, 0 when every request's result has been handed over and
 *         committed, or a negative status with the reason (the job stays resumable)
 */
LLMSVC_API int llmsvc_batch_job_step(llmsvc_batch_job *job, int timeout_ms,
                                     llmsvc_error **out_err);

/** The next result ready (the caller frees it with llmsvc_result_free), or NULL. */
LLMSVC_API llmsvc_result *llmsvc_batch_job_next(llmsvc_batch_job *job);

/**
 * Records that every result taken so far is stored: after a restart it is not handed
 * over again. Call it after storing them.
 * @return LLMSVC_OK, LLMSVC_EINVAL, LLMSVC_ESYSTEM
 */
LLMSVC_API int llmsvc_batch_job_commit(llmsvc_batch_job *job, llmsvc_error **out_err);

/**
 * The job's progress as JSON (requests, provider batches by state, results handed over
 * by this process and their cost); free with llmsvc_free.
 * @return LLMSVC_OK, LLMSVC_EINVAL, LLMSVC_ENOMEM
 */
LLMSVC_API int llmsvc_batch_job_status(llmsvc_batch_job *job, char **out_json);

/** Closes the job (its state file stays, to resume it); results not taken are freed. */
LLMSVC_API void llmsvc_batch_job_close(llmsvc_batch_job *job);
/**@}*/

#ifdef __cplusplus
}
#endif

#endif /* LLMSVC_H */
