//! A two-round tool loop: the model asks for a tool (streamed, its call arriving piece by
//! piece), the program runs it and sends the result back, the model answers.
//!
//! ```sh
//! llmsvc-emulator --port 8080 &
//! cargo run --example tools -- http://127.0.0.1:8080/v1              # OpenAI Chat
//! cargo run --example tools -- http://127.0.0.1:8080/v1 anthropic    # or openai_responses
//! cargo run --example tools -- http://127.0.0.1:8080 ollama          # Ollama: no /v1
//! ```
//!
//! Without arguments it uses `$LLMSVC_BASE_URL` (else the provider's default endpoint) and
//! `$OPENAI_API_KEY`. Exits with 0 once the model answered with the tool's result.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use futures_core::Stream;
use llmsvc::{Client, Config, Message, Piece, Provider, Request, Tool, ToolCall};

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

/// The one tool: a weather report for a city (a stand-in for a real lookup).
fn weather_tool() -> Tool {
    Tool::new("get_weather")
        .description("The current weather in a city")
        .parameters(serde_json::json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"]
        }))
}

#[derive(serde::Deserialize)]
struct WeatherArgs {
    city: String,
}

fn run_tool(call: &ToolCall) -> String {
    match call.name.as_str() {
        "get_weather" => match call.arguments_as::<WeatherArgs>() {
            Ok(args) if !args.city.is_empty() => format!("18 C and clear in {}", args.city),
            Ok(_) => "18 C and clear".into(),
            Err(e) => format!("bad arguments: {e}"),
        },
        other => format!("unknown tool {other}"),
    }
}

fn main() -> Result<ExitCode, llmsvc::Error> {
    let mut args = std::env::args().skip(1);
    let base_url = args
        .next()
        .or_else(|| std::env::var("LLMSVC_BASE_URL").ok());
    let provider: Provider = match args.next() {
        Some(p) => serde_json::from_value(serde_json::Value::String(p))
            .map_err(|e| llmsvc::Error::Decode(format!("provider: {e}")))?,
        None => Provider::OpenaiChat,
    };
    let model = match provider {
        Provider::Anthropic => "claude-haiku-4-5",
        Provider::Ollama => "llama3.2",
        _ => "gpt-4o-mini",
    };
    let client = Client::new(Config {
        provider: Some(provider),
        base_url,
        api_key: Some(std::env::var("OPENAI_API_KEY").unwrap_or_else(|_| "sk-example".into())),
        model: Some(model.into()),
        ..Config::default()
    })?;
    let question = Message::user("What is the weather in Paris? Use get_weather.");

    // Round 1, streamed: the question and the tool; the call arrives as typed pieces.
    let mut stream = client.stream_pieces(
        Request::default()
            .message(question.clone())
            .tool(weather_tool()),
    );
    let first = block_on(async {
        while let Some(piece) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
            match piece? {
                Piece::Text(t) => print!("{t}"),
                Piece::ToolCall { index, id, name } => print!("\n[call {index}: {name}, id {id}] "),
                Piece::ToolArguments { delta, .. } => print!("{delta}"),
                _ => {}
            }
        }
        println!();
        stream.response().await
    })?;
    println!("round 1: {} tool call(s)", first.tool_calls.len());
    if first.tool_calls.is_empty() {
        println!("answer: {}", first.text);
        return Ok(ExitCode::FAILURE); // this example expects the model to ask for the tool
    }

    // Round 2: the conversation so far, the calls and each tool's result.
    let mut request = Request::default()
        .message(question)
        .message(first.assistant_message())
        .tool(weather_tool());
    for call in &first.tool_calls {
        let result = run_tool(call);
        println!("  {}({}) -> {result}", call.name, call.arguments);
        request = request.message(Message::tool(&call.id, result));
    }
    let second = client.generate_blocking(request)?;
    println!("round 2: {}", second.text);
    Ok(ExitCode::SUCCESS)
}
