//! A typed metrics snapshot (`llmsvc_client_metrics`, docs/schema.md). Members this
//! binding does not model are in [`Metrics::raw`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::{ErrorKind, Limits};

/// One consistent snapshot of a client's metrics, usage and cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metrics {
    /// The core's version.
    pub version: String,
    /// The wire format (`"openai_chat"`).
    pub provider: String,
    /// Request counters and gauges.
    pub requests: RequestMetrics,
    /// Sliding last-60-seconds rates.
    pub rates: RateMetrics,
    /// The rate-limit gates.
    pub gates: GateMetrics,
    /// Attempts, retries and backoff.
    pub attempts: AttemptMetrics,
    /// Final outcomes by error kind name.
    pub failures_by_kind: BTreeMap<String, u64>,
    /// Submit to completion, ms.
    pub latency_ms: Histogram,
    /// Time spent inside llmsvc per request, µs.
    pub overhead_us: Histogram,
    /// Streams: an attempt's start to its first text, ms.
    pub first_token_ms: Histogram,
    /// Usage and cost ledger.
    pub usage: UsageMetrics,
    /// The routing policy and each route's tiers; `None` without configured deployments.
    pub routing: Option<RoutingMetrics>,
    /// Each configured deployment; empty without them.
    pub deployments: Vec<DeploymentMetrics>,
    /// The whole document as it came.
    #[serde(skip)]
    pub raw: serde_json::Value,
}

/// Request counters (totals) and gauges (now).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestMetrics {
    /// Accepted submissions.
    pub submitted: u64,
    /// Completions delivered.
    pub completed: u64,
    /// Completed successfully.
    pub succeeded: u64,
    /// Completed with an error.
    pub failed: u64,
    /// Now waiting at a gate.
    pub queued: u64,
    /// Now waiting to retry.
    pub backing_off: u64,
    /// Now being sent.
    pub in_flight: u64,
}

/// Sliding last-60-seconds rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateMetrics {
    /// Attempts sent.
    pub requests_sent_per_minute: f64,
    /// Prompt tokens sent (estimates).
    pub tokens_sent_per_minute: f64,
    /// Replies received.
    pub responses_per_minute: f64,
    /// Tokens the replies reported.
    pub tokens_received_per_minute: f64,
}

/// The rate-limit gates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GateMetrics {
    /// The limits in force.
    pub limits: Limits,
    /// Requests in the current window.
    pub window_requests_used: u64,
    /// Requests allowed per window (0: no limit).
    pub window_requests_cap: u64,
    /// Tokens in the current window.
    pub window_tokens_used: u64,
    /// Tokens allowed per window (0: no limit).
    pub window_tokens_cap: u64,
    /// Remaining pause a 429's retry-after imposed, ms.
    pub paused_for_ms: f64,
    /// How often the head of the queue waited, by gate (`rpm`, `tpm`, `concurrency`, ...).
    pub waits: BTreeMap<String, u64>,
    /// Queueing to admission, ms.
    pub wait_ms: Histogram,
}

/// Attempts, retries and backoff.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttemptMetrics {
    /// Attempts sent.
    pub total: u64,
    /// Attempts after the first of their request.
    pub retries: u64,
    /// Time waited by the backoff policy, ms.
    pub backoff_client_ms: f64,
    /// Time waited as servers asked, ms.
    pub backoff_server_ms: f64,
    /// Attempt errors by kind name.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Per attempt, ms.
    pub latency_ms: Histogram,
}

/// A fixed-size histogram summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Histogram {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
    /// Average.
    pub mean: f64,
}

/// The usage and cost ledger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageMetrics {
    /// Every request.
    pub total: UsageTotals,
    /// By the request's model.
    pub by_model: BTreeMap<String, UsageTotals>,
    /// By the request's operation.
    pub by_operation: BTreeMap<String, UsageTotals>,
}

/// Usage and cost of a group of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageTotals {
    /// Completed requests.
    pub requests: u64,
    /// Of which succeeded.
    pub succeeded: u64,
    /// Input tokens as reported.
    pub prompt_tokens: u64,
    /// Output tokens, reasoning included.
    pub completion_tokens: u64,
    /// Input tokens read from cache.
    pub cached_tokens: u64,
    /// Output tokens spent reasoning.
    pub reasoning_tokens: u64,
    /// Input + output.
    pub total_tokens: u64,
    /// Cost in billionths of a USD; `None` when nothing was priced.
    pub cost_nano_usd: Option<u64>,
    /// Requests whose cost is unknown.
    pub unpriced_requests: u64,
}

/// The routing strategy in force and the routes it chooses along.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoutingMetrics {
    /// `"round_robin"`, `"least_loaded"`, `"lowest_latency"` or `"weighted"`.
    pub strategy: String,
    /// One per model group (or deployment) requests may name.
    pub routes: Vec<RouteMetrics>,
}

/// One route: the deployments a request naming it may use, tier by tier (its own group
/// first, then its fallbacks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteMetrics {
    /// The model group or deployment requests name.
    pub name: String,
    /// Deployment names, tier by tier.
    pub tiers: Vec<Vec<String>>,
}

/// One deployment: where it sends, whether it is in rotation, what it did and how full
/// its gates are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeploymentMetrics {
    /// Its name, as in [`Response::deployment`](crate::Response::deployment).
    pub name: String,
    /// The model group it serves.
    pub group: String,
    /// The wire format.
    pub provider: String,
    /// The model it sends.
    pub model: String,
    /// Its endpoint.
    pub base_url: String,
    /// Its share under the `weighted` strategy.
    pub weight: u64,
    /// False once an auth, permission, quota or region error (or
    /// [`Client::set_deployment`](crate::Client::set_deployment)) took it out.
    pub in_rotation: bool,
    /// Why it is out of rotation: an error kind name (`"auth"`, ...); `None` while in.
    pub out_kind: Option<String>,
    /// What the provider said when it was taken out; `None` while in.
    pub out_reason: Option<String>,
    /// Since when it is out, Unix milliseconds; `None` while in.
    pub out_since_unix_ms: Option<u64>,
    /// Attempts sent through it.
    pub attempts: u64,
    /// Of which failed.
    pub failed_attempts: u64,
    /// Requests it completed successfully.
    pub served: u64,
    /// Attempts now in flight.
    pub in_flight: u64,
    /// Recent attempt latency (a weighted mean), ms; `None` before its first answer.
    pub latency_ms: Option<f64>,
    /// Unused room across its rate and concurrency gates, 0..1.
    pub headroom: f64,
    /// Requests in its current window.
    pub requests_in_window: u64,
    /// Tokens in its current window.
    pub tokens_in_window: u64,
    /// Remaining pause a 429's retry-after imposed, ms.
    pub paused_ms: u64,
}

impl DeploymentMetrics {
    /// Why it is out of rotation, as an [`ErrorKind`]; `None` while it is in.
    pub fn out_error_kind(&self) -> Option<ErrorKind> {
        ErrorKind::from_name(self.out_kind.as_deref()?)
    }
}
