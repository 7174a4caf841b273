// Type declarations of llmsvc for Node.js. The configuration, request, result and metrics
// documents are the core's (docs/schema.md); their member names are kept as they are there.

/// <reference types="node" />

// ---- configuration ---------------------------------------------------------------------

/** Rate and concurrency limits; 0 means unlimited. */
export interface Limits {
  /** Requests per minute. */
  rpm?: number;
  /** Tokens per minute (prompt estimate + max_output_tokens are reserved). */
  tpm?: number;
  /** Input tokens per minute, cache reads excluded (Anthropic's separate input limit). */
  itpm?: number;
  /** Output tokens per minute (Anthropic's separate output limit). */
  otpm?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** The provider's counting window in ms (60000 for OpenAI). */
  window_ms?: number;
}

export interface RetryPolicy {
  /** Attempts in all, the first included (5). */
  max_attempts?: number;
  base_delay_ms?: number;
  max_delay_ms?: number;
  /** A client backoff is shortened by up to this fraction of itself (0.25). */
  jitter?: number;
  /** A server asking for a longer wait fails the request at once (60000). */
  max_retry_after_ms?: number;
  /** New attempts when the output does not match the request's json_schema (1). */
  schema_retries?: number;
}

/** LiteLLM-style price entry, USD per token. */
export interface PriceEntry {
  input_cost_per_token?: number;
  output_cost_per_token?: number;
  cache_read_input_token_cost?: number;
  output_cost_per_reasoning_token?: number;
  cache_creation_input_token_cost?: number;
}

/** The configuration document of a client (docs/schema.md). Every member is optional. */
export interface Config {
  /**
   * The wire format (docs/providers.md). Default: from the model — anthropic for Claude
   * models, openai_responses for OpenAI models on OpenAI's own endpoint, else openai_chat.
   */
  provider?: 'openai_chat' | 'openai_responses' | 'anthropic' | 'ollama';
  /**
   * Default: $OPENAI_BASE_URL or https://api.openai.com/v1; for anthropic
   * $ANTHROPIC_BASE_URL or https://api.anthropic.com/v1; for ollama $OLLAMA_HOST or
   * http://127.0.0.1:11434.
   */
  base_url?: string;
  /** Default: $OPENAI_API_KEY; for anthropic $ANTHROPIC_API_KEY. */
  api_key?: string;
  /** The anthropic-version header ("2023-06-01"). */
  anthropic_version?: string;
  /** The output bound sent where the provider requires one (Anthropic) and the request gives none (4096). */
  default_max_output_tokens?: number;
  organization?: string;
  project?: string;
  /** Default model for requests without one. */
  model?: string;
  max_tokens_field?: 'max_completion_tokens' | 'max_tokens';
  /**
   * The client's limits; with `api_keys` or `models`, also a list of them, one per
   * deployment (a list of one is used for every position).
   */
  limits?: Limits | Limits[];
  retry?: RetryPolicy;
  timeouts?: { connect_ms?: number; request_ms?: number };
  http?: { http2?: boolean; prior_knowledge?: boolean; max_connections?: number };
  /** Seed of the backoff jitter. */
  seed?: number;
  prices?: Record<string, PriceEntry>;
  prices_file?: string;
  /** Models whose cost is a known zero. */
  free_models?: string[];
  /**
   * Several endpoints, keys or models behind the one client, each with its own limits;
   * each starts from the members above and overrides what it gives. Give either
   * `deployments` or the lists `api_keys`, `models` (and `limits`), not both.
   */
  deployments?: Deployment[];
  /**
   * Short form of `deployments`: one deployment per key, named "MODEL#INDEX". Lists
   * given together have equal lengths (a list of one is used for every position).
   */
  api_keys?: string[];
  /** Short form of `deployments`: one deployment per model. */
  models?: string[];
  /** How a request picks among the deployments of its model group, and its fallbacks. */
  routing?: Routing;
  /**
   * More headers for every request's attempts (never credentials such as Authorization or
   * x-api-key, nor framing headers: refused).
   */
  headers?: Record<string, string>;
}

/**
 * One configured deployment: a provider endpoint with its key, model and limits. Members
 * not given take the client's own; a deployment of another provider family (Anthropic,
 * Ollama, OpenAI) takes that provider's default endpoint and key instead.
 */
export interface Deployment {
  /** Unique among the deployments; default "MODEL#INDEX". Results and metrics name it so. */
  name?: string;
  /** The model name requests use to reach it; default its model. */
  group?: string;
  /** Its share under the "weighted" strategy (1; 0 puts it after the others of its group). */
  weight?: number;
  provider?: 'openai_chat' | 'openai_responses' | 'anthropic' | 'ollama';
  base_url?: string;
  api_key?: string;
  /** The environment variable holding its key (instead of api_key). */
  api_key_env?: string;
  organization?: string;
  project?: string;
  model?: string;
  max_tokens_field?: 'max_completion_tokens' | 'max_tokens';
  anthropic_version?: string;
  default_max_output_tokens?: number;
  /** Its own gates; members not given keep the client's. */
  limits?: Limits;
  /** More headers for its attempts, as Config.headers. */
  headers?: Record<string, string>;
}

/** The routing policy across the deployments. */
export interface Routing {
  /** Default "round_robin". */
  strategy?: 'round_robin' | 'least_loaded' | 'lowest_latency' | 'weighted';
  /**
   * The groups or deployments tried in order once a group's own deployments are
   * exhausted: a list for every group, or lists by group ("*" for every group).
   */
  fallbacks?: string[] | Record<string, string[]>;
}

/** A change to one configured deployment (Client.setDeployment). Members not given keep their value. */
export interface DeploymentUpdate {
  /** The deployment's name (its name, or the default "MODEL#INDEX"). */
  name: string;
  /**
   * true puts a deployment taken out of rotation (by an auth, permission, quota or region
   * error, or by false) back into it; false takes it out.
   */
  enabled?: boolean;
  /** Its new share under the "weighted" strategy. */
  weight?: number;
  /** New limits; members not given keep their value. */
  limits?: Limits;
}

// ---- requests --------------------------------------------------------------------------

/** An Anthropic prompt-cache breakpoint after a part or tool (the other providers cache on their own). */
export interface CacheControl {
  type: 'ephemeral';
  /** How long the prefix stays cached ("5m" by default). */
  ttl?: '5m' | '1h';
}

export interface TextPart {
  type: 'text';
  text: string;
  cache_control?: CacheControl;
}

/**
 * Anthropic's thinking of an earlier assistant turn with its signature (GenerateResponse's
 * thinking and thinkingSignature), sent back unchanged in a tool round; the other
 * providers leave it out. Assistant messages only.
 */
export interface ThinkingPart {
  type: 'thinking';
  thinking: string;
  signature: string;
}

/** An image by URL: https://... or a data: URL (user messages only). */
export interface ImagePart {
  type: 'image_url';
  image_url: string | { url: string; detail?: 'auto' | 'low' | 'high' };
}

/** Image bytes, base64, with their media type (user messages only). */
export interface ImageDataPart {
  type: 'image';
  /** Base64 bytes. */
  data: string;
  media_type: 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp' | (string & {});
  detail?: 'auto' | 'low' | 'high';
}

/** Audio bytes, base64 (user messages only; openai_chat with an audio model). */
export interface AudioPart {
  type: 'audio';
  /** Base64 bytes. */
  data: string;
  format: 'wav' | 'mp3';
}

/** The parts of a user message. */
export type ContentPart = TextPart | ImagePart | ImageDataPart | AudioPart;

/** The parts of an assistant message. */
export type AssistantContentPart = TextPart | ThinkingPart;

/** A JSON Schema (the keywords the core validates are listed in docs/schema.md). */
export type JsonSchema = { [keyword: string]: unknown };

/** Structured output: the reply must be a JSON document matching `schema`. */
export interface JsonSchemaFormat {
  /** 1 to 64 letters, digits, _ or - ("response"). */
  name?: string;
  schema: JsonSchema;
  /** true by default. */
  strict?: boolean;
  description?: string;
}

export interface SystemMessage {
  role: 'system' | 'developer';
  content: string | TextPart[];
  name?: string;
}

export interface UserMessage {
  role: 'user';
  content: string | ContentPart[];
  name?: string;
}

/** A tool call of an earlier assistant turn, as it is sent back (OpenAI's shape). */
export interface AssistantToolCall {
  /** The call's id (ToolCall.id), which a tool message answers. */
  id: string;
  type: 'function';
  function: {
    name: string;
    /** The arguments' JSON text as the model wrote it (ToolCall.arguments), or an object. */
    arguments: string | Record<string, unknown>;
  };
}

/**
 * An earlier reply of the model: text, tool calls or both (content null or absent when it
 * only calls tools). GenerateResponse.toMessage() writes one.
 */
export interface AssistantMessage {
  role: 'assistant';
  content?: string | AssistantContentPart[] | null;
  tool_calls?: AssistantToolCall[];
  name?: string;
}

/** The result of a tool call, answering the call with id `tool_call_id` of an earlier assistant message. */
export interface ToolMessage {
  role: 'tool';
  tool_call_id: string;
  content: string | TextPart[];
  name?: string;
}

export type Message = SystemMessage | UserMessage | AssistantMessage | ToolMessage;

/** A function the model may call. */
export interface FunctionDefinition {
  /** 1 to 64 letters, digits, _ or -; unique among the request's tools. */
  name: string;
  description?: string;
  /** A JSON Schema of the arguments (an object), compiled at submit. */
  parameters?: JsonSchema;
  /** Arguments checked against `parameters` like structured output (a mismatch is asked again). */
  strict?: boolean;
}

/** A tool, as OpenAI Chat Completions takes it. */
export interface FunctionTool {
  type: 'function';
  function: FunctionDefinition;
  cache_control?: CacheControl;
}

/** A tool in the Responses API's flat form. */
export interface FlatFunctionTool extends FunctionDefinition {
  type: 'function';
  cache_control?: CacheControl;
}

export type Tool = FunctionTool | FlatFunctionTool;

/** Whether and which tool the model must call (Ollama takes auto and none only). */
export type ToolChoice =
  | 'auto'
  | 'none'
  | 'required'
  | { type: 'function'; function: { name: string } }
  | { type: 'function'; name: string };

/** The reply's format: text, any JSON object (JSON mode: `json` in the response) or a schema. */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: JsonSchemaFormat };

/** The request document (docs/schema.md). Give `messages` or `prompt` (or `input` for embeddings). */
export interface Request {
  /** Required unless the client has a default model. */
  model?: string;
  messages?: Message[];
  /** Shorthand for one user message. */
  prompt?: string;
  /** Sent as a leading system message. */
  instructions?: string;
  system?: string;
  /** Upper bound of output tokens; also what the TPM gate reserves. */
  max_output_tokens?: number;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string | string[];
  seed?: number;
  user?: string;
  /** Usage grouping in the ledger ("default"). */
  operation?: string;
  /** Admission order: classes first, FIFO within a class. */
  priority?: 'high' | 'normal' | 'low' | 0 | 1 | 2;
  /** Overall deadline from submit: queueing, attempts and backoff. */
  timeout_ms?: number;
  /** Echoed in the result, never sent. */
  metadata?: Record<string, unknown>;
  /** Echoed in the result. */
  trace_id?: string;
  /** The caller's own label; accepted and ignored. */
  id?: string | number;
  /**
   * Structured output: the response's `json` is the validated document; a document that
   * does not match fails with SchemaMismatchError (after retry.schema_retries new attempts).
   */
  json_schema?: JsonSchemaFormat;
  /**
   * Ask for a streamed reply. client.stream() sets it; with generate() the core streams
   * and the response has timing.firstTokenMs.
   */
  stream?: boolean;
  /** For reasoning models (OpenAI). */
  reasoning_effort?: 'minimal' | 'low' | 'medium' | 'high';
  /** Continue a stored response: an earlier response's `responseId` (openai_responses only). */
  previous_response_id?: string;
  /** Functions the model may call; its calls are the response's toolCalls. */
  tools?: Tool[];
  tool_choice?: ToolChoice;
  /** false: at most one call per reply. */
  parallel_tool_calls?: boolean;
  /** -2..2 (OpenAI Chat Completions, Ollama). */
  frequency_penalty?: number;
  /** -2..2 (OpenAI Chat Completions, Ollama). */
  presence_penalty?: number;
  /** Token id to a bias in -100..100 (OpenAI Chat Completions). */
  logit_bias?: Record<string, number>;
  /** Choices to generate, 1..128 (OpenAI Chat Completions, not streamed): the response's choices. */
  n?: number;
  /** Token log probabilities in the response's logprobs (OpenAI). */
  logprobs?: boolean;
  /** 0..20 alternatives per token, with logprobs. */
  top_logprobs?: number;
  response_format?: ResponseFormat;
  /** OpenAI; the tier used is the response's serviceTier. */
  service_tier?: 'auto' | 'default' | 'flex' | 'priority';
  /** Anthropic, Ollama. */
  top_k?: number;
  /** Anthropic's name for stop. */
  stop_sequences?: string[];
  /** Anthropic extended thinking (budget_tokens ≥ 1024, below max_output_tokens); Ollama think. */
  thinking?: { type: 'enabled'; budget_tokens: number };
  /** OpenAI's prompt-cache routing key. */
  prompt_cache_key?: string;
  /** Merged into the provider's wire body as is (unchecked), for a field not modelled yet. */
  extra_body?: Record<string, unknown>;
  /** More headers for this request's attempts (never credentials nor framing headers). */
  extra_headers?: Record<string, string>;
  /**
   * Instead of messages or prompt: an embeddings request, one vector per input (the
   * response's embeddings).
   */
  input?: string | string[] | number[] | number[][];
  /** Shorter vectors, for an embeddings model that offers it. */
  dimensions?: number;
  /** Accepted; the vectors always come back as floats. */
  encoding_format?: 'float' | 'base64';
}

/** A request with structured output. */
export type JsonRequest = Request & { json_schema: JsonSchemaFormat };

export interface GenerateOptions {
  /**
   * Aborting cancels the request in the core, whether it waits at a gate, waits to retry
   * or is in flight; the promise then rejects with CancelledError (name "AbortError").
   * An already aborted signal rejects at once without submitting.
   */
  signal?: AbortSignal | null;
  /**
   * With telemetry on: the OpenTelemetry context whose span is the request span's parent,
   * instead of the context current at the call (`context.active()`).
   */
  context?: OtelContext;
}

// ---- telemetry -------------------------------------------------------------------------
// Structural types, so that these declarations do not need @opentelemetry/api (an optional
// peer dependency): its Context, TracerProvider and MeterProvider match them.

/** An OpenTelemetry Context (@opentelemetry/api). */
export interface OtelContext {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): OtelContext;
  deleteValue(key: symbol): OtelContext;
}

/** An OpenTelemetry TracerProvider (@opentelemetry/api). */
export interface OtelTracerProvider {
  getTracer(name: string, version?: string, options?: any): unknown;
}

/** An OpenTelemetry MeterProvider (@opentelemetry/api). */
export interface OtelMeterProvider {
  getMeter(name: string, version?: string, options?: any): unknown;
}

/**
 * The OpenTelemetry adapter (docs/telemetry.md): a span tree per request (the request span
 * "chat MODEL", its attempts "POST", gate waits "llmsvc.gate.wait") and the
 * gen_ai.client.* and llmsvc.client.* metrics, through @opentelemetry/api, which must be
 * installed. Instrumentation scope "llmsvc".
 */
export interface TelemetryOptions {
  /** Default: the global one (trace.getTracerProvider()). */
  tracerProvider?: OtelTracerProvider;
  /** Default: the global one when the client is created (metrics.getMeterProvider()). */
  meterProvider?: OtelMeterProvider;
  /**
   * Records the prompts and replies (gen_ai.input.messages, gen_ai.output.messages).
   * Default: $OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT is "true". API keys and
   * headers are never recorded.
   */
  captureMessageContent?: boolean;
}

export interface ClientOptions {
  /**
   * Turns the OpenTelemetry adapter on: true (the global providers) or its options. Off by
   * default; @opentelemetry/api is then never loaded.
   * @throws Error (code LLMSVC_OTEL_MISSING) at construction when @opentelemetry/api is
   *   not installed
   */
  telemetry?: boolean | TelemetryOptions;
}

// ---- results ---------------------------------------------------------------------------

/** The error kinds of the core, as result and metrics documents name them. */
export type ErrorKind =
  | 'rate_limited'
  | 'insufficient_quota'
  | 'unsupported_region'
  | 'auth'
  | 'permission'
  | 'bad_request'
  | 'not_found'
  | 'conflict'
  | 'server_error'
  | 'timeout'
  | 'connection'
  | 'cancelled'
  | 'deadline_exceeded'
  | 'shut_down'
  | 'invalid_request'
  | 'protocol'
  | 'budget_exceeded'
  | 'schema_mismatch'
  | 'internal'
  | 'load_shed';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** Anthropic's cache writes (0 elsewhere). */
  cacheWriteTokens: number;
  /** The part of cacheWriteTokens cached for an hour (ttl "1h"). */
  cacheWrite1hTokens: number;
  /** True when a stream was cut short and the provider's own count never came. */
  estimated: boolean;
}

export interface Attempt {
  /** Wall-clock start, ms since the Unix epoch. */
  startUnixMs: number;
  /** Start, ms after submit. */
  startMs: number;
  durationMs: number;
  /** 0 when no reply was received. */
  httpStatus: number;
  /** "none" for the attempt that succeeded. */
  kind: ErrorKind | 'none';
  /** The wait before the next attempt; null when none followed. */
  backoffMs: number | null;
  backoffSource: 'client' | 'server' | null;
  /** Held by the gates before it was sent (from submit or the end of the backoff before it). */
  gateWaitMs: number | null;
  /** What this attempt's reply used; null when it had no usage. */
  promptTokens: number | null;
  completionTokens: number | null;
  /** This attempt's cost; null when unknown (no usage or no price). */
  costNanoUsd: number | null;
  /** The provider's x-request-id. */
  requestId: string | null;
  /** The deployment it went to; null without configured deployments. */
  deployment: string | null;
}

export interface Timing {
  submitUnixMs: number;
  /** Submit to completion. */
  totalMs: number;
  /** Time spent inside llmsvc for this request, network excluded. */
  overheadUs: number;
  /** Streams: submit to the first text, in ms; null when the reply was not streamed. */
  firstTokenMs: number | null;
  /** Time held by the gates, summed over the attempts. */
  gateWaitMs: number | null;
}

/** A tool call of a reply (GenerateResponse.toolCalls), as the core assembled it. */
export interface ToolCall {
  /** The call's id, which the tool message answering it names (tool_call_id). */
  id: string;
  /** The tool's name. */
  name: string;
  /** The arguments' JSON text, as the model wrote it. */
  arguments: string;
  /** The arguments parsed, when they are a JSON object; else null. */
  argumentsJson: Record<string, unknown> | null;
  /** Why the arguments do not parse, or how they miss a non-strict tool's schema; else null. */
  argumentsError: string | null;
  /** True when the model named a tool the request did not offer. */
  unknownTool: boolean;
}

/** One choice of a request with n > 1. */
export interface Choice {
  index: number;
  text: string;
  finishReason: string | null;
  /** Empty when this choice calls no tool. */
  toolCalls: ToolCall[];
  /** As the provider sent them; null without logprobs. */
  logprobs: unknown[] | null;
}

/** A tool call in the result document. */
export interface ResultToolCall {
  id: string;
  name: string;
  arguments: string;
  arguments_json?: Record<string, unknown>;
  arguments_error?: string;
  unknown_tool?: true;
}

/** The result document as the core writes it (docs/schema.md). */
export interface ResultDocument {
  id: number;
  ok: boolean;
  model: string;
  operation: string;
  /** The deployment that served it (or gave the final answer), when deployments are configured. */
  deployment?: string;
  trace_id?: string;
  metadata?: Record<string, unknown>;
  text?: string;
  finish_reason?: string;
  response_id?: string;
  response_model?: string;
  /** With a json_schema or JSON mode: the validated document. */
  json?: unknown;
  /** The reply's tool calls (finish_reason "tool_calls"). */
  tool_calls?: ResultToolCall[];
  /** With n > 1. */
  choices?: Array<{
    index: number;
    text: string;
    finish_reason?: string;
    tool_calls?: ResultToolCall[];
    logprobs?: unknown[];
  }>;
  logprobs?: unknown[];
  /** Of an embeddings request: one vector per input. */
  embeddings?: number[][];
  service_tier?: string;
  thinking?: string;
  thinking_signature?: string;
  /** True when the provider's usage counts were not counts: usage and cost are then unknown. */
  usage_unreadable?: true;
  error?: {
    kind: ErrorKind;
    message: string;
    http_status: number;
    provider_message?: string;
    provider_type?: string;
    provider_code?: string;
    provider_param?: string;
    retry_after_ms?: number;
    /** schema_mismatch: the JSON pointer of the first violation. */
    pointer?: string;
    /** schema_mismatch: the keyword that failed. */
    keyword?: string;
    /** schema_mismatch: the rejected output. */
    output?: string;
  };
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    cached_tokens: number;
    cache_write_tokens: number;
    reasoning_tokens: number;
    /** Present when > 0: the cache writes of a 1h TTL. */
    cache_write_1h_tokens?: number;
    /** Present (true) when a stream was cut short and the count is an estimate. */
    estimated?: boolean;
  } | null;
  cost_nano_usd: number | null;
  attempts: Array<{
    start_unix_ms: number;
    start_ms: number;
    duration_ms: number;
    http_status: number;
    kind: ErrorKind | 'none';
    backoff_ms?: number;
    backoff_source?: 'client' | 'server';
    request_id?: string;
    deployment?: string;
  }>;
  timing: { submit_unix_ms: number; total_ms: number; overhead_us: number; first_token_ms?: number };
}

/**
 * A successful request. `T` is the type of `json`, the document of a request with a
 * json_schema (the core validated it against the schema; the type is the caller's claim).
 */
export declare class GenerateResponse<T = unknown> {
  private constructor();
  /** The core's request id. */
  readonly id: number;
  /** The assistant's text ("" when none); with a json_schema, the document as JSON text. */
  readonly text: string;
  /**
   * The validated document, parsed, of a request with a json_schema (or a JSON object in
   * JSON mode, response_format json_object); undefined without one.
   */
  readonly json: T;
  /** The tools the model asked for (finishReason "tool_calls"); empty when none. */
  readonly toolCalls: ToolCall[];
  /** Every choice of a request with n > 1 (the first is also text, toolCalls, ...); null otherwise. */
  readonly choices: Choice[] | null;
  /** Token log probabilities as the provider sent them (logprobs: true); null otherwise. */
  readonly logprobs: unknown[] | null;
  /** The service tier the provider says it used; null when it did not say. */
  readonly serviceTier: string | null;
  /** The model's thinking, apart from text (Anthropic extended thinking, Ollama think); null when none. */
  readonly thinking: string | null;
  /** The thinking's signature, sent back with it in a tool round (toMessage() does). */
  readonly thinkingSignature: string | null;
  /** True when the provider's usage counts were not counts: usage and costNanoUsd are then null. */
  readonly usageUnreadable: boolean;
  readonly model: string;
  readonly operation: string;
  /** The deployment that served it; null without configured deployments. */
  readonly deployment: string | null;
  readonly finishReason: string | null;
  /** The provider's id of the completion ("chatcmpl-..."). */
  readonly responseId: string | null;
  /** The model the provider says answered. */
  readonly responseModel: string | null;
  /** The provider as the OpenTelemetry GenAI conventions name it: "openai", "anthropic", "azure.ai.openai", "ollama". */
  readonly provider: string | null;
  /** The host and port of the server that answered. */
  readonly serverAddress: string | null;
  readonly serverPort: number | null;
  /** Served from the response cache: "memory" or "sqlite"; null when fetched. */
  readonly cacheHit: 'memory' | 'sqlite' | null;
  /** Null when the reply carried no usage. */
  readonly usage: Usage | null;
  /** Cost in nano-USD (1e-9 USD); null when unknown (a model without a price). */
  readonly costNanoUsd: number | null;
  /** costNanoUsd in USD, as a float for display; null when unknown. */
  readonly costUsd: number | null;
  /** Every attempt made, in order; the last one succeeded. */
  readonly attempts: Attempt[];
  readonly timing: Timing;
  readonly traceId: string | null;
  readonly metadata: Record<string, unknown> | null;
  /**
   * The vectors of an embeddings request (one with `input`), one per input in their order,
   * copied out of the result without JSON (libllmsvc 0.5); null for other requests, and with
   * an older library.
   */
  readonly embeddings: Float32Array[] | null;
  /**
   * The whole result document, as the core wrote it. The other members are read without it;
   * it is parsed when first read (so are json, logprobs, metadata, thinkingSignature and a
   * tool call's argumentsJson, argumentsError and unknownTool, which only it has).
   */
  readonly raw: ResultDocument;
  /**
   * This reply as the assistant message of the next request's messages: its text, its tool
   * calls and its signed thinking (which Anthropic wants back in a tool round). Of a reply
   * with several choices, the first.
   */
  toMessage(): AssistantMessage;
}

// ---- metrics ---------------------------------------------------------------------------

export interface Histogram {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface UsageTotals {
  requests: number;
  succeeded: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  total_tokens: number;
  /** Null when nothing was priced. */
  cost_nano_usd: number | null;
  unpriced_requests: number;
}

/** One consistent snapshot of a client's metrics, usage and cost (docs/schema.md). */
export interface MetricsSnapshot {
  version: string;
  provider: string;
  http2: boolean;
  unix_ms: number;
  requests: {
    submitted: number;
    completed: number;
    succeeded: number;
    failed: number;
    queued: number;
    backing_off: number;
    in_flight: number;
    queued_by_priority: { high: number; normal: number; low: number };
  };
  rates: {
    requests_sent_per_minute: number;
    tokens_sent_per_minute: number;
    responses_per_minute: number;
    tokens_received_per_minute: number;
  };
  gates: {
    limits: Required<Limits>;
    window_requests_used: number;
    window_requests_cap: number;
    window_tokens_used: number;
    window_tokens_cap: number;
    paused_for_ms: number;
    window_input_tokens_used: number;
    window_input_tokens_cap: number;
    window_output_tokens_used: number;
    window_output_tokens_cap: number;
    waits: { rpm: number; tpm: number; itpm: number; otpm: number; concurrency: number; paused: number };
    wait_ms: Histogram;
  };
  attempts: {
    total: number;
    retries: number;
    backoff_client_ms: number;
    backoff_server_ms: number;
    backoffs_client: number;
    backoffs_server: number;
    errors_by_kind: Partial<Record<ErrorKind, number>>;
    latency_ms: Histogram;
  };
  failures_by_kind: Partial<Record<ErrorKind, number>>;
  internal_errors: number;
  latency_ms: Histogram;
  overhead_us: Histogram;
  /** Streams: from an attempt's start to its first text. */
  first_token_ms: Histogram;
  usage: {
    total: UsageTotals;
    by_model: Record<string, UsageTotals>;
    by_operation: Record<string, UsageTotals>;
  };
  /** The routing policy and each route's tiers of deployments; absent without configured deployments. */
  routing?: {
    strategy: 'round_robin' | 'least_loaded' | 'lowest_latency' | 'weighted';
    /** One per model group (or deployment) requests may name: its deployments, tier by tier. */
    routes: Array<{ name: string; tiers: string[][] }>;
  };
  /** Each configured deployment; absent without them. */
  deployments?: DeploymentMetrics[];
}

/** One deployment in the metrics snapshot. */
export interface DeploymentMetrics {
  name: string;
  group: string;
  provider: string;
  model: string;
  base_url: string;
  weight: number;
  /** false once an auth, permission, quota or region error (or setDeployment) took it out. */
  in_rotation: boolean;
  /** Why it is out of rotation; absent while it is in. */
  out_kind?: ErrorKind;
  out_reason?: string;
  out_since_unix_ms?: number;
  attempts: number;
  failed_attempts: number;
  /** Requests it completed successfully. */
  served: number;
  in_flight: number;
  /** Recent attempt latency (a weighted mean); null before its first answer. */
  latency_ms: number | null;
  /** Unused room across its rate and concurrency gates, 0..1. */
  headroom: number;
  requests_in_window: number;
  tokens_in_window: number;
  paused_ms: number;
  circuit_breaker?: Record<string, unknown>;
}

// ---- lifecycle events --------------------------------------------------------------------

/** The lifecycle events of a request, as bits for Client.onEvents (LLMSVC_EVENT_*). */
export declare const EventType: {
  /** "queued": accepted, waiting for admission. */
  readonly QUEUED: 1;
  /** "admitted": through the gates, to a deployment. */
  readonly ADMITTED: 2;
  /** "attempt_started": an attempt was sent. */
  readonly ATTEMPT_STARTED: 4;
  /** "attempt_finished": an attempt was answered or failed. */
  readonly ATTEMPT_FINISHED: 8;
  /** "retry_scheduled": another attempt will follow. */
  readonly RETRY_SCHEDULED: 16;
  /** "completed": the request's one completion is next. */
  readonly COMPLETED: 32;
  /** Every lifecycle event. */
  readonly ALL: 63;
};

/** The name of a lifecycle event, as in an event's `type`. */
export type EventName =
  | 'queued'
  | 'admitted'
  | 'attempt_started'
  | 'attempt_finished'
  | 'retry_scheduled'
  | 'completed';

/**
 * One lifecycle event of a request: its event document (docs/schema.md, "Events"),
 * parsed. Members beyond the common ones depend on `type`.
 */
export interface LifecycleEvent {
  type: EventName;
  /** The request's id (GenerateResponse.id, ResponseStream.id). */
  request_id: number;
  trace_id?: string;
  traceparent?: string;
  model: string;
  operation: string;
  unix_ms: number;
  since_submit_ms: number;
  /** queued: its priority and the queue's length. */
  priority?: number;
  waiting?: number;
  /** queued, with withContent: the request's wire body. */
  request?: Record<string, unknown>;
  /** admitted, attempt_started, attempt_finished: the attempt (from 1) and its deployment. */
  attempt?: number;
  deployment?: string;
  /** admitted: time spent waiting at the gates. */
  queue_ms?: number;
  /** attempt_started. */
  provider?: string;
  stream?: boolean;
  /** attempt_finished, completed: the outcome ("none" on success). */
  kind?: ErrorKind | 'none';
  http_status?: number;
  duration_ms?: number;
  provider_request_id?: string;
  prompt_tokens?: number;
  completion_tokens?: number;
  cost_nano_usd?: number | null;
  /** retry_scheduled. */
  after_attempt?: number;
  cause?: ErrorKind;
  reason?: 'backoff' | 'fallback' | 'out_of_rotation' | 'schema_mismatch' | (string & {});
  backoff_ms?: number;
  backoff_source?: string;
  /** completed. */
  ok?: boolean;
  message?: string;
  attempts?: number;
  cache?: string;
  total_ms?: number;
  /** completed, with withContent: the reply's text. */
  text?: string;
  [member: string]: unknown;
}

export interface EventOptions {
  /**
   * Adds the request's wire body to "queued" events (`request`) and the reply's text to
   * "completed" events (`text`). Without it prompts and replies never appear in events.
   */
  withContent?: boolean;
  /**
   * Receives what the listener threw (and the event, when it could be parsed). Without
   * it, a process warning (code LLMSVC_EVENT_LISTENER) reports it.
   */
  onError?: (error: unknown, event: LifecycleEvent | undefined) => void;
}

// ---- typed pieces ----------------------------------------------------------------------

/** A piece of the answer's text. */
export interface TextPiece {
  kind: 'text';
  /** 0. */
  index: number;
  callId: null;
  name: null;
  text: string;
}

/** Tool call `index` (from 0, in the reply's order) begins. */
export interface ToolCallPiece {
  kind: 'tool_call';
  index: number;
  /** The call's id (ToolCall.id). */
  callId: string;
  /** The tool's name. */
  name: string;
  /** Empty. */
  text: '';
}

/** The next piece of call `index`'s arguments (JSON text). */
export interface ToolArgumentsPiece {
  kind: 'tool_arguments';
  index: number;
  callId: null;
  name: null;
  text: string;
}

/** What client.streamPieces() yields. */
export type StreamPiece = TextPiece | ToolCallPiece | ToolArgumentsPiece;

// ---- the client ------------------------------------------------------------------------

export declare class Client implements AsyncDisposable {
  /**
   * Creates a client and starts its engine thread.
   * @throws StatusError when the configuration is malformed (the message names the field)
   */
  constructor(config?: Config | string, options?: ClientOptions);
  /** A client from a configuration file: YAML or JSON, llmsvc's, llm.yaml's or LiteLLM's
   *  layout, ${NAME} environment references. Errors name the file, line and column. */
  static fromFile(path: string, options?: ClientOptions): Client;

  /**
   * Sends one request through the client's gates and retries. A string is a prompt.
   * Resolves with the response; rejects with an LlmsvcError subclass when the request
   * failed, or with a StatusError when it was refused before submission (a malformed
   * request, a closed client).
   */
  generate<T = unknown>(request: Request | string, options?: GenerateOptions): Promise<GenerateResponse<T>>;

  /**
   * Sends a request with a json_schema and resolves with its validated document, parsed.
   * Rejects with SchemaMismatchError (pointer, keyword, output) when the model's document
   * does not match, after retry.schema_retries new attempts; with TypeError when the
   * request has no json_schema.
   */
  generateJSON<T = unknown>(request: JsonRequest, options?: GenerateOptions): Promise<T>;

  /**
   * Sends a request whose reply is streamed:
   * `for await (const piece of client.stream(request, { signal }))`. The pieces are
   * strings; the whole response is `.response`. Leaving the loop early or aborting the
   * signal cancels the request in the core. Every error — a refused submission
   * (StatusError), a failed request (LlmsvcError subclasses) — is thrown by the iterator
   * and rejects `.response`; pieces delivered before a failure are yielded first.
   */
  stream<T = unknown>(request: Request | string, options?: GenerateOptions): ResponseStream<T>;

  /**
   * Sends a request whose reply is streamed as typed pieces: text, and each tool call as it
   * is produced (its start with id and name, then its arguments piece by piece). Otherwise
   * as stream(): the response (with the assembled toolCalls) is `.response`; leaving the
   * loop or aborting cancels; errors are thrown by the iterator.
   */
  streamPieces<T = unknown>(request: Request | string, options?: GenerateOptions): ResponseStream<T, StreamPiece>;

  /** One consistent snapshot of metrics, usage and cost. Also after close(). */
  metrics(): MetricsSnapshot;

  /**
   * The same snapshot in the Prometheus text exposition format (version 0.0.4), ready to
   * serve as `text/plain; version=0.0.4`; metric names in docs/schema.md. Also after close().
   */
  metricsPrometheus(): string;

  /**
   * Changes the limits at run time; fields not given keep their value. Takes effect
   * before any request submitted afterwards is admitted.
   * @throws StatusError
   */
  setLimits(limits: Limits | string): void;

  /**
   * Changes one configured deployment at run time: `enabled: true` puts a deployment
   * taken out of rotation back into it (`false` takes it out), `weight`, `limits`
   * (members not given keep their value). Takes effect before any request is admitted
   * afterwards.
   * @throws StatusError (LLMSVC_ESCHEMA also for a name no deployment has)
   */
  setDeployment(deployment: DeploymentUpdate | string): void;

  /**
   * Delivers the lifecycle events of every request to `listener`, replacing the previous
   * one (events queued for it and not yet delivered are dropped). `types`: EventType
   * bits, event names or 'all'; empty turns events off, as offEvents() does. Events come
   * in order, through the same queue as completions: a request's events arrive before
   * its promise settles. A listener that throws does not break the client (see
   * EventOptions.onError).
   * @throws StatusError (LLMSVC_EINVAL for bits the core does not define, LLMSVC_ECLOSED
   *   after close()), TypeError for an unknown event name
   */
  onEvents(
    types: number | readonly EventName[] | 'all',
    listener: (event: LifecycleEvent) => void,
    options?: EventOptions,
  ): void;

  /** Turns lifecycle events off: the listener is not called again. */
  offEvents(): void;

  /** Requests whose promise has not settled yet. */
  readonly pending: number;

  /** True once close() was called. */
  readonly closed: boolean;

  /**
   * Refuses new requests at once and completes every pending one with ShutDownError;
   * resolves once all of them have settled. Never blocks the calling thread. Idempotent.
   */
  close(): Promise<void>;

  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The pieces of a streamed request — text (client.stream()) or typed pieces
 * (client.streamPieces()) — and its response. Pieces the loop has not taken yet wait here
 * (the core's engine never waits for JavaScript). Iterable once.
 */
export declare class ResponseStream<T = unknown, P = string> implements AsyncIterableIterator<P> {
  private constructor();
  /** The whole response once the request completed; rejects as the iterator throws. */
  readonly response: Promise<GenerateResponse<T>>;
  /** The core's request id; 0 when nothing was submitted. */
  readonly id: number;
  next(): Promise<IteratorResult<P, undefined>>;
  /** Ends the iteration; a request still pending is cancelled in the core. */
  return(value?: undefined): Promise<IteratorResult<P, undefined>>;
  /** Ends the iteration as return() does, then throws `err` (the promise always rejects). */
  throw(err?: unknown): Promise<IteratorResult<P, undefined>>;
  [Symbol.asyncIterator](): this;
}

/** The runtime version of libllmsvc ("0.4.0"). */
export declare function coreVersion(): string;
/** A configuration file as the core reads it: llmsvc's configuration document (JSON; it
 *  holds the keys the file resolved) and what the file has that llmsvc does not use. */
export declare function loadConfigFile(path: string): { config: string; warnings: string[] };

/** Counters of the native layer in the calling thread's environment (diagnostics). */
export declare function nativeStats(): {
  /** Submitted requests whose completion has not been delivered yet, over all clients. */
  pendingEntries: number;
  /** Core clients not yet destroyed (closed ones included until collected). */
  liveClients: number;
  /** Native client records not yet freed. */
  nativeClients: number;
};

// ---- errors ----------------------------------------------------------------------------

/** The C ABI's status codes (llmsvc_status). */
export declare const Status: {
  readonly OK: 0;
  readonly EINVAL: -1;
  readonly EJSON: -2;
  readonly ESCHEMA: -3;
  readonly ENOMEM: -4;
  readonly ECLOSED: -5;
  readonly ENOTFOUND: -6;
  readonly ERECURSIVE: -7;
  readonly ETIMEOUT: -8;
  readonly EHANDLE: -9;
  readonly ESYSTEM: -10;
  readonly EINTERNAL: -11;
};

export type StatusCode =
  | 'LLMSVC_EINVAL'
  | 'LLMSVC_EJSON'
  | 'LLMSVC_ESCHEMA'
  | 'LLMSVC_ENOMEM'
  | 'LLMSVC_ECLOSED'
  | 'LLMSVC_ENOTFOUND'
  | 'LLMSVC_ERECURSIVE'
  | 'LLMSVC_ETIMEOUT'
  | 'LLMSVC_EHANDLE'
  | 'LLMSVC_ESYSTEM'
  | 'LLMSVC_EINTERNAL';

/** A call the core refused synchronously; nothing was submitted. */
export declare class StatusError extends Error {
  constructor(op: string, status: number, message: string);
  readonly name: 'StatusError';
  /**
   * "new", "submit", "metrics", "metricsPrometheus", "setLimits", "setDeployment",
   * "setEventHook" or "close".
   */
  readonly op: string;
  /** The C ABI status, negative. */
  readonly status: number;
  /** Its name, e.g. "LLMSVC_ESCHEMA", "LLMSVC_ECLOSED". */
  readonly code: StatusCode | (string & {});
}

/** A request the core accepted and that then failed. */
export declare class LlmsvcError extends Error {
  constructor(doc: ResultDocument, cause?: unknown);
  readonly kind: ErrorKind | 'unknown';
  /** The HTTP status of the last attempt; 0 when no reply was received. */
  readonly httpStatus: number;
  /** The provider's own message (an error reply, or a stream's error event); null when none. */
  readonly providerMessage: string | null;
  readonly providerType: string | null;
  readonly providerCode: string | null;
  readonly providerParam: string | null;
  /** A wait the server asked for that was too long to honour; null when none. */
  readonly retryAfterMs: number | null;
  /** Every attempt made, in order; empty when none was sent. */
  readonly attempts: Attempt[];
  /** The core's request id (0 when the request was never submitted). */
  readonly id: number;
  readonly model: string | undefined;
  /** The deployment that gave the final answer; null without configured deployments. */
  readonly deployment: string | null;
  readonly traceId: string | null;
  /** As GenerateResponse's; null when the error was made from a result document. */
  readonly provider: string | null;
  readonly serverAddress: string | null;
  readonly serverPort: number | null;
  /** What the attempts used and cost (a reply that failed its schema was paid); null when none. */
  readonly usage: Usage | null;
  readonly costNanoUsd: number | null;
  readonly timing: Timing;
  /** The whole result document, parsed when first read (as providerParam, which only it has). */
  readonly result: ResultDocument;
}

export declare class RateLimitedError extends LlmsvcError { readonly kind: 'rate_limited'; }
export declare class InsufficientQuotaError extends LlmsvcError { readonly kind: 'insufficient_quota'; }
export declare class UnsupportedRegionError extends LlmsvcError { readonly kind: 'unsupported_region'; }
export declare class AuthError extends LlmsvcError { readonly kind: 'auth'; }
export declare class PermissionError extends LlmsvcError { readonly kind: 'permission'; }
export declare class BadRequestError extends LlmsvcError { readonly kind: 'bad_request'; }
export declare class NotFoundError extends LlmsvcError { readonly kind: 'not_found'; }
export declare class ConflictError extends LlmsvcError { readonly kind: 'conflict'; }
export declare class ServerError extends LlmsvcError { readonly kind: 'server_error'; }
export declare class TimeoutError extends LlmsvcError { readonly kind: 'timeout'; }
export declare class ConnectionError extends LlmsvcError { readonly kind: 'connection'; }
/** Cancelled through an AbortSignal. Its name is "AbortError"; `cause` is the signal's reason. */
export declare class CancelledError extends LlmsvcError {
  readonly kind: 'cancelled';
  readonly name: 'AbortError';
  readonly code: 'ABORT_ERR';
}
export declare class DeadlineExceededError extends LlmsvcError { readonly kind: 'deadline_exceeded'; }
export declare class ShutDownError extends LlmsvcError { readonly kind: 'shut_down'; }
export declare class InvalidRequestError extends LlmsvcError { readonly kind: 'invalid_request'; }
export declare class ProtocolError extends LlmsvcError { readonly kind: 'protocol'; }
export declare class BudgetExceededError extends LlmsvcError { readonly kind: 'budget_exceeded'; }
/** The output did not match the request's json_schema (after retry.schema_retries new attempts). */
export declare class SchemaMismatchError extends LlmsvcError {
  readonly kind: 'schema_mismatch';
  /** The JSON pointer of the first violation, e.g. "/name" for a missing required property. */
  readonly pointer: string;
  /** The schema keyword that failed: "required", "type", "enum", ... */
  readonly keyword: string;
  /** The rejected output, as the model wrote it. */
  readonly output: string;
}
export declare class InternalError extends LlmsvcError { readonly kind: 'internal'; }
/** Its priority's queue was full, or it would have waited longer than queue.max_wait_ms; not sent. */
export declare class LoadShedError extends LlmsvcError { readonly kind: 'load_shed'; }

/** The error class of each kind. */
export declare const errorClasses: Readonly<Record<ErrorKind, typeof LlmsvcError>>;
