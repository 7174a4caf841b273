//! Safe Rust binding of **llmsvc**, a client-side core for calling LLM APIs: rate-limit
//! gates (requests, tokens, concurrency), retries of what is transient, metrics, usage
//! and cost, several providers (OpenAI Chat Completions and Responses, Anthropic,
//! Ollama), streaming and structured output.
//!
//! The core (libllmsvc, linked through `llmsvc-sys`) does all the work on its own engine
//! thread; this crate moves typed documents across its C ABI and turns completions into
//! futures that any executor can drive.
//!
//! ```no_run
//! use llmsvc::{Client, Config, Limits, Request};
//!
//! # fn main() -> Result<(), llmsvc::Error> {
//! let client = Client::new(Config {
//!     base_url: Some("http://127.0.0.1:8080/v1".into()),
//!     api_key: Some("sk-test".into()),
//!     limits: Some(Limits { rpm: Some(500), ..Limits::default() }),
//!     ..Config::default()
//! })?;
//!
//! // Blocking:
//! let r = client.generate_blocking(Request::new("gpt-4o-mini").prompt("Hello"))?;
//! println!("{} ({} attempts)", r.text, r.attempts.len());
//!
//! // Async, on any executor (tokio, async-std, a plain block_on):
//! let fut = client.generate(Request::new("gpt-4o-mini").prompt("Hello again"));
//! # drop(fut);
//! # Ok(()) }
//! ```
//!
//! Tools: offer [`Tool`]s with [`Request::tool`], read the calls in
//! [`Response::tool_calls`], answer them with [`Message::tool`] after
//! [`Response::assistant_message`]; [`Client::stream_pieces`] streams text and tool calls
//! as typed [`Piece`]s.
//!
//! Lifecycle events (queued, admitted, attempts, retries, completed) reach a hook of
//! your own with [`Client::set_event_hook`].
//!
//! Errors: a request that completed with an error is one [`Error`] variant per
//! [`ErrorKind`] carrying a [`Failure`] (HTTP status, provider message, attempts, usage);
//! a call the core refused synchronously is [`Error::Call`].
//!
//! Features: `serde` (default) adds typed structured output, [`Client::generate_json`]
//! and [`Response::json_as`].
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod client;
mod error;
mod events;
mod ffi;
mod metrics;
mod tools;
mod types;

pub use client::{load_config_file, Client, Generate, PieceStream, ResponseStream};
pub use error::{CallError, Error, ErrorDetails, ErrorKind, Failure, Status};
pub use events::{Event, EventKind, EventTypes};
pub use metrics::{
    AttemptMetrics, DeploymentMetrics, GateMetrics, Histogram, Metrics, RateMetrics,
    RequestMetrics, RouteMetrics, RoutingMetrics, UsageMetrics, UsageTotals,
};
pub use tools::{Choice, Piece, Tool, ToolCall, ToolChoice};
pub use types::{
    Attempt, CacheControl, CacheKind, CacheTtl, Config, Content, ContentPart, Deployment,
    DeploymentUpdate, Http, ImageUrl, JsonSchema, Limits, Message, Priority, Provider, Request,
    Response, ResponseFormat, Retry, Role, Routing, RoutingStrategy, ServiceTier, Thinking,
    Timeouts, Timing, Usage,
};

/// The version of the linked libllmsvc (`"0.2.0"`).
///
/// ```
/// assert!(!llmsvc::version().is_empty());
/// ```
pub fn version() -> String {
    ffi::version()
}

/// How many completion payloads are handed to the core and not yet reclaimed; 0 when
/// nothing is pending. For leak checks in tests.
#[doc(hidden)]
pub fn live_payloads() -> usize {
    ffi::live_payloads()
}

/// How many event hooks are given to the core and not yet freed. For leak checks in tests.
#[doc(hidden)]
pub fn live_event_hooks() -> usize {
    ffi::live_hooks()
}

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
