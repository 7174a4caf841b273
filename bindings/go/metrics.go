package llmsvc

import "encoding/json"

// Metrics is one consistent snapshot of a client's metrics, usage and cost
// (docs/schema.md, "Metrics snapshot"), taken on the client's engine thread.
type Metrics struct {
	// Version is the core's version; Provider its wire format; HTTP2 whether HTTP/2 is
	// in use; UnixMS when the snapshot was taken.
	Version  string `json:"version"`
	Provider string `json:"provider"`
	HTTP2    bool   `json:"http2"`
	UnixMS   int64  `json:"unix_ms"`
	// Requests counts requests and their current states.
	Requests RequestMetrics `json:"requests"`
	// Rates are the sliding last-60-seconds rates.
	Rates RateMetrics `json:"rates"`
	// Gates are the limits and how full the current window is.
	Gates GateMetrics `json:"gates"`
	// Attempts counts HTTP attempts, retries and backoff.
	Attempts AttemptMetrics `json:"attempts"`
	// FailuresByKind counts final failures by kind (kinds never seen are absent).
	FailuresByKind map[Kind]int64 `json:"failures_by_kind"`
	// LatencyMS is the time from submission to completion, in milliseconds.
	LatencyMS Histogram `json:"latency_ms"`
	// OverheadUS is the time spent inside llmsvc per request (network excluded), in
	// microseconds.
	OverheadUS Histogram `json:"overhead_us"`
	// Usage is the ledger: tokens and cost in total, by model and by operation.
	Usage UsageMetrics `json:"usage"`
	// Raw is the snapshot document as the core wrote it.
	Raw json.RawMessage `json:"-"`
}

// RequestMetrics counts requests (counters) and their current states (gauges).
type RequestMetrics struct {
	Submitted int64 `json:"submitted"`
	Completed int64 `json:"completed"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	// Queued wait at a gate, BackingOff wait to retry, InFlight are being sent.
	Queued           int64          `json:"queued"`
	BackingOff       int64          `json:"backing_off"`
	InFlight         int64          `json:"in_flight"`
	QueuedByPriority PriorityCounts `json:"queued_by_priority"`
}

// PriorityCounts counts queued requests by priority class.
type PriorityCounts struct {
	High   int64 `json:"high"`
	Normal int64 `json:"normal"`
	Low    int64 `json:"low"`
}

// RateMetrics are sliding last-60-seconds rates; tokens sent are prompt estimates.
type RateMetrics struct {
	RequestsSentPerMinute   int64 `json:"requests_sent_per_minute"`
	TokensSentPerMinute     int64 `json:"tokens_sent_per_minute"`
	ResponsesPerMinute      int64 `json:"responses_per_minute"`
	TokensReceivedPerMinute int64 `json:"tokens_received_per_minute"`
}

// GateMetrics describe the gates: the limits in force, the current window's use and
// caps, the pause a 429's retry-after imposed, and how often and how long requests
// waited.
type GateMetrics struct {
	Limits             Limits    `json:"limits"`
	WindowRequestsUsed int64     `json:"window_requests_used"`
	WindowRequestsCap  int64     `json:"window_requests_cap"`
	WindowTokensUsed   int64     `json:"window_tokens_used"`
	WindowTokensCap    int64     `json:"window_tokens_cap"`
	PausedForMS        int64     `json:"paused_for_ms"`
	Waits              GateWaits `json:"waits"`
	// WaitMS is the time from queueing to admission, in milliseconds.
	WaitMS Histogram `json:"wait_ms"`
}

// GateWaits counts how often the head of the queue had to wait, by gate.
type GateWaits struct {
	RPM         int64 `json:"rpm"`
	TPM         int64 `json:"tpm"`
	Concurrency int64 `json:"concurrency"`
	Paused      int64 `json:"paused"`
}

// AttemptMetrics count HTTP attempts, retries and the backoff waited.
type AttemptMetrics struct {
	Total           int64 `json:"total"`
	Retries         int64 `json:"retries"`
	BackoffClientMS int64 `json:"backoff_client_ms"`
	BackoffServerMS int64 `json:"backoff_server_ms"`
	BackoffsClient  int64 `json:"backoffs_client"`
	BackoffsServer  int64 `json:"backoffs_server"`
	// ErrorsByKind counts failed attempts by kind (kinds never seen are absent).
	ErrorsByKind map[Kind]int64 `json:"errors_by_kind"`
	// LatencyMS is the duration of each attempt, in milliseconds.
	LatencyMS Histogram `json:"latency_ms"`
}

// Histogram summarises a distribution; the unit is in the field's name (ms or µs).
type Histogram struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// UsageMetrics is the usage ledger. The core keeps at most 1024 models and 1024
// operations; the rest are counted under "(other)".
type UsageMetrics struct {
	Total       UsageTotals            `json:"total"`
	ByModel     map[string]UsageTotals `json:"by_model"`
	ByOperation map[string]UsageTotals `json:"by_operation"`
}

// UsageTotals are the tokens and cost of a set of requests.
type UsageTotals struct {
	Requests         int64 `json:"requests"`
	Succeeded        int64 `json:"succeeded"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	CachedTokens     int64 `json:"cached_tokens"`
	ReasoningTokens  int64 `json:"reasoning_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
	// CostNanoUSD is the known cost in nano-USD; nil when nothing was priced.
	CostNanoUSD *int64 `json:"cost_nano_usd"`
	// UnpricedRequests had usage but no price; their cost is not in CostNanoUSD.
	UnpricedRequests int64 `json:"unpriced_requests"`
}
