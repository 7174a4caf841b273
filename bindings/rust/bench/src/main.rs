//! Benchmarks of the llmsvc Rust binding against `llmsvc-emulator` (no latency, no faults):
//!
//! 1. a submission over the C ABI at a closed gate (no network work), and its
//!    cancellation by dropping the future;
//! 2. end to end, in alternating rounds at the same concurrency on the same emulator: this
//!    binding, `async-openai`, and the C path (`bench/load.cpp`, the `llmsvc_load` binary
//!    named by `LLMSVC_LOAD`), each sending the same request (one user message, 16 output
//!    tokens). Requests per second and client CPU per request (getrusage of the process:
//!    the emulator runs apart); medians over the rounds, and the binding's own cost per
//!    request (binding minus C path, per round).
//!
//! ```sh
//! LLMSVC_EMULATOR=.../llmsvc-emulator LLMSVC_LOAD=.../llmsvc_load \
//!   cargo run --release -- [requests per run] [rounds] [concurrency...]
//! ```
//!
//! Without `LLMSVC_LOAD` the C path is left out; `BENCH_CLIENTS=llmsvc` runs the binding
//! alone (for a profiler); `BENCH_SUBMIT_ONLY=1` stops after the submission measurement.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
};
use llmsvc::{Client, Config, Message, Request, Retry};

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

#[derive(Clone, Copy)]
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

/// The request `bench/load.cpp` sends.
fn text(i: usize) -> String {
    format!("benchmark request {i}")
}

fn bench_llmsvc(rt: &tokio::runtime::Runtime, client: &Client, n: usize, conc: usize) -> Sample {
    measure(n, || {
        rt.block_on(async {
            let tasks: Vec<_> = (0..conc)
                .map(|w| {
                    let client = client.clone();
                    tokio::spawn(async move {
                        for i in (w..n).step_by(conc) {
                            let req = Request::new("gpt-4o-mini")
                                .message(Message::user(text(i)))
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
                                    .content(text(i))
                                    .build()
                                    .unwrap()
                                    .into()])
                                .max_completion_tokens(16u32)
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

/// One run of the C path: `llmsvc_load` in a process of its own, which measures itself.
fn bench_c(load: &str, base: &str, n: usize, conc: usize) -> Sample {
    let out = Command::new(load)
        .args(["--base-url", base, "--n", &n.to_string()])
        .args(["--concurrency", &conc.to_string(), "--warmup", "200"])
        .output()
        .unwrap_or_else(|e| panic!("run {load}: {e}"));
    assert!(
        out.status.success(),
        "{load}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("llmsvc_load's JSON line");
    Sample {
        rps: doc["requests_per_s"].as_f64().unwrap(),
        cpu_us: doc["cpu_us_per_request"].as_f64().unwrap(),
    }
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
        vec![1, 16, 64]
    };
    let load = std::env::var("LLMSVC_LOAD").ok();
    // BENCH_CLIENTS=llmsvc runs the binding alone (for a profiler).
    let only_llmsvc = std::env::var("BENCH_CLIENTS").is_ok_and(|c| c == "llmsvc");
    let emu = Emulator::start();
    let base = format!("http://127.0.0.1:{}/v1", emu.1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // The configuration bench/load.cpp uses.
    let config = Config {
        base_url: Some(base.clone()),
        api_key: Some("sk-bench".into()),
        model: Some("gpt-4o-mini".into()),
        retry: Some(Retry {
            max_attempts: Some(3),
            ..Retry::default()
        }),
        ..Config::default()
    };
    let client = Client::new(config.clone()).unwrap();
    let oa = async_openai::Client::with_config(
        OpenAIConfig::new()
            .with_api_base(base.clone())
            .with_api_key("bench-oa"),
    );

    // 1. Submission over the C ABI, against a client whose gate holds everything back
    // (rpm 1 after one request), so no network work is measured; then cancelled.
    let held = Client::new(Config {
        limits: Some(llmsvc::Limits {
            rpm: Some(1),
            ..Default::default()
        }),
        api_key: Some("bench-held".into()),
        ..config.clone()
    })
    .unwrap();
    held.generate_blocking(Request::new("gpt-4o-mini").prompt("warm up"))
        .unwrap();
    let k = 20_000;
    let (t0, c0) = (Instant::now(), cpu_time());
    let futures: Vec<_> = (0..k)
        .map(|i| {
            held.generate(
                Request::new("gpt-4o-mini")
                    .message(Message::user(text(i)))
                    .max_output_tokens(16),
            )
        })
        .collect();
    let submit_ns = t0.elapsed().as_nanos() as f64 / k as f64;
    let submit_cpu_ns = (cpu_time() - c0).as_nanos() as f64 / k as f64;
    let t1 = Instant::now();
    drop(futures);
    let cancel_ns = t1.elapsed().as_nanos() as f64 / k as f64;
    drop(held);
    if std::env::var_os("BENCH_SUBMIT_ONLY").is_some() {
        println!("submit {submit_ns:.0} ns/request (process CPU {submit_cpu_ns:.0} ns), cancel {cancel_ns:.0} ns/request");
        return;
    }

    // Warm both clients' connections.
    bench_llmsvc(&rt, &client, 200, 16);
    bench_async_openai(&rt, &oa, 200, 16);

    println!(
        "llmsvc {} · {n} requests per run · {rounds} alternating rounds · medians · 2 runtime workers",
        llmsvc::version()
    );
    println!();
    println!(
        "submit over the C ABI (generate() call, no network): {submit_ns:.0} ns/request, process CPU {submit_cpu_ns:.0} ns/request"
    );
    println!("cancel by drop: {cancel_ns:.0} ns/request");
    println!();
    println!("| concurrency | client | requests/s | client CPU µs/request |");
    println!("|---:|---|---:|---:|");
    let mut own = Vec::new();
    for &c in &concs {
        let (mut a, mut b, mut cp) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate the order, so that a drift of the machine's load favours no client.
            let mut runs: Vec<u8> = vec![0, 1, 2];
            if round % 2 == 1 {
                runs.reverse();
            }
            for which in runs {
                match (which, &load) {
                    (0, _) => a.push(bench_llmsvc(&rt, &client, n, c)),
                    _ if only_llmsvc => {}
                    (1, _) => b.push(bench_async_openai(&rt, &oa, n, c)),
                    (_, Some(load)) => cp.push(bench_c(load, &base, n, c)),
                    (_, None) => {}
                }
            }
        }
        let row = |name: &str, s: &[Sample]| {
            if s.is_empty() {
                return;
            }
            let rps = median(s.iter().map(|x| x.rps).collect());
            let cpu = median(s.iter().map(|x| x.cpu_us).collect());
            println!("| {c} | {name} | {rps:.0} | {cpu:.1} |");
        };
        row("llmsvc (Rust)", &a);
        row("async-openai", &b);
        row("llmsvc (C path, llmsvc_load)", &cp);
        if !cp.is_empty() {
            let diffs = a
                .iter()
                .zip(&cp)
                .map(|(x, y)| x.cpu_us - y.cpu_us)
                .collect();
            own.push((c, median(diffs)));
        }
    }
    if !own.is_empty() {
        println!();
        println!(
            "| concurrency | binding's own CPU µs/request (Rust minus C path, median of rounds) |"
        );
        println!("|---:|---:|");
        for (c, d) in own {
            println!("| {c} | {d:.1} |");
        }
    }
    let m = client.metrics().unwrap();
    println!();
    println!(
        "core overhead per request (metrics overhead_us): mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs",
        m.overhead_us.mean, m.overhead_us.p50, m.overhead_us.p99
    );
}
