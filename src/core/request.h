// A request in the provider-neutral schema (docs/schema.md), parsed and validated once
// at submit, on the submitting thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "core/json_schema.h"

namespace llmsvc {

struct ContentPart {
  enum class Type { kText, kImageUrl, kAudio, kThinking };
  Type type = Type::kText;
  std::string text;    // kText; kThinking: the thinking text
  std::string url;     // kImageUrl: https URL or data: URL (image bytes arrive as one)
  std::string detail;  // kImageUrl: "auto", "low" or "high"; empty when not given
  std::string data;    // kAudio: base64 bytes; kThinking: its signature (Anthropic, opaque)
  std::string format;  // kAudio: "wav" or "mp3"
  /// Anthropic prompt caching: a breakpoint after this part ({"type": "ephemeral",
  /// "ttl": "5m" | "1h"} as given); "" when none.
  std::string cache_control_json;
};

/// A tool call: the model's (in a reply) or one sent back in an assistant message.
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // the JSON text the model produced, as it produced it
};

struct Message {
  std::string role;  // system, developer, user, assistant, tool
  std::vector<ContentPart> parts;  // empty: no content (an assistant message of tool calls)
  bool content_is_string = true;  // sent as a plain string (one text part)
  std::string name;
  std::vector<ToolCall> tool_calls;  // assistant: the calls it made
  std::string tool_call_id;          // tool: the call this message answers
};

/// A function tool the model may call.
struct ToolDef {
  std::string name;
  std::string description;
  std::string parameters_json;                    // its JSON Schema as given; "" when none
  std::shared_ptr<const JsonSchema> parameters;   // compiled; null when none
  std::optional<bool> strict;                     // arguments must match the schema
  std::string cache_control_json;                 // Anthropic breakpoint after this tool
};

/// Which tools the model may or must call.
enum class ToolChoice : uint8_t { kDefault, kAuto, kNone, kRequired, kNamed };

/// Priority classes: lower is served first, FIFO within a class.
enum Priority : int { kPriorityHigh = 0, kPriorityNormal = 1, kPriorityLow = 2 };

/// A request's own cache policy ("cache"): the client's policy, or use / refresh / bypass.
enum class CacheMode : uint8_t { kDefault, kUse, kRefresh, kBypass };

struct RequestSpec {
  std::string model;
  std::vector<Message> messages;
  // An embeddings request ("input" and no messages or prompt): the input as given (a
  // string, a list of strings, a list of token ids or a list of such lists), how many
  // inputs it holds and their estimated tokens; the vectors' length when asked.
  bool embedding = false;
  std::string input_json;
  int64_t inputs = 0;
  int64_t input_tokens = 0;
  int64_t dimensions = 0;
  std::string instructions;  // sent as a leading system message
  int64_t max_output_tokens = -1;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::vector<std::string> stop;
  std::optional<int64_t> seed;
  std::string user;
  std::string reasoning_effort;      // minimal, low, medium, high; empty: the model's default
  std::string previous_response_id;  // continue a stored response (OpenAI Responses)
  std::string operation;  // usage grouping; "default" when empty
  int priority = kPriorityNormal;
  bool stream = false;  // ask for a streamed reply (llmsvc_client_submit_stream sets it)
  bool stream_given = false;  // the document has a "stream" member
  int64_t timeout_ms = 0;     // overall deadline from submit, 0 = none
  std::string metadata_json;  // a JSON object, echoed in the result, never sent
  std::string trace_id;
  std::string traceparent;  // W3C trace context, sent to the provider as is
  std::string tracestate;
  CacheMode cache = CacheMode::kDefault;

  // Tools.
  std::vector<ToolDef> tools;
  ToolChoice tool_choice = ToolChoice::kDefault;
  std::string tool_choice_name;              // kNamed
  std::optional<bool> parallel_tool_calls;   // false: at most one call per reply

  // The rest of the common parameters; each provider refuses what it cannot express.
  std::optional<double> frequency_penalty;
  std::optional<double> presence_penalty;
  std::string logit_bias_json;  // {"token id": bias}; "" when none
  int64_t n = 1;                // choices to generate
  bool logprobs = false;
  std::optional<int64_t> top_logprobs;
  bool json_mode = false;       // response_format {"type": "json_object"}
  std::string service_tier;     // auto, default, flex, priority; "" when not asked
  std::optional<int64_t> top_k;
  int64_t thinking_budget = 0;  // Anthropic extended thinking: budget_tokens; 0 = off
  std::string prompt_cache_key;
  std::string extra_body_json;  // an object merged into the wire body as is; "" when none
  std::vector<std::pair<std::string, std::string>> extra_headers;  // sent as given

  // Structured output: the reply must be a JSON document matching this schema.
  std::string schema_name;  // empty: no structured output
  std::string schema_description;
  std::string schema_json;  // the schema as given, for the wire
  bool schema_strict = true;
  std::shared_ptr<const JsonSchema> schema;
};

/// Whether any message carries audio.
bool has_audio(const RequestSpec &req);

/// Headers given as a JSON object of names and string values ("extra_headers", a
/// configuration's "headers"), appended to `out`; refuses credentials and framing headers.
DocError parse_headers(const JsonValue &v, const std::string &path,
                       std::vector<std::pair<std::string, std::string>> &out);

/// The tool of `req` named `name`; null when it offers none by that name.
const ToolDef *find_tool(const RequestSpec &req, std::string_view name);

/// Parses and validates a request document. `default_model` fills a missing model.
DocError parse_request(std::string_view json, const std::string &default_model,
                       RequestSpec &out);

/// Whether `t` is a W3C traceparent header value (version 00 layout).
bool valid_traceparent(std::string_view t);

}  // namespace llmsvc
