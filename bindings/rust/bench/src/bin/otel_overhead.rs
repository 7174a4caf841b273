//! The cost of the OpenTelemetry adapter (feature `otel`): the same client, against the
//! same `llmsvc-emulator` (no latency, no faults), with telemetry off, on with the API's
//! no-op providers (the adapter's own work: attributes, span builders, instruments), and
//! on with the SDK, in rounds whose order rotates. Client CPU per request (getrusage of this process: the tokio
//! workers, the engine thread and, with telemetry on, the SDK's batch span processor; the
//! emulator runs apart) and requests per second; medians over the rounds.
//!
//! With telemetry on, the SDK is what an application would run: a tracer provider with
//! the batch span processor (spans kept by an in-memory exporter, reset every round) and
//! a meter provider with a periodic reader (60 s: the run aggregates, nothing is exported).
//! Every request is sampled: a request span and one attempt span each.
//!
//! ```sh
//! LLMSVC_EMULATOR=.../llmsvc-emulator \
//!   cargo run --release --no-default-features --features otel --bin otel_overhead -- \
//!   [requests per run] [rounds] [concurrency...]
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use llmsvc::otel::Telemetry;
use llmsvc::{Client, Config, Message, Request, Retry};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

#[repr(C)]
struct Rusage {
    fields: [i64; 18],
}

extern "C" {
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let mut r = Rusage { fields: [0; 18] };
    // SAFETY: RUSAGE_SELF (0) and a buffer of the size of `struct rusage` on 64-bit Linux.
    unsafe { getrusage(0, &mut r) };
    let f = r.fields;
    Duration::from_micros((f[0] * 1_000_000 + f[1] + f[2] * 1_000_000 + f[3]) as u64)
}

struct Emulator(Child, u16);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn emulator() -> Emulator {
    let path = std::env::var("LLMSVC_EMULATOR").expect("set LLMSVC_EMULATOR");
    let mut child = Command::new(path)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the emulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    Emulator(child, port)
}

/// CPU µs per request and requests per second of `n` requests at concurrency `conc`.
fn run(rt: &tokio::runtime::Runtime, client: &Client, n: usize, conc: usize) -> (f64, f64) {
    let (c0, t0) = (cpu_time(), Instant::now());
    rt.block_on(async {
        let tasks: Vec<_> = (0..conc)
            .map(|w| {
                let client = client.clone();
                tokio::spawn(async move {
                    for i in (w..n).step_by(conc) {
                        let req = Request::new("gpt-4o-mini")
                            .message(Message::user(format!("benchmark request {i}")))
                            .max_output_tokens(16);
                        let r = client.generate(req).await.unwrap();
                        assert!(!r.text.is_empty());
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let (cpu, wall) = (cpu_time() - c0, t0.elapsed());
    (
        cpu.as_secs_f64() * 1e6 / n as f64,
        n as f64 / wall.as_secs_f64(),
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let n = args.first().copied().unwrap_or(2000);
    let rounds = args.get(1).copied().unwrap_or(5);
    let concs = if args.len() > 2 {
        args[2..].to_vec()
    } else {
        vec![1, 16]
    };
    let emu = emulator();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let off = Client::new(Config {
        base_url: Some(format!("http://127.0.0.1:{}/v1", emu.1)),
        api_key: Some("sk-bench-otel".into()),
        model: Some("gpt-4o-mini".into()),
        retry: Some(Retry {
            max_attempts: Some(3),
            ..Retry::default()
        }),
        ..Config::default()
    })
    .unwrap();
    let spans = InMemorySpanExporter::default();
    let tracer_provider = SdkTracerProvider::builder()
        .with_batch_exporter(spans.clone())
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let sdk = off.with_telemetry(
        Telemetry::builder()
            .with_tracer_provider(&tracer_provider)
            .with_meter_provider(&meter_provider)
            .build(),
    );
    // No global provider is set: the API's no-op tracer and meter.
    let noop = off.with_telemetry(Telemetry::global());
    let clients = [
        ("off", &off),
        ("on, no-op providers", &noop),
        ("on, SDK", &sdk),
    ];
    for (_, client) in clients {
        run(&rt, client, 200, 16);
    }

    println!("llmsvc {} · {n} requests per run · {rounds} alternating rounds · medians · 2 runtime workers", llmsvc::version());
    println!();
    println!("| concurrency | telemetry | requests/s | client CPU µs/request | minus off (median of rounds) |");
    println!("|---:|---|---:|---:|---:|");
    for &c in &concs {
        let mut samples = vec![Vec::new(); clients.len()];
        for round in 0..rounds {
            for k in 0..clients.len() {
                let which = (k + round) % clients.len();
                spans.reset();
                samples[which].push(run(&rt, clients[which].1, n, c));
            }
        }
        for (which, (name, _)) in clients.iter().enumerate() {
            let s = &samples[which];
            let rps = median(s.iter().map(|x| x.1).collect());
            let cpu = median(s.iter().map(|x| x.0).collect());
            let d = median(samples[0].iter().zip(s).map(|(x, y)| y.0 - x.0).collect());
            println!("| {c} | {name} | {rps:.0} | {cpu:.1} | {d:+.1} |");
        }
    }
    tracer_provider.shutdown().unwrap();
    let _ = meter_provider.shutdown();
}
