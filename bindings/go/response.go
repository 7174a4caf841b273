package llmsvc

import (
	"context"
	"encoding/json"
	"time"
)

// Response is the result document of a request (docs/schema.md, "Result"). A successful
// request returns it directly; a failed one returns an *Error whose Response field holds
// it.
type Response struct {
	// ID is the core's request id (the one Future.ID reports).
	ID uint64 `json:"id"`
	// OK is true on success.
	OK bool `json:"ok"`
	// Model and Operation are those of the request (Operation "default" when unset).
	Model     string `json:"model"`
	Operation string `json:"operation"`
	// TraceID and Metadata are echoed from the request.
	TraceID  string         `json:"trace_id,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	// Text is the assistant's reply ("" on error).
	Text string `json:"text,omitempty"`
	// FinishReason is the provider's ("stop", "length", ...).
	FinishReason string `json:"finish_reason,omitempty"`
	// ResponseID and ResponseModel are the provider's response id and exact model.
	ResponseID    string `json:"response_id,omitempty"`
	ResponseModel string `json:"response_model,omitempty"`
	// Usage is nil when no reply was received.
	Usage *Usage `json:"usage"`
	// CostNanoUSD is the cost in nano-USD (1e-9 USD); nil when unknown (no usage, or a
	// model without a price), never a made-up zero.
	CostNanoUSD *int64 `json:"cost_nano_usd"`
	// Attempts lists every attempt, retries included, in order.
	Attempts []Attempt `json:"attempts"`
	// Timing is when the request was submitted and how long it took.
	Timing Timing `json:"timing"`
	// Raw is the whole result document as the core wrote it.
	Raw json.RawMessage `json:"-"`
}

// resultDoc is the result document: the Response and, on failure, the error object.
type resultDoc struct {
	Response
	Error *errorDoc `json:"error"`
}

// errorDoc is the "error" object of a failed result.
type errorDoc struct {
	Kind          Kind   `json:"kind"`
	Message       string `json:"message"`
	HTTPStatus    int    `json:"http_status"`
	ProviderType  string `json:"provider_type"`
	ProviderCode  string `json:"provider_code"`
	ProviderParam string `json:"provider_param"`
	RetryAfterMS  *int64 `json:"retry_after_ms"`
}

// Usage is the token usage the provider reported for one request.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
	CachedTokens     int64 `json:"cached_tokens"`
	ReasoningTokens  int64 `json:"reasoning_tokens"`
}

// Attempt is one HTTP attempt of a request.
type Attempt struct {
	// StartUnixMS is the wall-clock start; StartMS the start relative to submission.
	StartUnixMS int64   `json:"start_unix_ms"`
	StartMS     float64 `json:"start_ms"`
	DurationMS  float64 `json:"duration_ms"`
	// HTTPStatus is 0 when no reply was received.
	HTTPStatus int `json:"http_status"`
	// Kind is KindNone for the successful attempt.
	Kind Kind `json:"kind"`
	// BackoffMS is the wait before the next attempt, and BackoffSource "client" (the
	// backoff policy) or "server" (retry-after); both empty when none followed.
	BackoffMS     float64 `json:"backoff_ms,omitempty"`
	BackoffSource string  `json:"backoff_source,omitempty"`
	// RequestID is the provider's request id (x-request-id), when sent.
	RequestID string `json:"request_id,omitempty"`
}

// Timing says when a request was submitted, how long it took to complete and how much
// time the core itself spent on it (network excluded).
type Timing struct {
	SubmitUnixMS int64   `json:"submit_unix_ms"`
	TotalMS      float64 `json:"total_ms"`
	OverheadUS   float64 `json:"overhead_us"`
}

// decodeResult turns a result document into the Response, or the *Error of a failed
// request. ctx is the request's context: when it is done and the core reports the
// request cancelled or past its deadline, the error wraps ctx.Err().
func decodeResult(ctx context.Context, doc []byte) (*Response, error) {
	var rd resultDoc
	if err := json.Unmarshal(doc, &rd); err != nil {
		return nil, &Error{Kind: KindInternal, Message: "unreadable result document: " + err.Error()}
	}
	r := &rd.Response
	r.Raw = doc
	if r.OK {
		return r, nil
	}
	e := &Error{Kind: KindInternal, Message: "result without an error object", Response: r,
		Attempts: r.Attempts}
	if d := rd.Error; d != nil {
		e.Kind, e.Message, e.HTTPStatus = d.Kind, d.Message, d.HTTPStatus
		e.ProviderType, e.ProviderCode, e.ProviderParam = d.ProviderType, d.ProviderCode, d.ProviderParam
		if d.RetryAfterMS != nil {
			e.RetryAfter = time.Duration(*d.RetryAfterMS) * time.Millisecond
		}
	}
	if e.Kind == KindCancelled || e.Kind == KindDeadlineExceeded {
		e.ctxErr = contextCause(ctx)
	}
	return nil, e
}

// contextCause is ctx.Err(), or context.DeadlineExceeded when the deadline has passed but
// the context's own timer has not fired yet (the core, which got the same deadline
// rounded up, may notice it first).
func contextCause(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}
