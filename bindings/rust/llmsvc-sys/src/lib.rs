//! Raw declarations of the C ABI of libllmsvc (`include/llmsvc.h`, 0.6), written by hand.
//!
//! Everything here is `unsafe` to call and follows the header's rules: what comes back
//! through an `out` parameter belongs to the caller and has a free function; getters
//! borrow from their parent object; completion callbacks run on the client's engine
//! thread exactly once per accepted submission. The header is the reference for each
//! function and key; the safe binding is the `llmsvc` crate.
#![no_std]
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int, c_uint, c_void};

/// `LLMSVC_VERSION_NUMBER` of the header these declarations follow (0.6.0).
pub const LLMSVC_VERSION_NUMBER: u32 = 600;

/// Status codes (`llmsvc_status`): every fallible function returns one.
pub const LLMSVC_OK: c_int = 0;
pub const LLMSVC_EINVAL: c_int = -1; // an argument is invalid
pub const LLMSVC_EJSON: c_int = -2; // a JSON document could not be parsed
pub const LLMSVC_ESCHEMA: c_int = -3; // a document is well formed but a field is wrong
pub const LLMSVC_ENOMEM: c_int = -4; // out of memory
pub const LLMSVC_ECLOSED: c_int = -5; // the client is closed and accepts no new work
pub const LLMSVC_ENOTFOUND: c_int = -6; // no pending request has that id
pub const LLMSVC_ERECURSIVE: c_int = -7; // a blocking call made from a callback
pub const LLMSVC_ETIMEOUT: c_int = -8; // poll: nothing completed in time
pub const LLMSVC_EHANDLE: c_int = -9; // the handle is not (or no longer) a live object
pub const LLMSVC_ESYSTEM: c_int = -10; // the operating system refused a resource
pub const LLMSVC_EINTERNAL: c_int = -11; // a bug in llmsvc

/// What went wrong with a request (`llmsvc_error_kind`); `llmsvc_error_kind_name` names them.
pub const LLMSVC_KIND_NONE: c_int = 0;
pub const LLMSVC_KIND_RATE_LIMITED: c_int = 1;
pub const LLMSVC_KIND_INSUFFICIENT_QUOTA: c_int = 2;
pub const LLMSVC_KIND_UNSUPPORTED_REGION: c_int = 3;
pub const LLMSVC_KIND_AUTH: c_int = 4;
pub const LLMSVC_KIND_PERMISSION: c_int = 5;
pub const LLMSVC_KIND_BAD_REQUEST: c_int = 6;
pub const LLMSVC_KIND_NOT_FOUND: c_int = 7;
pub const LLMSVC_KIND_CONFLICT: c_int = 8;
pub const LLMSVC_KIND_SERVER_ERROR: c_int = 9;
pub const LLMSVC_KIND_TIMEOUT: c_int = 10;
pub const LLMSVC_KIND_CONNECTION: c_int = 11;
pub const LLMSVC_KIND_CANCELLED: c_int = 12;
pub const LLMSVC_KIND_DEADLINE_EXCEEDED: c_int = 13;
pub const LLMSVC_KIND_SHUT_DOWN: c_int = 14;
pub const LLMSVC_KIND_INVALID_REQUEST: c_int = 15;
pub const LLMSVC_KIND_PROTOCOL: c_int = 16;
pub const LLMSVC_KIND_BUDGET_EXCEEDED: c_int = 17;
pub const LLMSVC_KIND_SCHEMA_MISMATCH: c_int = 18;
pub const LLMSVC_KIND_INTERNAL: c_int = 19;
pub const LLMSVC_KIND_LOAD_SHED: c_int = 20;

/// What a result object is (`llmsvc_result_type`).
pub const LLMSVC_RESULT_COMPLETION: c_int = 0; // the one completion of a request
pub const LLMSVC_RESULT_DELTA: c_int = 1; // a piece of a streamed reply
pub const LLMSVC_RESULT_EVENT: c_int = 2; // a lifecycle event

/// What a piece of a streamed reply is (`llmsvc_piece_kind_t`).
pub const LLMSVC_PIECE_TEXT: c_int = 0; // the next piece of the answer's text
pub const LLMSVC_PIECE_TOOL_CALL: c_int = 1; // call `index` begins: its id and name
pub const LLMSVC_PIECE_TOOL_ARGUMENTS: c_int = 2; // the next piece of call `index`'s arguments

/// Lifecycle events as bits (`llmsvc_event_type_t`), for [`llmsvc_client_set_event_hook`].
pub const LLMSVC_EVENT_QUEUED: c_uint = 1 << 0;
pub const LLMSVC_EVENT_ADMITTED: c_uint = 1 << 1;
pub const LLMSVC_EVENT_ATTEMPT_STARTED: c_uint = 1 << 2;
pub const LLMSVC_EVENT_ATTEMPT_FINISHED: c_uint = 1 << 3;
pub const LLMSVC_EVENT_RETRY_SCHEDULED: c_uint = 1 << 4;
pub const LLMSVC_EVENT_COMPLETED: c_uint = 1 << 5;
pub const LLMSVC_EVENT_ALL: c_uint = (1 << 6) - 1;
/// Flag of [`llmsvc_client_set_event_hook`]: the request's wire body in "queued" and the
/// reply's text in "completed" events.
pub const LLMSVC_EVENTS_WITH_CONTENT: c_uint = 1;

/// A number of a result that is not known (`INT64_MIN`), never a real value.
pub const LLMSVC_UNKNOWN: i64 = i64::MIN;

/// Keys of [`llmsvc_result_number`] (`llmsvc_result_num_t`); times in nanoseconds.
pub const LLMSVC_NUM_KIND: c_int = 0; // llmsvc_error_kind
pub const LLMSVC_NUM_HTTP_STATUS: c_int = 1; // of the last attempt; 0 when none answered
pub const LLMSVC_NUM_PROMPT_TOKENS: c_int = 2; // summed over attempts (UNKNOWN: no usage)
pub const LLMSVC_NUM_COMPLETION_TOKENS: c_int = 3;
pub const LLMSVC_NUM_CACHED_TOKENS: c_int = 4; // of the input, read from the provider's cache
pub const LLMSVC_NUM_CACHE_WRITE_TOKENS: c_int = 5; // of the input, written to it
pub const LLMSVC_NUM_REASONING_TOKENS: c_int = 6; // of the output, spent thinking
pub const LLMSVC_NUM_USAGE: c_int = 7; // 0 none, 1 provider's, 2 estimated, 3 unreadable
pub const LLMSVC_NUM_COST_NANO_USD: c_int = 8; // UNKNOWN: no price, or no usage
pub const LLMSVC_NUM_ATTEMPTS: c_int = 9; // attempts sent (llmsvc_result_attempt)
pub const LLMSVC_NUM_RETRY_AFTER_MS: c_int = 10; // the provider's last; UNKNOWN if none
pub const LLMSVC_NUM_SUBMIT_UNIX_MS: c_int = 11;
pub const LLMSVC_NUM_TOTAL_NS: c_int = 12; // from submit to completion
pub const LLMSVC_NUM_FIRST_TOKEN_NS: c_int = 13; // from submit to the first piece; or UNKNOWN
pub const LLMSVC_NUM_OVERHEAD_NS: c_int = 14; // inside llmsvc on the submitting thread
pub const LLMSVC_NUM_CHOICES: c_int = 15; // of a successful reply (1 unless n > 1)
pub const LLMSVC_NUM_TOOL_CALLS: c_int = 16; // of the first choice
pub const LLMSVC_NUM_CACHE_HIT: c_int = 17; // 0 fetched, 1 memory cache, 2 SQLite
pub const LLMSVC_NUM_EVENT_TYPE: c_int = 18; // an event's LLMSVC_EVENT_* bit; 0 otherwise
pub const LLMSVC_NUM_SERVER_PORT: c_int = 19; // of the server that answered last (0.4)
pub const LLMSVC_NUM_GATE_WAIT_NS: c_int = 20; // held by the gates, summed over attempts (0.4)
pub const LLMSVC_NUM_EMBEDDINGS: c_int = 21; // vectors of an embeddings reply (0.5)
pub const LLMSVC_NUM_COUNT: usize = 22;

/// Keys of [`llmsvc_result_string`] (`llmsvc_result_str_t`).
pub const LLMSVC_STR_MODEL: c_int = 0; // the model the request named
pub const LLMSVC_STR_RESPONSE_MODEL: c_int = 1; // the model the provider says answered
pub const LLMSVC_STR_RESPONSE_ID: c_int = 2;
pub const LLMSVC_STR_FINISH_REASON: c_int = 3; // of the first choice
pub const LLMSVC_STR_OPERATION: c_int = 4;
pub const LLMSVC_STR_DEPLOYMENT: c_int = 5; // configured deployments only
pub const LLMSVC_STR_SERVICE_TIER: c_int = 6;
pub const LLMSVC_STR_ERROR_KIND: c_int = 7; // "none" on success
pub const LLMSVC_STR_ERROR_MESSAGE: c_int = 8;
pub const LLMSVC_STR_PROVIDER_ERROR_TYPE: c_int = 9;
pub const LLMSVC_STR_PROVIDER_ERROR_CODE: c_int = 10;
pub const LLMSVC_STR_PROVIDER_MESSAGE: c_int = 11;
pub const LLMSVC_STR_THINKING: c_int = 12; // reasoning text apart from the answer
pub const LLMSVC_STR_TRACE_ID: c_int = 13;
pub const LLMSVC_STR_TEXT: c_int = 14; // the answer's text (or a piece's)
/// `gen_ai.provider.name`: "openai", "anthropic", "azure.ai.openai", "ollama" (0.4).
pub const LLMSVC_STR_PROVIDER: c_int = 15;
pub const LLMSVC_STR_SERVER_ADDRESS: c_int = 16; // the host that answered last (0.4)
pub const LLMSVC_STR_BATCH_ID: c_int = 17; // the provider batch of a batch job's line (0.6)
pub const LLMSVC_STR_CUSTOM_ID: c_int = 18; // a batch job's line: the id it was added with (0.6)
pub const LLMSVC_STR_COUNT: c_int = 19;

/// Keys of [`llmsvc_result_attempt`] (`llmsvc_attempt_num_t`).
pub const LLMSVC_ATTEMPT_HTTP_STATUS: c_int = 0; // 0 when nothing was answered
pub const LLMSVC_ATTEMPT_KIND: c_int = 1; // llmsvc_error_kind of this attempt
pub const LLMSVC_ATTEMPT_START_NS: c_int = 2; // from submit
pub const LLMSVC_ATTEMPT_DURATION_NS: c_int = 3;
pub const LLMSVC_ATTEMPT_BACKOFF_NS: c_int = 4; // the wait that followed it (0 when none)
pub const LLMSVC_ATTEMPT_BACKOFF_SOURCE: c_int = 5; // 0 none, 1 client backoff, 2 retry-after
pub const LLMSVC_ATTEMPT_PROMPT_TOKENS: c_int = 6; // of this attempt's reply; or UNKNOWN
pub const LLMSVC_ATTEMPT_COMPLETION_TOKENS: c_int = 7;
pub const LLMSVC_ATTEMPT_COST_NANO_USD: c_int = 8; // UNKNOWN: no usage, or no price
pub const LLMSVC_ATTEMPT_START_UNIX_MS: c_int = 9;
/// Held by the gates before it was sent: from submit (or the end of the backoff before it)
/// to its start (0.4).
pub const LLMSVC_ATTEMPT_GATE_WAIT_NS: c_int = 10;
pub const LLMSVC_ATTEMPT_COUNT: usize = 11;

macro_rules! opaque {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[repr(C)]
        pub struct $name {
            _opaque: [u8; 0],
            _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
        }
    )*};
}

opaque! {
    /// A client: one engine thread, its gates, connections, metrics and usage ledger.
    llmsvc_client;
    /// The outcome of one request, a piece of a streamed reply, or an event.
    llmsvc_result;
    /// A detailed error from a call that failed synchronously.
    llmsvc_error;
    /// A provider batch job (OpenAI's Batch API, Anthropic's Message Batches). New in 0.6.
    llmsvc_batch_job;
}

/// Completion callback: once per accepted submission, on the engine thread; the callee
/// owns `result` and frees it with [`llmsvc_result_free`].
pub type llmsvc_complete_cb = Option<unsafe extern "C" fn(*mut llmsvc_result, *mut c_void)>;
/// Delta callback of a streamed request: `text` (`len` bytes) is valid during the call.
pub type llmsvc_delta_cb = Option<unsafe extern "C" fn(u64, *const c_char, usize, *mut c_void)>;
/// Piece callback: request id, `LLMSVC_PIECE_*` kind, tool call index, call id, name, text,
/// text length, payload. Every pointer is valid only during the call.
pub type llmsvc_piece_cb = Option<
    unsafe extern "C" fn(
        u64,
        c_int,
        u32,
        *const c_char,
        *const c_char,
        *const c_char,
        usize,
        *mut c_void,
    ),
>;
/// Event callback: one `LLMSVC_EVENT_*` bit, the request id, the event document (`len`
/// bytes, NUL-terminated, valid during the call), payload.
pub type llmsvc_event_cb =
    Option<unsafe extern "C" fn(c_uint, u64, *const c_char, usize, *mut c_void)>;
/// Batch callback: `n` results (completions, pieces, events, in order) and the payload of
/// each; the callee owns the results, the arrays are valid only during the call.
pub type llmsvc_batch_cb =
    Option<unsafe extern "C" fn(*mut *mut llmsvc_result, *mut *mut c_void, usize, *mut c_void)>;
/// Called once on the engine thread when a client closed with [`llmsvc_client_close_async`]
/// has delivered its last completion.
pub type llmsvc_closed_cb = Option<unsafe extern "C" fn(*mut c_void)>;

extern "C" {
    pub fn llmsvc_version() -> *const c_char;
    pub fn llmsvc_version_number() -> u32;
    pub fn llmsvc_strerror(status: c_int) -> *const c_char;
    pub fn llmsvc_error_kind_name(kind: c_int) -> *const c_char;
    pub fn llmsvc_free(ptr: *mut c_void);
    pub fn llmsvc_error_status(err: *const llmsvc_error) -> c_int;
    pub fn llmsvc_error_message(err: *const llmsvc_error) -> *const c_char;
    pub fn llmsvc_error_free(err: *mut llmsvc_error);

    /// A configuration file (YAML or JSON, three layouts) as llmsvc's JSON configuration
    /// and a JSON array of warnings, both freed with [`llmsvc_free`].
    pub fn llmsvc_config_load(
        path: *const c_char,
        out_config: *mut *mut c_char,
        out_warnings: *mut *mut c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    pub fn llmsvc_client_new_from_file(
        out: *mut *mut llmsvc_client,
        path: *const c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    pub fn llmsvc_client_new(
        out: *mut *mut llmsvc_client,
        config: *const c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Submits a request; `cb` runs once with the result, or with `cb` NULL the completion
    /// queue (or the batch callback) gets it.
    pub fn llmsvc_client_submit(
        client: *mut llmsvc_client,
        request: *const c_char,
        cb: llmsvc_complete_cb,
        payload: *mut c_void,
        out_id: *mut u64,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Submits a streamed request (a document with `"stream": false` is refused): text
    /// pieces, then the completion; with both callbacks NULL all go to the queue.
    pub fn llmsvc_client_submit_stream(
        client: *mut llmsvc_client,
        request: *const c_char,
        on_delta: llmsvc_delta_cb,
        on_done: llmsvc_complete_cb,
        payload: *mut c_void,
        out_id: *mut u64,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// As [`llmsvc_client_submit_stream`] with typed pieces (text, tool call start, tool
    /// arguments), read from the queue with [`llmsvc_result_piece`].
    pub fn llmsvc_client_submit_stream_pieces(
        client: *mut llmsvc_client,
        request: *const c_char,
        on_piece: llmsvc_piece_cb,
        on_done: llmsvc_complete_cb,
        payload: *mut c_void,
        out_id: *mut u64,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Sends a request and waits for its result (`LLMSVC_ERECURSIVE` from a callback).
    pub fn llmsvc_client_generate(
        client: *mut llmsvc_client,
        request: *const c_char,
        out: *mut *mut llmsvc_result,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Cancels a pending request and waits for the engine to answer.
    pub fn llmsvc_client_cancel(client: *mut llmsvc_client, request_id: u64) -> c_int;
    /// Cancels without waiting: the completion follows on its normal path;
    /// `LLMSVC_ENOTFOUND` only for an id the client never gave. New in 0.3.
    pub fn llmsvc_client_cancel_async(client: *mut llmsvc_client, request_id: u64) -> c_int;
    /// Takes one result from the completion queue, waiting up to `timeout_ms`.
    pub fn llmsvc_client_poll(
        client: *mut llmsvc_client,
        timeout_ms: c_int,
        out: *mut *mut llmsvc_result,
        out_payload: *mut *mut c_void,
    ) -> c_int;
    /// Takes up to `max` results and their payloads in one call, in order. New in 0.3.
    pub fn llmsvc_client_poll_batch(
        client: *mut llmsvc_client,
        timeout_ms: c_int,
        out: *mut *mut llmsvc_result,
        out_payloads: *mut *mut c_void,
        max: usize,
        out_n: *mut usize,
    ) -> c_int;
    /// Hands what would go to the completion queue to `cb` instead, one call per engine
    /// pass; `cb` NULL goes back to the queue. New in 0.3.
    pub fn llmsvc_client_set_batch_callback(
        client: *mut llmsvc_client,
        cb: llmsvc_batch_cb,
        user: *mut c_void,
    ) -> c_int;
    /// A descriptor readable while results wait in the completion queue.
    pub fn llmsvc_client_fd(client: *mut llmsvc_client, out_fd: *mut c_int) -> c_int;
    pub fn llmsvc_client_set_limits(
        client: *mut llmsvc_client,
        limits: *const c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    pub fn llmsvc_client_set_budgets(
        client: *mut llmsvc_client,
        budgets: *const c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    pub fn llmsvc_client_set_deployment(
        client: *mut llmsvc_client,
        deployment: *const c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Turns lifecycle events on, changes or (`events` 0) turns them off; with `cb` NULL they
    /// go to the completion queue as results of type `LLMSVC_RESULT_EVENT`.
    pub fn llmsvc_client_set_event_hook(
        client: *mut llmsvc_client,
        events: c_uint,
        flags: c_uint,
        cb: llmsvc_event_cb,
        payload: *mut c_void,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    pub fn llmsvc_event_type_name(type_: c_uint) -> *const c_char;
    /// A metrics snapshot as JSON, freed with [`llmsvc_free`].
    pub fn llmsvc_client_metrics(
        client: *mut llmsvc_client,
        out_json: *mut *mut c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// The same snapshot in the Prometheus text format 0.0.4, freed with [`llmsvc_free`].
    pub fn llmsvc_client_metrics_prometheus(
        client: *mut llmsvc_client,
        out_text: *mut *mut c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Pauses admission (`paused` non-zero) or resumes it (0). New in 0.3.
    pub fn llmsvc_client_pause(client: *mut llmsvc_client, paused: c_int) -> c_int;
    /// Closes a client and waits until its engine thread stopped. Idempotent.
    pub fn llmsvc_client_close(client: *mut llmsvc_client) -> c_int;
    /// Closes without waiting: new work is refused at once, pending requests complete with
    /// `shut_down`, then `cb` (may be NULL) runs on the engine thread. New in 0.3.
    pub fn llmsvc_client_close_async(
        client: *mut llmsvc_client,
        cb: llmsvc_closed_cb,
        payload: *mut c_void,
    ) -> c_int;
    /// Closes and frees a client; every callback has run when it returns.
    pub fn llmsvc_client_destroy(client: *mut llmsvc_client) -> c_int;

    pub fn llmsvc_result_id(result: *const llmsvc_result) -> u64;
    /// `LLMSVC_RESULT_COMPLETION`, `_DELTA` or `_EVENT`.
    pub fn llmsvc_result_type(result: *const llmsvc_result) -> c_int;
    pub fn llmsvc_result_kind(result: *const llmsvc_result) -> c_int;
    pub fn llmsvc_result_http_status(result: *const llmsvc_result) -> c_int;
    /// The text on success (or a piece's), NULL on error; borrowed.
    pub fn llmsvc_result_text(result: *const llmsvc_result) -> *const c_char;
    /// The error message on error, NULL on success; borrowed.
    pub fn llmsvc_result_error_message(result: *const llmsvc_result) -> *const c_char;
    /// The whole result as JSON, borrowed; `out_len` (optional) receives its length.
    pub fn llmsvc_result_json(result: *const llmsvc_result, out_len: *mut usize) -> *const c_char;
    pub fn llmsvc_result_tool_call_count(result: *const llmsvc_result) -> usize;
    /// Tool call `i` of choice 0: id, name, arguments (borrowed); `LLMSVC_EINVAL` out of range.
    pub fn llmsvc_result_tool_call(
        result: *const llmsvc_result,
        i: usize,
        out_id: *mut *const c_char,
        out_name: *mut *const c_char,
        out_arguments: *mut *const c_char,
    ) -> c_int;
    /// A piece taken from the queue: its `LLMSVC_PIECE_*` kind, tool call index, id and name
    /// (borrowed); [`llmsvc_result_text`] is its text. `LLMSVC_EINVAL` when not a piece.
    pub fn llmsvc_result_piece(
        result: *const llmsvc_result,
        out_kind: *mut c_int,
        out_index: *mut u32,
        out_call_id: *mut *const c_char,
        out_name: *mut *const c_char,
    ) -> c_int;
    pub fn llmsvc_result_free(result: *mut llmsvc_result);

    /// One number by `LLMSVC_NUM_*` key. New in 0.3.
    pub fn llmsvc_result_number(result: *const llmsvc_result, key: c_int) -> i64;
    /// The first `n` numbers (keys 0..n-1) in one call; keys this version lacks read as
    /// `LLMSVC_UNKNOWN`. Returns how many were filled. New in 0.3.
    pub fn llmsvc_result_numbers(result: *const llmsvc_result, out: *mut i64, n: usize) -> usize;
    /// One string by `LLMSVC_STR_*` key, borrowed; "" when none, NULL for an unknown key.
    /// New in 0.3.
    pub fn llmsvc_result_string(
        result: *const llmsvc_result,
        key: c_int,
        out_len: *mut usize,
    ) -> *const c_char;
    /// Attempt `i`: its first `n` numbers (`LLMSVC_ATTEMPT_*`), the provider's request id
    /// and the deployment (borrowed; "" when none); 0 when out of range. New in 0.3.
    pub fn llmsvc_result_attempt(
        result: *const llmsvc_result,
        i: usize,
        out: *mut i64,
        n: usize,
        out_request_id: *mut *const c_char,
        out_deployment: *mut *const c_char,
    ) -> usize;
    /// Choice `i`: text (`out_len` bytes), finish reason, tool calls; `LLMSVC_EINVAL` out of
    /// range. New in 0.3.
    pub fn llmsvc_result_choice(
        result: *const llmsvc_result,
        i: usize,
        out_text: *mut *const c_char,
        out_len: *mut usize,
        out_finish_reason: *mut *const c_char,
        out_tool_calls: *mut usize,
    ) -> c_int;
    /// Tool call `j` of choice `i`. New in 0.3.
    pub fn llmsvc_result_choice_tool_call(
        result: *const llmsvc_result,
        i: usize,
        j: usize,
        out_id: *mut *const c_char,
        out_name: *mut *const c_char,
        out_arguments: *mut *const c_char,
    ) -> c_int;
    /// Vector `i` of an embeddings result, `*out_dimensions` floats owned by the result;
    /// NULL when out of range or not a successful embeddings result. New in 0.5.
    pub fn llmsvc_result_embedding(
        result: *const llmsvc_result,
        i: usize,
        out_dimensions: *mut usize,
    ) -> *const f32;

    /// Opens (or resumes) the provider batch job whose state is the file `state_path`.
    /// New in 0.6, as the rest of `llmsvc_batch_job_*`.
    pub fn llmsvc_batch_job_open(
        client: *mut llmsvc_client,
        state_path: *const c_char,
        options_json: *const c_char,
        out: *mut *mut llmsvc_batch_job,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Adds a request under `id`; `*out_known` 1 when the job's state holds it already.
    pub fn llmsvc_batch_job_add(
        job: *mut llmsvc_batch_job,
        id: *const c_char,
        request_json: *const c_char,
        len: usize,
        out_known: *mut c_int,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// The next piece of work: 1 while work remains, 0 when done, < 0 a status.
    pub fn llmsvc_batch_job_step(
        job: *mut llmsvc_batch_job,
        timeout_ms: c_int,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// The next result ready (the caller frees it), or NULL.
    pub fn llmsvc_batch_job_next(job: *mut llmsvc_batch_job) -> *mut llmsvc_result;
    /// Records the results taken so far as stored.
    pub fn llmsvc_batch_job_commit(
        job: *mut llmsvc_batch_job,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// The job's progress as JSON (free with `llmsvc_free`).
    pub fn llmsvc_batch_job_status(job: *mut llmsvc_batch_job, out_json: *mut *mut c_char)
        -> c_int;
    /// Closes the job; its state file stays.
    pub fn llmsvc_batch_job_close(job: *mut llmsvc_batch_job);
}
