//! Benchmarks of the llmsvc Rust binding against `llmsvc-emulator`:
//!
//! 1. the cost of a submission over the C ABI (request document built, serialized,
//!    copied and validated by the core, payload boxed) and the core's own per-request
//!    overhead (`overhead_us`);
//! 2. end to end, next to `async-openai` at the same concurrency: requests per second and
//!    client CPU per request (getrusage of this process: the emulator runs apart).
//!
//! ```sh
//! LLMSVC_EMULATOR=.../llmsvc-emulator cargo run --release -- [requests] [concurrency...]
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
};
use llmsvc::{Client, Config, Request};

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

impl Emulator {
    fn start() -> Emulator {
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
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Sample {
    rps: f64,
    cpu_us: f64,
}

fn measure<F: FnOnce()>(n: usize, run: F) -> Sample {
    let (c0, t0) = (cpu_time(), Instant::now());
    run();
    let (cpu, wall) = (cpu_time() - c0, t0.elapsed());
    Sample {
        rps: n as f64 / wall.as_secs_f64(),
        cpu_us: cpu.as_secs_f64() * 1e6 / n as f64,
    }
}

fn prompt(i: usize) -> String {
    format!("Benchmark request number {i}: say something.")
}

fn bench_llmsvc(rt: &tokio::runtime::Runtime, client: &Client, n: usize, conc: usize) -> Sample {
    measure(n, || {
        rt.block_on(async {
            let tasks: Vec<_> = (0..conc)
                .map(|w| {
                    let client = client.clone();
                    tokio::spawn(async move {
                        for i in (w..n).step_by(conc) {
                            let r = client
                                .generate(Request::new("gpt-4o-mini").prompt(prompt(i)))
                                .await
                                .unwrap();
                            assert!(!r.text.is_empty());
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
    })
}

fn bench_async_openai(
    rt: &tokio::runtime::Runtime,
    client: &async_openai::Client<OpenAIConfig>,
    n: usize,
    conc: usize,
) -> Sample {
    measure(n, || {
        rt.block_on(async {
            let tasks: Vec<_> = (0..conc)
                .map(|w| {
                    let client = client.clone();
                    tokio::spawn(async move {
                        for i in (w..n).step_by(conc) {
                            let req = CreateChatCompletionRequestArgs::default()
                                .model("gpt-4o-mini")
                                .messages([ChatCompletionRequestUserMessageArgs::default()
                                    .content(prompt(i))
                                    .build()
                                    .unwrap()
                                    .into()])
                                .build()
                                .unwrap();
                            let r = client.chat().create(req).await.unwrap();
                            assert!(r.choices[0].message.content.is_some());
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
    })
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let n = args.first().copied().unwrap_or(4000);
    let concs: Vec<usize> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec![1, 16, 64]
    };
    let emu = Emulator::start();
    let base = format!("http://127.0.0.1:{}/v1", emu.1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let client = Client::new(Config {
        base_url: Some(base.clone()),
        api_key: Some("bench".into()),
        ..Config::default()
    })
    .unwrap();
    let oa = async_openai::Client::with_config(
        OpenAIConfig::new()
            .with_api_base(base.clone())
            .with_api_key("bench-oa"),
    );

    // 1. Submission over the C ABI, against a client whose gate holds everything back
    // (rpm 1 after one request), so no network work is measured; then cancelled.
    let held = Client::new(Config {
        base_url: Some(base.clone()),
        api_key: Some("bench-held".into()),
        limits: Some(llmsvc::Limits {
            rpm: Some(1),
            ..Default::default()
        }),
        ..Config::default()
    })
    .unwrap();
    held.generate_blocking(Request::new("gpt-4o-mini").prompt("warm up"))
        .unwrap();
    let k = 20_000;
    let t0 = Instant::now();
    let futures: Vec<_> = (0..k)
        .map(|i| held.generate(Request::new("gpt-4o-mini").prompt(prompt(i))))
        .collect();
    let submit_ns = t0.elapsed().as_nanos() as f64 / k as f64;
    let t1 = Instant::now();
    drop(futures);
    let cancel_ns = t1.elapsed().as_nanos() as f64 / k as f64;
    drop(held);

    // Warm both clients' connections.
    bench_llmsvc(&rt, &client, 200, 16);
    bench_async_openai(&rt, &oa, 200, 16);

    println!(
        "llmsvc {} · {} requests per run · 2 runtime workers",
        llmsvc::version(),
        n
    );
    println!();
    println!("submit over the C ABI (generate() call, no network): {submit_ns:.0} ns/request");
    println!("cancel by drop (a blocking round trip to the engine): {cancel_ns:.0} ns/request");
    println!();
    println!("| concurrency | client | requests/s | client CPU µs/request |");
    println!("|---:|---|---:|---:|");
    for &c in &concs {
        let a = bench_llmsvc(&rt, &client, n, c);
        println!("| {c} | llmsvc | {:.0} | {:.1} |", a.rps, a.cpu_us);
        let b = bench_async_openai(&rt, &oa, n, c);
        println!("| {c} | async-openai | {:.0} | {:.1} |", b.rps, b.cpu_us);
    }
    let m = client.metrics().unwrap();
    println!();
    println!(
        "core overhead per request (metrics overhead_us): mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs",
        m.overhead_us.mean, m.overhead_us.p50, m.overhead_us.p99
    );
}
