//! OpenTelemetry adapter (feature `otel`): every request of a client given a [`Telemetry`]
//! ([`Client::with_telemetry`](crate::Client::with_telemetry)) is reported through the
//! OpenTelemetry API the application configured, as docs/telemetry.md describes: a
//! `chat {model}` span from submit to completion with a `POST` child per attempt (and a
//! `llmsvc.gate.wait` child per attempt held 1 ms or more at the gates), and the seven
//! metrics of the GenAI client conventions and llmsvc.
//!
//! The request span starts when the request is submitted, as a child of the span current
//! at that moment (`opentelemetry::Context::current()`; attach a context to choose
//! another); with no current span, a `traceparent` given in the [`Request`] is the
//! (remote) parent. A request without a `traceparent` is sent with the request span's, so
//! the provider receives it. Attempt and gate-wait spans are built at completion from the
//! result's offsets. Everything is read from the typed result; nothing is parsed.
//!
//! Prompts and replies (`gen_ai.input.messages`, `gen_ai.output.messages`) are recorded only
//! with [`TelemetryBuilder::with_capture_content`] or
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`; keys and headers never are.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use opentelemetry;
use opentelemetry::global::{self, BoxedSpan, BoxedTracer};
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};
use opentelemetry::trace::{
    Span, SpanBuilder, SpanContext, SpanId, SpanKind, Status as SpanStatus, TraceContextExt,
    TraceFlags, TraceId, TraceState, Tracer, TracerProvider,
};
use opentelemetry::{Array, Context, InstrumentationScope, KeyValue, StringValue, Value};
use serde_json::{json, Map, Value as Json};

use crate::error::{Error, Status};
use crate::types::{Content, ContentPart, Message, Request, Response, ResponseFormat, ToolCall};

/// The environment variable that turns content capture on (`true`).
pub const CAPTURE_CONTENT_ENV: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";

/// Bucket boundaries the GenAI conventions advise for durations (s).
const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// Bucket boundaries the GenAI conventions advise for token counts.
const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// Gate waits and backoffs, often below 10 ms (s).
const WAIT_BUCKETS: [f64; 15] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
];

/// What reports a client's requests: a tracer and the seven instruments, from the tracer and
/// meter providers the application configured (the global ones by default).
///
/// Cheap to clone (an `Arc`). Give it to a client with
/// [`Client::with_telemetry`](crate::Client::with_telemetry).
///
/// ```
/// use llmsvc::otel::Telemetry;
/// // The global providers (opentelemetry::global), content capture from the environment:
/// let telemetry = Telemetry::global();
/// # let _ = telemetry;
/// ```
#[derive(Clone)]
pub struct Telemetry(pub(crate) Arc<Inner>);

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("capture_content", &self.0.capture_content)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Reports through the global tracer and meter providers (`opentelemetry::global`, as
    /// set when this is called); content capture as `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`
    /// says.
    pub fn global() -> Telemetry {
        Telemetry::builder().build()
    }

    /// A builder: providers, content capture.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }

    /// Whether prompts and replies are recorded.
    pub fn captures_content(&self) -> bool {
        self.0.capture_content
    }
}

/// Builds a [`Telemetry`].
///
/// ```no_run
/// # fn f(tracer_provider: opentelemetry::global::GlobalTracerProvider) {
/// use llmsvc::otel::Telemetry;
/// let telemetry = Telemetry::builder()
///     .with_tracer_provider(&tracer_provider)
///     .with_meter_provider(opentelemetry::global::meter_provider().as_ref())
///     .with_capture_content(false)
///     .build();
/// # let _ = telemetry; }
/// ```
#[derive(Default)]
pub struct TelemetryBuilder {
    tracer: Option<BoxedTracer>,
    meter: Option<Meter>,
    capture_content: Option<bool>,
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("tracer", &self.tracer.is_some())
            .field("meter", &self.meter.is_some())
            .field("capture_content", &self.capture_content)
            .finish()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("llmsvc")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

impl TelemetryBuilder {
    /// Spans go through this provider's tracer (default: the global provider's).
    pub fn with_tracer_provider<P>(mut self, provider: &P) -> TelemetryBuilder
    where
        P: TracerProvider + ?Sized,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        self.tracer = Some(BoxedTracer::new(Box::new(
            provider.tracer_with_scope(scope()),
        )));
        self
    }

    /// Metrics go through this provider's meter (default: the global provider's).
    pub fn with_meter_provider<M: MeterProvider + ?Sized>(
        mut self,
        provider: &M,
    ) -> TelemetryBuilder {
        self.meter = Some(provider.meter_with_scope(scope()));
        self
    }

    /// Records prompts and replies (`gen_ai.input.messages`, `gen_ai.output.messages`) on
    /// the request span. Default: `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` is
    /// `true`.
    pub fn with_capture_content(mut self, capture: bool) -> TelemetryBuilder {
        self.capture_content = Some(capture);
        self
    }

    /// Creates the tracer and the instruments.
    pub fn build(self) -> Telemetry {
        let tracer = self
            .tracer
            .unwrap_or_else(|| global::tracer_with_scope(scope()));
        let meter = self
            .meter
            .unwrap_or_else(|| global::meter_with_scope(scope()));
        let capture_content = self.capture_content.unwrap_or_else(|| {
            std::env::var(CAPTURE_CONTENT_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
        });
        let seconds = |name: &'static str, description: &'static str, buckets: &[f64]| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(buckets.to_vec())
                .build()
        };
        Telemetry(Arc::new(Inner {
            tracer,
            capture_content,
            duration: seconds(
                "gen_ai.client.operation.duration",
                "GenAI operation duration",
                &DURATION_BUCKETS,
            ),
            tokens: meter
                .u64_histogram("gen_ai.client.token.usage")
                .with_unit("{token}")
                .with_description("Number of input and output tokens used")
                .with_boundaries(TOKEN_BUCKETS.to_vec())
                .build(),
            first_chunk: seconds(
                "gen_ai.client.operation.time_to_first_chunk",
                "Time to receive the first chunk of a streamed reply",
                &DURATION_BUCKETS,
            ),
            attempts: meter
                .u64_counter("llmsvc.client.attempts")
                .with_unit("{attempt}")
                .with_description("HTTP attempts sent to the provider")
                .build(),
            gate_wait: seconds(
                "llmsvc.client.gate.wait",
                "Time an attempt was held by the rate-limit gates",
                &WAIT_BUCKETS,
            ),
            backoff: seconds(
                "llmsvc.client.backoff",
                "Wait between an attempt and the next",
                &WAIT_BUCKETS,
            ),
            cost: meter
                .u64_counter("llmsvc.client.cost")
                .with_unit("{nano_usd}")
                .with_description("Cost of the requests in billionths of a US dollar")
                .build(),
        }))
    }
}

pub(crate) struct Inner {
    tracer: BoxedTracer,
    capture_content: bool,
    duration: Histogram<f64>,
    tokens: Histogram<u64>,
    first_chunk: Histogram<f64>,
    attempts: Counter<u64>,
    gate_wait: Histogram<f64>,
    backoff: Histogram<f64>,
    cost: Counter<u64>,
}

/// A request being reported: its span, from submit to completion.
pub(crate) struct Active {
    t: Arc<Inner>,
    span: BoxedSpan,
    start: SystemTime,
    /// The model the request named (the result's, when it completes, is preferred).
    model: Option<String>,
    operation: Option<String>,
}

fn kv(key: &'static str, value: impl Into<Value>) -> KeyValue {
    KeyValue::new(key, value)
}

fn strings(values: impl IntoIterator<Item = String>) -> Value {
    Value::Array(Array::String(
        values.into_iter().map(StringValue::from).collect(),
    ))
}

fn secs(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1e3).unwrap_or_default()
}

/// The W3C `traceparent` of a span.
fn traceparent(sc: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().to_u8()
    )
}

/// The remote span context a W3C `traceparent` (and `tracestate`) names; `None` when it is
/// not one.
fn parse_traceparent(tp: &str, ts: Option<&str>) -> Option<SpanContext> {
    let mut parts = tp.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(version, 2) || version == "ff" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let state = ts
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    let sc = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        TraceFlags::new(flags & 1),
        true,
        state,
    );
    sc.is_valid().then_some(sc)
}

/// The `error.type` of a failed request: its kind's name, a refused call's status.
fn error_type(e: &Error) -> &'static str {
    if let Some(kind) = e.kind() {
        return kind.name();
    }
    match e.status() {
        Some(s) => match s {
            Status::InvalidArgument => "invalid_argument",
            Status::Json => "json",
            Status::Schema => "schema",
            Status::NoMemory => "no_memory",
            Status::Closed => "closed",
            Status::NotFound => "not_found",
            Status::Recursive => "recursive",
            Status::Timeout => "timeout",
            Status::Handle => "handle",
            Status::System => "system",
            Status::Internal => "internal",
            _ => "_OTHER",
        },
        None => "_OTHER",
    }
}

/// A text part.
fn text_part(text: &str) -> Json {
    json!({"type": "text", "content": text})
}

/// A tool call part; arguments as JSON when they are, else as the text.
fn call_part(c: &ToolCall) -> Json {
    let arguments = c
        .arguments_json
        .clone()
        .or_else(|| serde_json::from_str(&c.arguments).ok())
        .unwrap_or_else(|| Json::String(c.arguments.clone()));
    json!({"type": "tool_call", "id": c.id, "name": c.name, "arguments": arguments})
}

fn content_parts(content: &Content, parts: &mut Vec<Json>) {
    match content {
        Content::Text(t) if t.is_empty() => {}
        Content::Text(t) => parts.push(text_part(t)),
        Content::Parts(ps) => {
            for p in ps {
                parts.push(match p {
                    ContentPart::Text { text, .. } => text_part(text),
                    ContentPart::ImageUrl { image_url } => {
                        json!({"type": "uri", "modality": "image", "uri": image_url.url})
                    }
                    ContentPart::Thinking { thinking, .. } => {
                        json!({"type": "reasoning", "content": thinking})
                    }
                });
            }
        }
    }
}

fn content_text(content: &Content) -> String {
    match content {
        Content::Text(t) => t.clone(),
        Content::Parts(ps) => ps
            .iter()
            .filter_map(|p| match p {
                ContentPart::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect(),
    }
}

fn input_message(m: &Message) -> Json {
    let role = serde_json::to_value(m.role).unwrap_or(Json::Null);
    let mut parts = Vec::new();
    match &m.tool_call_id {
        Some(id) => parts.push(json!({
            "type": "tool_call_response", "id": id, "response": content_text(&m.content)
        })),
        None => content_parts(&m.content, &mut parts),
    }
    parts.extend(m.tool_calls.iter().map(call_part));
    let mut out = Map::new();
    out.insert("role".into(), role);
    if let Some(name) = &m.name {
        out.insert("name".into(), name.clone().into());
    }
    out.insert("parts".into(), parts.into());
    Json::Object(out)
}

/// `gen_ai.input.messages`: the instructions, the conversation and the prompt.
fn input_messages(r: &Request) -> String {
    let mut messages = Vec::with_capacity(r.messages.len() + 2);
    if let Some(i) = &r.instructions {
        messages.push(json!({"role": "system", "parts": [text_part(i)]}));
    }
    messages.extend(r.messages.iter().map(input_message));
    if let Some(p) = &r.prompt {
        messages.push(json!({"role": "user", "parts": [text_part(p)]}));
    }
    Json::Array(messages).to_string()
}

fn output_message(
    thinking: Option<&str>,
    text: &str,
    calls: &[ToolCall],
    finish: Option<&str>,
) -> Json {
    let mut parts = Vec::new();
    if let Some(t) = thinking {
        parts.push(json!({"type": "reasoning", "content": t}));
    }
    if !text.is_empty() {
        parts.push(text_part(text));
    }
    parts.extend(calls.iter().map(call_part));
    json!({"role": "assistant", "parts": parts, "finish_reason": finish.unwrap_or("")})
}

/// `gen_ai.output.messages`: one message per choice.
fn output_messages(r: &Response) -> String {
    let messages: Vec<Json> = if r.choices.is_empty() {
        vec![output_message(
            r.thinking.as_deref(),
            &r.text,
            &r.tool_calls,
            r.finish_reason.as_deref(),
        )]
    } else {
        r.choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let thinking = r.thinking.as_deref().filter(|_| i == 0);
                output_message(thinking, &c.text, &c.tool_calls, c.finish_reason.as_deref())
            })
            .collect()
    };
    Json::Array(messages).to_string()
}

/// The request's parameters as span attributes.
fn request_attributes(r: &Request, stream: bool, attrs: &mut Vec<KeyValue>) {
    if let Some(v) = r.max_output_tokens {
        attrs.push(kv("gen_ai.request.max_tokens", v as i64));
    }
    if let Some(v) = r.temperature {
        attrs.push(kv("gen_ai.request.temperature", v));
    }
    if let Some(v) = r.top_p {
        attrs.push(kv("gen_ai.request.top_p", v));
    }
    if let Some(v) = r.frequency_penalty {
        attrs.push(kv("gen_ai.request.frequency_penalty", v));
    }
    if let Some(v) = r.presence_penalty {
        attrs.push(kv("gen_ai.request.presence_penalty", v));
    }
    if let Some(v) = r.seed {
        attrs.push(kv("gen_ai.request.seed", v));
    }
    if let Some(stop) = r.stop.as_ref().or(r.stop_sequences.as_ref()) {
        attrs.push(kv(
            "gen_ai.request.stop_sequences",
            strings(stop.iter().cloned()),
        ));
    }
    if let Some(n) = r.n.filter(|&n| n != 1) {
        attrs.push(kv("gen_ai.request.choice.count", i64::from(n)));
    }
    attrs.push(kv("gen_ai.request.stream", stream));
    let json_format = matches!(
        r.response_format,
        Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })
    );
    if json_format || r.json_schema.is_some() {
        attrs.push(kv("gen_ai.output.type", "json"));
    }
    if let Some(op) = &r.operation {
        attrs.push(kv("llmsvc.operation", op.clone()));
    }
}

impl Inner {
    /// Starts the span of a request about to be submitted, and gives the request the span's
    /// `traceparent` when it has none.
    pub(crate) fn start(self: &Arc<Self>, request: &mut Request, stream: bool) -> Active {
        let start = SystemTime::now();
        let current = Context::current();
        let given = request.traceparent.as_deref();
        let remote = given
            .filter(|_| !current.has_active_span())
            .and_then(|tp| parse_traceparent(tp, request.tracestate.as_deref()));
        let parent = match remote {
            Some(sc) => current.with_remote_span_context(sc),
            None => current,
        };
        let model = request.model.clone();
        let name = match &model {
            Some(m) => format!("chat {m}"),
            None => "chat".to_owned(),
        };
        let mut attrs = Vec::with_capacity(12);
        attrs.push(kv("gen_ai.operation.name", "chat"));
        if let Some(m) = &model {
            attrs.push(kv("gen_ai.request.model", m.clone()));
        }
        request_attributes(request, stream, &mut attrs);
        if self.capture_content {
            attrs.push(kv("gen_ai.input.messages", input_messages(request)));
        }
        let builder = SpanBuilder::from_name(name)
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(attrs);
        let span = self.tracer.build_with_context(builder, &parent);
        let sc = span.span_context();
        if request.traceparent.is_none() && sc.is_valid() {
            request.traceparent = Some(traceparent(sc));
            let state = sc.trace_state().header();
            request.tracestate = (!state.is_empty()).then_some(state);
        }
        Active {
            t: Arc::clone(self),
            span,
            start,
            model,
            operation: request.operation.clone(),
        }
    }
}

impl Active {
    /// Ends the request's span with its outcome, builds its attempt and gate-wait spans and
    /// records the metrics.
    pub(crate) fn finish(self, out: &Result<Response, Error>) {
        match out {
            Ok(r) => self.completed(r, None),
            Err(e) => match e.failure() {
                Some(f) => self.completed(&f.response, Some((e, f.error.message.as_str()))),
                None => self.failed(error_type(e), &e.to_string()),
            },
        }
    }

    /// Ends the span of a request the core refused at submit.
    pub(crate) fn refused(self, e: &Error) {
        self.failed(error_type(e), &e.to_string());
    }

    /// Ends the span of a request whose future or stream was dropped before its result.
    pub(crate) fn cancelled(self) {
        self.failed("cancelled", "cancelled: dropped before its result was read");
    }

    /// The operation, provider and request model: the attributes every metric has.
    fn common(&self, r: Option<&Response>) -> Vec<KeyValue> {
        let mut a = Vec::with_capacity(8);
        a.push(kv("gen_ai.operation.name", "chat"));
        if let Some(p) = r.and_then(|r| r.provider_name.clone()) {
            a.push(kv("gen_ai.provider.name", p));
        }
        let model = r.and_then(|r| r.model.as_ref()).or(self.model.as_ref());
        if let Some(m) = model {
            a.push(kv("gen_ai.request.model", m.clone()));
        }
        a
    }

    /// A request that ended without a result (refused, cancelled, unreadable).
    fn failed(mut self, kind: &'static str, message: &str) {
        let end = SystemTime::now();
        let mut attrs = self.common(None);
        attrs.push(kv("error.type", kind));
        let seconds = end
            .duration_since(self.start)
            .unwrap_or_default()
            .as_secs_f64();
        self.t.duration.record(seconds, &attrs);
        if self.span.is_recording() {
            self.span.set_attribute(kv("error.type", kind));
            self.span.set_status(SpanStatus::error(message.to_owned()));
        }
        self.span.end_with_timestamp(end);
    }

    fn completed(mut self, r: &Response, failure: Option<(&Error, &str)>) {
        let t = Arc::clone(&self.t);
        let error = failure.map(|(e, _)| error_type(e));
        let end = self.start + secs(r.timing.total_ms);

        // Metrics.
        let common = self.common(Some(r));
        let mut full = common.clone();
        if let Some(m) = &r.response_model {
            full.push(kv("gen_ai.response.model", m.clone()));
        }
        if let Some(a) = &r.server_address {
            full.push(kv("server.address", a.clone()));
        }
        if let Some(p) = r.server_port {
            full.push(kv("server.port", i64::from(p)));
        }
        if let Some(u) = &r.usage {
            let mut attrs = full.clone();
            attrs.push(kv("gen_ai.token.type", "input"));
            t.tokens.record(u.prompt_tokens, &attrs);
            attrs.pop();
            attrs.push(kv("gen_ai.token.type", "output"));
            t.tokens.record(u.completion_tokens, &attrs);
        }
        if let Some(e) = error {
            full.push(kv("error.type", e));
        }
        t.duration.record(r.timing.total_ms / 1e3, &full);
        if let Some(first) = r.timing.first_token_ms {
            t.first_chunk.record(first / 1e3, &full);
        }
        for a in &r.attempts {
            let mut attrs = common.clone();
            if a.http_status != 0 {
                attrs.push(kv("http.response.status_code", i64::from(a.http_status)));
            }
            if let Some(k) = a.error_kind() {
                attrs.push(kv("error.type", k.name()));
            }
            t.attempts.add(1, &attrs);
            t.gate_wait.record(a.gate_wait_ms / 1e3, &common);
            if let (Some(ms), Some(source)) = (a.backoff_ms, &a.backoff_source) {
                let mut attrs = common.clone();
                attrs.push(kv("llmsvc.backoff.source", backoff_source(source)));
                t.backoff.record(ms / 1e3, &attrs);
            }
        }
        if let Some(cost) = r.cost_nano_usd {
            let mut attrs = common;
            if let Some(op) = &self.operation {
                attrs.push(kv("llmsvc.operation", op.clone()));
            }
            t.cost.add(cost, &attrs);
        }

        if !self.span.is_recording() {
            self.span.end_with_timestamp(end);
            return;
        }
        // The attempts' and gate waits' spans, children of the request's.
        let parent = Context::new().with_remote_span_context(self.span.span_context().clone());
        let server = |attrs: &mut Vec<KeyValue>| {
            if let Some(a) = &r.server_address {
                attrs.push(kv("server.address", a.clone()));
            }
            if let Some(p) = r.server_port {
                attrs.push(kv("server.port", i64::from(p)));
            }
        };
        for (i, a) in r.attempts.iter().enumerate() {
            let a_start = self.start + secs(a.start_ms);
            if a.gate_wait_ms >= 1.0 {
                let builder = SpanBuilder::from_name("llmsvc.gate.wait")
                    .with_kind(SpanKind::Internal)
                    .with_start_time(a_start - secs(a.gate_wait_ms))
                    .with_attributes([kv("llmsvc.attempt", i as i64)]);
                t.tracer
                    .build_with_context(builder, &parent)
                    .end_with_timestamp(a_start);
            }
            let mut attrs = Vec::with_capacity(14);
            attrs.push(kv("http.request.method", "POST"));
            if a.http_status != 0 {
                attrs.push(kv("http.response.status_code", i64::from(a.http_status)));
            }
            if i > 0 {
                attrs.push(kv("http.request.resend_count", i as i64));
            }
            server(&mut attrs);
            let kind = a.error_kind();
            if let Some(k) = kind {
                attrs.push(kv("error.type", k.name()));
            }
            if let Some(d) = &a.deployment {
                attrs.push(kv("llmsvc.deployment", d.clone()));
            }
            attrs.push(kv("llmsvc.gate.wait", a.gate_wait_ms / 1e3));
            if let (Some(ms), Some(source)) = (a.backoff_ms, &a.backoff_source) {
                attrs.push(kv("llmsvc.backoff", ms / 1e3));
                attrs.push(kv("llmsvc.backoff.source", backoff_source(source)));
            }
            if let Some(id) = &a.request_id {
                attrs.push(kv("llmsvc.provider.request_id", id.clone()));
            }
            if let Some(p) = a.prompt_tokens {
                attrs.push(kv("gen_ai.usage.input_tokens", p as i64));
                let output = a.completion_tokens.unwrap_or(0) as i64;
                attrs.push(kv("gen_ai.usage.output_tokens", output));
            }
            if let Some(c) = a.cost_nano_usd {
                attrs.push(kv("llmsvc.cost.nano_usd", c as i64));
            }
            let builder = SpanBuilder::from_name("POST")
                .with_kind(SpanKind::Client)
                .with_start_time(a_start)
                .with_attributes(attrs);
            let mut span = t.tracer.build_with_context(builder, &parent);
            if let Some(k) = kind {
                span.set_status(SpanStatus::error(k.name()));
            }
            span.end_with_timestamp(a_start + secs(a.duration_ms));
        }

        // The request's own span.
        let span = &mut self.span;
        if self.model.is_none() {
            if let Some(m) = &r.model {
                span.update_name(format!("chat {m}"));
                span.set_attribute(kv("gen_ai.request.model", m.clone()));
            }
        }
        let mut attrs = Vec::with_capacity(24);
        if let Some(p) = &r.provider_name {
            attrs.push(kv("gen_ai.provider.name", p.clone()));
        }
        server(&mut attrs);
        if r.ok {
            if let Some(m) = &r.response_model {
                attrs.push(kv("gen_ai.response.model", m.clone()));
            }
            if let Some(id) = &r.response_id {
                attrs.push(kv("gen_ai.response.id", id.clone()));
            }
            let reasons: Vec<String> = if r.choices.is_empty() {
                r.finish_reason.iter().cloned().collect()
            } else {
                let reason = |c: &crate::Choice| c.finish_reason.clone().unwrap_or_default();
                r.choices.iter().map(reason).collect()
            };
            if !reasons.is_empty() {
                attrs.push(kv("gen_ai.response.finish_reasons", strings(reasons)));
            }
        }
        if let Some(u) = &r.usage {
            attrs.push(kv("gen_ai.usage.input_tokens", u.prompt_tokens as i64));
            attrs.push(kv("gen_ai.usage.output_tokens", u.completion_tokens as i64));
            attrs.push(kv(
                "gen_ai.usage.cache_read.input_tokens",
                u.cached_tokens as i64,
            ));
            let written = u.cache_write_tokens as i64;
            attrs.push(kv("gen_ai.usage.cache_creation.input_tokens", written));
            let reasoning = u.reasoning_tokens as i64;
            attrs.push(kv("gen_ai.usage.reasoning.output_tokens", reasoning));
        }
        if let Some(first) = r.timing.first_token_ms {
            attrs.push(kv("gen_ai.response.time_to_first_chunk", first / 1e3));
        }
        if let Some(e) = error {
            attrs.push(kv("error.type", e));
        }
        if let Some(d) = &r.deployment {
            attrs.push(kv("llmsvc.deployment", d.clone()));
        }
        attrs.push(kv("llmsvc.attempts", r.attempts.len() as i64));
        attrs.push(kv("llmsvc.gate.wait", r.timing.gate_wait_ms / 1e3));
        if let Some(c) = r.cost_nano_usd {
            attrs.push(kv("llmsvc.cost.nano_usd", c as i64));
        }
        if let Some(hit) = &r.cache_hit {
            attrs.push(kv("llmsvc.cache.hit", hit.clone()));
        }
        if t.capture_content && r.ok {
            attrs.push(kv("gen_ai.output.messages", output_messages(r)));
        }
        span.set_attributes(attrs);
        if let Some((_, message)) = failure {
            span.set_status(SpanStatus::error(message.to_owned()));
        }
        span.end_with_timestamp(end);
    }
}

/// `llmsvc.backoff.source` of an attempt's `backoff_source`.
fn backoff_source(source: &str) -> Cow<'static, str> {
    match source {
        "server" => Cow::Borrowed("retry_after"),
        "client" => Cow::Borrowed("client"),
        other => Cow::Owned(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_round_trip() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let sc = parse_traceparent(tp, Some("vendor=x")).unwrap();
        assert!(sc.is_remote() && sc.is_sampled());
        assert_eq!(sc.trace_state().header(), "vendor=x");
        assert_eq!(traceparent(&sc), tp);
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad, None).is_none(), "{bad}");
        }
    }

    #[test]
    fn messages_in_the_parts_shape() {
        let r = Request::new("m")
            .message(Message::system("be brief"))
            .message(Message::assistant_tool_calls(vec![ToolCall::new(
                "c1",
                "f",
                r#"{"a":1}"#,
            )]))
            .message(Message::tool("c1", "done"));
        let v: Json = serde_json::from_str(&input_messages(&r)).unwrap();
        assert_eq!(
            v,
            json!([
                {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
                {"role": "assistant", "parts": [
                    {"type": "tool_call", "id": "c1", "name": "f", "arguments": {"a": 1}}]},
                {"role": "tool", "parts": [
                    {"type": "tool_call_response", "id": "c1", "response": "done"}]}
            ])
        );
        let out = Response {
            text: "hi".into(),
            finish_reason: Some("stop".into()),
            ..Response::default()
        };
        let v: Json = serde_json::from_str(&output_messages(&out)).unwrap();
        assert_eq!(
            v,
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "hi"}],
                    "finish_reason": "stop"}])
        );
    }
}
