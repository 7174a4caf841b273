package llmsvc

import "encoding/json"

// Response is the result document of a request (docs/schema.md, "Result"). A successful
// request returns it directly; a failed one returns an *Error whose Response field holds
// it.
type Response struct {
	// ID is the core's request id (the one Future.ID reports).
	ID uint64 `json:"id"`
	// OK is true on success.
	OK bool `json:"ok"`
	// Model is the request's model.
	Model string `json:"model"`
	// Operation is the request's operation ("default" when unset).
	Operation string `json:"operation"`
	// Deployment is the name of the deployment that served the request (or gave its
	// final answer); empty without configured deployments.
	Deployment string `json:"deployment,omitempty"`
	// Provider is the provider as the OpenTelemetry GenAI conventions name it
	// (gen_ai.provider.name): "openai", "anthropic", "azure.ai.openai", "ollama",
	// "gcp.gemini" or "aws.bedrock".
	Provider string `json:"-"`
	// ServerAddress and ServerPort are the host and port of the server that answered
	// last (of the provider's base URL); empty and 0 when none is known.
	ServerAddress string `json:"-"`
	ServerPort    int    `json:"-"`
	// TraceID is echoed from the request.
	TraceID string `json:"trace_id,omitempty"`
	// Metadata is echoed from the request.
	Metadata map[string]any `json:"metadata,omitempty"`
	// Text is the assistant's reply ("" on error).
	Text string `json:"text,omitempty"`
	// FinishReason is the provider's ("stop", "length", ...).
	FinishReason string `json:"finish_reason,omitempty"`
	// ResponseID is the provider's response id ("chatcmpl-...").
	ResponseID string `json:"response_id,omitempty"`
	// ResponseModel is the exact model the provider used.
	ResponseModel string `json:"response_model,omitempty"`
	// JSON is the reply as a JSON document: validated against Request.JSONSchema, or the
	// object of JSON mode (Request.ResponseFormat); nil otherwise.
	JSON json.RawMessage `json:"json,omitempty"`
	// ToolCalls are the tools the model asked to call (FinishReason is then
	// "tool_calls"); a streamed reply's calls assembled from its pieces.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// Choices are the N choices of a request with Request.N > 1 (Text, FinishReason,
	// ToolCalls and Logprobs above are the first's); nil otherwise.
	Choices []Choice `json:"choices,omitempty"`
	// Logprobs are the tokens' log probabilities as the provider sent them (a JSON
	// array), when Request.Logprobs asked for them.
	Logprobs json.RawMessage `json:"logprobs,omitempty"`
	// ServiceTier is the tier the provider used (OpenAI).
	ServiceTier string `json:"service_tier,omitempty"`
	// Thinking is the model's extended thinking, apart from the answer, and
	// ThinkingSignature its signature (Anthropic); Response.Message sends both back.
	Thinking          string `json:"thinking,omitempty"`
	ThinkingSignature string `json:"thinking_signature,omitempty"`
	// Embeddings are the vectors of an embeddings request (Request.Input), one per input,
	// in their order; nil for other requests (and with a libllmsvc older than 0.5).
	Embeddings [][]float32 `json:"embeddings,omitempty"`
	// BatchID and CustomID are set on a result of a BatchJob: the provider batch its
	// request ran in and the id it was added with.
	BatchID  string `json:"-"`
	CustomID string `json:"-"`
	// Usage is nil when no reply was received. It sums every attempt that got a reply.
	Usage *Usage `json:"usage"`
	// UsageUnreadable is true when the provider's usage counts were not counts: Usage
	// then leaves them out (nil when no other attempt had usage) and the cost is nil.
	UsageUnreadable bool `json:"usage_unreadable,omitempty"`
	// CostNanoUSD is the cost in nano-USD (1e-9 USD); nil when unknown (no usage, or a
	// model without a price), never a made-up zero.
	CostNanoUSD *int64 `json:"cost_nano_usd"`
	// CacheHit is "memory" or "sqlite" when the reply was served from the client's
	// response cache, "" when it was fetched.
	CacheHit string `json:"-"`
	// Attempts lists every attempt, retries included, in order.
	Attempts []Attempt `json:"attempts"`
	// Timing is when the request was submitted and how long it took.
	Timing Timing `json:"timing"`
	// Raw is the whole result document as the core wrote it.
	Raw json.RawMessage `json:"-"`
	// Error is why the request failed (OK false): the *Error that Generate or
	// Future.Result return, which holds this Response; nil on success.
	Error *Error `json:"-"`
}

// Choice is one of the choices of a request with Request.N > 1.
type Choice struct {
	Index        int             `json:"index"`
	Text         string          `json:"text"`
	FinishReason string          `json:"finish_reason,omitempty"`
	ToolCalls    []ToolCall      `json:"tool_calls,omitempty"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
}

// Usage is the token usage the provider reported for one request.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`      // all prompt tokens, cached ones included
	CompletionTokens int64 `json:"completion_tokens"`  // all completion tokens, reasoning ones included
	TotalTokens      int64 `json:"total_tokens"`       // prompt + completion
	CachedTokens     int64 `json:"cached_tokens"`      // prompt tokens read from the provider's cache
	CacheWriteTokens int64 `json:"cache_write_tokens"` // prompt tokens written to the provider's cache
	ReasoningTokens  int64 `json:"reasoning_tokens"`   // completion tokens spent on reasoning
	Estimated        bool  `json:"estimated"`          // a stream cut short: the core's estimate
	// CacheWrite1hTokens is the part of CacheWriteTokens written for an hour (Anthropic's
	// "1h" CacheControl), priced higher.
	CacheWrite1hTokens int64 `json:"cache_write_1h_tokens"`
}

// Attempt is one HTTP attempt of a request.
type Attempt struct {
	StartUnixMS int64   `json:"start_unix_ms"` // wall-clock start, Unix milliseconds
	StartMS     float64 `json:"start_ms"`      // start, in milliseconds after submission
	DurationMS  float64 `json:"duration_ms"`   // how long the attempt took
	// HTTPStatus is 0 when no reply was received.
	HTTPStatus int `json:"http_status"`
	// Kind is KindNone for the successful attempt.
	Kind Kind `json:"kind"`
	// BackoffMS is the wait before the next attempt; 0 when none followed.
	BackoffMS float64 `json:"backoff_ms,omitempty"`
	// BackoffSource is "client" (the backoff policy) or "server" (retry-after); empty
	// when no attempt followed.
	BackoffSource string `json:"backoff_source,omitempty"`
	// RequestID is the provider's request id (x-request-id), when sent.
	RequestID string `json:"request_id,omitempty"`
	// Deployment is the name of the deployment the attempt went to; empty without
	// configured deployments.
	Deployment string `json:"deployment,omitempty"`
	// GateWaitMS is how long the attempt was held by the gates (rate windows,
	// concurrency, budgets) before it was sent: from the submission, or the end of the
	// backoff before it, to its start.
	GateWaitMS float64 `json:"-"`
	// PromptTokens and CompletionTokens are what this attempt's reply used (a reply that
	// failed its schema was paid too), nil when it had no usage; CostNanoUSD is their
	// cost, nil when unknown.
	PromptTokens     *int64 `json:"prompt_tokens,omitempty"`
	CompletionTokens *int64 `json:"completion_tokens,omitempty"`
	CostNanoUSD      *int64 `json:"cost_nano_usd,omitempty"`
}

// Timing says when a request was submitted, how long it took to complete and how much
// time the core itself spent on it (network excluded).
type Timing struct {
	SubmitUnixMS int64   `json:"submit_unix_ms"` // submission, Unix milliseconds
	TotalMS      float64 `json:"total_ms"`       // submission to completion
	OverheadUS   float64 `json:"overhead_us"`    // time spent inside llmsvc, network excluded
	FirstTokenMS float64 `json:"first_token_ms"` // streams: submission to the first text; 0 otherwise
	GateWaitMS   float64 `json:"-"`              // held by the gates, summed over attempts
}
