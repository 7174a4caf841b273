//! Integration tests against `llmsvc-emulator` (path in `LLMSVC_EMULATOR`).

mod common;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use common::{block_on, exclusive, released, shared, tokio_rt, wait_until};
use futures_core::Stream;
use llmsvc::{
    Client, Config, DeploymentUpdate, Error, ErrorKind, Event, EventKind, EventTypes, JsonSchema,
    Limits, Request, ResponseStream, Retry, Status,
};

fn assert_send_sync<T: Send + Sync + 'static>() {}
fn assert_send<T: Send + 'static>() {}

#[test]
fn types_are_thread_safe() {
    assert_send_sync::<Client>();
    assert_send_sync::<Error>();
    assert_send::<llmsvc::Generate>();
    assert_send::<ResponseStream>();
}

async fn collect(stream: &mut ResponseStream) -> Result<Vec<String>, Error> {
    let mut pieces = Vec::new();
    while let Some(p) = poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await {
        pieces.push(p?);
    }
    Ok(pieces)
}

#[test]
fn generate_success_with_usage_and_cost() {
    let _g = shared();
    let emu = emulator!();
    let client = Client::new(emu.config("k-success")).unwrap();
    let req = Request::new("gpt-4o").prompt("Hello there");

    // A hand-written executor...
    let r = block_on(client.generate(req.clone())).unwrap();
    assert!(r.ok);
    assert_eq!(r.text.len(), 4 * 54);
    let usage = r.usage.expect("usage");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (10, 54));
    assert_eq!(usage.total_tokens, 64);
    assert!(r.cost_nano_usd.unwrap() > 0, "gpt-4o is priced");
    assert_eq!(r.attempts.len(), 1);
    assert_eq!(r.attempts[0].http_status, 200);
    assert_eq!(r.attempts[0].error_kind(), None);
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));

    // ...tokio...
    let rt = tokio_rt();
    let r2 = rt.block_on(client.generate(req.clone())).unwrap();
    assert_eq!(r2.text, r.text);
    let spawned = rt
        .block_on(rt.spawn(client.generate(req.clone())))
        .unwrap()
        .unwrap();
    assert_eq!(spawned.text, r.text);

    // ...and the blocking call give the same.
    let r3 = client.generate_blocking(req).unwrap();
    assert_eq!(r3.text, r.text);
    assert_eq!(r3.cost_nano_usd, r.cost_nano_usd);

    let stats = emu.stats("k-success");
    assert_eq!(stats["ok"], 4);
}

#[test]
fn rate_limits_are_held() {
    let _g = shared();
    let emu = emulator!("--rpm", "1200", "--window-ms", "1000");
    let mut config = emu.config("k-rate");
    config.limits = Some(Limits {
        rpm: Some(1200),
        window_ms: Some(1000),
        ..Limits::default()
    });
    let client = Client::new(config).unwrap();
    let n = 70;
    let futures: Vec<_> = (0..n)
        .map(|i| client.generate(Request::new("gpt-4o-mini").prompt(format!("rate {i}"))))
        .collect();
    let rt = tokio_rt();
    for f in futures {
        let r = rt.block_on(f).unwrap();
        assert_eq!(r.attempts.len(), 1, "no request needed a retry");
    }
    let stats = emu.stats("k-rate");
    assert_eq!(stats["rate_limited"], 0, "{stats}");
    assert_eq!(stats["ok"], n);
    assert_eq!(stats["req_cap"], 20);
    assert_eq!(stats["peak_window_requests"], stats["req_cap"], "{stats}");
    let m = client.metrics().unwrap();
    assert_eq!(m.gates.window_requests_cap, 20);
    assert!(m.gates.waits.get("rpm").copied().unwrap_or(0) > 0);
}

#[test]
fn transient_errors_are_retried() {
    let _g = shared();
    let emu = emulator!("--fail-first", "2");
    let client = Client::new(emu.config("k-retry")).unwrap();
    let r = block_on(client.generate(Request::new("gpt-4o-mini").prompt("retry me"))).unwrap();
    assert_eq!(r.attempts.len(), 3);
    assert_eq!(r.attempts[0].http_status, 500);
    assert_eq!(r.attempts[0].error_kind(), Some(ErrorKind::ServerError));
    assert_eq!(r.attempts[2].http_status, 200);
    let m = client.metrics().unwrap();
    assert_eq!(m.attempts.total, 3);
    assert_eq!(m.attempts.retries, 2);
}

#[test]
fn quota_and_auth_errors_are_not_retried() {
    let _g = shared();
    let emu = emulator!("--quota-keys", "k-quota", "--invalid-keys", "k-bad");

    let client = Client::new(emu.config("k-quota")).unwrap();
    let err = block_on(client.generate(Request::new("gpt-4o-mini").prompt("q"))).unwrap_err();
    let Error::InsufficientQuota(f) = &err else {
        panic!("expected InsufficientQuota, got {err:?}")
    };
    assert_eq!(f.attempts().len(), 1);
    assert_eq!(err.kind(), Some(ErrorKind::InsufficientQuota));
    assert_eq!(err.http_status(), Some(429));
    assert!(err.provider_message().unwrap().contains("quota"), "{err}");
    assert!(err.to_string().starts_with("insufficient_quota: "), "{err}");
    assert!(err.attempts().len() == 1);

    let client = Client::new(emu.config("k-bad")).unwrap();
    let err = client
        .generate_blocking(Request::new("gpt-4o-mini").prompt("a"))
        .unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert_eq!(err.http_status(), Some(401));
    assert_eq!(err.attempts().len(), 1);
    assert!(
        !err.to_string().contains("k-bad"),
        "the key never shows: {err}"
    );
    let stats = emu.stats("k-bad");
    assert_eq!(stats["auth_errors"], 1);
}

#[test]
fn refused_calls_are_call_errors() {
    let _g = shared();
    let err = Client::from_json(r#"{"limitz": {"rpm": 1}}"#).unwrap_err();
    assert_eq!(err.status(), Some(Status::Schema), "{err}");
    assert!(err.message().contains("limitz"), "{err}");
    let err = Client::from_json("{").unwrap_err();
    assert_eq!(err.status(), Some(Status::Json), "{err}");

    let client = Client::new(Config {
        base_url: Some("http://127.0.0.1:9/v1".into()),
        api_key: Some("k".into()),
        ..Config::default()
    })
    .unwrap();
    // No model and no default model: refused at submit, nothing pending.
    let err = block_on(client.generate(Request::default().prompt("x"))).unwrap_err();
    assert!(err.status().is_some(), "{err:?}");
    let mut s = client.stream(Request::default().prompt("x"));
    let first = block_on(poll_fn(|cx| Pin::new(&mut s).poll_next(cx)));
    assert!(matches!(first, Some(Err(Error::Call(_)))), "{first:?}");
    assert!(block_on(poll_fn(|cx| Pin::new(&mut s).poll_next(cx))).is_none());

    client.close();
    let err = client
        .generate_blocking(Request::new("gpt-4o-mini").prompt("x"))
        .unwrap_err();
    assert_eq!(err.status(), Some(Status::Closed), "{err:?}");
    assert!(
        client.metrics().is_ok(),
        "metrics stay readable after close"
    );
}

#[test]
fn streaming_reassembles_to_the_generated_text() {
    let _g = shared();
    let emu = emulator!("--stream-delay-ms", "1");
    let client = Client::new(emu.config("k-stream")).unwrap();
    let req = Request::new("gpt-4o-mini").prompt("Tell me a story");
    let whole = client.generate_blocking(req.clone()).unwrap();

    let rt = tokio_rt();
    let (pieces, response) = rt.block_on(async {
        let mut stream = client.stream(req.clone());
        let pieces = collect(&mut stream).await.unwrap();
        (pieces, stream.response().await.unwrap())
    });
    assert!(pieces.len() > 1, "several pieces: {pieces:?}");
    assert_eq!(pieces.concat(), whole.text);
    assert_eq!(response.text, whole.text);
    assert_eq!(response.usage, whole.usage);
    assert!(response.timing.first_token_ms.is_some());

    // The same with the hand-written executor, and response() without reading pieces.
    let r = block_on(client.stream(req).response()).unwrap();
    assert_eq!(r.text, whole.text);
    assert!(client.metrics().unwrap().first_token_ms.count >= 2);
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Pet {
    name: String,
    age: u32,
}

fn pet_schema() -> JsonSchema {
    JsonSchema::new(
        "pet",
        serde_json::json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 3},
                "age": {"type": "integer", "minimum": 2}
            },
            "required": ["name", "age"],
            "additionalProperties": false
        }),
    )
}

#[test]
fn structured_output_is_typed() {
    let _g = shared();
    let emu = emulator!();
    let client = Client::new(emu.config("k-json")).unwrap();
    let req = Request::new("gpt-4o-mini").prompt("A pet, please");
    let pet: Pet = block_on(client.generate_json(req.clone(), pet_schema())).unwrap();
    assert_eq!(
        pet,
        Pet {
            name: "aaa".into(),
            age: 2
        }
    );
    // A type that does not fit the document is a decode error.
    let err = block_on(client.generate_json::<Vec<u8>>(req, pet_schema())).unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
}

#[test]
fn schema_mismatch_after_schema_retries() {
    let _g = shared();
    let emu = emulator!("--invalid-json-first", "2");
    let mut config = emu.config("k-badjson");
    config.retry.as_mut().unwrap().schema_retries = Some(1);
    let client = Client::new(config).unwrap();
    let err = block_on(client.generate_json::<Pet>(
        Request::new("gpt-4o-mini").prompt("A pet, please"),
        pet_schema(),
    ))
    .unwrap_err();
    let Error::SchemaMismatch(f) = &err else {
        panic!("expected SchemaMismatch, got {err:?}")
    };
    assert_eq!(f.error.pointer.as_deref(), Some("/name"), "{:?}", f.error);
    assert_eq!(f.attempts().len(), 2);
    assert!(
        f.usage().unwrap().completion_tokens > 0,
        "both replies were paid for"
    );
}

#[test]
fn metrics_and_cost_match_the_emulator() {
    let _g = shared();
    let emu = emulator!();
    let client = Client::new(emu.config("k-metrics")).unwrap();
    let rt = tokio_rt();
    let mut cost = 0;
    for i in 0..20 {
        let req = Request::new("gpt-4o-mini")
            .prompt(format!("metrics {i}"))
            .operation("summarize");
        let r = rt.block_on(client.generate(req)).unwrap();
        cost += r.cost_nano_usd.unwrap();
    }
    let m = client.metrics().unwrap();
    let stats = emu.stats("k-metrics");
    let total = m.usage.total;
    assert_eq!(
        total.prompt_tokens,
        stats["prompt_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        total.completion_tokens,
        stats["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(total.cost_nano_usd, Some(cost));
    assert_eq!(total.requests, 20);
    assert_eq!(m.usage.by_operation["summarize"].requests, 20);
    assert_eq!(m.usage.by_model["gpt-4o-mini"].cost_nano_usd, Some(cost));
    assert_eq!(m.requests.succeeded, 20);
    assert_eq!(m.requests.submitted, 20);
    assert_eq!(m.latency_ms.count, 20);
    assert_eq!(m.raw["usage"]["total"]["requests"], 20);
    let raw: serde_json::Value = serde_json::from_str(&client.metrics_json().unwrap()).unwrap();
    assert_eq!(raw["requests"]["succeeded"], 20);
}

#[test]
fn metrics_prometheus_is_the_same_snapshot_as_text() {
    let _g = shared();
    let emu = emulator!();
    let client = Client::new(emu.config("k-prometheus")).unwrap();
    let rt = tokio_rt();
    for i in 0..3 {
        let req = Request::new("gpt-4o-mini")
            .prompt(format!("prometheus {i}"))
            .operation("line\nbreak");
        rt.block_on(client.generate(req)).unwrap();
    }
    let text = client.metrics_prometheus().unwrap();
    for want in [
        "# TYPE llmsvc_requests_total counter\n",
        "llmsvc_requests_total{outcome=\"succeeded\"} 3\n",
        "# TYPE llmsvc_attempt_duration_seconds histogram\n",
        "llmsvc_attempt_duration_seconds_bucket{le=\"+Inf\"} 3\n",
        "llmsvc_attempt_duration_seconds_count 3\n",
        "llmsvc_operation_requests_total{operation=\"line\\nbreak\",outcome=\"succeeded\"} 3\n",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    assert!(text.ends_with('\n'));
}

#[test]
fn set_limits_changes_the_gates() {
    let _g = shared();
    let emu = emulator!();
    let client = Client::new(emu.config("k-limits")).unwrap();
    client
        .set_limits(&Limits {
            rpm: Some(120),
            concurrency: Some(4),
            ..Limits::default()
        })
        .unwrap();
    let m = client.metrics().unwrap();
    assert_eq!(m.gates.limits.rpm, Some(120));
    assert_eq!(m.gates.limits.concurrency, Some(4));
    client
        .set_limits(&Limits {
            tpm: Some(1000),
            ..Limits::default()
        })
        .unwrap();
    let m = client.metrics().unwrap();
    assert_eq!(
        m.gates.limits.rpm,
        Some(120),
        "members not given keep their value"
    );
    assert_eq!(m.gates.limits.tpm, Some(1000));
}

#[test]
fn a_revoked_key_leaves_the_rotation_and_set_deployment_brings_it_back() {
    let _g = shared();
    let emu = emulator!("--invalid-keys", "sk-revoked");
    let client = Client::new(Config {
        base_url: Some(emu.base_url()),
        model: Some("gpt-4o-mini".into()),
        api_keys: Some(vec!["sk-good".into(), "sk-revoked".into()]),
        retry: Some(Retry {
            base_delay_ms: Some(1),
            max_delay_ms: Some(5),
            ..Retry::default()
        }),
        ..Config::default()
    })
    .unwrap();
    // The deployments of a key list are named MODEL#INDEX.
    let (good, revoked) = ("gpt-4o-mini#0", "gpt-4o-mini#1");
    let n = 6;
    for i in 0..n {
        let r = client
            .generate_blocking(Request::default().prompt(format!("deployment {i}")))
            .unwrap();
        assert_eq!(r.deployment.as_deref(), Some(good), "{:?}", r.attempts);
    }
    assert_eq!(emu.stats("sk-revoked")["auth_errors"], 1);
    assert_eq!(emu.stats("sk-revoked")["ok"], 0);
    assert_eq!(emu.stats("sk-good")["ok"], n);

    let m = client.metrics().unwrap();
    assert_eq!(m.deployments.len(), 2, "{:?}", m.deployments);
    assert_eq!(
        m.routing.as_ref().map(|r| r.strategy.as_str()),
        Some("round_robin")
    );
    let d = |m: &llmsvc::Metrics, name: &str| {
        m.deployments
            .iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("no deployment {name}: {:?}", m.deployments))
            .clone()
    };
    let out = d(&m, revoked);
    assert!(!out.in_rotation, "{out:?}");
    assert_eq!(out.out_kind.as_deref(), Some("auth"));
    assert_eq!(out.out_error_kind(), Some(ErrorKind::Auth));
    let served = d(&m, good);
    assert!(served.in_rotation);
    assert_eq!(served.served, n);

    client
        .set_deployment(&DeploymentUpdate::new(revoked).enabled(true))
        .unwrap();
    let back = d(&client.metrics().unwrap(), revoked);
    assert!(back.in_rotation, "{back:?}");
    assert_eq!(back.out_kind, None);

    let err = client
        .set_deployment(&DeploymentUpdate::new("no-such-deployment").enabled(true))
        .unwrap_err();
    assert_eq!(err.status(), Some(Status::Schema), "{err}");
    assert!(err.to_string().contains("no-such-deployment"), "{err}");
}

#[test]
fn many_threads_and_tasks_share_one_client() {
    let _g = shared();
    let emu = emulator!();
    let client = Client::new(emu.config("k-many")).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let r = client
                        .generate_blocking(Request::new("gpt-4o-mini").prompt(format!("{t}/{i}")))
                        .unwrap();
                    assert!(!r.text.is_empty());
                }
            })
        })
        .collect();
    let rt = tokio_rt();
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let client = client.clone();
            rt.spawn(async move {
                client
                    .generate(Request::new("gpt-4o-mini").prompt(format!("task {i}")))
                    .await
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for t in tasks {
        rt.block_on(t).unwrap().unwrap();
    }
    assert_eq!(emu.stats("k-many")["ok"], 1600 + 400);
    assert_eq!(client.metrics().unwrap().requests.succeeded, 2000);
}

fn cancelled(client: &Client) -> u64 {
    let m = client.metrics().unwrap();
    m.failures_by_kind.get("cancelled").copied().unwrap_or(0)
}

#[test]
fn dropping_a_queued_future_cancels_it() {
    let _g = exclusive();
    let emu = emulator!();
    let mut config = emu.config("k-cq");
    config.limits = Some(Limits {
        rpm: Some(1),
        ..Limits::default()
    });
    let client = Client::new(config).unwrap();
    block_on(client.generate(Request::new("gpt-4o-mini").prompt("first"))).unwrap();
    let queued = client.generate(Request::new("gpt-4o-mini").prompt("second"));
    wait_until(5, "a queued request", || {
        client.metrics().unwrap().requests.queued == 1
    });
    drop(queued);
    wait_until(5, "the cancellation", || cancelled(&client) == 1);
    let m = client.metrics().unwrap();
    assert_eq!(m.requests.queued, 0);
    assert_eq!(m.requests.completed, 2);
    assert_eq!(
        emu.stats("k-cq")["received"],
        1,
        "the queued request was never sent"
    );
    released();
}

#[test]
fn dropping_a_backing_off_future_cancels_it() {
    let _g = exclusive();
    let emu = emulator!("--fail-first", "1");
    let mut config = emu.config("k-cb");
    config.retry = Some(Retry {
        base_delay_ms: Some(60_000),
        max_delay_ms: Some(60_000),
        jitter: Some(0.0),
        ..Retry::default()
    });
    let client = Client::new(config).unwrap();
    let fut = client.generate(Request::new("gpt-4o-mini").prompt("back off"));
    wait_until(5, "a backing-off request", || {
        client.metrics().unwrap().requests.backing_off == 1
    });
    let start = Instant::now();
    drop(fut);
    wait_until(5, "the cancellation", || cancelled(&client) == 1);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(client.metrics().unwrap().requests.backing_off, 0);
    assert_eq!(emu.stats("k-cb")["server_errors"], 1);
    released();
}

#[test]
fn dropping_an_in_flight_future_or_stream_cancels_it() {
    let _g = exclusive();
    let emu = emulator!("--stall-rate", "1");
    let client = Client::new(emu.config("k-cf")).unwrap();
    let mut fut = client.generate(Request::new("gpt-4o-mini").prompt("stall"));
    // Polled once with a waker that does nothing, then dropped.
    assert!(Pin::new(&mut fut)
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending());
    wait_until(5, "an in-flight request", || {
        client.metrics().unwrap().requests.in_flight == 1
    });
    drop(fut);
    wait_until(5, "the cancellation", || cancelled(&client) == 1);

    let stream = client.stream(Request::new("gpt-4o-mini").prompt("stall stream"));
    wait_until(5, "an in-flight stream", || {
        client.metrics().unwrap().requests.in_flight == 1
    });
    drop(stream);
    wait_until(5, "the stream's cancellation", || cancelled(&client) == 2);
    assert_eq!(client.metrics().unwrap().requests.in_flight, 0);
    released();
}

#[test]
fn dropping_a_stream_midway_cancels_it() {
    let _g = exclusive();
    let emu = emulator!("--stream-delay-ms", "100");
    let client = Client::new(emu.config("k-cs")).unwrap();
    let mut stream = client.stream(Request::new("gpt-4o-mini").prompt("slow stream"));
    let first = block_on(poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)));
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
    drop(stream);
    wait_until(5, "the cancellation", || cancelled(&client) == 1);
    released();
}

#[test]
fn dropping_the_last_client_completes_pending_requests() {
    let _g = exclusive();
    let emu = emulator!("--stall-rate", "1");
    let client = Client::new(emu.config("k-shut")).unwrap();
    let fut = client.generate(Request::new("gpt-4o-mini").prompt("stall"));
    let stream = client.stream(Request::new("gpt-4o-mini").prompt("stall too"));
    wait_until(5, "two in-flight requests", || {
        client.metrics().unwrap().requests.in_flight == 2
    });
    let start = Instant::now();
    drop(client);
    let err = block_on(fut).unwrap_err();
    assert!(matches!(err, Error::ShutDown(_)), "{err:?}");
    let err = block_on(stream.response()).unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::ShutDown));
    assert!(start.elapsed() < Duration::from_secs(5));
    released();
}

struct PanickyWaker;

impl Wake for PanickyWaker {
    fn wake(self: Arc<Self>) {
        panic!("a waker that panics");
    }
}

#[test]
fn a_panicking_waker_does_not_unwind_into_the_core() {
    let _g = shared();
    let emu = emulator!();
    let client = Client::new(emu.config("k-panic")).unwrap();
    let mut fut = client.generate(Request::new("gpt-4o-mini").prompt("panic"));
    let waker = Waker::from(Arc::new(PanickyWaker));
    assert!(Pin::new(&mut fut)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    // The completion still lands in the slot; the client keeps working.
    let r = block_on(fut).unwrap();
    assert!(r.ok);
    assert!(client
        .generate_blocking(Request::new("gpt-4o-mini").prompt("after"))
        .is_ok());
}

/// Events a hook received, shared with the test.
#[derive(Clone, Default)]
struct EventLog(Arc<Mutex<Vec<Event>>>);

impl EventLog {
    fn push(&self, e: &Event) {
        self.0.lock().unwrap().push(e.clone());
    }

    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

#[test]
fn events_of_a_retried_request() {
    let _g = exclusive(); // counts the hooks given to the core
    let emu = emulator!("--fail-first", "1");
    let mut config = emu.config("k-events");
    config.retry = Some(Retry {
        max_attempts: Some(3),
        base_delay_ms: Some(1),
        max_delay_ms: Some(2),
        ..Retry::default()
    });
    let client = Client::new(config).unwrap();

    // Every event, without content: the retried request's whole life, before its result.
    let all = EventLog::default();
    let log = all.clone();
    client
        .set_event_hook(EventTypes::ALL, false, move |e| log.push(e))
        .unwrap();
    let prompt = "a prompt that must stay out of the events";
    let fut = client.generate(Request::new("gpt-4o-mini").prompt(prompt));
    let id = fut.request_id().unwrap();
    let r = block_on(fut).unwrap();
    assert_eq!(r.attempts.len(), 2, "--fail-first 1: one retry");
    assert_eq!(r.id, id);
    let events = all.take();
    use EventKind::*;
    assert_eq!(
        kinds(&events),
        [
            Queued,
            Admitted,
            AttemptStarted,
            AttemptFinished,
            RetryScheduled,
            Admitted,
            AttemptStarted,
            AttemptFinished,
            Completed
        ]
    );
    for e in &events {
        let v = e.value().unwrap();
        assert_eq!(e.request_id, id);
        assert_eq!(v["request_id"], id);
        assert_eq!(v["type"], e.kind.name());
        assert_eq!(v["model"], "gpt-4o-mini");
        assert!(
            !e.json.contains(prompt),
            "content without the flag: {}",
            e.json
        );
        assert!(
            r.text.is_empty() || !e.json.contains(&r.text),
            "content without the flag: {}",
            e.json
        );
    }
    let finished = events[3].value().unwrap();
    assert_eq!(finished["http_status"], 500);
    assert_eq!(finished["kind"], "server_error");
    let retry = events[4].value().unwrap();
    assert_eq!(retry["cause"], "server_error");
    assert_eq!(retry["after_attempt"], 1);

    // Queued and completed only, with content: the prompt and the reply.
    let some = EventLog::default();
    let log = some.clone();
    client
        .set_event_hook(EventTypes::QUEUED | EventTypes::COMPLETED, true, move |e| {
            log.push(e)
        })
        .unwrap();
    let r = client
        .generate_blocking(Request::new("gpt-4o-mini").prompt("second prompt"))
        .unwrap();
    let events = some.take();
    assert_eq!(kinds(&events), [Queued, Completed]);
    let queued = events[0].value().unwrap();
    assert!(queued["request"].is_object(), "{}", events[0].json);
    assert!(events[0].json.contains("second prompt"));
    let completed = events[1].value().unwrap();
    assert_eq!(completed["text"], r.text.as_str());
    assert_eq!(completed["ok"], true);
    assert!(all.take().is_empty(), "the replaced hook was called");

    // Off: nothing more, and the hooks are freed.
    client.clear_event_hook().unwrap();
    client
        .generate_blocking(Request::new("gpt-4o-mini").prompt("third prompt"))
        .unwrap();
    assert!(all.take().is_empty() && some.take().is_empty());
    assert_eq!(llmsvc::live_event_hooks(), 0);

    // An empty set turns events off too.
    let log = all.clone();
    client
        .set_event_hook(EventTypes::empty(), false, move |e| log.push(e))
        .unwrap();
    client
        .generate_blocking(Request::new("gpt-4o-mini").prompt("fourth prompt"))
        .unwrap();
    assert!(all.take().is_empty());
    assert_eq!(llmsvc::live_event_hooks(), 0);
}

#[test]
fn event_hooks_may_call_the_client_replace_themselves_and_panic() {
    let _g = exclusive(); // counts the hooks given to the core
    let emu = emulator!();
    let mut config = emu.config("k-events-hook");
    // One request per minute: the first is sent, the next ones wait at the gate.
    config.limits = Some(Limits {
        rpm: Some(1),
        ..Limits::default()
    });
    let client = Client::new(config).unwrap();

    let second = EventLog::default();
    let metrics_errors = Arc::new(Mutex::new(Vec::new()));
    let second_hook = {
        let (log, c, errors) = (second.clone(), client.clone(), Arc::clone(&metrics_errors));
        let panicked = Mutex::new(false);
        move |e: &Event| {
            log.push(e);
            if let Err(err) = c.metrics() {
                errors.lock().unwrap().push(err);
            }
            let mut p = panicked.lock().unwrap();
            if !*p {
                *p = true;
                drop(p);
                panic!("a hook that panics");
            }
        }
    };
    let first_calls = Arc::new(Mutex::new(Vec::new()));
    {
        let (c, calls) = (client.clone(), Arc::clone(&first_calls));
        let second_hook = Mutex::new(Some(second_hook));
        client
            .set_event_hook(EventTypes::QUEUED, false, move |_| {
                let blocking = c
                    .generate_blocking(Request::new("gpt-4o-mini").prompt("nested"))
                    .map(|_| ());
                let set = match second_hook.lock().unwrap().take() {
                    Some(h) => c.set_event_hook(EventTypes::COMPLETED, false, h),
                    None => Ok(()),
                };
                calls.lock().unwrap().push((blocking, set));
            })
            .unwrap();
    }
    let r = client
        .generate_blocking(Request::new("gpt-4o-mini").prompt("first"))
        .unwrap();
    {
        let calls = first_calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        let (blocking, set) = &calls[0];
        assert_eq!(
            blocking.as_ref().unwrap_err().status(),
            Some(Status::Recursive)
        );
        assert!(set.is_ok(), "{set:?}");
    }
    let events = second.take();
    assert_eq!(kinds(&events), [EventKind::Completed]);
    assert_eq!(events[0].request_id, r.id);

    // Waiting at the gate, then completed by close with shut_down while the hook reads
    // the metrics.
    let futures: Vec<_> = (0..3)
        .map(|_| client.generate(Request::new("gpt-4o-mini").prompt("queued")))
        .collect();
    wait_until(10, "three queued requests", || {
        client.metrics().unwrap().requests.queued == 3
    });
    client.close();
    for f in futures {
        assert!(matches!(block_on(f), Err(Error::ShutDown(_))));
    }
    assert_eq!(kinds(&second.take()), [EventKind::Completed; 3]);
    assert!(metrics_errors.lock().unwrap().is_empty());

    // The hooks hold clones of the client: clearing breaks the cycle.
    client.clear_event_hook().unwrap();
    drop(client);
    assert_eq!(llmsvc::live_event_hooks(), 0);
}

#[test]
fn a_hook_may_drop_the_last_client() {
    let _g = exclusive(); // counts the hooks given to the core
    let emu = emulator!("--stall-rate", "1");
    let slot: Arc<Mutex<Option<Client>>> = Arc::new(Mutex::new(None));
    let fut = {
        let mut guard = slot.lock().unwrap();
        let client = guard.insert(Client::new(emu.config("k-events-drop")).unwrap());
        let s = Arc::clone(&slot);
        client
            .set_event_hook(EventTypes::ATTEMPT_STARTED, false, move |_| {
                drop(s.lock().unwrap().take());
            })
            .unwrap();
        // The hook waits for the guard: the slot holds the only client by then.
        client.generate(Request::new("gpt-4o-mini").prompt("stall"))
    };
    // The hook dropped the last client: it is destroyed (from another thread) and the
    // pending request completes.
    assert!(matches!(block_on(fut), Err(Error::ShutDown(_))));
    wait_until(10, "the hooks to be freed", || {
        llmsvc::live_event_hooks() == 0
    });
    assert!(slot.lock().unwrap().is_none());
}

/// `a` and `b` are the same document, numbers equal to a relative 1e-9 (the core prints
/// doubles that read back exactly; serde_json's default parser may be off by one ulp).
fn same_json(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{at}: {x} != {y}");
        }
        (Array(x), Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                same_json(x, y, &format!("{at}[{i}]"));
            }
        }
        (Object(x), Object(y)) => {
            let keys =
                |o: &serde_json::Map<std::string::String, _>| o.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(x), keys(y), "{at}: members");
            for (k, v) in x {
                same_json(v, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// The response built from the typed getters says what its result document says.
fn typed_matches_document(r: &llmsvc::Response, error: Option<&llmsvc::ErrorDetails>) {
    let mut doc: llmsvc::Response = serde_json::from_str(&r.raw.text()).unwrap();
    let doc_error = doc.error.take();
    same_json(
        &serde_json::to_value(r).unwrap(),
        &serde_json::to_value(&doc).unwrap(),
        "result",
    );
    same_json(
        &serde_json::to_value(error).unwrap(),
        &serde_json::to_value(doc_error).unwrap(),
        "error",
    );
}

#[test]
fn typed_results_match_their_documents() {
    let _g = shared();
    let emu = emulator!("--fail-first", "1", "--quota-keys", "k-doc-quota");
    let mut config = emu.config("k-doc");
    config.model = Some("gpt-4o-mini".into());
    let client = Client::new(config).unwrap();
    // Retried once (an attempt with a backoff), with metadata and a trace id.
    let req = Request {
        metadata: Some(serde_json::json!({"row": 7}).as_object().unwrap().clone()),
        trace_id: Some("t-7".into()),
        ..Request::default().prompt("document me").operation("docs")
    };
    let r = block_on(client.generate(req)).unwrap();
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(r.attempts[0].backoff_source.as_deref(), Some("client"));
    assert!(r.attempts[1].prompt_tokens.is_some() && r.attempts[0].prompt_tokens.is_none());
    assert_eq!(r.metadata, Some(serde_json::json!({"row": 7})));
    assert_eq!(r.operation.as_deref(), Some("docs"));
    typed_matches_document(&r, None);
    // A stream: time to first token.
    let r = block_on(
        client
            .stream(Request::default().prompt("stream me"))
            .response(),
    )
    .unwrap();
    assert!(r.timing.first_token_ms.is_some());
    typed_matches_document(&r, None);
    // A failure: the error's details.
    let quota = Client::new(emu.config("k-doc-quota")).unwrap();
    let err = quota
        .generate_blocking(Request::new("gpt-4o-mini").prompt("q"))
        .unwrap_err();
    let f = err.failure().unwrap();
    assert_eq!(f.error.provider_type.as_deref(), Some("insufficient_quota"));
    typed_matches_document(&f.response, Some(&f.error));
}

#[test]
fn embeddings_are_read_without_json() {
    let _g = shared();
    let emu = emulator!();
    let client = Client::new(emu.config("k-embed")).unwrap();
    let r = client
        .generate_blocking(
            Request::new("text-embedding-3-small")
                .input(["a", "b"])
                .dimensions(8),
        )
        .unwrap();
    let doc = r.raw.value().unwrap();
    let vectors = doc["embeddings"].as_array().unwrap();
    assert_eq!((r.embeddings.len(), vectors.len()), (2, 2));
    for (v, d) in r.embeddings.iter().zip(vectors) {
        // The document's 9 significant digits read back to the same float32.
        let d: Vec<f32> = d
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(v.len(), 8);
        assert_eq!(v, &d);
    }
    assert!(r.usage.is_some_and(|u| u.prompt_tokens > 0));
    assert!(r.cost_nano_usd.is_some());
    typed_matches_document(&r, None);
    let chat = client
        .generate_blocking(
            Request::new("gpt-4o-mini")
                .prompt("hi")
                .max_output_tokens(3),
        )
        .unwrap();
    assert!(chat.embeddings.is_empty());
}

#[test]
fn close_returns_at_once_and_resolves_after_the_last_completion() {
    let _g = exclusive();
    let emu = emulator!("--stall-rate", "1");
    let client = Client::new(emu.config("k-close")).unwrap();
    let mut futures: Vec<_> = (0..3)
        .map(|i| client.generate(Request::new("gpt-4o-mini").prompt(format!("stall {i}"))))
        .collect();
    wait_until(5, "three in-flight requests", || {
        client.metrics().unwrap().requests.in_flight == 3
    });
    let closed = client.close();
    let err = client
        .generate_blocking(Request::new("gpt-4o-mini").prompt("late"))
        .unwrap_err();
    assert_eq!(err.status(), Some(Status::Closed), "refused at once: {err}");
    tokio_rt().block_on(closed);
    // Every completion was delivered before the close resolved.
    let noop = &mut Context::from_waker(Waker::noop());
    for f in &mut futures {
        let r = Pin::new(f).poll(noop);
        assert!(
            matches!(r, std::task::Poll::Ready(Err(Error::ShutDown(_)))),
            "{r:?}"
        );
    }
    // Again: resolves at once, also blocking.
    client.close().wait();
    released();
}

#[test]
fn a_hook_may_close_the_client() {
    let _g = exclusive(); // counts the hooks given to the core
    let emu = emulator!("--stall-rate", "1");
    let client = Client::new(emu.config("k-close-hook")).unwrap();
    let c = client.clone();
    client
        .set_event_hook(EventTypes::ATTEMPT_STARTED, false, move |_| {
            // Blocking from the engine thread would never end: it returns at once.
            c.close().wait();
        })
        .unwrap();
    let err = block_on(client.generate(Request::new("gpt-4o-mini").prompt("stall"))).unwrap_err();
    assert!(matches!(err, Error::ShutDown(_)), "{err:?}");
    block_on(client.close());
    client.clear_event_hook().unwrap();
    assert_eq!(llmsvc::live_event_hooks(), 0);
}

#[test]
fn pause_holds_admission_and_resume_sends() {
    let _g = shared();
    let emu = emulator!();
    let client = Client::new(emu.config("k-pause")).unwrap();
    client.pause(true);
    let fut = client.generate(Request::new("gpt-4o-mini").prompt("paused"));
    wait_until(5, "a queued request", || {
        client.metrics().unwrap().requests.queued == 1
    });
    assert_eq!(emu.stats("k-pause")["received"], 0);
    client.pause(false);
    assert!(block_on(fut).unwrap().ok);
}

#[test]
fn dropping_many_futures_cancels_them_without_waiting() {
    let _g = exclusive();
    let emu = emulator!();
    let mut config = emu.config("k-many-cancel");
    config.limits = Some(Limits {
        rpm: Some(1),
        ..Limits::default()
    });
    let client = Client::new(config).unwrap();
    block_on(client.generate(Request::new("gpt-4o-mini").prompt("first"))).unwrap();
    let futures: Vec<_> = (0..500)
        .map(|i| client.generate(Request::new("gpt-4o-mini").prompt(format!("held {i}"))))
        .collect();
    drop(futures);
    wait_until(10, "every cancellation", || cancelled(&client) == 500);
    released();
}
