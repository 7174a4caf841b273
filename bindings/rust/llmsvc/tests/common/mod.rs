//! Test support: an emulator per test, its statistics, a minimal executor.
#![allow(dead_code)]

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::pin::pin;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use llmsvc::{Config, Retry};

/// Tests that check the process-wide payload count take it exclusively.
static GATE: RwLock<()> = RwLock::new(());

pub fn shared() -> RwLockReadGuard<'static, ()> {
    GATE.read().unwrap_or_else(|e| e.into_inner())
}

pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    GATE.write().unwrap_or_else(|e| e.into_inner())
}

/// A running `llmsvc-emulator`, stopped on drop.
pub struct Emulator {
    child: Child,
    pub port: u16,
}

impl Emulator {
    /// Starts the emulator named by `LLMSVC_EMULATOR` with `args`; `None` (after saying
    /// so) when the variable is unset.
    pub fn start(args: &[&str]) -> Option<Emulator> {
        let Some(path) = std::env::var_os("LLMSVC_EMULATOR") else {
            eprintln!(
                "SKIPPED: set LLMSVC_EMULATOR to the llmsvc-emulator binary to run this test"
            );
            return None;
        };
        let mut child = Command::new(path)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the emulator's first line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected emulator line {line:?}"));
        Some(Emulator { child, port })
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// A configuration for this emulator with `key` and fast retries.
    pub fn config(&self, key: &str) -> Config {
        Config {
            base_url: Some(self.base_url()),
            api_key: Some(key.into()),
            retry: Some(Retry {
                base_delay_ms: Some(5),
                max_delay_ms: Some(50),
                ..Retry::default()
            }),
            ..Config::default()
        }
    }

    /// `GET /_emulator/stats?key=K`.
    pub fn stats(&self, key: &str) -> serde_json::Value {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            s,
            "GET /_emulator/stats?key={key} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let body = text.split_once("\r\n\r\n").expect("an HTTP answer").1;
        serde_json::from_str(body).expect("stats JSON")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts an emulator or returns from the test.
#[macro_export]
macro_rules! emulator {
    ($($arg:expr),* $(,)?) => {
        match common::Emulator::start(&[$($arg),*]) {
            Some(e) => e,
            None => return,
        }
    };
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A minimal executor: polls on this thread, parks between wake-ups.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// Waits until `cond` holds, at most `secs` seconds.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

pub fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Waits until every completion payload was released: a cancellation's completion follows
/// the metrics that count it within the same engine pass.
pub fn released() {
    wait_until(5, "every payload to be released", || {
        llmsvc::live_payloads() == 0
    });
}
