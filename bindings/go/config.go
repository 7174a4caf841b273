package llmsvc

// Config is the client's configuration document (docs/schema.md, "Configuration").
// Every field is optional; a zero value leaves the core's default.
type Config struct {
	// Provider is the wire format: "openai_chat" (OpenAI Chat Completions and every
	// compatible server), "openai_responses", "anthropic" or "ollama". Default: chosen
	// from the model (docs/schema.md).
	Provider string `json:"provider,omitempty"`
	// BaseURL is the API root. Default: $OPENAI_BASE_URL, else
	// https://api.openai.com/v1 (Anthropic and Ollama have their own defaults).
	BaseURL string `json:"base_url,omitempty"`
	// APIKey is the key. Default: $OPENAI_API_KEY ($ANTHROPIC_API_KEY for Anthropic).
	// The core never writes it into errors, results or metrics.
	APIKey string `json:"api_key,omitempty"`
	// AnthropicVersion is the anthropic-version header (default "2023-06-01").
	AnthropicVersion string `json:"anthropic_version,omitempty"`
	// DefaultMaxOutputTokens is the output bound sent where the provider requires one
	// (Anthropic) and the request gives none (default 4096).
	DefaultMaxOutputTokens int `json:"default_max_output_tokens,omitempty"`
	// Organization fills the OpenAI-Organization header.
	Organization string `json:"organization,omitempty"`
	// Project fills the OpenAI-Project header.
	Project string `json:"project,omitempty"`
	// Model is the default model of requests that name none.
	Model string `json:"model,omitempty"`
	// MaxTokensField is "max_completion_tokens" (the default) or "max_tokens" for servers
	// that only know the older name.
	MaxTokensField string `json:"max_tokens_field,omitempty"`
	// Limits are the rate and concurrency gates; nil leaves everything unlimited.
	Limits *Limits `json:"limits,omitempty"`
	// Retry is the retry policy; nil keeps the defaults.
	Retry *Retry `json:"retry,omitempty"`
	// Timeouts bound connecting and each attempt; nil keeps the defaults.
	Timeouts *Timeouts `json:"timeouts,omitempty"`
	// HTTP tunes the transport; nil keeps the defaults.
	HTTP *HTTPOptions `json:"http,omitempty"`
	// Seed seeds the backoff jitter for repeatable runs; 0 picks a random seed.
	Seed uint64 `json:"seed,omitempty"`
	// Prices override or extend the built-in price table, keyed by model.
	Prices map[string]Price `json:"prices,omitempty"`
	// PricesFile is a file of the same shape as Prices (LiteLLM's
	// model_prices_and_context_window.json works as is).
	PricesFile string `json:"prices_file,omitempty"`
	// FreeModels are models whose cost is a known zero (local models). Other models
	// without a price have an unknown cost (nil), never a made-up zero.
	FreeModels []string `json:"free_models,omitempty"`
	// Deployments are several endpoints, keys or models behind the one client, each
	// with its own limits (docs/schema.md, "Deployments and routing"). Each starts from
	// the fields above and overrides what it gives. Give either Deployments or the
	// lists APIKeys and Models, not both.
	Deployments []Deployment `json:"deployments,omitempty"`
	// APIKeys is the short form of Deployments: one deployment per key, every other
	// field taken from above. With Models, the lists have equal lengths (a list of one
	// is used for every position).
	APIKeys []string `json:"api_keys,omitempty"`
	// Models is the short form of Deployments: one deployment per model.
	Models []string `json:"models,omitempty"`
	// Routing chooses how a request picks among the deployments of its model group and
	// where it goes when they are exhausted; nil keeps round-robin without fallbacks.
	Routing *Routing `json:"routing,omitempty"`
	// Headers are added to every request's attempts, with the rules of
	// Request.ExtraHeaders (never the credentials or framing headers).
	Headers map[string]string `json:"headers,omitempty"`
	// Telemetry is the core's own reporting: a Prometheus endpoint and the OTLP exporter
	// (docs/schema.md, "OpenTelemetry (OTLP)"); nil leaves the exporter to the standard
	// OTEL_* environment variables. otelllmsvc.NewClient reports through the application's
	// OpenTelemetry SDK instead and turns the core's exporter off.
	Telemetry *Telemetry `json:"telemetry,omitempty"`
}

// Telemetry configures what the core itself reports.
type Telemetry struct {
	// PrometheusPort serves the metrics on http://PrometheusHost:PORT/metrics (0: none).
	PrometheusPort int    `json:"prometheus_port,omitempty"`
	PrometheusHost string `json:"prometheus_host,omitempty"`
	// OTLP is the OpenTelemetry exporter (OTLP/HTTP, JSON); nil: the environment decides.
	OTLP *OTLP `json:"otlp,omitempty"`
}

// OTLP configures the core's OpenTelemetry exporter; empty fields take the standard
// OTEL_* environment variables (docs/schema.md, "OpenTelemetry (OTLP)").
type OTLP struct {
	// Enabled false turns the exporter off whatever the environment says; nil: on.
	Enabled *bool `json:"enabled,omitempty"`
	// Endpoint is the collector's base URL (e.g. http://127.0.0.1:4318).
	Endpoint string `json:"endpoint,omitempty"`
	// ServiceName is the resource's service.name.
	ServiceName string `json:"service_name,omitempty"`
	// Headers go with every export (a collector's token); never recorded.
	Headers map[string]string `json:"headers,omitempty"`
	// CaptureContent records prompts and replies (opt-in).
	CaptureContent bool `json:"capture_content,omitempty"`
}

// Deployment is one configured endpoint: a provider, base URL, key, model and limits.
// Fields left zero take the client's own (Config); a deployment of another provider
// family (Anthropic, Ollama, OpenAI) takes that provider's default endpoint and key
// instead. Results (Response.Deployment) and metrics (Metrics.Deployments) name it by
// Name.
type Deployment struct {
	// Name is unique among the deployments; default "MODEL#INDEX".
	Name string `json:"name,omitempty"`
	// Group is the model name requests use to reach it; default its Model.
	Group string `json:"group,omitempty"`
	// Weight is its share under the "weighted" strategy (default 1; 0 puts it after
	// the others of its group).
	Weight *int64 `json:"weight,omitempty"`
	// Provider, BaseURL, Organization, Project, Model, MaxTokensField,
	// AnthropicVersion and DefaultMaxOutputTokens are as in Config.
	Provider         string `json:"provider,omitempty"`
	BaseURL          string `json:"base_url,omitempty"`
	Organization     string `json:"organization,omitempty"`
	Project          string `json:"project,omitempty"`
	Model            string `json:"model,omitempty"`
	MaxTokensField   string `json:"max_tokens_field,omitempty"`
	AnthropicVersion string `json:"anthropic_version,omitempty"`
	// DefaultMaxOutputTokens is as in Config.
	DefaultMaxOutputTokens int `json:"default_max_output_tokens,omitempty"`
	// APIKey is its key; APIKeyEnv names an environment variable holding it instead
	// (give one of them, not both).
	APIKey    string `json:"api_key,omitempty"`
	APIKeyEnv string `json:"api_key_env,omitempty"`
	// Limits are its own gates; nil keeps the client's limits (Config.Limits). Sent
	// whole, as everywhere: a zero rate here means unlimited for this deployment.
	Limits *Limits `json:"limits,omitempty"`
	// Headers are sent after the client's own (Config.Headers), which it keeps.
	Headers map[string]string `json:"headers,omitempty"`
}

// Routing is the client's routing policy across its deployments.
type Routing struct {
	// Strategy is "round_robin" (the default), "least_loaded", "lowest_latency" or
	// "weighted".
	Strategy string `json:"strategy,omitempty"`
	// Fallbacks are, per model group, the groups or deployments tried in order once the
	// group's own deployments are exhausted; the key "*" applies to every group.
	Fallbacks map[string][]string `json:"fallbacks,omitempty"`
}

// DeploymentUpdate changes one configured deployment at run time (Client.SetDeployment).
// Fields left nil keep their value.
type DeploymentUpdate struct {
	// Name is the deployment's name (Deployment.Name, or the "MODEL#INDEX" default);
	// required.
	Name string `json:"name"`
	// Enabled true puts a deployment that was taken out of rotation (by an auth,
	// permission, quota or region error, or by Enabled false) back into it; false takes
	// it out.
	Enabled *bool `json:"enabled,omitempty"`
	// Weight is its new share under the "weighted" strategy.
	Weight *int64 `json:"weight,omitempty"`
	// Limits replace its gates, sent whole as in SetLimits (a zero rate or Concurrency
	// removes that limit, a zero WindowMS keeps the window).
	Limits *Limits `json:"limits,omitempty"`
}

// Limits are the client's gates. RPM, TPM, ITPM and OTPM are per-minute rates and
// Concurrency the requests in flight, 0 meaning unlimited; WindowMS is the provider's counting window
// (60000 for OpenAI), 0 meaning the default (in Config) or the current window (in
// SetLimits). The allowance within one window is rate * WindowMS / 60000, at least 1.
//
// Limits is always sent whole: in Client.SetLimits a zero rate or Concurrency removes
// that limit rather than keeping the previous one.
type Limits struct {
	RPM         int64 `json:"rpm"`                 // requests per minute
	TPM         int64 `json:"tpm"`                 // tokens per minute, input and output together
	ITPM        int64 `json:"itpm"`                // input tokens per minute, cache reads excluded (Anthropic)
	OTPM        int64 `json:"otpm"`                // output tokens per minute (Anthropic)
	Concurrency int64 `json:"concurrency"`         // requests in flight
	WindowMS    int64 `json:"window_ms,omitempty"` // the provider's counting window
	// RPD and TPD are requests and tokens per day (a sliding 24-hour window), held with
	// the per-minute limits; given, they replace the ones before (not with shared
	// limits). Windows of other lengths: a configuration file's "windows"
	// (docs/schema.md).
	RPD int64 `json:"rpd,omitempty"`
	TPD int64 `json:"tpd,omitempty"`
}

// Retry is the retry policy. Pointer fields distinguish "not given" (nil, the core's
// default) from a zero that means something (no delay, no jitter); Ptr builds them.
type Retry struct {
	// MaxAttempts counts the first attempt too (default 5; 0 keeps the default).
	MaxAttempts int `json:"max_attempts,omitempty"`
	// BaseDelayMS is the first client backoff (default 500).
	BaseDelayMS *int64 `json:"base_delay_ms,omitempty"`
	// MaxDelayMS caps a client backoff (default 30000).
	MaxDelayMS *int64 `json:"max_delay_ms,omitempty"`
	// Jitter shortens a client backoff by up to this fraction of itself (default 0.25).
	Jitter *float64 `json:"jitter,omitempty"`
	// MaxRetryAfterMS is the longest server-requested wait honoured (default 60000); a
	// longer one fails the request at once with Error.RetryAfter set.
	MaxRetryAfterMS *int64 `json:"max_retry_after_ms,omitempty"`
	// SchemaRetries is how often a reply that does not match the request's JSON Schema
	// is asked for again (default 1).
	SchemaRetries *int `json:"schema_retries,omitempty"`
}

// Timeouts bound connecting and each attempt (transfer included); 0 keeps the default
// (5000 and 600000 ms). The deadline of a whole request, queueing and retries included,
// comes from its context or Request.TimeoutMS.
type Timeouts struct {
	ConnectMS int64 `json:"connect_ms,omitempty"` // TCP + TLS connect
	RequestMS int64 `json:"request_ms,omitempty"` // one attempt, transfer included
}

// HTTPOptions tune the transport.
type HTTPOptions struct {
	// HTTP2 enables HTTP/2 over TLS when the server offers it (default true).
	HTTP2 *bool `json:"http2,omitempty"`
	// PriorKnowledge speaks cleartext HTTP/2 without upgrade (local servers).
	PriorKnowledge bool `json:"prior_knowledge,omitempty"`
	// MaxConnections caps the connections per host; 0 means no cap.
	MaxConnections int `json:"max_connections,omitempty"`
}

// Price is one model's price in USD per token, with LiteLLM's field names. The optional
// rates default to the input rate (cached reads, cache writes) or the output rate
// (reasoning tokens).
type Price struct {
	InputCostPerToken           float64  `json:"input_cost_per_token"`                      // prompt tokens
	OutputCostPerToken          float64  `json:"output_cost_per_token"`                     // completion tokens
	CacheReadInputTokenCost     *float64 `json:"cache_read_input_token_cost,omitempty"`     // cached prompt tokens
	OutputCostPerReasoningToken *float64 `json:"output_cost_per_reasoning_token,omitempty"` // reasoning tokens
	CacheCreationInputTokenCost *float64 `json:"cache_creation_input_token_cost,omitempty"` // cache writes
}

// Ptr returns a pointer to v, for the optional fields of Config and Request:
//
//	llmsvc.Request{Prompt: "Hi", Temperature: llmsvc.Ptr(0.0)}
func Ptr[T any](v T) *T { return &v }
