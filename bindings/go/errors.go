package llmsvc

/*
#include <llmsvc.h>
*/
import "C"

import (
	"strconv"
	"time"
)

// Kind says what went wrong with a request. Its values and names are the core's
// llmsvc_error_kind; KindNone means success.
type Kind int

// The error kinds, as the core defines them (include/llmsvc.h, docs/schema.md).
const (
	KindNone              Kind = C.LLMSVC_KIND_NONE               // success
	KindRateLimited       Kind = C.LLMSVC_KIND_RATE_LIMITED       // 429 retries spent, or the server asked for too long a wait
	KindInsufficientQuota Kind = C.LLMSVC_KIND_INSUFFICIENT_QUOTA // billing quota exhausted; never retried
	KindUnsupportedRegion Kind = C.LLMSVC_KIND_UNSUPPORTED_REGION // the provider refuses the caller's region
	KindAuth              Kind = C.LLMSVC_KIND_AUTH               // 401: invalid or missing key
	KindPermission        Kind = C.LLMSVC_KIND_PERMISSION         // 403
	KindBadRequest        Kind = C.LLMSVC_KIND_BAD_REQUEST        // 400 or 422 from the provider
	KindNotFound          Kind = C.LLMSVC_KIND_NOT_FOUND          // 404, e.g. an unknown model
	KindConflict          Kind = C.LLMSVC_KIND_CONFLICT           // 409 retries spent
	KindServerError       Kind = C.LLMSVC_KIND_SERVER_ERROR       // 5xx retries spent
	KindTimeout           Kind = C.LLMSVC_KIND_TIMEOUT            // 408 or transfer timeout, retries spent
	KindConnection        Kind = C.LLMSVC_KIND_CONNECTION         // refused, reset, TLS, DNS
	KindCancelled         Kind = C.LLMSVC_KIND_CANCELLED          // cancelled (Future.Cancel or the context)
	KindDeadlineExceeded  Kind = C.LLMSVC_KIND_DEADLINE_EXCEEDED  // the request's timeout_ms passed
	KindShutDown          Kind = C.LLMSVC_KIND_SHUT_DOWN          // the client closed before completion
	KindInvalidRequest    Kind = C.LLMSVC_KIND_INVALID_REQUEST    // rejected before sending
	KindProtocol          Kind = C.LLMSVC_KIND_PROTOCOL           // the provider's reply made no sense
	KindBudgetExceeded    Kind = C.LLMSVC_KIND_BUDGET_EXCEEDED    // a spending budget was exhausted
	KindSchemaMismatch    Kind = C.LLMSVC_KIND_SCHEMA_MISMATCH    // output does not fit the schema
	KindInternal          Kind = C.LLMSVC_KIND_INTERNAL           // a bug in llmsvc
	KindLoadShed          Kind = C.LLMSVC_KIND_LOAD_SHED          // its queue was full or its wait too long; not sent

	kindCount = KindLoadShed + 1
)

// kindNames holds the core's names ("rate_limited", ...), taken from the library itself.
var kindNames = func() [kindCount]string {
	var names [kindCount]string
	for k := range names {
		names[k] = C.GoString(C.llmsvc_error_kind_name(C.int(k)))
	}
	return names
}()

// kindByName maps the names used in result and metrics documents back to kinds.
var kindByName = func() map[string]Kind {
	m := make(map[string]Kind, kindCount)
	for k, name := range kindNames {
		m[name] = Kind(k)
	}
	return m
}()

// String returns the core's name of the kind ("rate_limited", ...), or "unknown(N)".
func (k Kind) String() string {
	if k >= 0 && k < kindCount {
		return kindNames[k]
	}
	return "unknown(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText writes the kind's name, as the JSON documents do.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name. A name this version does not know is kept as -1
// rather than refused, so a newer core's documents still decode.
func (k *Kind) UnmarshalText(b []byte) error {
	if v, ok := kindByName[string(b)]; ok {
		*k = v
	} else {
		*k = -1
	}
	return nil
}

// kindError is the type of the sentinel errors; see Error.Is.
type kindError struct{ kind Kind }

// Error returns "llmsvc: KIND".
func (e *kindError) Error() string { return "llmsvc: " + e.kind.String() }

// Sentinel errors, one per kind, for errors.Is:
//
//	if errors.Is(err, llmsvc.ErrRateLimited) { ... }
//
// They match any *Error of that kind; errors.As gives the details.
var (
	ErrRateLimited       error = &kindError{KindRateLimited}
	ErrInsufficientQuota error = &kindError{KindInsufficientQuota}
	ErrUnsupportedRegion error = &kindError{KindUnsupportedRegion}
	ErrAuth              error = &kindError{KindAuth}
	ErrPermission        error = &kindError{KindPermission}
	ErrBadRequest        error = &kindError{KindBadRequest}
	ErrNotFound          error = &kindError{KindNotFound}
	ErrConflict          error = &kindError{KindConflict}
	ErrServerError       error = &kindError{KindServerError}
	ErrTimeout           error = &kindError{KindTimeout}
	ErrConnection        error = &kindError{KindConnection}
	ErrCancelled         error = &kindError{KindCancelled}
	ErrDeadlineExceeded  error = &kindError{KindDeadlineExceeded}
	ErrShutDown          error = &kindError{KindShutDown}
	ErrInvalidRequest    error = &kindError{KindInvalidRequest}
	ErrProtocol          error = &kindError{KindProtocol}
	ErrBudgetExceeded    error = &kindError{KindBudgetExceeded}
	ErrSchemaMismatch    error = &kindError{KindSchemaMismatch}
	ErrInternal          error = &kindError{KindInternal}
	ErrLoadShed          error = &kindError{KindLoadShed}
)

// Error is a request that the core accepted and that then failed: its result document's
// "error" object, with the attempts made. It matches the sentinel of its Kind with
// errors.Is, and, when the request ended because its context was done, also the
// context's error (context.Canceled or context.DeadlineExceeded).
type Error struct {
	// Kind is what went wrong.
	Kind Kind
	// Message is the core's message, the provider's own text included.
	Message string
	// HTTPStatus is the status of the last attempt, 0 when no reply was received.
	HTTPStatus int
	// ProviderMessage is the provider's own error message, empty when absent.
	ProviderMessage string
	// ProviderType, ProviderCode and ProviderParam are the provider's error fields
	// ("insufficient_quota", "invalid_api_key", ...), empty when absent.
	ProviderType, ProviderCode, ProviderParam string
	// SchemaPointer, SchemaKeyword and RejectedOutput describe a KindSchemaMismatch: the
	// JSON pointer of the first violation ("/name"), the schema keyword it broke
	// ("required") and the reply that was rejected.
	SchemaPointer, SchemaKeyword, RejectedOutput string
	// RetryAfter is the wait the server asked for when it was too long to honour
	// (retry.max_retry_after_ms); 0 when none.
	RetryAfter time.Duration
	// Attempts lists every attempt made, in order; empty when none was sent.
	Attempts []Attempt
	// Response is the whole result: id, model, usage (when a reply came), timing,
	// metadata and the raw document.
	Response *Response

	ctxErr error
}

// Error returns "llmsvc: KIND: MESSAGE", followed by the context's error when the
// request ended because its context was done.
func (e *Error) Error() string {
	s := "llmsvc: " + e.Kind.String() + ": " + e.Message
	if e.ctxErr != nil {
		s += " (" + e.ctxErr.Error() + ")"
	}
	return s
}

// Is reports whether target is the sentinel error of e's Kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(*kindError)
	return ok && k.kind == e.Kind
}

// Unwrap returns the context's error when the request ended because its context was
// done, else nil.
func (e *Error) Unwrap() error { return e.ctxErr }

// Status is a status code of the C ABI (llmsvc_status). Calls that fail before the core
// accepts any work (a malformed document, a closed client) report one in a
// *StatusError; a Status is itself an error, so errors.Is(err, llmsvc.StatusSchema)
// works.
type Status int

// The statuses of the C ABI.
const (
	StatusOK        Status = C.LLMSVC_OK
	StatusInvalid   Status = C.LLMSVC_EINVAL     // an argument is invalid
	StatusJSON      Status = C.LLMSVC_EJSON      // a JSON document could not be parsed
	StatusSchema    Status = C.LLMSVC_ESCHEMA    // a document is well formed but a field is wrong
	StatusNoMemory  Status = C.LLMSVC_ENOMEM     // out of memory
	StatusClosed    Status = C.LLMSVC_ECLOSED    // the client is closed and accepts no new work
	StatusNotFound  Status = C.LLMSVC_ENOTFOUND  // no pending request has that id
	StatusRecursive Status = C.LLMSVC_ERECURSIVE // a blocking call made from a callback (an event hook)
	StatusTimeout   Status = C.LLMSVC_ETIMEOUT   // nothing completed in time
	StatusHandle    Status = C.LLMSVC_EHANDLE    // not (or no longer) a live object
	StatusSystem    Status = C.LLMSVC_ESYSTEM    // the operating system refused a resource
	StatusInternal  Status = C.LLMSVC_EINTERNAL  // a bug in llmsvc
)

// ErrClosed is returned (inside a *StatusError) by calls on a closed client. It differs
// from ErrShutDown, which is the result of a request that was pending when the client
// closed.
var ErrClosed error = StatusClosed

// Error returns the core's static description of the status (llmsvc_strerror).
func (s Status) Error() string { return C.GoString(C.llmsvc_strerror(C.int(s))) }

// StatusError is a call refused synchronously: nothing was submitted and no completion
// follows. Message is the core's detailed message, naming the offending field.
type StatusError struct {
	// Op is the call that failed: "new", "submit", "metrics", "metrics_prometheus",
	// "set_limits", "set_deployment", "set_event_hook", "pause", "close", and a batch job's
	// "batch_job_open", "batch_job_add", "batch_job_step", "batch_job_commit",
	// "batch_job_status".
	Op string
	// Status is the C ABI's status code.
	Status Status
	// Message is the core's message ("request.temperature: ...").
	Message string
}

// Error returns "llmsvc: OP: MESSAGE".
func (e *StatusError) Error() string { return "llmsvc: " + e.Op + ": " + e.Message }

// Unwrap returns the Status, so errors.Is(err, llmsvc.StatusSchema) and
// errors.Is(err, llmsvc.ErrClosed) work.
func (e *StatusError) Unwrap() error { return e.Status }

// statusError builds a *StatusError from a status and the optional llmsvc_error that came
// with it, which it frees.
func statusError(op string, status C.int, cerr *C.llmsvc_error) error {
	msg := ""
	if cerr != nil {
		msg = C.GoString(C.llmsvc_error_message(cerr))
		C.llmsvc_error_free(cerr)
	}
	if msg == "" {
		msg = Status(status).Error()
	}
	return &StatusError{Op: op, Status: Status(status), Message: msg}
}
