"""Typed shapes of the core's JSON documents (docs/schema.md).

Configuration and requests are TypedDicts: plain dicts at run time, sent to the core as
they are (the core validates them and names the wrong field). Results, tool calls and
stream pieces are frozen dataclasses, read from the core's typed getters (_core.outcome).
"""

from __future__ import annotations

import json as _json
from array import array
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence, TypedDict, Union


JSON = Any


# --- configuration --------------------------------------------------------------------


class Limits(TypedDict, total=False):
    rpm: int
    tpm: int
    itpm: int
    otpm: int
    concurrency: int
    window_ms: int


class Retry(TypedDict, total=False):
    max_attempts: int
    base_delay_ms: int
    max_delay_ms: int
    jitter: float
    max_retry_after_ms: int
    max_pause_ms: int
    schema_retries: int


class Timeouts(TypedDict, total=False):
    connect_ms: int
    request_ms: int


class Budget(TypedDict, total=False):
    name: str
    operation: str
    window_ms: int
    max_tokens: int
    max_cost_usd: float


class Deployment(TypedDict, total=False):
    name: str
    group: str
    weight: float
    enabled: bool
    provider: str
    base_url: str
    api_key: str
    api_key_env: str
    model: str
    limits: Limits


class CacheConfig(TypedDict, total=False):
    policy: Literal["deterministic", "all"]
    namespace: str
    memory: bool | Mapping[str, Any]
    sqlite: str | Mapping[str, Any]


Provider = Literal["openai_chat", "openai_responses", "anthropic", "ollama"]


class Config(TypedDict, total=False):
    """The client configuration (docs/schema.md, "Configuration"); every member optional."""

    provider: Provider
    base_url: str
    api_key: str
    model: str
    organization: str
    project: str
    anthropic_version: str
    default_max_output_tokens: int
    max_tokens_field: str
    headers: Mapping[str, str]
    limits: Limits | Sequence[Limits]
    retry: Retry
    timeouts: Timeouts
    http: Mapping[str, Any]
    seed: int
    prices: Mapping[str, Mapping[str, float]]
    prices_file: str
    free_models: Sequence[str]
    cache: CacheConfig
    queue: Mapping[str, Any]
    circuit_breaker: Mapping[str, int]
    budgets: Sequence[Budget]
    telemetry: Mapping[str, Any]
    shared_limits: Mapping[str, Any]
    deployments: Sequence[Deployment]
    api_keys: Sequence[str]
    models: Sequence[str]
    routing: Mapping[str, Any]


# --- request ---------------------------------------------------------------------------


class FunctionCall(TypedDict):
    name: str
    arguments: str


class ToolCallParam(TypedDict):
    """A call in an assistant message sent back in a tool round."""

    id: str
    type: Literal["function"]
    function: FunctionCall


class Message(TypedDict, total=False):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | Sequence[Mapping[str, Any]] | None
    name: str
    tool_calls: Sequence[ToolCallParam]
    tool_call_id: str


class FunctionDefinition(TypedDict, total=False):
    name: str
    description: str
    parameters: Mapping[str, Any]
    strict: bool


class Tool(TypedDict, total=False):
    type: Literal["function"]
    function: FunctionDefinition
    cache_control: Mapping[str, str]


class JsonSchema(TypedDict, total=False):
    name: str
    schema: Mapping[str, Any]
    strict: bool
    description: str


ToolChoice = Union[Literal["auto", "none", "required"], Mapping[str, Any]]


class Request(TypedDict, total=False):
    """A request document (docs/schema.md, "Request"). `json_schema` may also be a pydantic
    model class (the result's `parsed` is then an instance of it)."""

    model: str
    messages: Sequence[Message]
    prompt: str
    instructions: str
    system: str
    max_output_tokens: int
    max_tokens: int
    temperature: float
    top_p: float
    stop: str | Sequence[str]
    seed: int
    user: str
    operation: str
    priority: Literal["high", "normal", "low"] | int
    timeout_ms: int
    metadata: Mapping[str, Any]
    trace_id: str
    traceparent: str
    tracestate: str
    json_schema: JsonSchema | type
    reasoning_effort: Literal["minimal", "low", "medium", "high"]
    previous_response_id: str
    cache: Literal["default", "use", "refresh", "bypass"]
    tools: Sequence[Tool]
    tool_choice: ToolChoice
    parallel_tool_calls: bool
    frequency_penalty: float
    presence_penalty: float
    logit_bias: Mapping[str, int]
    n: int
    logprobs: bool
    top_logprobs: int
    response_format: Mapping[str, Any]
    service_tier: Literal["auto", "default", "flex", "priority"]
    top_k: int
    stop_sequences: Sequence[str]
    thinking: Mapping[str, Any]
    prompt_cache_key: str
    extra_body: Mapping[str, Any]
    extra_headers: Mapping[str, str]
    input: str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]]
    dimensions: int
    encoding_format: Literal["float", "base64"]


class BatchJobOptions(TypedDict, total=False):
    """The options of a provider batch job (Client.open_batch_job); every member optional."""

    deployment: str
    max_requests: int
    max_bytes: int
    max_enqueued_tokens: int
    poll_ms: int
    max_poll_ms: int
    completion_window: str


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call of a reply: `arguments` is the JSON text as the model wrote it,
    `arguments_json` the parsed object when it is one."""

    id: str
    name: str
    arguments: str
    arguments_json: dict[str, Any] | None = None
    arguments_error: str | None = None
    unknown_tool: bool = False

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ToolCall:
        return cls(
            id=d.get("id", ""),
            name=d.get("name", ""),
            arguments=d.get("arguments", ""),
            arguments_json=d.get("arguments_json"),
            arguments_error=d.get("arguments_error"),
            unknown_tool=bool(d.get("unknown_tool", False)),
        )

    def to_message_call(self) -> ToolCallParam:
        """This call as an assistant message carries it back in the next tool round."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Attempt:
    start_unix_ms: int | None
    start_ms: float | None
    duration_ms: float | None
    http_status: int
    kind: str
    backoff_ms: float | None = None
    backoff_source: str | None = None
    request_id: str | None = None
    deployment: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_nano_usd: int | None = None
    gate_wait_ms: float | None = None
    """Time held by the gates before it was sent, from submit or the end of the backoff
    before it (libllmsvc 0.4; None with an older library)."""


@dataclass(frozen=True, slots=True)
class Timing:
    submit_unix_ms: int | None = None
    total_ms: float | None = None
    overhead_us: float | None = None
    first_token_ms: float | None = None
    gate_wait_ms: float | None = None
    """Time held by the gates, summed over attempts (libllmsvc 0.4; None with an older library)."""


@dataclass(frozen=True, slots=True)
class Choice:
    index: int
    text: str
    finish_reason: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: Any = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Choice:
        return cls(
            index=d.get("index", 0),
            text=d.get("text") or "",
            finish_reason=d.get("finish_reason"),
            tool_calls=tuple(ToolCall.from_dict(c) for c in d.get("tool_calls") or ()),
            logprobs=d.get("logprobs"),
        )


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A failed result's `error` object."""

    kind: str
    message: str
    http_status: int = 0
    provider_message: str | None = None
    provider_type: str | None = None
    provider_code: str | None = None
    provider_param: str | None = None
    retry_after_ms: int | None = None
    pointer: str | None = None
    keyword: str | None = None
    output: str | None = None


def _document_member(key: str, doc: str) -> Any:
    """A Result member that only the result document has, parsed from it on first use. The
    document names a member as `"key":` (an unescaped quote before a colon occurs nowhere
    else), so a document without one is not parsed at all."""
    named = f'"{key}":'.encode()

    def get(self: Result) -> Any:
        if self._raw is None and named not in self.raw_json:
            return None
        return self.raw.get(key)

    return property(get, doc=doc)


@dataclass(frozen=True, slots=True)
class Result:
    """The completion of a request (docs/schema.md, "Result"). A failed request raises a
    RequestError whose `result` is one of these, with `error` set. `raw_json` is the core's
    result document; `raw`, `json`, `metadata`, `logprobs`, `cache` and
    `thinking_signature` are read from it when first asked for. `provider` is the provider as
    the OpenTelemetry GenAI conventions name it ("openai", "anthropic", "azure.ai.openai",
    "ollama", "gcp.gemini", "aws.bedrock"), `server_address` and `server_port` those of the server that answered last,
    `cache_hit` where a cached answer came from (these need libllmsvc 0.4: None before).
    `embeddings` are the vectors of an embeddings request (a request with "input"), one
    `array.array('f')` of float32 per input, read without JSON (libllmsvc 0.5; None for other
    requests and before). `batch_id` and `custom_id` are set on a batch job's results."""

    id: int
    ok: bool
    text: str
    model: str | None = None
    operation: str | None = None
    finish_reason: str | None = None
    response_id: str | None = None
    response_model: str | None = None
    parsed: Any = None
    tool_calls: tuple[ToolCall, ...] = ()
    choices: tuple[Choice, ...] = ()
    usage: Usage | None = None
    usage_unreadable: bool = False
    cost_nano_usd: int | None = None
    attempts: tuple[Attempt, ...] = ()
    timing: Timing = field(default_factory=Timing)
    trace_id: str | None = None
    deployment: str | None = None
    service_tier: str | None = None
    thinking: str | None = None
    error: ErrorInfo | None = None
    provider: str | None = None
    server_address: str | None = None
    server_port: int | None = None
    cache_hit: Literal["memory", "sqlite"] | None = None
    raw_json: bytes = field(default=b"{}", repr=False, compare=False)
    _raw: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    embeddings: list[array[float]] | None = field(default=None, repr=False)
    batch_id: str | None = None
    custom_id: str | None = None

    json = _document_member("json", "The structured output (json_schema or JSON mode) as parsed JSON.")
    metadata = _document_member("metadata", "The request's metadata, as given.")
    logprobs = _document_member("logprobs", "Log probabilities as the provider sent them.")
    cache = _document_member("cache", "Whether the answer came from the cache, and what it saved.")
    thinking_signature = _document_member("thinking_signature", "Anthropic's signature of `thinking`.")

    @property
    def raw(self) -> Mapping[str, Any]:
        """The whole result document (docs/schema.md), parsed on first use."""
        raw = self._raw
        if raw is None:
            raw = _json.loads(self.raw_json)
            object.__setattr__(self, "_raw", raw)
        return raw

    @property
    def cost_usd(self) -> float | None:
        """The cost in USD (None when unknown: no usage, or an unpriced model)."""
        return None if self.cost_nano_usd is None else self.cost_nano_usd / 1e9


PieceKind = Literal["text", "tool_call", "tool_arguments"]


@dataclass(frozen=True, slots=True)
class Piece:
    """A piece of a streamed reply: text, the start of tool call `index` (`call_id` and
    `name` set, `text` empty), or the next piece of that call's arguments."""

    kind: PieceKind
    text: str
    index: int = 0
    call_id: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        return self.text


class Event(TypedDict, total=False):
    """A lifecycle event (docs/schema.md, "Events")."""

    type: Literal["queued", "admitted", "attempt_started", "attempt_finished", "retry_scheduled", "completed"]
    request_id: int
    trace_id: str
    model: str
    operation: str
    unix_ms: int
    since_submit_ms: float
    attempt: int
    deployment: str
    kind: str
    http_status: int
    ok: bool


class Metrics(TypedDict, total=False):
    """The metrics snapshot (docs/schema.md, "Metrics snapshot"); its main members."""

    requests: dict[str, Any]
    rates: dict[str, Any]
    gates: dict[str, Any]
    attempts: dict[str, Any]
    failures_by_kind: dict[str, int]
    internal_errors: int
    latency_ms: dict[str, Any]
    overhead_us: dict[str, Any]
    first_token_ms: dict[str, Any]
    usage: dict[str, Any]
    budgets: list[dict[str, Any]]
    deployments: list[dict[str, Any]]
    cache: dict[str, Any]
