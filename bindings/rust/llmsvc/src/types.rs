//! The documents of docs/schema.md as typed structs: configuration, requests and tools,
//! which are serialized for the core, and results, which are filled from the core's typed
//! getters. Members left `None` are not sent, so the core's defaults apply.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ffi::c_int;
use std::fmt;
use std::sync::Arc;

use llmsvc_sys as sys;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ffi::{self, RawResult};

/// The wire format a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// OpenAI Chat Completions and every compatible server.
    OpenaiChat,
    /// OpenAI Responses.
    OpenaiResponses,
    /// Anthropic Messages.
    Anthropic,
    /// Ollama's native `/api/chat`.
    Ollama,
    /// Azure OpenAI's Chat Completions (deployment URLs, `api-key`).
    AzureOpenai,
    /// Google Gemini's native `generateContent`.
    Gemini,
}

/// Client configuration (`llmsvc_client_new`). `Config::default()` takes every default
/// (`$OPENAI_BASE_URL`, `$OPENAI_API_KEY`, ...).
///
/// ```
/// use llmsvc::{Config, Limits, Retry};
/// let config = Config {
///     base_url: Some("http://127.0.0.1:8080/v1".into()),
///     api_key: Some("sk-test".into()),
///     model: Some("gpt-4o-mini".into()),
///     limits: Some(Limits { rpm: Some(500), tpm: Some(200_000), ..Limits::default() }),
///     retry: Some(Retry { max_attempts: Some(3), ..Retry::default() }),
///     ..Config::default()
/// };
/// assert!(!format!("{config:?}").contains("sk-test"));
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The wire format; derived from `model` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// `http://` or `https://` base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The API key; never appears in errors, results, metrics or `Debug` output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The `anthropic-version` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anthropic_version: Option<String>,
    /// The output bound sent where the provider requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_output_tokens: Option<u64>,
    /// The `OpenAI-Organization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The `OpenAI-Project` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Default model for requests without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `"max_completion_tokens"` (default) or `"max_tokens"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_field: Option<String>,
    /// Rate limits; changeable later with [`Client::set_limits`](crate::Client::set_limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Retry policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Connect and per-attempt timeouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    /// HTTP options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Http>,
    /// Seed of the backoff jitter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// LiteLLM-style price entries by model (USD per token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<serde_json::Map<String, serde_json::Value>>,
    /// A file of price entries of the same shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices_file: Option<String>,
    /// Models whose cost is a known zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_models: Option<Vec<String>>,
    /// Several endpoints, keys or models behind the one client, each with its own
    /// limits; each starts from the members above and overrides what it gives. Give
    /// either `deployments` or the lists `api_keys` and `models`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployments: Option<Vec<Deployment>>,
    /// Short form of `deployments`: one deployment per key, named `MODEL#INDEX`. With
    /// `models`, the lists have equal lengths (a list of one is used for every position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<Vec<String>>,
    /// Short form of `deployments`: one deployment per model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// How a request picks among the deployments of its model group, and its fallbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
    /// Headers added to every request's attempts; never the credentials or framing
    /// headers (refused). Their values do not appear in `Debug` output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
}

/// Header names without their values, for `Debug` output.
fn header_names(h: &Option<BTreeMap<String, String>>) -> Option<Vec<&str>> {
    h.as_ref().map(|h| h.keys().map(String::as_str).collect())
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("limits", &self.limits)
            .field("retry", &self.retry)
            .field("timeouts", &self.timeouts)
            .field("http", &self.http)
            .field(
                "api_keys",
                &self.api_keys.as_ref().map(|k| vec!["<redacted>"; k.len()]),
            )
            .field("models", &self.models)
            .field("deployments", &self.deployments)
            .field("routing", &self.routing)
            .field("headers", &header_names(&self.headers))
            .finish_non_exhaustive()
    }
}

/// One configured deployment: a provider endpoint with its key, model and limits.
/// Members left `None` take the client's own ([`Config`]); a deployment of another
/// provider family (Anthropic, Ollama, OpenAI) takes that provider's default endpoint and
/// key instead. Results ([`Response::deployment`]) and metrics
/// ([`Metrics::deployments`](crate::Metrics::deployments)) name it by `name`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Unique among the deployments; default `MODEL#INDEX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The model name requests use to reach it; default its `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Its share under the `weighted` strategy (1; 0 puts it after the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u64>,
    /// The wire format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// `http://` or `https://` base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Its API key; never appears in errors, results, metrics or `Debug` output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The environment variable holding its API key (instead of `api_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// The `OpenAI-Organization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The `OpenAI-Project` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The model it sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `"max_completion_tokens"` or `"max_tokens"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_field: Option<String>,
    /// The `anthropic-version` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anthropic_version: Option<String>,
    /// The output bound sent where the provider requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_output_tokens: Option<u64>,
    /// Its own gates; members left `None` keep the client's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Headers added to its attempts, as [`Config::headers`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
}

impl fmt::Debug for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deployment")
            .field("name", &self.name)
            .field("group", &self.group)
            .field("weight", &self.weight)
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api_key_env", &self.api_key_env)
            .field("model", &self.model)
            .field("limits", &self.limits)
            .field("headers", &header_names(&self.headers))
            .finish_non_exhaustive()
    }
}

/// How a request picks among the deployments of its model group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingStrategy {
    /// In turn (the default).
    RoundRobin,
    /// The one with the most unused room in its gates.
    LeastLoaded,
    /// The one with the lowest recent latency (untried ones first).
    LowestLatency,
    /// A random draw by `weight`.
    Weighted,
}

/// The routing policy across the deployments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    /// The strategy (round-robin when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RoutingStrategy>,
    /// Per model group, the groups or deployments tried in order once the group's own
    /// are exhausted; the key `"*"` applies to every group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<BTreeMap<String, Vec<String>>>,
}

/// A change to one configured deployment ([`Client::set_deployment`](crate::Client::set_deployment)).
/// Members left `None` keep their value.
///
/// ```
/// let u = llmsvc::DeploymentUpdate::new("gpt-4o-mini#1").enabled(true);
/// assert_eq!(
///     serde_json::to_string(&u).unwrap(),
///     r#"{"name":"gpt-4o-mini#1","enabled":true}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentUpdate {
    /// The deployment's name (its `name`, or the default `MODEL#INDEX`).
    pub name: String,
    /// `true` puts a deployment taken out of rotation (by an auth, permission, quota or
    /// region error, or by `false`) back into it; `false` takes it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Its new share under the `weighted` strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u64>,
    /// New limits; members left `None` keep their value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

impl DeploymentUpdate {
    /// A change of the deployment `name` that changes nothing yet.
    pub fn new(name: impl Into<String>) -> DeploymentUpdate {
        DeploymentUpdate {
            name: name.into(),
            ..DeploymentUpdate::default()
        }
    }
    /// Puts it back into rotation (`true`) or takes it out (`false`).
    pub fn enabled(mut self, enabled: bool) -> DeploymentUpdate {
        self.enabled = Some(enabled);
        self
    }
    /// Sets its weight.
    pub fn weight(mut self, weight: u64) -> DeploymentUpdate {
        self.weight = Some(weight);
        self
    }
    /// Sets its limits.
    pub fn limits(mut self, limits: Limits) -> DeploymentUpdate {
        self.limits = Some(limits);
        self
    }
}

/// Rate-limit gates. `0` means unlimited; `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens (input + output) per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Input tokens per minute (Anthropic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itpm: Option<u64>,
    /// Output tokens per minute (Anthropic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otpm: Option<u64>,
    /// Requests in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u64>,
    /// The provider's counting window in ms (60000 for OpenAI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_ms: Option<u64>,
    /// Requests per day (a sliding 24-hour window held with the per-minute limits; not
    /// with shared limits). Windows of other lengths: [`Client::from_json`] with
    /// `"windows"` (docs/schema.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpd: Option<u64>,
    /// Tokens (input + output) per day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpd: Option<u64>,
}

/// Retry policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Retry {
    /// Attempts, the first included (5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// First backoff (500 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_delay_ms: Option<u64>,
    /// Largest backoff (30000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay_ms: Option<u64>,
    /// Fraction by which a backoff may be shortened (0.25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<f64>,
    /// Longest server-requested wait honoured (60000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_after_ms: Option<u64>,
    /// New attempts when the output does not match the JSON Schema (1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_retries: Option<u32>,
}

/// Timeouts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// TCP + TLS connect (5000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    /// One attempt, transfer included (600000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_ms: Option<u64>,
}

/// HTTP options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Http {
    /// HTTP/2 over TLS when offered (true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2: Option<bool>,
    /// Cleartext HTTP/2 without upgrade (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_knowledge: Option<bool>,
    /// Connections per host (0: no cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u64>,
}

/// The author of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// System instructions.
    System,
    /// Developer instructions.
    Developer,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// A tool's result, answering one call ([`Message::tool`]).
    Tool,
}

/// A message's content: a string or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Text and image parts (images in user messages only).
    Parts(Vec<ContentPart>),
}

/// One part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// A piece of text.
    Text {
        /// The text.
        text: String,
        /// An Anthropic prompt-cache breakpoint after this part (also in system
        /// messages); the other providers cache on their own and leave it out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// An image by URL (`https://...` or `data:...`).
    ImageUrl {
        /// The image.
        image_url: ImageUrl,
    },
    /// Anthropic's thinking of an earlier assistant turn, sent back unchanged in a tool
    /// round ([`Response::assistant_message`] adds it); the other providers leave it out.
    Thinking {
        /// The thinking text ([`Response::thinking`]).
        thinking: String,
        /// Its signature as the provider sent it ([`Response::thinking_signature`]).
        signature: String,
    },
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> ContentPart {
        ContentPart::Text {
            text: text.into(),
            cache_control: None,
        }
    }
    /// A text part followed by an Anthropic prompt-cache breakpoint.
    pub fn cached_text(text: impl Into<String>, cache_control: CacheControl) -> ContentPart {
        ContentPart::Text {
            text: text.into(),
            cache_control: Some(cache_control),
        }
    }
}

/// An Anthropic prompt-cache breakpoint (`{"type": "ephemeral", "ttl"?: "5m" | "1h"}`).
///
/// ```
/// use llmsvc::{CacheControl, CacheTtl};
/// assert_eq!(
///     serde_json::to_string(&CacheControl::ephemeral().ttl(CacheTtl::OneHour)).unwrap(),
///     r#"{"type":"ephemeral","ttl":"1h"}"#
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CacheControl {
    /// The kind of cache entry.
    #[serde(rename = "type")]
    pub kind: CacheKind,
    /// How long the entry lives (5 minutes when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<CacheTtl>,
}

impl CacheControl {
    /// An ephemeral breakpoint with the provider's default lifetime.
    pub fn ephemeral() -> CacheControl {
        CacheControl {
            kind: CacheKind::Ephemeral,
            ttl: None,
        }
    }
    /// Sets the lifetime.
    pub fn ttl(mut self, ttl: CacheTtl) -> CacheControl {
        self.ttl = Some(ttl);
        self
    }
}

/// The kind of a prompt-cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheKind {
    /// The only kind Anthropic has.
    Ephemeral,
}

/// The lifetime of a prompt-cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CacheTtl {
    /// `"5m"`.
    #[serde(rename = "5m")]
    FiveMinutes,
    /// `"1h"` (written at a higher price; [`Usage::cache_write_1h_tokens`]).
    #[serde(rename = "1h")]
    OneHour,
}

/// An image reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// `https://...` or a `data:` URL.
    pub url: String,
    /// `"auto"`, `"low"` or `"high"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One message of a conversation.
///
/// An assistant message that only calls tools has empty text content, which is sent as
/// no content; a [`Role::Tool`] message answers one call with its `tool_call_id`.
///
/// ```
/// use llmsvc::{Message, ToolCall};
/// let call = ToolCall::new("call_1", "get_weather", r#"{"city":"Paris"}"#);
/// let round = [
///     Message::user("Weather in Paris?"),
///     Message::assistant_tool_calls(vec![call]),
///     Message::tool("call_1", "18 C, clear"),
/// ];
/// assert_eq!(
///     serde_json::to_value(&round[1]).unwrap(),
///     serde_json::json!({"role": "assistant", "tool_calls": [{"id": "call_1",
///         "type": "function", "function": {"name": "get_weather",
///         "arguments": "{\"city\":\"Paris\"}"}}]})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// What it says (`null` or absent reads as empty text).
    #[serde(default = "empty_content", deserialize_with = "content_or_null")]
    pub content: Content,
    /// An optional participant name.
    #[serde(default)]
    pub name: Option<String>,
    /// Assistant messages: the tools the model called.
    #[serde(default, deserialize_with = "message_calls::deserialize")]
    pub tool_calls: Vec<ToolCall>,
    /// Tool messages: the id of the call this answers.
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

fn empty_content() -> Content {
    Content::Text(String::new())
}

fn content_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Content, D::Error> {
    Ok(Option::<Content>::deserialize(d)?.unwrap_or_else(empty_content))
}

impl Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        // A tool-calling assistant message without text has no content (the documented
        // form; Anthropic refuses empty text blocks).
        let no_content = !self.tool_calls.is_empty()
            && matches!(&self.content, Content::Text(t) if t.is_empty());
        let mut m = s.serialize_struct("Message", 5)?;
        m.serialize_field("role", &self.role)?;
        if !no_content {
            m.serialize_field("content", &self.content)?;
        }
        if let Some(name) = &self.name {
            m.serialize_field("name", name)?;
        }
        if !self.tool_calls.is_empty() {
            m.serialize_field("tool_calls", &message_calls::Calls(&self.tool_calls))?;
        }
        if let Some(id) = &self.tool_call_id {
            m.serialize_field("tool_call_id", id)?;
        }
        m.end()
    }
}

impl Message {
    /// A message with text content.
    pub fn new(role: Role, text: impl Into<String>) -> Message {
        Message::with_content(role, Content::Text(text.into()))
    }
    /// A message with any content (text or parts).
    pub fn with_content(role: Role, content: Content) -> Message {
        Message {
            role,
            content,
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
    /// A user message.
    pub fn user(text: impl Into<String>) -> Message {
        Message::new(Role::User, text)
    }
    /// A system message.
    pub fn system(text: impl Into<String>) -> Message {
        Message::new(Role::System, text)
    }
    /// An assistant message.
    pub fn assistant(text: impl Into<String>) -> Message {
        Message::new(Role::Assistant, text)
    }
    /// An assistant message that calls tools (a reply's [`Response::tool_calls`]), to send
    /// back before the tools' results. [`Response::assistant_message`] also keeps the
    /// reply's text and Anthropic thinking.
    pub fn assistant_tool_calls(calls: Vec<ToolCall>) -> Message {
        Message {
            tool_calls: calls,
            ..Message::assistant("")
        }
    }
    /// A tool's result answering the call `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Message {
        Message {
            tool_call_id: Some(tool_call_id.into()),
            ..Message::new(Role::Tool, content)
        }
    }
}

/// Admission order: classes first, FIFO within a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Admitted first.
    High,
    /// The default.
    Normal,
    /// Admitted last.
    Low,
}

/// Structured output: the reply must be a JSON document matching `schema`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchema {
    /// A name for the schema (`"pet"`).
    pub name: String,
    /// The JSON Schema.
    pub schema: serde_json::Value,
    /// Strict mode where the provider has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// A description sent with the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl JsonSchema {
    /// A strict schema named `name`.
    pub fn new(name: impl Into<String>, schema: serde_json::Value) -> JsonSchema {
        JsonSchema {
            name: name.into(),
            schema,
            strict: Some(true),
            description: None,
        }
    }
}

/// A request (docs/schema.md). Build it with the struct literal or the helpers:
///
/// ```
/// use llmsvc::{Message, Request};
/// let r = Request::new("gpt-4o-mini")
///     .message(Message::system("Answer in one word."))
///     .message(Message::user("Sentiment of: I loved it"))
///     .max_output_tokens(5);
/// assert_eq!(r.messages.len(), 2);
/// let p = Request { prompt: Some("Hello".into()), ..Request::default() };
/// assert!(p.model.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The model; required unless the client has a default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The conversation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// Shorthand for one user message (instead of `messages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Sent as a leading system message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Upper bound of output tokens; also what the TPM gate reserves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// 0..2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Up to 4 stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// Sampling seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// End-user id passed to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Usage grouping in the ledger (`"default"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Admission class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Overall deadline from submit: queueing, attempts and backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Echoed in the result, never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Echoed in the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// W3C Trace Context (`VERSION-TRACEID-PARENTID-FLAGS`, lowercase hex), sent to the
    /// provider as the `traceparent` header of every attempt; its trace id is the default
    /// `trace_id`. With telemetry on (feature `otel`) and none given, the request span's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// W3C `tracestate`, sent with `traceparent` (which it needs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
    /// Structured output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<JsonSchema>,
    /// `"minimal"`, `"low"`, `"medium"` or `"high"` (OpenAI reasoning models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Continue a stored response (`openai_responses` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// The functions the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Whether and which tool the model must call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether the model may call several tools at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// -2..2 (OpenAI Chat Completions, Ollama).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// -2..2 (OpenAI Chat Completions, Ollama).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Token id to a bias of -100..100 (OpenAI Chat Completions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logit_bias: Option<BTreeMap<u32, i32>>,
    /// Choices to generate, 1..128 (OpenAI Chat Completions, not streamed); the result's
    /// [`Response::choices`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Token log probabilities in [`Response::logprobs`] (OpenAI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    /// 0..20 alternatives per token; needs `logprobs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    /// Text, JSON mode, or a JSON Schema (the same as `json_schema`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// OpenAI's processing tier; the one used is [`Response::service_tier`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<ServiceTier>,
    /// Anthropic, Ollama.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Anthropic's name for `stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Anthropic extended thinking (Ollama: `think`); the text is [`Response::thinking`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    /// OpenAI's prompt-cache routing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    /// Merged into the provider's wire body as is, for a field not modelled yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_body: Option<serde_json::Map<String, serde_json::Value>>,
    /// More headers for this request's attempts; never the credentials or framing
    /// headers (refused at submit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_headers: Option<BTreeMap<String, String>>,
    /// Instead of `messages` or `prompt`: an embeddings request, one vector per input in
    /// [`Response::embeddings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
    /// Shorter vectors, for an embeddings model that offers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
}

/// The input of an embeddings request (`request.input`): a vector for each text or list
/// of token ids.
///
/// ```
/// use llmsvc::Request;
/// let r = Request::new("text-embedding-3-small").input(["a", "b"]).dimensions(8);
/// assert_eq!(
///     serde_json::to_value(&r).unwrap(),
///     serde_json::json!({"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 8})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Input {
    /// One text.
    Text(String),
    /// Several texts.
    Texts(Vec<String>),
    /// One list of token ids.
    Tokens(Vec<u32>),
    /// Several lists of token ids.
    TokenLists(Vec<Vec<u32>>),
}

impl From<&str> for Input {
    fn from(text: &str) -> Input {
        Input::Text(text.to_owned())
    }
}

impl From<String> for Input {
    fn from(text: String) -> Input {
        Input::Text(text)
    }
}

impl From<Vec<String>> for Input {
    fn from(texts: Vec<String>) -> Input {
        Input::Texts(texts)
    }
}

impl From<Vec<&str>> for Input {
    fn from(texts: Vec<&str>) -> Input {
        Input::Texts(texts.into_iter().map(str::to_owned).collect())
    }
}

impl<const N: usize> From<[&str; N]> for Input {
    fn from(texts: [&str; N]) -> Input {
        Input::Texts(texts.into_iter().map(str::to_owned).collect())
    }
}

/// The form of the answer (`request.response_format`).
///
/// ```
/// assert_eq!(
///     serde_json::to_string(&llmsvc::ResponseFormat::JsonObject).unwrap(),
///     r#"{"type":"json_object"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Plain text.
    Text,
    /// JSON mode: the answer is a JSON object, parsed into [`Response::json`] (OpenAI,
    /// Ollama; OpenAI Chat wants the word "json" in a message).
    JsonObject,
    /// Structured output, as [`Request::json_schema`].
    JsonSchema {
        /// The schema.
        json_schema: JsonSchema,
    },
}

/// OpenAI's processing tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceTier {
    /// The project's setting.
    Auto,
    /// Standard.
    Default,
    /// Slower and cheaper.
    Flex,
    /// Faster and dearer.
    Priority,
}

/// Extended thinking (`request.thinking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Thinking {
    /// Think first, within `budget_tokens` (at least 1024, below `max_output_tokens`).
    Enabled {
        /// The thinking budget.
        budget_tokens: u32,
    },
    /// No thinking.
    Disabled,
}

impl Request {
    /// An empty request for `model`.
    pub fn new(model: impl Into<String>) -> Request {
        Request {
            model: Some(model.into()),
            ..Request::default()
        }
    }
    /// Sets the one-user-message shorthand.
    pub fn prompt(mut self, text: impl Into<String>) -> Request {
        self.prompt = Some(text.into());
        self
    }
    /// Appends a message.
    pub fn message(mut self, m: Message) -> Request {
        self.messages.push(m);
        self
    }
    /// Sets the output bound.
    pub fn max_output_tokens(mut self, n: u64) -> Request {
        self.max_output_tokens = Some(n);
        self
    }
    /// Sets the usage grouping.
    pub fn operation(mut self, op: impl Into<String>) -> Request {
        self.operation = Some(op.into());
        self
    }
    /// Asks for a JSON document matching `schema`.
    pub fn json_schema(mut self, schema: JsonSchema) -> Request {
        self.json_schema = Some(schema);
        self
    }
    /// Offers a tool.
    pub fn tool(mut self, tool: Tool) -> Request {
        self.tools.push(tool);
        self
    }
    /// Sets whether and which tool the model must call.
    pub fn tool_choice(mut self, choice: ToolChoice) -> Request {
        self.tool_choice = Some(choice);
        self
    }
    /// Makes it an embeddings request for `input` (one vector per text or token list).
    pub fn input(mut self, input: impl Into<Input>) -> Request {
        self.input = Some(input.into());
        self
    }
    /// Asks an embeddings model for vectors of `n` dimensions.
    pub fn dimensions(mut self, n: u32) -> Request {
        self.dimensions = Some(n);
        self
    }
}

/// A function the model may call (`request.tools[]`), written as OpenAI Chat Completions
/// takes it: `{"type": "function", "function": {"name", "description", "parameters",
/// "strict"}}`. The core maps it to each provider's form and compiles `parameters` at
/// submit (a schema that is not one is refused, naming the field).
///
/// ```
/// use llmsvc::Tool;
/// let t = Tool::new("get_weather")
///     .description("The current weather in a city")
///     .parameters(serde_json::json!({
///         "type": "object",
///         "properties": {"city": {"type": "string"}},
///         "required": ["city"]
///     }))
///     .strict(true);
/// assert_eq!(
///     serde_json::to_value(&t).unwrap()["function"]["name"],
///     "get_weather"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "ToolWire", try_from = "ToolWire")]
pub struct Tool {
    /// 1 to 64 letters, digits, `_` or `-`; unique among the request's tools.
    pub name: String,
    /// What the tool does, for the model.
    pub description: Option<String>,
    /// The JSON Schema of the arguments (an object schema).
    pub parameters: Option<Value>,
    /// Arguments checked against `parameters` like structured output.
    pub strict: Option<bool>,
    /// An Anthropic prompt-cache breakpoint after this tool.
    pub cache_control: Option<CacheControl>,
}

impl Tool {
    /// A tool named `name` without description or parameters.
    pub fn new(name: impl Into<String>) -> Tool {
        Tool {
            name: name.into(),
            ..Tool::default()
        }
    }
    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Tool {
        self.description = Some(text.into());
        self
    }
    /// Sets the JSON Schema of the arguments.
    pub fn parameters(mut self, schema: Value) -> Tool {
        self.parameters = Some(schema);
        self
    }
    /// Sets strict mode.
    pub fn strict(mut self, strict: bool) -> Tool {
        self.strict = Some(strict);
        self
    }
    /// Sets an Anthropic prompt-cache breakpoint after this tool.
    pub fn cache_control(mut self, cc: CacheControl) -> Tool {
        self.cache_control = Some(cc);
        self
    }
}

/// The wire form of a [`Tool`]: the function's members nested under `function`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolWire {
    #[serde(rename = "type")]
    kind: String,
    function: FunctionWire,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionWire {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

impl From<Tool> for ToolWire {
    fn from(t: Tool) -> ToolWire {
        let (name, description, parameters, strict) =
            (t.name, t.description, t.parameters, t.strict);
        let function = FunctionWire {
            name,
            description,
            parameters,
            strict,
        };
        ToolWire {
            kind: "function".into(),
            function,
            cache_control: t.cache_control,
        }
    }
}

impl TryFrom<ToolWire> for Tool {
    type Error = String;
    fn try_from(w: ToolWire) -> Result<Tool, String> {
        if w.kind != "function" {
            return Err(format!("tool type {:?}: expected \"function\"", w.kind));
        }
        let FunctionWire {
            name,
            description,
            parameters,
            strict,
        } = w.function;
        let cache_control = w.cache_control;
        Ok(Tool {
            name,
            description,
            parameters,
            strict,
            cache_control,
        })
    }
}

/// Whether and which tool the model must call (`request.tool_choice`).
///
/// ```
/// use llmsvc::ToolChoice;
/// assert_eq!(serde_json::to_value(ToolChoice::Required).unwrap(), "required");
/// assert_eq!(
///     serde_json::to_string(&ToolChoice::function("get_weather")).unwrap(),
///     r#"{"type":"function","function":{"name":"get_weather"}}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ToolChoice {
    /// The model decides (the default with tools).
    Auto,
    /// No tool call.
    None,
    /// At least one tool call (Anthropic's `any`; Ollama refuses it).
    Required,
    /// A call of this tool (Ollama refuses it).
    Function(String),
}

impl ToolChoice {
    /// A call of the tool `name`.
    pub fn function(name: impl Into<String>) -> ToolChoice {
        ToolChoice::Function(name.into())
    }
}

impl Serialize for ToolChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolChoice::Auto => s.serialize_str("auto"),
            ToolChoice::None => s.serialize_str("none"),
            ToolChoice::Required => s.serialize_str("required"),
            ToolChoice::Function(name) => {
                #[derive(Serialize)]
                struct Wire<'a> {
                    #[serde(rename = "type")]
                    kind: &'a str,
                    function: BTreeMap<&'a str, &'a str>,
                }
                let function = BTreeMap::from([("name", name.as_str())]);
                Wire {
                    kind: "function",
                    function,
                }
                .serialize(s)
            }
        }
    }
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ToolChoice, D::Error> {
        use serde::de::Error;
        // Both forms the core reads: {"type", "function": {"name"}} and {"type", "name"}.
        match Value::deserialize(d)? {
            Value::String(m) => match m.as_str() {
                "auto" => Ok(ToolChoice::Auto),
                "none" => Ok(ToolChoice::None),
                "required" => Ok(ToolChoice::Required),
                _ => Err(D::Error::custom(format!(
                    "tool_choice {m:?}: expected auto, none, required or a named tool"
                ))),
            },
            Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
                let name = o
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .or(o.get("name"));
                match name.and_then(Value::as_str) {
                    Some(name) => Ok(ToolChoice::function(name)),
                    None => Err(D::Error::custom("tool_choice names no tool")),
                }
            }
            other => Err(D::Error::custom(format!(
                "tool_choice {other}: expected a string or {{\"type\": \"function\", ...}}"
            ))),
        }
    }
}

/// A tool call: in a result ([`Response::tool_calls`], as the core reports it) and in an
/// assistant message sent back in the next round ([`Message::assistant_tool_calls`], where
/// only `id`, `name` and `arguments` go).
///
/// ```
/// # #[derive(serde::Deserialize)] struct Weather { city: String }
/// let call = llmsvc::ToolCall::new("call_1", "get_weather", r#"{"city":"Paris"}"#);
/// let args: Weather = call.arguments_as().unwrap();
/// assert_eq!(args.city, "Paris");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolCall {
    /// The call's id; a tool message answers it with this `tool_call_id`.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments' JSON text as the model wrote it.
    pub arguments: String,
    /// The arguments parsed, when they are a JSON object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments_json: Option<Value>,
    /// Why the arguments are not usable: not a JSON object, or how they miss a non-strict
    /// tool's schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments_error: Option<String>,
    /// True when the model named a tool the request did not offer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unknown_tool: bool,
}

impl ToolCall {
    /// A call of `name` with `arguments` (JSON text), as an assistant message carries it.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
            ..ToolCall::default()
        }
    }
}

/// `tool_calls` of an assistant message in OpenAI's form:
/// `{"id", "type": "function", "function": {"name", "arguments"}}`.
mod message_calls {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Call<'a, A> {
        id: Cow<'a, str>,
        #[serde(rename = "type", default)]
        kind: Cow<'a, str>,
        function: Function<'a, A>,
    }

    #[derive(Serialize, Deserialize)]
    struct Function<'a, A> {
        name: Cow<'a, str>,
        arguments: A,
    }

    /// Serializes a message's calls in the wire form.
    pub(super) struct Calls<'a>(pub(super) &'a [ToolCall]);

    impl Serialize for Calls<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(|c| Call {
                id: Cow::Borrowed(&c.id),
                kind: Cow::Borrowed("function"),
                function: Function {
                    name: Cow::Borrowed(&c.name),
                    arguments: &c.arguments,
                },
            }))
        }
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<ToolCall>, D::Error> {
        let calls = Option::<Vec<Call<Value>>>::deserialize(d)?.unwrap_or_default();
        let call = |c: Call<Value>| {
            // Arguments are JSON text; the core also reads them written as an object.
            let arguments = match c.function.arguments {
                Value::String(s) => s,
                v => v.to_string(),
            };
            ToolCall::new(c.id, c.function.name, arguments)
        };
        Ok(calls.into_iter().map(call).collect())
    }
}

/// What went wrong with a request (`llmsvc_error_kind`), named as in result documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// 429 retries spent, or the server asked for too long a wait.
    RateLimited = 1,
    /// Billing quota; never retried.
    InsufficientQuota,
    /// The provider does not serve this region.
    UnsupportedRegion,
    /// 401: invalid or missing key.
    Auth,
    /// 403.
    Permission,
    /// 400 or 422 from the provider.
    BadRequest,
    /// 404, e.g. an unknown model.
    NotFound,
    /// 409 retries spent.
    Conflict,
    /// 5xx retries spent.
    ServerError,
    /// 408 or transfer timeout, retries spent.
    Timeout,
    /// Connection refused or reset, TLS, DNS.
    Connection,
    /// Cancelled (a dropped future or stream).
    Cancelled,
    /// The request's `timeout_ms` passed.
    DeadlineExceeded,
    /// The client closed before the request completed.
    ShutDown,
    /// Rejected before sending.
    InvalidRequest,
    /// The provider's reply made no sense.
    Protocol,
    /// A budget was exceeded.
    BudgetExceeded,
    /// The output does not match the request's JSON Schema.
    SchemaMismatch,
    /// Its priority's queue was full, or it would have waited too long; not sent.
    LoadShed = 20,
    /// A bug in llmsvc; also a kind newer than this binding.
    #[serde(other)]
    Internal = 19,
}

impl ErrorKind {
    /// Every kind, in the order of the core's numbers (1, 2, ...).
    const ALL: [ErrorKind; 20] = {
        use ErrorKind::*;
        [
            RateLimited,
            InsufficientQuota,
            UnsupportedRegion,
            Auth,
            Permission,
            BadRequest,
            NotFound,
            Conflict,
            ServerError,
            Timeout,
            Connection,
            Cancelled,
            DeadlineExceeded,
            ShutDown,
            InvalidRequest,
            Protocol,
            BudgetExceeded,
            SchemaMismatch,
            Internal,
            LoadShed,
        ]
    };

    /// The kind of a core number (`llmsvc_error_kind`); `None` for success (0).
    pub(crate) fn from_code(code: i64) -> Option<ErrorKind> {
        let i = usize::try_from(code).ok()?.checked_sub(1)?;
        Some(
            ErrorKind::ALL
                .get(i)
                .copied()
                .unwrap_or(ErrorKind::Internal),
        )
    }

    /// The kind of a name; `None` for `"none"`, [`ErrorKind::Internal`] for one this
    /// binding does not know.
    pub(crate) fn from_name(name: &str) -> Option<ErrorKind> {
        let known = ErrorKind::ALL.into_iter().find(|k| k.name() == name);
        (name != "none").then(|| known.unwrap_or(ErrorKind::Internal))
    }

    /// The stable name used in result and metric documents (`"rate_limited"`, ...).
    pub fn name(self) -> &'static str {
        ffi::kind_name(self as i64)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong with a failed request (the `error` object of docs/schema.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetails {
    /// The error kind.
    pub kind: ErrorKind,
    /// The message, the provider's own message included.
    #[serde(default)]
    pub message: String,
    /// The HTTP status of the last attempt, when a response was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The provider's error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message: Option<String>,
    /// The provider's error type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_type: Option<String>,
    /// The provider's error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_code: Option<String>,
    /// The request parameter the provider blamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_param: Option<String>,
    /// The wait the server asked for (its last `retry-after`), in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<f64>,
    /// Schema mismatch: the JSON pointer of the first violation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Schema mismatch: the violated keyword.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Schema mismatch: the rejected output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

/// Token counts of a request (every attempt that got a reply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens, reasoning included.
    pub completion_tokens: u64,
    /// Input + output.
    pub total_tokens: u64,
    /// Input tokens read from the provider's cache.
    pub cached_tokens: u64,
    /// Input tokens written to the cache (Anthropic).
    pub cache_write_tokens: u64,
    /// Of those, the ones written for an hour (Anthropic, `ttl` `"1h"`).
    pub cache_write_1h_tokens: u64,
    /// Output tokens spent reasoning.
    pub reasoning_tokens: u64,
    /// True when the counts are estimates (a stream cut short).
    pub estimated: bool,
}

/// One attempt of a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attempt {
    /// Start, Unix milliseconds.
    pub start_unix_ms: u64,
    /// Start, ms after submit.
    pub start_ms: f64,
    /// Duration in ms.
    pub duration_ms: f64,
    /// HTTP status, 0 when no response was received.
    pub http_status: u16,
    /// `"none"` on success, else an error kind name.
    pub kind: String,
    /// The wait before the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_ms: Option<f64>,
    /// `"server"` (retry-after) or `"client"` (backoff policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_source: Option<String>,
    /// The provider's request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The deployment it went to; `None` without configured deployments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// Input tokens of this attempt's reply; `None` when it got none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    /// Output tokens of this attempt's reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    /// What this attempt cost, in billionths of a USD; `None` when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_nano_usd: Option<u64>,
    /// Time it was held by the gates before it was sent (from submit, or from the end of
    /// the backoff before it), ms. Not in the result document.
    #[serde(skip)]
    pub gate_wait_ms: f64,
}

impl Attempt {
    /// The attempt's error kind; `None` when it succeeded.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        ErrorKind::from_name(&self.kind).filter(|_| !self.kind.is_empty())
    }
}

/// Timing of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timing {
    /// Submit time, Unix milliseconds.
    pub submit_unix_ms: u64,
    /// Submit to completion, ms.
    pub total_ms: f64,
    /// Time spent inside llmsvc, µs (network excluded).
    pub overhead_us: f64,
    /// Streams: time to the first text, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<f64>,
    /// Time held by the gates (rate windows, concurrency, budgets), summed over the
    /// attempts, ms. Not in the result document.
    #[serde(skip)]
    pub gate_wait_ms: f64,
}

/// One of several choices of a reply (`n` > 1; [`Response::choices`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Choice {
    /// Its position, from 0.
    pub index: u32,
    /// Its text.
    pub text: String,
    /// Why it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Its tool calls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Its token log probabilities, as the provider sent them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

/// One typed piece of a streamed reply ([`Client::stream_pieces`](crate::Client::stream_pieces)).
///
/// A tool call arrives as one [`Piece::ToolCall`] (its id and name) followed by its
/// arguments in [`Piece::ToolArguments`] pieces; `index` tells the calls apart. The final
/// [`Response`] carries the assembled calls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Piece {
    /// The next piece of the answer's text.
    Text(String),
    /// Tool call `index` begins.
    ToolCall {
        /// The call's position in the reply, from 0.
        index: u32,
        /// The call's id.
        id: String,
        /// The tool's name.
        name: String,
    },
    /// The next piece of call `index`'s arguments (JSON text).
    ToolArguments {
        /// The call's position in the reply.
        index: u32,
        /// The piece.
        delta: String,
    },
}

impl Piece {
    /// The piece a result of the core carries; `None` for a kind newer than this binding
    /// (the completion has it all).
    pub(crate) fn from_raw(raw: &RawResult) -> Option<Piece> {
        let (kind, index, [id, name, text]) = raw.piece()?;
        Some(match kind {
            sys::LLMSVC_PIECE_TEXT => Piece::Text(text.into_owned()),
            sys::LLMSVC_PIECE_TOOL_CALL => Piece::ToolCall {
                index,
                id: id.into_owned(),
                name: name.into_owned(),
            },
            sys::LLMSVC_PIECE_TOOL_ARGUMENTS => Piece::ToolArguments {
                index,
                delta: text.into_owned(),
            },
            _ => return None,
        })
    }
}

/// The result document (docs/schema.md) as the core wrote it, kept with the result and
/// read only when asked for.
#[derive(Clone, Default)]
pub struct RawJson(Option<Arc<RawResult>>);

impl RawJson {
    /// The document; "" for a [`Response`] this crate did not receive from the core.
    pub fn text(&self) -> Cow<'_, str> {
        self.0.as_ref().map_or(Cow::Borrowed(""), |r| r.json())
    }

    /// The document, parsed.
    pub fn value(&self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.text())
    }
}

impl PartialEq for RawJson {
    /// Always true: the document says what the typed members say.
    fn eq(&self, _: &RawJson) -> bool {
        true
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJson({} bytes)", self.text().len())
    }
}

/// The result of a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Response {
    /// The request id.
    pub id: u64,
    /// True on success.
    pub ok: bool,
    /// The request's model.
    pub model: Option<String>,
    /// The request's operation.
    pub operation: Option<String>,
    /// The deployment that served it (or gave the final answer); `None` without
    /// configured deployments.
    pub deployment: Option<String>,
    /// The request's trace id.
    pub trace_id: Option<String>,
    /// The provider as the OpenTelemetry GenAI conventions name it (`gen_ai.provider.name`:
    /// `"openai"`, `"anthropic"`, `"azure.ai.openai"`, `"ollama"`). Not in the result
    /// document.
    #[serde(skip)]
    pub provider_name: Option<String>,
    /// The host of the server that answered last (of the base URL). Not in the result
    /// document.
    #[serde(skip)]
    pub server_address: Option<String>,
    /// The port of the server that answered last (the scheme's default when the URL has
    /// none). Not in the result document.
    #[serde(skip)]
    pub server_port: Option<u16>,
    /// `"memory"` or `"sqlite"` when served from the response cache (also the document's
    /// `cache` object).
    #[serde(skip)]
    pub cache_hit: Option<String>,
    /// The request's metadata.
    pub metadata: Option<Value>,
    /// The reply text ("" on error).
    pub text: String,
    /// `"stop"`, `"length"`, ...
    pub finish_reason: Option<String>,
    /// The provider's response id.
    pub response_id: Option<String>,
    /// The model the provider answered with.
    pub response_model: Option<String>,
    /// Token counts; `None` when no reply was received, or when the provider's counts
    /// were unreadable (`usage_unreadable`).
    pub usage: Option<Usage>,
    /// True when the provider's usage counts were not counts; `usage` and the cost are
    /// then unknown.
    pub usage_unreadable: bool,
    /// Cost in billionths of a USD; `None` when unknown (never a made-up zero).
    pub cost_nano_usd: Option<u64>,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// Timing.
    pub timing: Timing,
    /// Structured output (the validated document) or JSON mode (the parsed object).
    pub json: Option<Value>,
    /// The tools the model called (`finish_reason` is then `"tool_calls"`).
    pub tool_calls: Vec<ToolCall>,
    /// With `n` > 1, every choice (the first is also `text`, `tool_calls`, ...).
    pub choices: Vec<Choice>,
    /// Token log probabilities, as the provider sent them.
    pub logprobs: Option<Value>,
    /// The tier the provider used.
    pub service_tier: Option<String>,
    /// Anthropic extended thinking (Ollama: `think`), apart from the answer.
    pub thinking: Option<String>,
    /// The thinking's signature, sent back with it in the next tool round.
    pub thinking_signature: Option<String>,
    /// The vectors of an embeddings request ([`Request::input`]), one per input in their
    /// order, copied out of the result without JSON (libllmsvc 0.5; empty for other
    /// requests, and with an older library).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub embeddings: Vec<Vec<f32>>,
    /// On error, what went wrong (moved into [`Failure`](crate::Failure) by this crate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetails>,
    /// The whole result document, for members this binding does not type (the `cache`
    /// object, members of newer versions).
    #[serde(skip)]
    pub raw: RawJson,
}

impl Response {
    /// The cost in USD, if known.
    pub fn cost_usd(&self) -> Option<f64> {
        self.cost_nano_usd.map(|n| n as f64 / 1e9)
    }

    /// The assistant message to send back in the next tool round: this reply's tool
    /// calls, its text and, with Anthropic extended thinking, its thinking with the
    /// signature (which Anthropic requires back).
    pub fn assistant_message(&self) -> Message {
        let content = match (&self.thinking, &self.thinking_signature) {
            (Some(thinking), Some(signature)) => {
                let mut parts = vec![ContentPart::Thinking {
                    thinking: thinking.clone(),
                    signature: signature.clone(),
                }];
                if !self.text.is_empty() {
                    parts.push(ContentPart::text(self.text.clone()));
                }
                Content::Parts(parts)
            }
            _ => Content::Text(self.text.clone()),
        };
        Message {
            tool_calls: self.tool_calls.clone(),
            ..Message::with_content(Role::Assistant, content)
        }
    }

    /// Builds the result from the core's typed getters; the JSON document is read only
    /// for members that have no getter, when they are there or the request asked for them.
    pub(crate) fn from_raw(raw: RawResult, asked: Asked) -> serde_json::Result<Response> {
        use sys::*;
        let n = raw.numbers();
        let num = |k: c_int| Some(n[k as usize]).filter(|&v| v != LLMSVC_UNKNOWN);
        let count = |k: c_int| num(k).map_or(0, |v| v as u64);
        let string = |k: c_int| nonempty(raw.string(k));
        let usage = num(LLMSVC_NUM_PROMPT_TOKENS).map(|prompt| Usage {
            prompt_tokens: prompt as u64,
            completion_tokens: count(LLMSVC_NUM_COMPLETION_TOKENS),
            total_tokens: prompt as u64 + count(LLMSVC_NUM_COMPLETION_TOKENS),
            cached_tokens: count(LLMSVC_NUM_CACHED_TOKENS),
            cache_write_tokens: count(LLMSVC_NUM_CACHE_WRITE_TOKENS),
            cache_write_1h_tokens: 0,
            reasoning_tokens: count(LLMSVC_NUM_REASONING_TOKENS),
            estimated: n[LLMSVC_NUM_USAGE as usize] == 2,
        });
        let error = ErrorKind::from_code(n[LLMSVC_NUM_KIND as usize]).map(|kind| ErrorDetails {
            kind,
            message: raw.string(LLMSVC_STR_ERROR_MESSAGE).into_owned(),
            http_status: Some(count(LLMSVC_NUM_HTTP_STATUS) as u16),
            provider_message: string(LLMSVC_STR_PROVIDER_MESSAGE),
            provider_type: string(LLMSVC_STR_PROVIDER_ERROR_TYPE),
            provider_code: string(LLMSVC_STR_PROVIDER_ERROR_CODE),
            provider_param: None,
            retry_after_ms: num(LLMSVC_NUM_RETRY_AFTER_MS).map(|ms| ms as f64),
            pointer: None,
            keyword: None,
            output: None,
        });
        let choices = match count(LLMSVC_NUM_CHOICES) {
            0 | 1 => Vec::new(),
            c => (0..c as usize).map(|i| choice(&raw, i)).collect(),
        };
        let timing = Timing {
            submit_unix_ms: count(LLMSVC_NUM_SUBMIT_UNIX_MS),
            total_ms: count(LLMSVC_NUM_TOTAL_NS) as f64 / 1e6,
            overhead_us: count(LLMSVC_NUM_OVERHEAD_NS) as f64 / 1e3,
            first_token_ms: num(LLMSVC_NUM_FIRST_TOKEN_NS).map(|ns| ns as f64 / 1e6),
            gate_wait_ms: count(LLMSVC_NUM_GATE_WAIT_NS) as f64 / 1e6,
        };
        let cache_hit = match n[LLMSVC_NUM_CACHE_HIT as usize] {
            1 => Some("memory".to_owned()),
            2 => Some("sqlite".to_owned()),
            _ => None,
        };
        let mut r = Response {
            id: raw.id(),
            ok: error.is_none(),
            model: string(LLMSVC_STR_MODEL),
            operation: string(LLMSVC_STR_OPERATION),
            deployment: string(LLMSVC_STR_DEPLOYMENT),
            trace_id: string(LLMSVC_STR_TRACE_ID),
            provider_name: string(LLMSVC_STR_PROVIDER),
            server_address: string(LLMSVC_STR_SERVER_ADDRESS),
            server_port: num(LLMSVC_NUM_SERVER_PORT)
                .and_then(|p| u16::try_from(p).ok())
                .filter(|&p| p != 0),
            cache_hit,
            text: raw.string(LLMSVC_STR_TEXT).into_owned(),
            finish_reason: string(LLMSVC_STR_FINISH_REASON),
            response_id: string(LLMSVC_STR_RESPONSE_ID),
            response_model: string(LLMSVC_STR_RESPONSE_MODEL),
            usage,
            usage_unreadable: n[LLMSVC_NUM_USAGE as usize] == 3,
            cost_nano_usd: num(LLMSVC_NUM_COST_NANO_USD).map(|c| c as u64),
            attempts: (0..count(LLMSVC_NUM_ATTEMPTS) as usize)
                .map(|i| attempt(&raw, i))
                .collect(),
            timing,
            tool_calls: tool_calls(&raw, 0, count(LLMSVC_NUM_TOOL_CALLS) as usize),
            choices,
            service_tier: string(LLMSVC_STR_SERVICE_TIER),
            thinking: string(LLMSVC_STR_THINKING),
            embeddings: match count(LLMSVC_NUM_EMBEDDINGS) {
                n if n > 0 && ffi::version_number() >= 500 => (0..n as usize)
                    .map(|i| raw.embedding(i).unwrap_or_default())
                    .collect(),
                _ => Vec::new(),
            },
            error,
            ..Response::default()
        };
        if r.wants_document(asked) {
            r.merge(serde_json::from_str(&raw.json())?);
        }
        r.raw = RawJson(Some(Arc::new(raw)));
        Ok(r)
    }

    /// True when the document has members that have no getter: asked for by the request
    /// (metadata, structured output, logprobs) or told by the getters (tool calls,
    /// thinking, cache writes, provider and schema error details).
    fn wants_document(&self, asked: Asked) -> bool {
        let calls =
            !self.tool_calls.is_empty() || self.choices.iter().any(|c| !c.tool_calls.is_empty());
        let written = self.usage.is_some_and(|u| u.cache_write_tokens > 0);
        let details = self.error.as_ref().is_some_and(|e| {
            let provider = [&e.provider_message, &e.provider_type, &e.provider_code];
            e.kind == ErrorKind::SchemaMismatch || provider.iter().any(|p| p.is_some())
        });
        asked.metadata
            || (self.ok && (asked.json || asked.logprobs || calls || self.thinking.is_some()))
            || written
            || details
    }

    fn merge(&mut self, doc: Document) {
        (self.metadata, self.json, self.logprobs) = (doc.metadata, doc.json, doc.logprobs);
        self.thinking_signature = doc.thinking_signature;
        if let (Some(u), Some(d)) = (&mut self.usage, doc.usage) {
            u.cache_write_1h_tokens = d.cache_write_1h_tokens;
        }
        merge_calls(&mut self.tool_calls, doc.tool_calls);
        for (c, d) in self.choices.iter_mut().zip(doc.choices) {
            c.logprobs = d.logprobs;
            merge_calls(&mut c.tool_calls, d.tool_calls);
        }
        if let (Some(e), Some(d)) = (&mut self.error, doc.error) {
            (e.provider_param, e.pointer, e.keyword, e.output) =
                (d.provider_param, d.pointer, d.keyword, d.output);
        }
    }
}

/// What a request asked for that only the result document carries.
#[derive(Clone, Copy, Default)]
pub(crate) struct Asked {
    json: bool,
    metadata: bool,
    logprobs: bool,
}

impl Request {
    pub(crate) fn asked(&self) -> Asked {
        let format = matches!(
            self.response_format,
            Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })
        );
        Asked {
            json: format || self.json_schema.is_some(),
            metadata: self.metadata.is_some(),
            logprobs: self.logprobs == Some(true),
        }
    }
}

/// The members of a result document that have no typed getter.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Document {
    metadata: Option<Value>,
    json: Option<Value>,
    logprobs: Option<Value>,
    thinking_signature: Option<String>,
    usage: Option<Usage>,
    tool_calls: Vec<ToolCall>,
    choices: Vec<Choice>,
    error: Option<ErrorDetails>,
}

fn nonempty(s: Cow<'_, str>) -> Option<String> {
    (!s.is_empty()).then(|| s.into_owned())
}

/// Takes from the document what the getters do not give of each call.
fn merge_calls(calls: &mut [ToolCall], doc: Vec<ToolCall>) {
    for (c, d) in calls.iter_mut().zip(doc) {
        (c.arguments_json, c.arguments_error, c.unknown_tool) =
            (d.arguments_json, d.arguments_error, d.unknown_tool);
    }
}

fn tool_calls(raw: &RawResult, choice: usize, n: usize) -> Vec<ToolCall> {
    let call = |j| {
        raw.tool_call(choice, j)
            .map(|[id, name, args]| ToolCall::new(id, name, args))
    };
    (0..n).filter_map(call).collect()
}

fn choice(raw: &RawResult, i: usize) -> Choice {
    let (text, finish, calls) = raw.choice(i).unwrap_or_default();
    Choice {
        index: i as u32,
        text: text.into_owned(),
        finish_reason: nonempty(finish),
        tool_calls: tool_calls(raw, i, calls),
        logprobs: None,
    }
}

fn attempt(raw: &RawResult, i: usize) -> Attempt {
    use sys::*;
    let (n, request_id, deployment) = raw.attempt(i);
    let get = |k: c_int| n[k as usize];
    let known = |k: c_int| {
        Some(get(k))
            .filter(|&v| v != LLMSVC_UNKNOWN)
            .map(|v| v as u64)
    };
    let backoff = get(LLMSVC_ATTEMPT_BACKOFF_SOURCE);
    Attempt {
        start_unix_ms: get(LLMSVC_ATTEMPT_START_UNIX_MS) as u64,
        start_ms: get(LLMSVC_ATTEMPT_START_NS) as f64 / 1e6,
        duration_ms: get(LLMSVC_ATTEMPT_DURATION_NS) as f64 / 1e6,
        http_status: get(LLMSVC_ATTEMPT_HTTP_STATUS) as u16,
        kind: ffi::kind_name(get(LLMSVC_ATTEMPT_KIND)).to_owned(),
        backoff_ms: (backoff != 0).then(|| get(LLMSVC_ATTEMPT_BACKOFF_NS) as f64 / 1e6),
        backoff_source: (backoff != 0)
            .then(|| if backoff == 2 { "server" } else { "client" }.into()),
        request_id: nonempty(request_id),
        deployment: nonempty(deployment),
        prompt_tokens: known(LLMSVC_ATTEMPT_PROMPT_TOKENS),
        completion_tokens: known(LLMSVC_ATTEMPT_COMPLETION_TOKENS),
        cost_nano_usd: known(LLMSVC_ATTEMPT_COST_NANO_USD),
        gate_wait_ms: known(LLMSVC_ATTEMPT_GATE_WAIT_NS).unwrap_or(0) as f64 / 1e6,
    }
}
