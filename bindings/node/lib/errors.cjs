'use strict';
// The error model (index.d.cts documents each member):
// - StatusError: a call the core refused synchronously; nothing was submitted.
// - LlmsvcError and one subclass per error kind: a request the core accepted that failed.

const STATUS_NAMES = ['OK', 'EINVAL', 'EJSON', 'ESCHEMA', 'ENOMEM', 'ECLOSED', 'ENOTFOUND',
  'ERECURSIVE', 'ETIMEOUT', 'EHANDLE', 'ESYSTEM', 'EINTERNAL'];

/** The C ABI's status codes (llmsvc_status), by name. */
const Status = Object.freeze(Object.fromEntries(STATUS_NAMES.map((name, i) => [name, 0 - i])));

class StatusError extends Error {
  /** `op`: the call refused ("new", "submit", ...); `status`: the C ABI's (negative). */
  constructor(op, status, message) {
    super(message);
    this.name = 'StatusError';
    this.op = op;
    this.status = status;
    this.code = `LLMSVC_${STATUS_NAMES[-status] ?? `STATUS_${status}`}`;
  }
}

// The fields of a failed result document, for the public constructors, which take one.
function fieldsOf(doc) {
  const e = doc?.error ?? {};
  const attempt = (a) => ({ startUnixMs: a.start_unix_ms, startMs: a.start_ms, durationMs: a.duration_ms,
    httpStatus: a.http_status, kind: a.kind, backoffMs: a.backoff_ms ?? null, backoffSource: a.backoff_source ?? null,
    gateWaitMs: null, promptTokens: a.prompt_tokens ?? null, completionTokens: a.completion_tokens ?? null,
    costNanoUsd: a.cost_nano_usd ?? null, requestId: a.request_id ?? null, deployment: a.deployment ?? null });
  return { message: e.message || e.kind || 'request failed', kind: e.kind || 'unknown', httpStatus: e.http_status ?? 0,
    providerMessage: e.provider_message ?? null, providerType: e.provider_type ?? null,
    providerCode: e.provider_code ?? null, retryAfterMs: e.retry_after_ms ?? null,
    attempts: Array.isArray(doc?.attempts) ? doc.attempts.map(attempt) : [],
    id: doc?.id ?? 0, model: doc?.model, deployment: doc?.deployment ?? null, traceId: doc?.trace_id ?? null,
    // Read from the result only (not in its document).
    provider: null, serverAddress: null, serverPort: null,
    usage: usageOf(doc?.usage), costNanoUsd: doc?.cost_nano_usd ?? null,
    timing: { submitUnixMs: doc?.timing?.submit_unix_ms ?? 0, totalMs: doc?.timing?.total_ms ?? 0,
      overheadUs: doc?.timing?.overhead_us ?? 0, firstTokenMs: doc?.timing?.first_token_ms ?? null, gateWaitMs: null } };
}

function usageOf(u) {
  if (u === null || typeof u !== 'object') return null;
  return { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens, totalTokens: u.total_tokens,
    cachedTokens: u.cached_tokens ?? 0, reasoningTokens: u.reasoning_tokens ?? 0,
    cacheWriteTokens: u.cache_write_tokens ?? 0, cacheWrite1hTokens: u.cache_write_1h_tokens ?? 0,
    estimated: u.estimated === true };
}

class LlmsvcError extends Error {
  #doc;

  /** From a result document (docs/schema.md); the client passes the fields it read instead. */
  constructor(doc, cause, fields = fieldsOf(doc), lazyDoc = () => doc) {
    super(fields.message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    Object.assign(this, fields); // kind, httpStatus, provider*, retryAfterMs, attempts, ids
    this.#doc = lazyDoc;
  }

  /** The whole result document, parsed when first asked for. */
  get result() {
    return this.#doc();
  }

  get providerParam() {
    return this.result?.error?.provider_param ?? null;
  }
}

class RateLimitedError extends LlmsvcError {}
class InsufficientQuotaError extends LlmsvcError {}
class UnsupportedRegionError extends LlmsvcError {}
class AuthError extends LlmsvcError {}
class PermissionError extends LlmsvcError {}
class BadRequestError extends LlmsvcError {}
class NotFoundError extends LlmsvcError {}
class ConflictError extends LlmsvcError {}
class ServerError extends LlmsvcError {}
class TimeoutError extends LlmsvcError {}
class ConnectionError extends LlmsvcError {}
class CancelledError extends LlmsvcError {
  constructor(...args) {
    super(...args);
    // Code that checks for aborted fetches (err.name === 'AbortError') handles it too.
    this.name = 'AbortError';
    this.code = 'ABORT_ERR';
  }
}
class DeadlineExceededError extends LlmsvcError {}
class ShutDownError extends LlmsvcError {}
class InvalidRequestError extends LlmsvcError {}
class ProtocolError extends LlmsvcError {}
class BudgetExceededError extends LlmsvcError {}
class SchemaMismatchError extends LlmsvcError {
  constructor(...args) {
    super(...args);
    const e = this.result?.error ?? {}; // pointer, keyword and output are in the document only
    this.pointer = e.pointer ?? '';
    this.keyword = e.keyword ?? '';
    this.output = e.output ?? '';
  }
}
class InternalError extends LlmsvcError {}
class LoadShedError extends LlmsvcError {}

/** The class of each error kind, in the order of llmsvc_error_kind from 1 (0 is "none"). */
const errorClasses = Object.freeze({
  rate_limited: RateLimitedError,
  insufficient_quota: InsufficientQuotaError,
  unsupported_region: UnsupportedRegionError,
  auth: AuthError,
  permission: PermissionError,
  bad_request: BadRequestError,
  not_found: NotFoundError,
  conflict: ConflictError,
  server_error: ServerError,
  timeout: TimeoutError,
  connection: ConnectionError,
  cancelled: CancelledError,
  deadline_exceeded: DeadlineExceededError,
  shut_down: ShutDownError,
  invalid_request: InvalidRequestError,
  protocol: ProtocolError,
  budget_exceeded: BudgetExceededError,
  schema_mismatch: SchemaMismatchError,
  internal: InternalError,
  load_shed: LoadShedError,
});

module.exports = {
  Status, StatusError, LlmsvcError, RateLimitedError, InsufficientQuotaError, UnsupportedRegionError,
  AuthError, PermissionError, BadRequestError, NotFoundError, ConflictError, ServerError, TimeoutError,
  ConnectionError, CancelledError, DeadlineExceededError, ShutDownError, InvalidRequestError, ProtocolError,
  BudgetExceededError, SchemaMismatchError, InternalError, LoadShedError, errorClasses,
};
