//! The JSON documents of docs/schema.md as typed structs: configuration, requests,
//! results. Members left `None` are not sent, so the core's defaults apply.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorDetails, ErrorKind};
use crate::tools::{message_calls, Choice, Tool, ToolCall, ToolChoice};

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
}

impl Attempt {
    /// The attempt's error kind; `None` when it succeeded.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        if self.kind == "none" || self.kind.is_empty() {
            None
        } else {
            serde_json::from_value(serde_json::Value::String(self.kind.clone())).ok()
        }
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
}

/// The result of a request (`llmsvc_result_json`, docs/schema.md).
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
    /// The request's metadata.
    pub metadata: Option<serde_json::Value>,
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
    pub json: Option<serde_json::Value>,
    /// The tools the model called (`finish_reason` is then `"tool_calls"`).
    pub tool_calls: Vec<ToolCall>,
    /// With `n` > 1, every choice (the first is also `text`, `tool_calls`, ...).
    pub choices: Vec<Choice>,
    /// Token log probabilities, as the provider sent them.
    pub logprobs: Option<serde_json::Value>,
    /// The tier the provider used.
    pub service_tier: Option<String>,
    /// Anthropic extended thinking (Ollama: `think`), apart from the answer.
    pub thinking: Option<String>,
    /// The thinking's signature, sent back with it in the next tool round.
    pub thinking_signature: Option<String>,
    /// On error, what went wrong (moved into [`Failure`](crate::Failure) by this crate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetails>,
    /// Members this binding does not know, kept as they came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
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

    /// The structured output converted to `T`.
    ///
    /// ```
    /// # #[derive(serde::Deserialize)] struct Pet { name: String }
    /// let r = llmsvc::Response { json: Some(serde_json::json!({"name": "Rex"})), ..Default::default() };
    /// let pet: Pet = r.json_as().unwrap();
    /// assert_eq!(pet.name, "Rex");
    /// ```
    #[cfg(feature = "serde")]
    pub fn json_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, crate::Error> {
        let doc = self.json.clone().ok_or_else(|| {
            crate::Error::Decode("the result has no structured output (no json_schema?)".into())
        })?;
        serde_json::from_value(doc).map_err(|e| crate::Error::Decode(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_leave_out_what_is_not_given() {
        assert_eq!(serde_json::to_value(Config::default()).unwrap(), json!({}));
        let c = Config {
            provider: Some(Provider::OpenaiResponses),
            limits: Some(Limits {
                rpm: Some(10),
                ..Limits::default()
            }),
            ..Config::default()
        };
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            json!({"provider": "openai_responses", "limits": {"rpm": 10}})
        );
    }

    #[test]
    fn deployments_follow_the_schema() {
        let c = Config {
            deployments: Some(vec![
                Deployment {
                    name: Some("a".into()),
                    model: Some("gpt-4o".into()),
                    api_key: Some("sk-secret".into()),
                    weight: Some(0),
                    ..Deployment::default()
                },
                Deployment {
                    group: Some("gpt-4o".into()),
                    provider: Some(Provider::Anthropic),
                    api_key_env: Some("KEY_B".into()),
                    limits: Some(Limits {
                        rpm: Some(50),
                        ..Limits::default()
                    }),
                    ..Deployment::default()
                },
            ]),
            routing: Some(Routing {
                strategy: Some(RoutingStrategy::LowestLatency),
                fallbacks: Some(BTreeMap::from([("*".to_owned(), vec!["a".to_owned()])])),
            }),
            ..Config::default()
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({
                "deployments": [
                    {"name": "a", "model": "gpt-4o", "api_key": "sk-secret", "weight": 0},
                    {"group": "gpt-4o", "provider": "anthropic", "api_key_env": "KEY_B",
                     "limits": {"rpm": 50}}
                ],
                "routing": {"strategy": "lowest_latency", "fallbacks": {"*": ["a"]}}
            })
        );
        assert!(!format!("{c:?}").contains("sk-secret"));
        let keys = Config {
            api_keys: Some(vec!["sk-one".into()]),
            ..Config::default()
        };
        assert!(!format!("{keys:?}").contains("sk-one"));
        let u = DeploymentUpdate::new("a")
            .enabled(false)
            .weight(3)
            .limits(Limits {
                tpm: Some(1000),
                ..Limits::default()
            });
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            json!({"name": "a", "enabled": false, "weight": 3, "limits": {"tpm": 1000}})
        );
    }

    #[test]
    fn requests_follow_the_schema() {
        let r = Request::new("m")
            .message(Message::system("s"))
            .message(Message::with_content(
                Role::User,
                Content::Parts(vec![
                    ContentPart::text("t"),
                    ContentPart::ImageUrl {
                        image_url: ImageUrl {
                            url: "data:x".into(),
                            detail: Some("low".into()),
                        },
                    },
                ]),
            ))
            .json_schema(JsonSchema::new("pet", json!({"type": "object"})));
        let r = Request {
            priority: Some(Priority::High),
            ..r
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({
                "model": "m",
                "messages": [
                    {"role": "system", "content": "s"},
                    {"role": "user", "content": [
                        {"type": "text", "text": "t"},
                        {"type": "image_url", "image_url": {"url": "data:x", "detail": "low"}}
                    ]}
                ],
                "priority": "high",
                "json_schema": {"name": "pet", "schema": {"type": "object"}, "strict": true}
            })
        );
    }

    #[test]
    fn tool_requests_follow_the_schema() {
        let weather = Tool::new("get_weather")
            .description("d")
            .parameters(json!({"type": "object"}))
            .strict(true);
        let call = ToolCall::new("call_1", "get_weather", r#"{"city":"Paris"}"#);
        let r = Request {
            parallel_tool_calls: Some(false),
            logit_bias: Some(BTreeMap::from([(50256, -100)])),
            n: Some(2),
            logprobs: Some(true),
            top_logprobs: Some(3),
            response_format: Some(ResponseFormat::JsonObject),
            service_tier: Some(ServiceTier::Flex),
            thinking: Some(Thinking::Enabled {
                budget_tokens: 2048,
            }),
            extra_headers: Some(BTreeMap::from([("x-tag".into(), "t".into())])),
            ..Request::new("m")
        }
        .tool(weather.clone())
        .tool(Tool::new("get_time").cache_control(CacheControl::ephemeral()))
        .tool_choice(ToolChoice::function("get_weather"))
        .message(Message::with_content(
            Role::System,
            Content::Parts(vec![ContentPart::cached_text(
                "rules",
                CacheControl::ephemeral().ttl(CacheTtl::OneHour),
            )]),
        ))
        .message(Message::user("Weather in Paris?"))
        .message(Message::assistant_tool_calls(vec![call.clone()]))
        .message(Message::tool("call_1", "18 C"));
        let doc = serde_json::to_value(&r).unwrap();
        assert_eq!(
            doc,
            json!({
                "model": "m",
                "messages": [
                    {"role": "system", "content": [{"type": "text", "text": "rules",
                        "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
                    {"role": "user", "content": "Weather in Paris?"},
                    {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                    {"role": "tool", "content": "18 C", "tool_call_id": "call_1"}
                ],
                "tools": [
                    {"type": "function", "function": {"name": "get_weather", "description": "d",
                        "parameters": {"type": "object"}, "strict": true}},
                    {"type": "function", "function": {"name": "get_time"},
                        "cache_control": {"type": "ephemeral"}}
                ],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                "parallel_tool_calls": false,
                "logit_bias": {"50256": -100},
                "n": 2, "logprobs": true, "top_logprobs": 3,
                "response_format": {"type": "json_object"},
                "service_tier": "flex",
                "thinking": {"type": "enabled", "budget_tokens": 2048},
                "extra_headers": {"x-tag": "t"}
            })
        );
        // The documents read back into the same values.
        assert_eq!(serde_json::from_value::<Request>(doc).unwrap(), r);
        for (choice, text) in [
            (ToolChoice::Auto, "\"auto\""),
            (ToolChoice::None, "\"none\""),
            (ToolChoice::Required, "\"required\""),
        ] {
            assert_eq!(serde_json::to_string(&choice).unwrap(), text);
            assert_eq!(serde_json::from_str::<ToolChoice>(text).unwrap(), choice);
        }
        let flat: ToolChoice =
            serde_json::from_value(json!({"type": "function", "name": "x"})).unwrap();
        assert_eq!(flat, ToolChoice::function("x"));
        assert!(serde_json::from_value::<ToolChoice>(json!("sometimes")).is_err());
        // A message with text beside its calls keeps it; arguments written as an object
        // read as their JSON text.
        let m = Message {
            tool_calls: vec![call],
            ..Message::assistant("Let me look.")
        };
        assert_eq!(serde_json::to_value(&m).unwrap()["content"], "Let me look.");
        let read: Message = serde_json::from_value(json!({"role": "assistant", "content": null,
            "tool_calls": [{"id": "c", "type": "function",
                            "function": {"name": "f", "arguments": {"a": 1}}}]}))
        .unwrap();
        assert_eq!(
            read,
            Message::assistant_tool_calls(vec![ToolCall::new("c", "f", r#"{"a":1}"#)])
        );
        let c = Config {
            headers: Some(BTreeMap::from([("x-secret-ish".into(), "v4lue".into())])),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("v4lue"));
    }

    #[test]
    fn tool_results_parse() {
        let doc = json!({
            "id": 4, "ok": true, "text": "", "finish_reason": "tool_calls",
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12,
                      "cached_tokens": 0, "cache_write_tokens": 9, "cache_write_1h_tokens": 9,
                      "reasoning_tokens": 0},
            "tool_calls": [
                {"id": "a", "name": "get_weather", "arguments": "{\"city\":\"Rome\"}",
                 "arguments_json": {"city": "Rome"}},
                {"id": "b", "name": "nope", "arguments": "[1", "arguments_error": "bad",
                 "unknown_tool": true}
            ],
            "choices": [{"index": 0, "text": "", "finish_reason": "tool_calls"},
                        {"index": 1, "text": "x", "logprobs": [{"token": "x"}]}],
            "logprobs": [{"token": "x", "logprob": -0.1}],
            "service_tier": "flex", "thinking": "hmm", "thinking_signature": "sig",
            "attempts": [], "timing": {"submit_unix_ms": 1, "total_ms": 1.0, "overhead_us": 1.0}
        });
        let r: Response = serde_json::from_value(doc).unwrap();
        assert!(r.extra.is_empty(), "every member is typed: {:?}", r.extra);
        assert_eq!(r.usage.unwrap().cache_write_1h_tokens, 9);
        assert_eq!(
            r.tool_calls[0].arguments_json,
            Some(json!({"city": "Rome"}))
        );
        assert!(r.tool_calls[1].unknown_tool && r.tool_calls[1].arguments_error.is_some());
        assert_eq!(r.choices[1].logprobs, Some(json!([{"token": "x"}])));
        assert_eq!(r.service_tier.as_deref(), Some("flex"));
        assert!(!r.usage_unreadable);
        #[derive(Deserialize)]
        struct Args {
            city: String,
        }
        assert_eq!(r.tool_calls[0].arguments_as::<Args>().unwrap().city, "Rome");
        assert!(r.tool_calls[1].arguments_as::<Args>().is_err());
        // The next round's assistant message carries the thinking back with the calls.
        assert_eq!(
            serde_json::to_value(r.assistant_message()).unwrap(),
            json!({"role": "assistant",
                   "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"}],
                   "tool_calls": [
                       {"id": "a", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}},
                       {"id": "b", "type": "function",
                        "function": {"name": "nope", "arguments": "[1"}}]})
        );
        let unreadable: Response =
            serde_json::from_value(json!({"ok": true, "usage": null, "usage_unreadable": true}))
                .unwrap();
        assert!(unreadable.usage_unreadable && unreadable.usage.is_none());
    }

    #[test]
    fn failed_results_parse() {
        let doc = json!({
            "id": 3, "ok": false, "usage": null, "cost_nano_usd": null,
            "attempts": [{"start_unix_ms": 1, "start_ms": 0.1, "duration_ms": 2.0,
                          "http_status": 401, "kind": "auth"}],
            "timing": {"submit_unix_ms": 1, "total_ms": 2.5, "overhead_us": 3.0},
            "error": {"kind": "auth", "message": "HTTP 401: bad key", "http_status": 401,
                      "provider_message": "bad key", "some_future_member": 1},
            "some_future_member": true
        });
        let r: Response = serde_json::from_value(doc).unwrap();
        assert!(!r.ok && r.usage.is_none() && r.cost_nano_usd.is_none());
        assert_eq!(r.attempts[0].error_kind(), Some(ErrorKind::Auth));
        assert_eq!(r.error.as_ref().unwrap().kind, ErrorKind::Auth);
        assert_eq!(r.extra["some_future_member"], json!(true));
        let unknown: ErrorKind = serde_json::from_value(json!("something_new")).unwrap();
        assert_eq!(unknown, ErrorKind::Internal);
    }
}
