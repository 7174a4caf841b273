//! Sends a few requests through one client: blocking, async on a hand-rolled executor,
//! streamed, and structured; then prints usage and cost.
//!
//! ```sh
//! llmsvc-emulator --port 8080 &          # or a real API: OPENAI_BASE_URL, OPENAI_API_KEY
//! LLMSVC_BASE_URL=http://127.0.0.1:8080/v1 cargo run --example quickstart
//! ```

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use futures_core::Stream;
use llmsvc::{Client, Config, JsonSchema, Limits, Request};

/// The smallest executor: poll, park until woken.
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let mut f = pin!(f);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Verdict {
    sentiment: String,
    confidence: f64,
}

fn main() -> Result<(), llmsvc::Error> {
    let client = Client::new(Config {
        base_url: std::env::var("LLMSVC_BASE_URL").ok(),
        api_key: Some(std::env::var("OPENAI_API_KEY").unwrap_or_else(|_| "sk-local".into())),
        model: Some("gpt-4o-mini".into()),
        limits: Some(Limits {
            rpm: Some(500),
            tpm: Some(200_000),
            ..Limits::default()
        }),
        ..Config::default()
    })?;
    println!("llmsvc {}", llmsvc::version());

    // Blocking.
    let r = client.generate_blocking(Request::default().prompt("Say hello"))?;
    println!(
        "blocking: {} chars, {} attempt(s)",
        r.text.len(),
        r.attempts.len()
    );

    // Async: eight requests in parallel, awaited on one thread.
    let futures: Vec<_> = (0..8)
        .map(|i| client.generate(Request::default().prompt(format!("Question {i}"))))
        .collect();
    block_on(async {
        for f in futures {
            let r = f.await?;
            println!("async: {:?} tokens", r.usage.map(|u| u.total_tokens));
        }
        Ok::<_, llmsvc::Error>(())
    })?;

    // Streamed.
    let mut stream = client.stream(Request::default().prompt("Tell me a story"));
    block_on(async {
        while let Some(piece) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
            print!("{}", piece?);
        }
        println!();
        let r = stream.response().await?;
        println!("first token after {:?} ms", r.timing.first_token_ms);
        Ok::<_, llmsvc::Error>(())
    })?;

    // Structured.
    let schema = JsonSchema::new(
        "verdict",
        serde_json::json!({
            "type": "object",
            "properties": {
                "sentiment": {"type": "string", "enum": ["positive", "negative"]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1}
            },
            "required": ["sentiment", "confidence"],
            "additionalProperties": false
        }),
    );
    let v: Verdict =
        block_on(client.generate_json(Request::default().prompt("I loved this film"), schema))?;
    println!("structured: {v:?}");

    let m = client.metrics()?;
    println!(
        "{} requests, {} prompt + {} completion tokens, cost {:?} nano-USD",
        m.usage.total.requests,
        m.usage.total.prompt_tokens,
        m.usage.total.completion_tokens,
        m.usage.total.cost_nano_usd
    );
    Ok(())
}
