'use strict';
// The error model.
//
// - StatusError: a call the core refused synchronously (a malformed configuration,
//   request or limits document; a closed client). Nothing was submitted.
// - LlmsvcError and its subclasses: a request the core accepted and that then failed.
//   One subclass per error kind of the result document ("rate_limited" ->
//   RateLimitedError, ...).

const STATUS_CODES = {
  0: 'LLMSVC_OK',
  '-1': 'LLMSVC_EINVAL',
  '-2': 'LLMSVC_EJSON',
  '-3': 'LLMSVC_ESCHEMA',
  '-4': 'LLMSVC_ENOMEM',
  '-5': 'LLMSVC_ECLOSED',
  '-6': 'LLMSVC_ENOTFOUND',
  '-7': 'LLMSVC_ERECURSIVE',
  '-8': 'LLMSVC_ETIMEOUT',
  '-9': 'LLMSVC_EHANDLE',
  '-10': 'LLMSVC_ESYSTEM',
  '-11': 'LLMSVC_EINTERNAL',
};

/** The C ABI's status codes (llmsvc_status), by name. */
const Status = Object.freeze({
  OK: 0,
  EINVAL: -1,
  EJSON: -2,
  ESCHEMA: -3,
  ENOMEM: -4,
  ECLOSED: -5,
  ENOTFOUND: -6,
  ERECURSIVE: -7,
  ETIMEOUT: -8,
  EHANDLE: -9,
  ESYSTEM: -10,
  EINTERNAL: -11,
});

class StatusError extends Error {
  /**
   * @param {string} op the call: "new", "submit", "metrics", "setLimits", "setDeployment", "close"
   * @param {number} status the C ABI status (negative)
   * @param {string} message the core's detailed message
   */
  constructor(op, status, message) {
    super(message);
    this.name = 'StatusError';
    this.op = op;
    this.status = status;
    this.code = STATUS_CODES[status] || `LLMSVC_STATUS_${status}`;
  }
}

function camelAttempt(a) {
  return {
    startUnixMs: a.start_unix_ms,
    startMs: a.start_ms,
    durationMs: a.duration_ms,
    httpStatus: a.http_status,
    kind: a.kind,
    backoffMs: a.backoff_ms ?? null,
    backoffSource: a.backoff_source ?? null,
    requestId: a.request_id ?? null,
    deployment: a.deployment ?? null,
  };
}

class LlmsvcError extends Error {
  /**
   * @param {object} doc the result document (docs/schema.md) of a failed request
   * @param {unknown} [cause]
   */
  constructor(doc, cause) {
    const e = (doc && doc.error) || {};
    super(e.message || e.kind || 'request failed', cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    /** The error kind, as the core names it ("rate_limited", ...). */
    this.kind = e.kind || 'unknown';
    /** The HTTP status of the last attempt; 0 when no reply was received. */
    this.httpStatus = e.http_status ?? 0;
    /** The provider's own message (an error reply, or a stream's error event); null when none. */
    this.providerMessage = e.provider_message ?? null;
    this.providerType = e.provider_type ?? null;
    this.providerCode = e.provider_code ?? null;
    this.providerParam = e.provider_param ?? null;
    /** A wait the server asked for that was too long to honour; null when none. */
    this.retryAfterMs = e.retry_after_ms ?? null;
    /** Every attempt made, in order (empty when none was sent). */
    this.attempts = Array.isArray(doc && doc.attempts) ? doc.attempts.map(camelAttempt) : [];
    /** The core's request id. */
    this.id = doc ? doc.id : 0;
    this.model = doc ? doc.model : undefined;
    /** The deployment that gave the final answer; null without configured deployments. */
    this.deployment = doc && doc.deployment !== undefined ? doc.deployment : null;
    this.traceId = doc && doc.trace_id !== undefined ? doc.trace_id : null;
    /** The whole result document. */
    this.result = doc;
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
  constructor(doc, cause) {
    super(doc, cause);
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
  constructor(doc, cause) {
    super(doc, cause);
    const e = (doc && doc.error) || {};
    /** The JSON pointer of the first violation ("/name"; "" for the whole document). */
    this.pointer = e.pointer ?? '';
    /** The schema keyword that failed ("required", "type", "enum", ...). */
    this.keyword = e.keyword ?? '';
    /** The rejected output, as the model wrote it. */
    this.output = e.output ?? '';
  }
}
class InternalError extends LlmsvcError {}
class LoadShedError extends LlmsvcError {}

const byKind = {
  __proto__: null,
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
};

/** The error for a failed result document; a kind this version does not know gives LlmsvcError. */
function errorFromResult(doc, cause) {
  const kind = doc && doc.error ? doc.error.kind : undefined;
  const Ctor = (kind && byKind[kind]) || LlmsvcError;
  return new Ctor(doc, cause);
}

/** The rejection of a request whose signal was aborted before it was submitted. */
function abortedBeforeSubmit(signal) {
  const doc = {
    id: 0,
    ok: false,
    error: { kind: 'cancelled', message: 'the request was aborted before it was submitted', http_status: 0 },
    usage: null,
    cost_nano_usd: null,
    attempts: [],
  };
  return new CancelledError(doc, signal.reason);
}

module.exports = {
  Status,
  StatusError,
  LlmsvcError,
  RateLimitedError,
  InsufficientQuotaError,
  UnsupportedRegionError,
  AuthError,
  PermissionError,
  BadRequestError,
  NotFoundError,
  ConflictError,
  ServerError,
  TimeoutError,
  ConnectionError,
  CancelledError,
  DeadlineExceededError,
  ShutDownError,
  InvalidRequestError,
  ProtocolError,
  BudgetExceededError,
  SchemaMismatchError,
  InternalError,
  LoadShedError,
  errorFromResult,
  abortedBeforeSubmit,
  camelAttempt,
  errorClasses: byKind,
};
