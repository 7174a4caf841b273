//! Raw declarations of the C ABI of libllmsvc (`include/llmsvc.h`), written by hand.
//!
//! Everything here is `unsafe` to call and follows the header's rules: what comes back
//! through an `out` parameter belongs to the caller and has a free function; getters
//! borrow from their parent object; completion callbacks run on the client's engine
//! thread exactly once per accepted submission. The safe binding is the `llmsvc` crate.
#![no_std]
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int, c_uint, c_void};

/// `LLMSVC_VERSION_NUMBER` of the header these declarations follow (0.2.0).
pub const LLMSVC_VERSION_NUMBER: u32 = 200;

/// Success.
pub const LLMSVC_OK: c_int = 0;
/// An argument is invalid (NULL handle or pointer, bad value).
pub const LLMSVC_EINVAL: c_int = -1;
/// A JSON document could not be parsed.
pub const LLMSVC_EJSON: c_int = -2;
/// A JSON document is well formed but a field is wrong.
pub const LLMSVC_ESCHEMA: c_int = -3;
/// Out of memory.
pub const LLMSVC_ENOMEM: c_int = -4;
/// The client is closed and accepts no new work.
pub const LLMSVC_ECLOSED: c_int = -5;
/// No pending request has that id.
pub const LLMSVC_ENOTFOUND: c_int = -6;
/// A blocking call or destroy made from a completion callback.
pub const LLMSVC_ERECURSIVE: c_int = -7;
/// `llmsvc_client_poll`: nothing completed in time.
pub const LLMSVC_ETIMEOUT: c_int = -8;
/// The handle is not (or no longer) a live object.
pub const LLMSVC_EHANDLE: c_int = -9;
/// The operating system refused a resource (thread, fd).
pub const LLMSVC_ESYSTEM: c_int = -10;
/// A bug in llmsvc; the message says where.
pub const LLMSVC_EINTERNAL: c_int = -11;

/// `llmsvc_error_kind`: success.
pub const LLMSVC_KIND_NONE: c_int = 0;
/// 429 retries spent or wait too long.
pub const LLMSVC_KIND_RATE_LIMITED: c_int = 1;
/// Billing quota, never retried.
pub const LLMSVC_KIND_INSUFFICIENT_QUOTA: c_int = 2;
/// The provider does not serve the caller's region.
pub const LLMSVC_KIND_UNSUPPORTED_REGION: c_int = 3;
/// 401, invalid or missing key.
pub const LLMSVC_KIND_AUTH: c_int = 4;
/// 403.
pub const LLMSVC_KIND_PERMISSION: c_int = 5;
/// 400 or 422 from the provider.
pub const LLMSVC_KIND_BAD_REQUEST: c_int = 6;
/// 404, e.g. unknown model.
pub const LLMSVC_KIND_NOT_FOUND: c_int = 7;
/// 409 retries spent.
pub const LLMSVC_KIND_CONFLICT: c_int = 8;
/// 5xx retries spent.
pub const LLMSVC_KIND_SERVER_ERROR: c_int = 9;
/// 408 or transfer timeout, retries spent.
pub const LLMSVC_KIND_TIMEOUT: c_int = 10;
/// Refused, reset, TLS, DNS.
pub const LLMSVC_KIND_CONNECTION: c_int = 11;
/// `llmsvc_client_cancel`.
pub const LLMSVC_KIND_CANCELLED: c_int = 12;
/// The request's `timeout_ms`.
pub const LLMSVC_KIND_DEADLINE_EXCEEDED: c_int = 13;
/// The client closed before completion.
pub const LLMSVC_KIND_SHUT_DOWN: c_int = 14;
/// Rejected before sending.
pub const LLMSVC_KIND_INVALID_REQUEST: c_int = 15;
/// The provider's reply made no sense.
pub const LLMSVC_KIND_PROTOCOL: c_int = 16;
/// A budget was exceeded.
pub const LLMSVC_KIND_BUDGET_EXCEEDED: c_int = 17;
/// The output does not fit the schema.
pub const LLMSVC_KIND_SCHEMA_MISMATCH: c_int = 18;
/// A bug in llmsvc.
pub const LLMSVC_KIND_INTERNAL: c_int = 19;
pub const LLMSVC_KIND_LOAD_SHED: c_int = 20;

/// `llmsvc_result_type`: the one completion of a request.
pub const LLMSVC_RESULT_COMPLETION: c_int = 0;
/// `llmsvc_result_type`: a piece of a streamed reply (completion-queue mode).
pub const LLMSVC_RESULT_DELTA: c_int = 1;
/// `llmsvc_result_type`: a lifecycle event (completion-queue mode of
/// [`llmsvc_client_set_event_hook`]).
pub const LLMSVC_RESULT_EVENT: c_int = 2;

/// `llmsvc_piece_kind_t`: the next piece of the answer's text. New in 0.2.
pub const LLMSVC_PIECE_TEXT: c_int = 0;
/// `llmsvc_piece_kind_t`: tool call `index` begins; `call_id` and `name` are set, the text
/// is empty.
pub const LLMSVC_PIECE_TOOL_CALL: c_int = 1;
/// `llmsvc_piece_kind_t`: the next piece of call `index`'s arguments (JSON text).
pub const LLMSVC_PIECE_TOOL_ARGUMENTS: c_int = 2;

/// `llmsvc_event_type_t`: "queued", accepted, waiting for admission.
pub const LLMSVC_EVENT_QUEUED: c_uint = 1 << 0;
/// "admitted": through the gates, to a deployment.
pub const LLMSVC_EVENT_ADMITTED: c_uint = 1 << 1;
/// "attempt_started": sent.
pub const LLMSVC_EVENT_ATTEMPT_STARTED: c_uint = 1 << 2;
/// "attempt_finished": answered or failed.
pub const LLMSVC_EVENT_ATTEMPT_FINISHED: c_uint = 1 << 3;
/// "retry_scheduled": another attempt will follow.
pub const LLMSVC_EVENT_RETRY_SCHEDULED: c_uint = 1 << 4;
/// "completed": its one completion is next.
pub const LLMSVC_EVENT_COMPLETED: c_uint = 1 << 5;
/// Every lifecycle event.
pub const LLMSVC_EVENT_ALL: c_uint = (1 << 6) - 1;

/// Flag of [`llmsvc_client_set_event_hook`]: the request's wire body in "queued" and the
/// reply's text in "completed" events.
pub const LLMSVC_EVENTS_WITH_CONTENT: c_uint = 1;

/// A client: one engine thread, its gates, connections, metrics and usage ledger.
#[repr(C)]
pub struct llmsvc_client {
    _opaque: [u8; 0],
    _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// The outcome of one request.
#[repr(C)]
pub struct llmsvc_result {
    _opaque: [u8; 0],
    _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// A detailed error from a call that failed synchronously.
#[repr(C)]
pub struct llmsvc_error {
    _opaque: [u8; 0],
    _pin: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
}

/// Completion callback: called exactly once per accepted submission, on the engine
/// thread; the callee owns `result` and frees it with [`llmsvc_result_free`].
pub type llmsvc_complete_cb =
    Option<unsafe extern "C" fn(result: *mut llmsvc_result, payload: *mut c_void)>;

/// Delta callback of a streamed request; `text` (`len` bytes, not NUL-terminated) is
/// valid only during the call.
pub type llmsvc_delta_cb = Option<
    unsafe extern "C" fn(request_id: u64, text: *const c_char, len: usize, payload: *mut c_void),
>;

/// Piece callback of [`llmsvc_client_submit_stream_pieces`]: `kind` is an
/// `LLMSVC_PIECE_*` value, `index` numbers the reply's tool calls from 0 (0 for text),
/// `call_id` and `name` (NUL-terminated) are "" except for `LLMSVC_PIECE_TOOL_CALL`, and
/// `text` (`len` bytes, not NUL-terminated) is the text or arguments piece. Every pointer
/// is valid only during the call. New in 0.2.
pub type llmsvc_piece_cb = Option<
    unsafe extern "C" fn(
        request_id: u64,
        kind: c_int,
        index: u32,
        call_id: *const c_char,
        name: *const c_char,
        text: *const c_char,
        len: usize,
        payload: *mut c_void,
    ),
>;

/// Event callback: `type_` is one `LLMSVC_EVENT_*` bit, `json` (`len` bytes,
/// NUL-terminated) the event document, valid only during the call. Called on the engine
/// thread, in order, between the engine's steps.
pub type llmsvc_event_cb = Option<
    unsafe extern "C" fn(
        type_: c_uint,
        request_id: u64,
        json: *const c_char,
        len: usize,
        payload: *mut c_void,
    ),
>;

extern "C" {
    /// The runtime version string, static.
    pub fn llmsvc_version() -> *const c_char;
    /// The runtime version as `LLMSVC_VERSION_NUMBER` computes it.
    pub fn llmsvc_version_number() -> u32;
    /// A static English description of a status code.
    pub fn llmsvc_strerror(status: c_int) -> *const c_char;
    /// The stable name of an error kind; "unknown" for others.
    pub fn llmsvc_error_kind_name(kind: c_int) -> *const c_char;
    /// Frees a string the library allocated. Accepts NULL.
    pub fn llmsvc_free(ptr: *mut c_void);

    /// The status this error came with.
    pub fn llmsvc_error_status(err: *const llmsvc_error) -> c_int;
    /// The detailed message, borrowed from `err`.
    pub fn llmsvc_error_message(err: *const llmsvc_error) -> *const c_char;
    /// Frees an error. Accepts NULL.
    pub fn llmsvc_error_free(err: *mut llmsvc_error);

    /// Loads a configuration file (YAML or JSON; llmsvc's, llm.yaml's or LiteLLM's layout)
    /// into llmsvc's JSON configuration and a JSON array of warnings, both freed with
    /// `llmsvc_free`. New in 0.2.
    pub fn llmsvc_config_load(
        path: *const c_char,
        out_config: *mut *mut c_char,
        out_warnings: *mut *mut c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Creates a client from a configuration file, as `llmsvc_config_load` reads it. New in 0.2.
    pub fn llmsvc_client_new_from_file(
        out: *mut *mut llmsvc_client,
        path: *const c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Creates a client from a JSON configuration (NULL for defaults).
    pub fn llmsvc_client_new(
        out: *mut *mut llmsvc_client,
        config: *const c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Submits a request; `cb` runs once with the result (or the completion queue gets it).
    pub fn llmsvc_client_submit(
        client: *mut llmsvc_client,
        request: *const c_char,
        cb: llmsvc_complete_cb,
        payload: *mut c_void,
        out_id: *mut u64,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Submits a streamed request: deltas through `on_delta`, then `on_done` once.
    pub fn llmsvc_client_submit_stream(
        client: *mut llmsvc_client,
        request: *const c_char,
        on_delta: llmsvc_delta_cb,
        on_done: llmsvc_complete_cb,
        payload: *mut c_void,
        out_id: *mut u64,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Submits a streamed request whose pieces are typed (text, tool call start, tool
    /// arguments) through `on_piece`, then `on_done` once. With `on_done` NULL, pieces and
    /// the completion go to the completion queue (`on_piece` must then be NULL); pieces are
    /// results of type `LLMSVC_RESULT_DELTA` read with [`llmsvc_result_piece`]. New in 0.2.
    pub fn llmsvc_client_submit_stream_pieces(
        client: *mut llmsvc_client,
        request: *const c_char,
        on_piece: llmsvc_piece_cb,
        on_done: llmsvc_complete_cb,
        payload: *mut c_void,
        out_id: *mut u64,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Sends a request and waits for its result.
    pub fn llmsvc_client_generate(
        client: *mut llmsvc_client,
        request: *const c_char,
        out: *mut *mut llmsvc_result,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Cancels a pending request; its completion follows with kind cancelled.
    pub fn llmsvc_client_cancel(client: *mut llmsvc_client, request_id: u64) -> c_int;
    /// Takes one completion from the completion queue.
    pub fn llmsvc_client_poll(
        client: *mut llmsvc_client,
        timeout_ms: c_int,
        out: *mut *mut llmsvc_result,
        out_payload: *mut *mut c_void,
    ) -> c_int;
    /// A descriptor readable while completions wait in the completion queue.
    pub fn llmsvc_client_fd(client: *mut llmsvc_client, out_fd: *mut c_int) -> c_int;
    /// Changes the limits at run time (a JSON "limits" object).
    pub fn llmsvc_client_set_limits(
        client: *mut llmsvc_client,
        limits: *const c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Changes one configured deployment at run time (a JSON object: `name`, `enabled`,
    /// `weight`, `limits`); `LLMSVC_ESCHEMA` also for a name no deployment has.
    pub fn llmsvc_client_set_deployment(
        client: *mut llmsvc_client,
        deployment: *const c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Turns lifecycle events on (`events`: `LLMSVC_EVENT_*` bits), changes them or turns
    /// them off (`events` 0). With `cb` NULL they go to the completion queue as results of
    /// type `LLMSVC_RESULT_EVENT`. `flags`: 0 or `LLMSVC_EVENTS_WITH_CONTENT`. Applies to
    /// what happens after it returns.
    pub fn llmsvc_client_set_event_hook(
        client: *mut llmsvc_client,
        events: c_uint,
        flags: c_uint,
        cb: llmsvc_event_cb,
        payload: *mut c_void,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// The name of one `LLMSVC_EVENT_*` bit ("queued", ...), or "unknown". Static.
    pub fn llmsvc_event_type_name(type_: c_uint) -> *const c_char;
    /// One consistent snapshot of metrics, usage and cost as JSON, freed with `llmsvc_free`.
    pub fn llmsvc_client_metrics(
        client: *mut llmsvc_client,
        out_json: *mut *mut c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// The same snapshot in the Prometheus text exposition format 0.0.4, freed with
    /// `llmsvc_free`.
    pub fn llmsvc_client_metrics_prometheus(
        client: *mut llmsvc_client,
        out_text: *mut *mut c_char,
        out_err: *mut *mut llmsvc_error,
    ) -> c_int;
    /// Closes a client without freeing it. Idempotent.
    pub fn llmsvc_client_close(client: *mut llmsvc_client) -> c_int;
    /// Closes and frees a client; every callback has run when it returns.
    pub fn llmsvc_client_destroy(client: *mut llmsvc_client) -> c_int;

    /// The id `llmsvc_client_submit` returned for this request.
    pub fn llmsvc_result_id(result: *const llmsvc_result) -> u64;
    /// `LLMSVC_RESULT_COMPLETION`, `LLMSVC_RESULT_DELTA` or `LLMSVC_RESULT_EVENT`.
    pub fn llmsvc_result_type(result: *const llmsvc_result) -> c_int;
    /// `LLMSVC_KIND_NONE` on success, else the error kind.
    pub fn llmsvc_result_kind(result: *const llmsvc_result) -> c_int;
    /// The HTTP status of the last attempt, 0 when none.
    pub fn llmsvc_result_http_status(result: *const llmsvc_result) -> c_int;
    /// The text on success, NULL on error; borrowed.
    pub fn llmsvc_result_text(result: *const llmsvc_result) -> *const c_char;
    /// The error message on error, NULL on success; borrowed.
    pub fn llmsvc_result_error_message(result: *const llmsvc_result) -> *const c_char;
    /// The whole result as JSON, borrowed; `out_len` receives its length.
    pub fn llmsvc_result_json(result: *const llmsvc_result, out_len: *mut usize) -> *const c_char;
    /// The number of tool calls of a successful result (0 when none, on error, for NULL).
    /// New in 0.2.
    pub fn llmsvc_result_tool_call_count(result: *const llmsvc_result) -> usize;
    /// Tool call `i` (from 0): its id, the tool's name and the arguments' JSON text
    /// (NUL-terminated, borrowed from `result`); each out parameter may be NULL.
    /// `LLMSVC_EINVAL` when `i` is out of range. New in 0.2.
    pub fn llmsvc_result_tool_call(
        result: *const llmsvc_result,
        i: usize,
        out_id: *mut *const c_char,
        out_name: *mut *const c_char,
        out_arguments: *mut *const c_char,
    ) -> c_int;
    /// What a piece taken from the completion queue is: its `LLMSVC_PIECE_*` kind, the
    /// tool call's index, id and name (borrowed; "" unless the kind is
    /// `LLMSVC_PIECE_TOOL_CALL`); [`llmsvc_result_text`] is its text. Each out parameter
    /// may be NULL. `LLMSVC_EINVAL` when `result` is not a piece. New in 0.2.
    pub fn llmsvc_result_piece(
        result: *const llmsvc_result,
        out_kind: *mut c_int,
        out_index: *mut u32,
        out_call_id: *mut *const c_char,
        out_name: *mut *const c_char,
    ) -> c_int;
    /// Frees a result. Accepts NULL.
    pub fn llmsvc_result_free(result: *mut llmsvc_result);
}
