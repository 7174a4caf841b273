// Package otelllmsvc reports the requests of an llmsvc client through OpenTelemetry: a
// span per request (with a child span per attempt and per wait at the gates) and the
// GenAI client metrics, as docs/telemetry.md specifies, through the tracer and meter
// providers the application configured (the global ones unless options name others).
//
//	c, err := llmsvc.NewClient(cfg)
//	...
//	if err := otelllmsvc.Instrument(c); err != nil { ... }
//	resp, err := c.Generate(ctx, req) // a "chat gpt-4o-mini" span, child of ctx's span
//
// It is a module of its own, so that the binding (llmsvc/bindings/go) depends on no
// OpenTelemetry package: a client that is not instrumented pays nothing. The adapter is
// an llmsvc.Observer; Instrument installs it with Client.SetObserver.
//
// Prompts and replies are recorded (gen_ai.input.messages, gen_ai.output.messages) only
// when WithCaptureContent(true) or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true
// asks for them; API keys and headers never are.
package otelllmsvc

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	llmsvc "llmsvc/bindings/go"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "llmsvc/bindings/go/otelllmsvc"

// Version is the adapter's version, the scope's version.
const Version = "0.4.0"

// CaptureContentEnv is the environment variable that turns content capture on ("true")
// when no WithCaptureContent option decides.
const CaptureContentEnv = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

// Option configures the adapter.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tp      trace.TracerProvider
	mp      metric.MeterProvider
	capture *bool
}

// WithTracerProvider reports spans through tp instead of the global tracer provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// WithMeterProvider records metrics through mp instead of the global meter provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}

// WithCaptureContent records the prompts and replies (gen_ai.input.messages,
// gen_ai.output.messages) when on, and never when off, whatever
// OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT says. Without it the variable decides
// (off unless "true").
func WithCaptureContent(on bool) Option {
	return optionFunc(func(c *config) { c.capture = &on })
}

// Instrument turns telemetry on for c: every request submitted from now on is reported
// (c.SetObserver(nil) turns it off again). It fails only when an instrument cannot be
// created.
func Instrument(c *llmsvc.Client, opts ...Option) error {
	o, err := NewObserver(opts...)
	if err != nil {
		return err
	}
	c.SetObserver(o)
	return nil
}

// NewClient creates a client that reports through the application's OpenTelemetry SDK
// (Instrument), with the core's own OTLP exporter turned off unless cfg.Telemetry.OTLP
// says otherwise: the standard OTEL_* variables could turn that one on, and every request
// would be reported twice. Prefer it to llmsvc.NewClient followed by Instrument.
func NewClient(cfg llmsvc.Config, opts ...Option) (*llmsvc.Client, error) {
	o, err := NewObserver(opts...)
	if err != nil {
		return nil, err
	}
	if cfg.Telemetry == nil {
		cfg.Telemetry = &llmsvc.Telemetry{}
	} else {
		t := *cfg.Telemetry
		cfg.Telemetry = &t
	}
	if cfg.Telemetry.OTLP == nil {
		off := false
		cfg.Telemetry.OTLP = &llmsvc.OTLP{Enabled: &off}
	}
	c, err := llmsvc.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.SetObserver(o)
	return c, nil
}

// Observer is the adapter, an llmsvc.Observer: Instrument installs one, and one may be
// shared by several clients.
type Observer struct {
	tracer  trace.Tracer
	capture bool

	duration metric.Float64Histogram // gen_ai.client.operation.duration
	tokens   metric.Int64Histogram   // gen_ai.client.token.usage
	ttfc     metric.Float64Histogram // gen_ai.client.operation.time_to_first_chunk
	attempts metric.Int64Counter     // llmsvc.client.attempts
	gateWait metric.Float64Histogram // llmsvc.client.gate.wait
	backoff  metric.Float64Histogram // llmsvc.client.backoff
	cost     metric.Int64Counter     // llmsvc.client.cost

	sets attributeSets // the metrics' attribute sets, built once each
}

// The advised bucket boundaries (docs/telemetry.md, "Metrics").
var (
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12,
		10.24, 20.48, 40.96, 81.92}
	tokenBuckets = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
		4194304, 16777216, 67108864}
	waitBuckets = []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
		10, 30, 60}
)

// NewObserver creates the adapter with its tracer and its seven instruments.
func NewObserver(opts ...Option) (*Observer, error) {
	var cfg config
	for _, opt := range opts {
		opt.apply(&cfg)
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	o := &Observer{tracer: cfg.tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version))}
	if cfg.capture != nil {
		o.capture = *cfg.capture
	} else {
		o.capture = strings.EqualFold(strings.TrimSpace(os.Getenv(CaptureContentEnv)), "true")
	}
	m := cfg.mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	var err, e error
	o.duration, e = m.Float64Histogram("gen_ai.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("GenAI operation duration."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	err = errors.Join(err, e)
	o.tokens, e = m.Int64Histogram("gen_ai.client.token.usage", metric.WithUnit("{token}"),
		metric.WithDescription("Number of input and output tokens used."),
		metric.WithExplicitBucketBoundaries(tokenBuckets...))
	err = errors.Join(err, e)
	o.ttfc, e = m.Float64Histogram("gen_ai.client.operation.time_to_first_chunk", metric.WithUnit("s"),
		metric.WithDescription("Time from the request to the first chunk of a streamed reply."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	err = errors.Join(err, e)
	o.attempts, e = m.Int64Counter("llmsvc.client.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("HTTP attempts sent, retries included."))
	err = errors.Join(err, e)
	o.gateWait, e = m.Float64Histogram("llmsvc.client.gate.wait", metric.WithUnit("s"),
		metric.WithDescription("Time an attempt was held by the rate-limit gates before it was sent."),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	err = errors.Join(err, e)
	o.backoff, e = m.Float64Histogram("llmsvc.client.backoff", metric.WithUnit("s"),
		metric.WithDescription("Backoff between an attempt and the next."),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	err = errors.Join(err, e)
	o.cost, e = m.Int64Counter("llmsvc.client.cost", metric.WithUnit("{nano_usd}"),
		metric.WithDescription("Cost of the requests of priced models, in nano-dollars."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// Attribute keys (docs/telemetry.md).
const (
	keyOperationName     = attribute.Key("gen_ai.operation.name")
	keyProvider          = attribute.Key("gen_ai.provider.name")
	keyRequestModel      = attribute.Key("gen_ai.request.model")
	keyResponseModel     = attribute.Key("gen_ai.response.model")
	keyResponseID        = attribute.Key("gen_ai.response.id")
	keyFinishReasons     = attribute.Key("gen_ai.response.finish_reasons")
	keyInputTokens       = attribute.Key("gen_ai.usage.input_tokens")
	keyOutputTokens      = attribute.Key("gen_ai.usage.output_tokens")
	keyCacheReadTokens   = attribute.Key("gen_ai.usage.cache_read.input_tokens")
	keyCacheCreateTokens = attribute.Key("gen_ai.usage.cache_creation.input_tokens")
	keyReasoningTokens   = attribute.Key("gen_ai.usage.reasoning.output_tokens")
	keyMaxTokens         = attribute.Key("gen_ai.request.max_tokens")
	keyTemperature       = attribute.Key("gen_ai.request.temperature")
	keyTopP              = attribute.Key("gen_ai.request.top_p")
	keyFrequencyPenalty  = attribute.Key("gen_ai.request.frequency_penalty")
	keyPresencePenalty   = attribute.Key("gen_ai.request.presence_penalty")
	keySeed              = attribute.Key("gen_ai.request.seed")
	keyStopSequences     = attribute.Key("gen_ai.request.stop_sequences")
	keyChoiceCount       = attribute.Key("gen_ai.request.choice.count")
	keyStream            = attribute.Key("gen_ai.request.stream")
	keyOutputType        = attribute.Key("gen_ai.output.type")
	keyTimeToFirstChunk  = attribute.Key("gen_ai.response.time_to_first_chunk")
	keyInputMessages     = attribute.Key("gen_ai.input.messages")
	keyOutputMessages    = attribute.Key("gen_ai.output.messages")
	keyTokenType         = attribute.Key("gen_ai.token.type")
	keyServerAddress     = attribute.Key("server.address")
	keyServerPort        = attribute.Key("server.port")
	keyErrorType         = attribute.Key("error.type")
	keyMethod            = attribute.Key("http.request.method")
	keyStatusCode        = attribute.Key("http.response.status_code")
	keyResendCount       = attribute.Key("http.request.resend_count")
	keyOperation         = attribute.Key("llmsvc.operation")
	keyDeployment        = attribute.Key("llmsvc.deployment")
	keyAttempts          = attribute.Key("llmsvc.attempts")
	keyGateWait          = attribute.Key("llmsvc.gate.wait")
	keyCost              = attribute.Key("llmsvc.cost.nano_usd")
	keyCacheHit          = attribute.Key("llmsvc.cache.hit")
	keyBackoff           = attribute.Key("llmsvc.backoff")
	keyBackoffSource     = attribute.Key("llmsvc.backoff.source")
	keyProviderRequestID = attribute.Key("llmsvc.provider.request_id")
	keyAttempt           = attribute.Key("llmsvc.attempt")
)

var (
	opChat      = keyOperationName.String("chat")
	methodPOST  = keyMethod.String("POST")
	tokenInput  = keyTokenType.String("input")
	tokenOutput = keyTokenType.String("output")
)

// carrier is a request's W3C trace context, as propagation.TraceContext reads and writes it.
type carrier struct{ traceparent, tracestate string }

func (c *carrier) Get(key string) string {
	switch key {
	case "traceparent":
		return c.traceparent
	case "tracestate":
		return c.tracestate
	}
	return ""
}

func (c *carrier) Set(key, value string) {
	switch key {
	case "traceparent":
		c.traceparent = value
	case "tracestate":
		c.tracestate = value
	}
}

func (c *carrier) Keys() []string { return []string{"traceparent", "tracestate"} }

var traceContext propagation.TraceContext

// observation is one request's span and what its end needs of the request.
type observation struct {
	o         *Observer
	ctx       context.Context // holds the span: the parent of the attempts' spans
	span      trace.Span
	start     time.Time
	model     string // the request's model ("" when the client's default applies)
	operation string // the request's llmsvc operation, "" when not given
	stream    bool
}

// Observe starts the request's span when the request is submitted: a child of ctx's
// span, or of the request's own Traceparent when ctx has none. A request without a
// Traceparent gets the span's, so the provider receives it.
func (o *Observer) Observe(ctx context.Context, req *llmsvc.Request, stream bool) llmsvc.Observation {
	start := time.Now()
	parent := ctx
	if req.Traceparent != "" && !trace.SpanContextFromContext(ctx).IsValid() {
		parent = traceContext.Extract(ctx, &carrier{req.Traceparent, req.Tracestate})
	}
	attrs := make([]attribute.KeyValue, 0, 12) // the tracer keeps a copy
	attrs = append(attrs, opChat, keyStream.Bool(stream))
	name := "chat"
	if req.Model != "" {
		name = "chat " + req.Model
		attrs = append(attrs, keyRequestModel.String(req.Model))
	}
	attrs = requestAttributes(attrs, req)
	sctx, span := o.tracer.Start(parent, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	if o.capture && span.IsRecording() {
		if s, ok := inputMessages(req); ok {
			span.SetAttributes(keyInputMessages.String(s))
		}
	}
	if req.Traceparent == "" {
		var c carrier
		traceContext.Inject(sctx, &c)
		req.Traceparent, req.Tracestate = c.traceparent, c.tracestate
	}
	return &observation{o: o, ctx: sctx, span: span, start: start, model: req.Model,
		operation: req.Operation, stream: stream}
}

// requestAttributes appends the request's parameters that were given.
func requestAttributes(attrs []attribute.KeyValue, req *llmsvc.Request) []attribute.KeyValue {
	if req.MaxOutputTokens > 0 {
		attrs = append(attrs, keyMaxTokens.Int(req.MaxOutputTokens))
	}
	if req.Temperature != nil {
		attrs = append(attrs, keyTemperature.Float64(*req.Temperature))
	}
	if req.TopP != nil {
		attrs = append(attrs, keyTopP.Float64(*req.TopP))
	}
	if req.FrequencyPenalty != nil {
		attrs = append(attrs, keyFrequencyPenalty.Float64(*req.FrequencyPenalty))
	}
	if req.PresencePenalty != nil {
		attrs = append(attrs, keyPresencePenalty.Float64(*req.PresencePenalty))
	}
	if req.Seed != nil {
		attrs = append(attrs, keySeed.Int64(*req.Seed))
	}
	if stop := append(req.Stop[:len(req.Stop):len(req.Stop)], req.StopSequences...); len(stop) > 0 {
		attrs = append(attrs, keyStopSequences.StringSlice(stop))
	}
	if req.N != 0 && req.N != 1 {
		attrs = append(attrs, keyChoiceCount.Int(req.N))
	}
	if req.JSONSchema != nil || req.ResponseFormat != nil &&
		(req.ResponseFormat.Type == "json_object" || req.ResponseFormat.Type == "json_schema") {
		attrs = append(attrs, keyOutputType.String("json"))
	}
	if req.Operation != "" {
		attrs = append(attrs, keyOperation.String(req.Operation))
	}
	return attrs
}

// ms converts the binding's milliseconds to a Duration.
func ms(v float64) time.Duration { return time.Duration(v * 1e6) }

// backoffSource maps the binding's Attempt.BackoffSource to llmsvc.backoff.source.
func backoffSource(s string) string {
	if s == "server" {
		return "retry_after"
	}
	return s
}

// errorType is error.type for a request that failed: the kind's name for a request the
// core completed, the nearest kind for a submission it refused.
func errorType(err error, e *llmsvc.Error) string {
	if e != nil {
		return e.Kind.String()
	}
	var se *llmsvc.StatusError
	switch {
	case errors.As(err, &se) && se.Status == llmsvc.StatusClosed:
		return llmsvc.KindShutDown.String()
	case errors.As(err, &se) && (se.Status == llmsvc.StatusSchema || se.Status == llmsvc.StatusJSON ||
		se.Status == llmsvc.StatusInvalid):
		return llmsvc.KindInvalidRequest.String()
	}
	return "_OTHER"
}

// End completes the request's span at the request's completion time, with the attempts'
// and gate waits' spans below it, and records the metrics.
func (ob *observation) End(resp *llmsvc.Response, err error) {
	r := resp
	var e *llmsvc.Error
	errType := ""
	if err != nil {
		if errors.As(err, &e) {
			r = e.Response
		}
		errType = errorType(err, e)
	}
	end := time.Now()
	model := ob.model
	var provider, address string
	port := 0
	if r != nil {
		end = ob.start.Add(ms(r.Timing.TotalMS))
		provider, address, port = r.Provider, r.ServerAddress, r.ServerPort
		if model == "" {
			model = r.Model
		}
	}

	span := ob.span
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 24) // the span keeps a copy
		if ob.model == "" && model != "" {
			span.SetName("chat " + model)
			attrs = append(attrs, keyRequestModel.String(model))
		}
		if r != nil {
			attrs = ob.resultAttributes(attrs, r)
		}
		if errType != "" {
			attrs = append(attrs, keyErrorType.String(errType))
		}
		span.SetAttributes(attrs...)
		if err != nil {
			msg := err.Error()
			if e != nil {
				msg = e.Message
			}
			span.SetStatus(codes.Error, msg)
		}
		if r != nil {
			ob.childSpans(r)
		}
	}
	span.End(trace.WithTimestamp(end))

	ob.record(r, model, provider, address, port, errType, end)
}

// resultAttributes appends what the result says of the request.
func (ob *observation) resultAttributes(attrs []attribute.KeyValue, r *llmsvc.Response) []attribute.KeyValue {
	if r.Provider != "" {
		attrs = append(attrs, keyProvider.String(r.Provider))
	}
	if r.ServerAddress != "" {
		attrs = append(attrs, keyServerAddress.String(r.ServerAddress))
	}
	if r.ServerPort > 0 {
		attrs = append(attrs, keyServerPort.Int(r.ServerPort))
	}
	if r.ResponseModel != "" {
		attrs = append(attrs, keyResponseModel.String(r.ResponseModel))
	}
	if r.ResponseID != "" {
		attrs = append(attrs, keyResponseID.String(r.ResponseID))
	}
	if r.OK {
		attrs = append(attrs, keyFinishReasons.StringSlice(finishReasons(r)))
	}
	if u := r.Usage; u != nil {
		attrs = append(attrs, keyInputTokens.Int64(u.PromptTokens), keyOutputTokens.Int64(u.CompletionTokens),
			keyCacheReadTokens.Int64(u.CachedTokens), keyCacheCreateTokens.Int64(u.CacheWriteTokens),
			keyReasoningTokens.Int64(u.ReasoningTokens))
	}
	if ob.stream && r.Timing.FirstTokenMS > 0 {
		attrs = append(attrs, keyTimeToFirstChunk.Float64(r.Timing.FirstTokenMS/1e3))
	}
	if r.Deployment != "" {
		attrs = append(attrs, keyDeployment.String(r.Deployment))
	}
	attrs = append(attrs, keyAttempts.Int(len(r.Attempts)), keyGateWait.Float64(r.Timing.GateWaitMS/1e3))
	if r.CostNanoUSD != nil {
		attrs = append(attrs, keyCost.Int64(*r.CostNanoUSD))
	}
	if r.CacheHit != "" {
		attrs = append(attrs, keyCacheHit.String(r.CacheHit))
	}
	if ob.o.capture && r.OK {
		if s, ok := outputMessages(r); ok {
			attrs = append(attrs, keyOutputMessages.String(s))
		}
	}
	return attrs
}

func finishReasons(r *llmsvc.Response) []string {
	if len(r.Choices) > 0 {
		reasons := make([]string, len(r.Choices))
		for i, c := range r.Choices {
			reasons[i] = c.FinishReason
		}
		return reasons
	}
	return []string{r.FinishReason}
}

// childSpans reports each attempt ("POST") and each wait at the gates of 1 ms or more
// ("llmsvc.gate.wait"), placed by the offsets the core measured from the submission.
func (ob *observation) childSpans(r *llmsvc.Response) {
	tracer := ob.o.tracer
	buf := make([]attribute.KeyValue, 0, 14) // each span keeps a copy: reused for each attempt
	for i := range r.Attempts {
		a := &r.Attempts[i]
		start := ob.start.Add(ms(a.StartMS))
		if a.GateWaitMS >= 1 {
			_, s := tracer.Start(ob.ctx, "llmsvc.gate.wait", trace.WithSpanKind(trace.SpanKindInternal),
				trace.WithTimestamp(start.Add(-ms(a.GateWaitMS))), trace.WithAttributes(keyAttempt.Int(i)))
			s.End(trace.WithTimestamp(start))
		}
		attrs := append(buf[:0], methodPOST)
		if a.HTTPStatus > 0 {
			attrs = append(attrs, keyStatusCode.Int(a.HTTPStatus))
		}
		if i > 0 {
			attrs = append(attrs, keyResendCount.Int(i))
		}
		if r.ServerAddress != "" {
			attrs = append(attrs, keyServerAddress.String(r.ServerAddress))
		}
		if r.ServerPort > 0 {
			attrs = append(attrs, keyServerPort.Int(r.ServerPort))
		}
		if a.Kind != llmsvc.KindNone {
			attrs = append(attrs, keyErrorType.String(a.Kind.String()))
		}
		if a.Deployment != "" {
			attrs = append(attrs, keyDeployment.String(a.Deployment))
		}
		attrs = append(attrs, keyGateWait.Float64(a.GateWaitMS/1e3))
		if a.BackoffSource != "" {
			attrs = append(attrs, keyBackoff.Float64(a.BackoffMS/1e3),
				keyBackoffSource.String(backoffSource(a.BackoffSource)))
		}
		if a.RequestID != "" {
			attrs = append(attrs, keyProviderRequestID.String(a.RequestID))
		}
		if a.PromptTokens != nil {
			attrs = append(attrs, keyInputTokens.Int64(*a.PromptTokens), keyOutputTokens.Int64(*a.CompletionTokens))
		}
		if a.CostNanoUSD != nil {
			attrs = append(attrs, keyCost.Int64(*a.CostNanoUSD))
		}
		_, s := tracer.Start(ob.ctx, "POST", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithTimestamp(start), trace.WithAttributes(attrs...))
		if a.Kind != llmsvc.KindNone {
			s.SetStatus(codes.Error, a.Kind.String())
		}
		s.End(trace.WithTimestamp(start.Add(ms(a.DurationMS))))
	}
}
