#![doc = include_str!("../../README.md")]
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

// Layers, each importing only those above it: ffi (the C ABI, the only `unsafe`) →
// types (documents and results) → metrics, error → events, otel → client.
mod client;
mod error;
mod events;
mod ffi;
mod metrics;
#[cfg(feature = "otel")]
pub mod otel;
mod types;

pub use client::{load_config_file, Client, Closed, Generate, PieceStream, ResponseStream};
pub use error::{CallError, Error, Failure, Status};
pub use events::{Event, EventKind, EventTypes};
pub use metrics::{
    AttemptMetrics, DeploymentMetrics, GateMetrics, Histogram, Metrics, RateMetrics,
    RequestMetrics, RouteMetrics, RoutingMetrics, UsageMetrics, UsageTotals,
};
pub use types::{
    Attempt, CacheControl, CacheKind, CacheTtl, Choice, Config, Content, ContentPart, Deployment,
    DeploymentUpdate, ErrorDetails, ErrorKind, Http, ImageUrl, Input, JsonSchema, Limits, Message,
    Piece, Priority, Provider, RawJson, Request, Response, ResponseFormat, Retry, Role, Routing,
    RoutingStrategy, ServiceTier, Thinking, Timeouts, Timing, Tool, ToolCall, ToolChoice, Usage,
};

/// The version of the linked libllmsvc (`"0.3.0"`).
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
