package llmsvc

import "encoding/json"

// Metrics is one consistent snapshot of a client's metrics, usage and cost
// (docs/schema.md, "Metrics snapshot"), taken on the client's engine thread.
type Metrics struct {
	Version  string `json:"version"`  // the core's version
	Provider string `json:"provider"` // the wire format ("openai_chat")
	HTTP2    bool   `json:"http2"`    // whether HTTP/2 can be used
	UnixMS   int64  `json:"unix_ms"`  // when the snapshot was taken, Unix milliseconds
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
	// FirstTokenMS is, for streams, the time from an attempt's start to its first text.
	FirstTokenMS Histogram `json:"first_token_ms"`
	// InternalErrors counts exceptions the engine caught that belong to no request (0
	// unless llmsvc has a bug).
	InternalErrors int64 `json:"internal_errors"`
	// Usage is the ledger: tokens and cost in total, by model and by operation.
	Usage UsageMetrics `json:"usage"`
	// Routing is the routing policy and each model group's tiers of deployments; nil
	// without configured deployments.
	Routing *RoutingMetrics `json:"routing,omitempty"`
	// Deployments describe each configured deployment (Config.Deployments,
	// Config.APIKeys, Config.Models); empty without them.
	Deployments []DeploymentMetrics `json:"deployments,omitempty"`
	// Raw is the snapshot document as the core wrote it.
	Raw json.RawMessage `json:"-"`
}

// RequestMetrics counts requests (counters) and their current states (gauges).
type RequestMetrics struct {
	Submitted        int64          `json:"submitted"`          // accepted submissions
	Completed        int64          `json:"completed"`          // completions delivered
	Succeeded        int64          `json:"succeeded"`          // completed successfully
	Failed           int64          `json:"failed"`             // completed with an error
	Queued           int64          `json:"queued"`             // now waiting at a gate
	BackingOff       int64          `json:"backing_off"`        // now waiting to retry
	InFlight         int64          `json:"in_flight"`          // now being sent
	QueuedByPriority PriorityCounts `json:"queued_by_priority"` // Queued, by class
}

// PriorityCounts counts queued requests by priority class.
type PriorityCounts struct {
	High   int64 `json:"high"`   // PriorityHigh
	Normal int64 `json:"normal"` // PriorityNormal (the default)
	Low    int64 `json:"low"`    // PriorityLow
}

// RateMetrics are sliding last-60-seconds rates; tokens sent are prompt estimates.
type RateMetrics struct {
	RequestsSentPerMinute   int64 `json:"requests_sent_per_minute"`   // attempts sent
	TokensSentPerMinute     int64 `json:"tokens_sent_per_minute"`     // prompt tokens sent (estimates)
	ResponsesPerMinute      int64 `json:"responses_per_minute"`       // replies received
	TokensReceivedPerMinute int64 `json:"tokens_received_per_minute"` // tokens the replies reported
}

// GateMetrics describe the gates: the limits in force, the current window's use and
// caps, the pause a 429's retry-after imposed, and how often and how long requests
// waited.
type GateMetrics struct {
	Limits                 Limits    `json:"limits"`                    // the limits in force
	WindowRequestsUsed     int64     `json:"window_requests_used"`      // requests in the current window
	WindowRequestsCap      int64     `json:"window_requests_cap"`       // requests allowed per window (0: no limit)
	WindowTokensUsed       int64     `json:"window_tokens_used"`        // tokens in the current window
	WindowTokensCap        int64     `json:"window_tokens_cap"`         // tokens allowed per window (0: no limit)
	WindowInputTokensUsed  int64     `json:"window_input_tokens_used"`  // input tokens in the current window
	WindowInputTokensCap   int64     `json:"window_input_tokens_cap"`   // input tokens allowed per window (0: no limit)
	WindowOutputTokensUsed int64     `json:"window_output_tokens_used"` // output tokens in the current window
	WindowOutputTokensCap  int64     `json:"window_output_tokens_cap"`  // output tokens allowed per window (0: no limit)
	PausedForMS            int64     `json:"paused_for_ms"`             // remaining pause a 429's retry-after imposed
	Waits                  GateWaits `json:"waits"`                     // how often the queue's head waited, by gate
	// WaitMS is the time from queueing to admission, in milliseconds.
	WaitMS Histogram `json:"wait_ms"`
}

// GateWaits counts how often the head of the queue had to wait, by gate.
type GateWaits struct {
	RPM         int64 `json:"rpm"`         // the request window was full
	TPM         int64 `json:"tpm"`         // the token window was full
	ITPM        int64 `json:"itpm"`        // the input-token window was full
	OTPM        int64 `json:"otpm"`        // the output-token window was full
	Concurrency int64 `json:"concurrency"` // too many requests in flight
	Paused      int64 `json:"paused"`      // a retry-after pause was in force
}

// AttemptMetrics count HTTP attempts, retries and the backoff waited.
type AttemptMetrics struct {
	Total           int64 `json:"total"`             // attempts sent
	Retries         int64 `json:"retries"`           // attempts after the first of their request
	BackoffClientMS int64 `json:"backoff_client_ms"` // time waited by the backoff policy
	BackoffServerMS int64 `json:"backoff_server_ms"` // time waited as servers asked (retry-after)
	BackoffsClient  int64 `json:"backoffs_client"`   // waits by the backoff policy
	BackoffsServer  int64 `json:"backoffs_server"`   // waits as servers asked
	// ErrorsByKind counts failed attempts by kind (kinds never seen are absent).
	ErrorsByKind map[Kind]int64 `json:"errors_by_kind"`
	// LatencyMS is the duration of each attempt, in milliseconds.
	LatencyMS Histogram `json:"latency_ms"`
}

// Histogram summarises a distribution; the unit is in the field's name (ms or µs).
type Histogram struct {
	Count uint64  `json:"count"` // values recorded
	P50   float64 `json:"p50"`   // median
	P90   float64 `json:"p90"`   // 90th percentile
	P99   float64 `json:"p99"`   // 99th percentile
	Max   float64 `json:"max"`   // largest value
	Mean  float64 `json:"mean"`  // average
}

// UsageMetrics is the usage ledger. The core keeps at most 1024 models and 1024
// operations; the rest are counted under "(other)".
type UsageMetrics struct {
	Total       UsageTotals            `json:"total"`        // every request
	ByModel     map[string]UsageTotals `json:"by_model"`     // by the request's model
	ByOperation map[string]UsageTotals `json:"by_operation"` // by the request's operation
}

// UsageTotals are the tokens and cost of a set of requests.
type UsageTotals struct {
	Requests         int64 `json:"requests"`          // completed requests
	Succeeded        int64 `json:"succeeded"`         // of which succeeded
	PromptTokens     int64 `json:"prompt_tokens"`     // as the provider reported them
	CompletionTokens int64 `json:"completion_tokens"` // reasoning tokens included
	CachedTokens     int64 `json:"cached_tokens"`     // prompt tokens read from cache
	ReasoningTokens  int64 `json:"reasoning_tokens"`  // completion tokens spent reasoning
	TotalTokens      int64 `json:"total_tokens"`      // prompt + completion
	// CostNanoUSD is the known cost in nano-USD; nil when nothing was priced.
	CostNanoUSD *int64 `json:"cost_nano_usd"`
	// UnpricedRequests had usage but no price; their cost is not in CostNanoUSD.
	UnpricedRequests int64 `json:"unpriced_requests"`
}

// RoutingMetrics are the routing strategy in force and the routes it chooses along.
type RoutingMetrics struct {
	Strategy string         `json:"strategy"` // "round_robin", "least_loaded", "lowest_latency", "weighted"
	Routes   []RouteMetrics `json:"routes"`   // one per model group (or deployment) requests may name
}

// RouteMetrics is one route: the deployments a request naming it may use, tier by tier
// (its own group first, then its fallbacks).
type RouteMetrics struct {
	Name  string     `json:"name"`  // the model group or deployment requests name
	Tiers [][]string `json:"tiers"` // deployment names, tier by tier
}

// DeploymentMetrics describe one deployment: where it sends, whether it is in rotation,
// what it did and how full its gates are.
type DeploymentMetrics struct {
	Name     string `json:"name"`     // unique; as in Response.Deployment
	Group    string `json:"group"`    // the model group it serves
	Provider string `json:"provider"` // the wire format
	Model    string `json:"model"`    // the model it sends
	BaseURL  string `json:"base_url"` // its endpoint
	Weight   int64  `json:"weight"`   // its share under the "weighted" strategy
	// InRotation is false once an auth, permission, quota or region error (or
	// Client.SetDeployment) took it out; SetDeployment with Enabled true puts it back.
	InRotation bool `json:"in_rotation"`
	// OutKind, OutReason and OutSinceUnixMS say why and since when it is out of
	// rotation; zero while it is in.
	OutKind        Kind   `json:"out_kind,omitempty"`
	OutReason      string `json:"out_reason,omitempty"`
	OutSinceUnixMS int64  `json:"out_since_unix_ms,omitempty"`
	Attempts       int64  `json:"attempts"`        // attempts sent through it
	FailedAttempts int64  `json:"failed_attempts"` // of which failed
	Served         int64  `json:"served"`          // requests it completed successfully
	InFlight       int64  `json:"in_flight"`       // attempts now in flight
	// LatencyMS is its recent attempt latency (a weighted mean); nil before its first
	// answer.
	LatencyMS *float64 `json:"latency_ms"`
	// Headroom is the unused room across its rate and concurrency gates, 0..1.
	Headroom         float64 `json:"headroom"`
	RequestsInWindow int64   `json:"requests_in_window"` // requests in its current window
	TokensInWindow   int64   `json:"tokens_in_window"`   // tokens in its current window
	PausedMS         int64   `json:"paused_ms"`          // remaining pause a 429's retry-after imposed
}
