//! The OpenTelemetry adapter (feature `otel`) against `llmsvc-emulator`: the span tree of a
//! retried request under the test's own span, the metrics, the traceparent the provider
//! received, content capture and secrets, failures, streams, cancellation, and nothing at
//! all with telemetry off. Spans and metrics are read from the SDK's in-memory exporters.

mod common;

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use common::block_on;
use futures_core::Stream;
use llmsvc::otel::opentelemetry::trace::{
    SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _,
};
use llmsvc::otel::opentelemetry::{Context, KeyValue, Value};
use llmsvc::otel::Telemetry;
use llmsvc::{Client, Error, Limits, Request};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

const KEY: &str = "sk-canary-otel-0123456789";
const PROMPT: &str = "Tell me about CANARY-PROMPT-42";
const MODEL: &str = "gpt-4o-mini";

/// An SDK of the test's own: in-memory span and metric exporters.
struct Sdk {
    spans: InMemorySpanExporter,
    tracer_provider: SdkTracerProvider,
    metrics: InMemoryMetricExporter,
    meter_provider: SdkMeterProvider,
}

/// One exported metric point, flattened.
#[derive(Debug, Clone)]
struct Point {
    name: String,
    unit: String,
    attrs: BTreeMap<String, String>,
    /// A histogram's count, a sum's value (as f64 for both).
    count: u64,
    sum: f64,
    bounds: Vec<f64>,
}

fn attr_map<'a>(kvs: impl Iterator<Item = &'a KeyValue>) -> BTreeMap<String, String> {
    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

impl Sdk {
    fn new() -> Sdk {
        let spans = InMemorySpanExporter::default();
        let tracer_provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let metrics = InMemoryMetricExporter::default();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        Sdk {
            spans,
            tracer_provider,
            metrics,
            meter_provider,
        }
    }

    fn telemetry(&self, capture_content: bool) -> Telemetry {
        Telemetry::builder()
            .with_tracer_provider(&self.tracer_provider)
            .with_meter_provider(&self.meter_provider)
            .with_capture_content(capture_content)
            .build()
    }

    fn spans(&self) -> Vec<SpanData> {
        self.tracer_provider.force_flush().unwrap();
        self.spans.get_finished_spans().unwrap()
    }

    fn resource_metrics(&self) -> Vec<ResourceMetrics> {
        self.meter_provider.force_flush().unwrap();
        self.metrics.get_finished_metrics().unwrap()
    }

    /// The points of the last collection (cumulative).
    fn points(&self) -> Vec<Point> {
        let all = self.resource_metrics();
        let mut out = Vec::new();
        let Some(last) = all.last() else { return out };
        for scope in last.scope_metrics() {
            assert_eq!(scope.scope().name(), "llmsvc");
            for m in scope.metrics() {
                let (name, unit) = (m.name().to_owned(), m.unit().to_owned());
                let point = |attrs, count, sum, bounds| Point {
                    name: name.clone(),
                    unit: unit.clone(),
                    attrs,
                    count,
                    sum,
                    bounds,
                };
                match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        for p in h.data_points() {
                            let a = attr_map(p.attributes());
                            out.push(point(a, p.count(), p.sum(), p.bounds().collect()));
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                        for p in h.data_points() {
                            let a = attr_map(p.attributes());
                            out.push(point(a, p.count(), p.sum() as f64, p.bounds().collect()));
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Sum(s)) => {
                        assert!(s.is_monotonic(), "{name} is a counter");
                        for p in s.data_points() {
                            let a = attr_map(p.attributes());
                            out.push(point(a, p.value(), p.value() as f64, Vec::new()));
                        }
                    }
                    other => panic!("unexpected metric data {name}: {other:?}"),
                }
            }
        }
        out
    }

    /// Everything exported, as text: every span with every attribute, every metric point.
    fn dump(&self) -> String {
        format!("{:?}\n{:?}", self.spans(), self.resource_metrics())
    }
}

fn attr<'a>(s: &'a SpanData, key: &str) -> Option<&'a Value> {
    s.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

#[track_caller]
fn str_attr(s: &SpanData, key: &str) -> String {
    match attr(s, key) {
        Some(Value::String(v)) => v.to_string(),
        other => panic!("{}: {key} is {other:?}", s.name),
    }
}

#[track_caller]
fn int_attr(s: &SpanData, key: &str) -> i64 {
    match attr(s, key) {
        Some(Value::I64(v)) => *v,
        other => panic!("{}: {key} is {other:?}", s.name),
    }
}

#[track_caller]
fn f64_attr(s: &SpanData, key: &str) -> f64 {
    match attr(s, key) {
        Some(Value::F64(v)) => *v,
        other => panic!("{}: {key} is {other:?}", s.name),
    }
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    let mut v: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    v.sort_by_key(|s| s.start_time);
    v
}

fn metric<'a>(points: &'a [Point], name: &str) -> Vec<&'a Point> {
    points.iter().filter(|p| p.name == name).collect()
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn request() -> Request {
    Request {
        temperature: Some(0.25),
        seed: Some(7),
        ..Request::new(MODEL).prompt(PROMPT).max_output_tokens(16)
    }
}

/// Runs `f` with a span of the test current; returns its result and that span's context.
fn in_parent_span<T>(sdk: &Sdk, f: impl FnOnce() -> T) -> (T, Context) {
    let tracer = sdk.tracer_provider.tracer("the-test");
    let cx = Context::current_with_span(tracer.start("test parent"));
    let out = {
        let _attached = cx.clone().attach();
        f()
    };
    cx.span().end();
    (out, cx)
}

const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

#[test]
fn a_retried_request_reports_its_span_tree_and_metrics() {
    let emu = emulator!("--rate-limit-first", "1", "--rate-limit-wait-ms", "20");
    let sdk = Sdk::new();
    let client = Client::new(emu.config(KEY))
        .unwrap()
        .with_telemetry(sdk.telemetry(false));
    let (r, parent) = in_parent_span(&sdk, || block_on(client.generate(request())));
    let r = r.unwrap();
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(r.provider_name.as_deref(), Some("openai"));
    assert_eq!(r.server_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(r.server_port, Some(emu.port));
    let usage = r.usage.unwrap();
    let port = i64::from(emu.port);

    // The span tree.
    let spans = sdk.spans();
    // The test's span, the request's, two attempts, and a gate wait for each attempt held
    // 1 ms or more (the second may be, when the engine's timer is late on a busy machine).
    let held = r.attempts.iter().filter(|a| a.gate_wait_ms >= 1.0).count();
    assert_eq!(spans.len(), 4 + held, "{spans:#?}");
    assert_eq!(named(&spans, "llmsvc.gate.wait").len(), held);
    let parent = parent.span().span_context().clone();
    let req = named(&spans, "chat gpt-4o-mini")[0];
    assert_eq!(req.span_kind, SpanKind::Client);
    assert_eq!(req.parent_span_id, parent.span_id());
    assert_eq!(req.span_context.trace_id(), parent.trace_id());
    assert_eq!(req.status, Status::Unset);
    assert_eq!(str_attr(req, "gen_ai.operation.name"), "chat");
    assert_eq!(str_attr(req, "gen_ai.provider.name"), "openai");
    assert_eq!(str_attr(req, "gen_ai.request.model"), MODEL);
    assert_eq!(
        Some(str_attr(req, "gen_ai.response.model")),
        r.response_model
    );
    assert_eq!(Some(str_attr(req, "gen_ai.response.id")), r.response_id);
    // 16 output tokens at most: the emulator stops for the length.
    assert_eq!(r.finish_reason.as_deref(), Some("length"));
    assert_eq!(
        attr(req, "gen_ai.response.finish_reasons")
            .unwrap()
            .to_string(),
        "[\"length\"]"
    );
    assert_eq!(
        int_attr(req, "gen_ai.usage.input_tokens"),
        usage.prompt_tokens as i64
    );
    assert_eq!(
        int_attr(req, "gen_ai.usage.output_tokens"),
        usage.completion_tokens as i64
    );
    assert_eq!(int_attr(req, "gen_ai.request.max_tokens"), 16);
    assert_eq!(f64_attr(req, "gen_ai.request.temperature"), 0.25);
    assert_eq!(int_attr(req, "gen_ai.request.seed"), 7);
    assert_eq!(
        attr(req, "gen_ai.request.stream"),
        Some(&Value::Bool(false))
    );
    assert_eq!(str_attr(req, "server.address"), "127.0.0.1");
    assert_eq!(int_attr(req, "server.port"), port);
    assert_eq!(int_attr(req, "llmsvc.attempts"), 2);
    assert!(f64_attr(req, "llmsvc.gate.wait") >= 0.0);
    assert_eq!(
        int_attr(req, "llmsvc.cost.nano_usd"),
        r.cost_nano_usd.expect("gpt-4o-mini is priced") as i64
    );
    for absent in [
        "error.type",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
    ] {
        assert!(attr(req, absent).is_none(), "{absent}");
    }
    let took = req.end_time.duration_since(req.start_time).unwrap();
    assert!(
        (took.as_secs_f64() * 1e3 - r.timing.total_ms).abs() < 0.01,
        "{took:?} against {} ms",
        r.timing.total_ms
    );

    let attempts = named(&spans, "POST");
    assert_eq!(attempts.len(), 2);
    for a in &attempts {
        assert_eq!(a.span_kind, SpanKind::Client);
        assert_eq!(a.parent_span_id, req.span_context.span_id());
        assert_eq!(a.span_context.trace_id(), parent.trace_id());
        assert_eq!(str_attr(a, "http.request.method"), "POST");
        assert_eq!(str_attr(a, "server.address"), "127.0.0.1");
        assert_eq!(int_attr(a, "server.port"), port);
        let slack = Duration::from_micros(1); // offsets in f64 ms, rounded to ns
        assert!(a.start_time >= req.start_time && a.end_time <= req.end_time + slack);
    }
    let (first, second) = (attempts[0], attempts[1]);
    assert_eq!(int_attr(first, "http.response.status_code"), 429);
    assert_eq!(str_attr(first, "error.type"), "rate_limited");
    assert_eq!(str_attr(first, "llmsvc.backoff.source"), "retry_after");
    assert!(f64_attr(first, "llmsvc.backoff") > 0.0);
    assert!(matches!(first.status, Status::Error { .. }));
    assert!(attr(first, "http.request.resend_count").is_none());
    assert_eq!(int_attr(second, "http.response.status_code"), 200);
    assert_eq!(int_attr(second, "http.request.resend_count"), 1);
    assert!(attr(second, "error.type").is_none());
    assert_eq!(second.status, Status::Unset);
    assert_eq!(
        int_attr(second, "gen_ai.usage.input_tokens"),
        usage.prompt_tokens as i64
    );
    assert!(second.start_time >= first.end_time, "after the backoff");

    // The provider received the request span's traceparent.
    let stats = emu.stats(KEY);
    assert_eq!(
        stats["last_traceparent"],
        format!(
            "00-{}-{}-01",
            req.span_context.trace_id(),
            req.span_context.span_id()
        ),
        "{stats}"
    );

    // Metrics.
    let points = sdk.points();
    let common = [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "openai"),
        ("gen_ai.request.model", MODEL),
    ];
    let response_model = r.response_model.clone().unwrap();
    let port_s = emu.port.to_string();
    let mut full = common.to_vec();
    full.extend([
        ("gen_ai.response.model", response_model.as_str()),
        ("server.address", "127.0.0.1"),
        ("server.port", port_s.as_str()),
    ]);
    let d = metric(&points, "gen_ai.client.operation.duration");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].unit.as_str(), d[0].count), ("s", 1));
    assert_eq!(d[0].attrs, attrs(&full));
    assert!((d[0].sum * 1e3 - r.timing.total_ms).abs() < 1e-6);
    assert_eq!(d[0].bounds, DURATION_BUCKETS);

    let mut t = metric(&points, "gen_ai.client.token.usage");
    t.sort_by_key(|p| p.attrs["gen_ai.token.type"].clone());
    assert_eq!(t.len(), 2, "{t:?}");
    for (p, (kind, n)) in t.iter().zip([
        ("input", usage.prompt_tokens),
        ("output", usage.completion_tokens),
    ]) {
        let mut want = full.clone();
        want.push(("gen_ai.token.type", kind));
        assert_eq!(p.attrs, attrs(&want));
        assert_eq!((p.unit.as_str(), p.count, p.sum), ("{token}", 1, n as f64));
        assert_eq!(p.bounds.first(), Some(&1.0));
    }

    let a = metric(&points, "llmsvc.client.attempts");
    assert_eq!(a.len(), 2, "{a:?}");
    let mut limited = common.to_vec();
    limited.extend([
        ("http.response.status_code", "429"),
        ("error.type", "rate_limited"),
    ]);
    let mut ok = common.to_vec();
    ok.push(("http.response.status_code", "200"));
    for want in [limited, ok] {
        let p = a.iter().find(|p| p.attrs == attrs(&want)).expect("a point");
        assert_eq!((p.unit.as_str(), p.count), ("{attempt}", 1));
    }

    let g = metric(&points, "llmsvc.client.gate.wait");
    assert_eq!(g.len(), 1);
    assert_eq!((g[0].unit.as_str(), g[0].count), ("s", 2));
    assert_eq!(g[0].attrs, attrs(&common));
    assert_eq!(g[0].bounds.first(), Some(&0.001));

    let b = metric(&points, "llmsvc.client.backoff");
    assert_eq!(b.len(), 1);
    let mut want = common.to_vec();
    want.push(("llmsvc.backoff.source", "retry_after"));
    assert_eq!(b[0].attrs, attrs(&want));
    assert_eq!((b[0].unit.as_str(), b[0].count), ("s", 1));
    assert!(b[0].sum > 0.0);

    let c = metric(&points, "llmsvc.client.cost");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].attrs, attrs(&common));
    assert_eq!(c[0].unit, "{nano_usd}");
    assert_eq!(c[0].sum, r.cost_nano_usd.unwrap() as f64);

    assert!(metric(&points, "gen_ai.client.operation.time_to_first_chunk").is_empty());

    // No content and no key anywhere.
    let dump = sdk.dump();
    assert!(!dump.contains(KEY), "the key was exported");
    assert!(
        !dump.contains("CANARY-PROMPT-42"),
        "the prompt was exported"
    );
}

#[test]
fn content_is_captured_only_when_asked_and_the_key_never() {
    let emu = emulator!("--rate-limit-first", "1", "--rate-limit-wait-ms", "20");
    let sdk = Sdk::new();
    let client = Client::new(emu.config(KEY))
        .unwrap()
        .with_telemetry(sdk.telemetry(true));
    let r = client.generate_blocking(request()).unwrap();
    let spans = sdk.spans();
    let req = named(&spans, "chat gpt-4o-mini")[0];
    let input: serde_json::Value =
        serde_json::from_str(&str_attr(req, "gen_ai.input.messages")).unwrap();
    assert_eq!(
        input,
        serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": PROMPT}]}])
    );
    let output: serde_json::Value =
        serde_json::from_str(&str_attr(req, "gen_ai.output.messages")).unwrap();
    assert_eq!(
        output,
        serde_json::json!([{"role": "assistant", "finish_reason": "length",
                             "parts": [{"type": "text", "content": r.text}]}])
    );
    let dump = sdk.dump();
    assert!(dump.contains("CANARY-PROMPT-42"));
    assert!(!dump.contains(KEY), "the key was exported");
    // Blocking calls start their span at the call too, and send its traceparent.
    let stats = emu.stats(KEY);
    assert_eq!(
        stats["last_traceparent"],
        format!(
            "00-{}-{}-01",
            req.span_context.trace_id(),
            req.span_context.span_id()
        )
    );
}

#[test]
fn a_failed_request_has_an_error_status_and_type() {
    let emu = emulator!("--invalid-keys", "sk-otel-bad");
    let sdk = Sdk::new();
    let client = Client::new(emu.config("sk-otel-bad"))
        .unwrap()
        .with_telemetry(sdk.telemetry(false));
    let err = block_on(client.generate(request())).unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    let spans = sdk.spans();
    let req = named(&spans, "chat gpt-4o-mini")[0];
    assert!(
        matches!(&req.status, Status::Error { description } if !description.is_empty()),
        "{:?}",
        req.status
    );
    assert_eq!(str_attr(req, "error.type"), "auth");
    assert_eq!(str_attr(req, "gen_ai.provider.name"), "openai");
    let attempt = named(&spans, "POST")[0];
    assert_eq!(int_attr(attempt, "http.response.status_code"), 401);
    assert_eq!(str_attr(attempt, "error.type"), "auth");
    let points = sdk.points();
    let d = metric(&points, "gen_ai.client.operation.duration");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].attrs["error.type"], "auth");
    assert!(metric(&points, "gen_ai.client.token.usage").is_empty());
    assert!(metric(&points, "llmsvc.client.cost").is_empty());
    let a = metric(&points, "llmsvc.client.attempts");
    assert_eq!(a[0].attrs["http.response.status_code"], "401");
    assert!(!sdk.dump().contains("sk-otel-bad"));

    // Refused at submit: a span and a duration with the status as error.type.
    let bad = Request {
        traceparent: Some("not a traceparent".into()),
        ..request()
    };
    let err = block_on(client.generate(bad)).unwrap_err();
    assert_eq!(err.status(), Some(llmsvc::Status::Schema));
    let spans = sdk.spans();
    assert_eq!(str_attr(spans.last().unwrap(), "error.type"), "schema");
}

#[test]
fn a_stream_reports_its_first_chunk() {
    let emu = emulator!("--rate-limit-first", "1", "--rate-limit-wait-ms", "20");
    let sdk = Sdk::new();
    let mut config = emu.config("sk-otel-stream");
    config.model = Some(MODEL.into());
    let client = Client::new(config)
        .unwrap()
        .with_telemetry(sdk.telemetry(false));
    // No model in the request: the span is named after the client's default at the end.
    let mut stream = client.stream(Request::default().prompt("stream me"));
    let mut pieces = 0;
    while let Some(p) = block_on(poll_fn(|cx| Pin::new(&mut stream).poll_next(cx))) {
        p.unwrap();
        pieces += 1;
    }
    assert!(pieces > 1);
    let r = block_on(stream.response()).unwrap();
    let first = r.timing.first_token_ms.unwrap();
    let spans = sdk.spans();
    let req = named(&spans, "chat gpt-4o-mini")[0];
    assert_eq!(attr(req, "gen_ai.request.stream"), Some(&Value::Bool(true)));
    assert_eq!(str_attr(req, "gen_ai.request.model"), MODEL);
    assert!((f64_attr(req, "gen_ai.response.time_to_first_chunk") * 1e3 - first).abs() < 1e-6);
    assert_eq!(named(&spans, "POST").len(), 2);
    let points = sdk.points();
    let f = metric(&points, "gen_ai.client.operation.time_to_first_chunk");
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].unit.as_str(), f[0].count), ("s", 1));
    assert_eq!(f[0].attrs["gen_ai.request.model"], MODEL);
    assert_eq!(f[0].bounds, DURATION_BUCKETS);
}

#[test]
fn a_given_traceparent_is_the_parent_without_a_current_span() {
    let emu = emulator!();
    let sdk = Sdk::new();
    let client = Client::new(emu.config("sk-otel-tp"))
        .unwrap()
        .with_telemetry(sdk.telemetry(false));
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let req = Request {
        traceparent: Some(tp.into()),
        tracestate: Some("vendor=x".into()),
        ..request()
    };
    block_on(client.generate(req.clone())).unwrap();
    let spans = sdk.spans();
    let span = named(&spans, "chat gpt-4o-mini")[0];
    assert_eq!(
        span.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(span.parent_span_is_remote);
    // The user's own traceparent is sent as given.
    let stats = emu.stats("sk-otel-tp");
    assert_eq!(stats["last_traceparent"], tp);
    assert_eq!(stats["last_tracestate"], "vendor=x");

    // With a current span, that span is the parent.
    let (r, parent) = in_parent_span(&sdk, || block_on(client.generate(req)));
    r.unwrap();
    let spans = sdk.spans();
    let span = named(&spans, "chat gpt-4o-mini")[1];
    assert_eq!(span.parent_span_id, parent.span().span_context().span_id());
}

#[test]
fn a_dropped_future_ends_its_span_as_cancelled() {
    let emu = emulator!("--stall-rate", "1");
    let sdk = Sdk::new();
    let client = Client::new(emu.config("sk-otel-cancel"))
        .unwrap()
        .with_telemetry(sdk.telemetry(false));
    let fut = client.generate(request());
    std::thread::sleep(Duration::from_millis(50));
    drop(fut);
    let spans = sdk.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(str_attr(&spans[0], "error.type"), "cancelled");
    assert!(matches!(spans[0].status, Status::Error { .. }));
    let d = sdk.points();
    assert_eq!(
        metric(&d, "gen_ai.client.operation.duration")[0].attrs["error.type"],
        "cancelled"
    );
}

#[test]
fn telemetry_off_reports_nothing() {
    let emu = emulator!("--rate-limit-first", "1", "--rate-limit-wait-ms", "20");
    let sdk = Sdk::new();
    let plain = Client::new(emu.config("sk-otel-off")).unwrap();
    let reporting = plain.with_telemetry(sdk.telemetry(true));
    let off = reporting.without_telemetry();
    let (r, _) = in_parent_span(&sdk, || {
        block_on(plain.generate(request())).unwrap();
        plain.generate_blocking(request()).unwrap();
        block_on(off.generate(request()))
    });
    assert_eq!(r.unwrap().attempts.len(), 1, "the body was seen before");
    let spans = sdk.spans();
    assert_eq!(spans.len(), 1, "the test's own span only: {spans:#?}");
    assert!(sdk.points().is_empty());
    // No traceparent was sent either.
    assert_eq!(emu.stats("sk-otel-off")["traced"], 0);
}

#[test]
fn a_wait_at_the_gates_has_its_own_span() {
    let emu = emulator!("--latency-ms", "30");
    let sdk = Sdk::new();
    let mut config = emu.config("sk-otel-gate");
    config.limits = Some(Limits {
        concurrency: Some(1),
        ..Limits::default()
    });
    let client = Client::new(config)
        .unwrap()
        .with_telemetry(sdk.telemetry(false));
    let first = client.generate(request());
    let second = client.generate(Request::new(MODEL).prompt("second"));
    block_on(first).unwrap();
    let r = block_on(second).unwrap();
    assert!(r.timing.gate_wait_ms >= 1.0, "{:?}", r.timing);
    assert_eq!(r.attempts[0].gate_wait_ms, r.timing.gate_wait_ms);
    let spans = sdk.spans();
    let req = named(&spans, "chat gpt-4o-mini")[1];
    let waits: Vec<_> = named(&spans, "llmsvc.gate.wait")
        .into_iter()
        .filter(|w| w.parent_span_id == req.span_context.span_id())
        .collect();
    assert_eq!(waits.len(), 1, "{spans:#?}");
    let wait = waits[0];
    assert_eq!(wait.span_kind, SpanKind::Internal);
    assert_eq!(int_attr(wait, "llmsvc.attempt"), 0);
    let attempt = spans
        .iter()
        .find(|s| s.name == "POST" && s.parent_span_id == req.span_context.span_id())
        .unwrap();
    assert_eq!(wait.end_time, attempt.start_time);
    let held = wait.end_time.duration_since(wait.start_time).unwrap();
    assert!((held.as_secs_f64() * 1e3 - r.timing.gate_wait_ms).abs() < 0.01);
    assert!((f64_attr(req, "llmsvc.gate.wait") * 1e3 - r.timing.gate_wait_ms).abs() < 1e-6);
    let g = metric(&sdk.points(), "llmsvc.client.gate.wait")[0].clone();
    assert_eq!(g.count, 2);
    assert!(g.sum * 1e3 >= r.timing.gate_wait_ms - 1e-6);
}
