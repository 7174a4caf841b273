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
  enum class Type { kText, kImageUrl, kAudio };
  Type type = Type::kText;
  std::string text;    // kText
  std::string url;     // kImageUrl: https URL or data: URL (image bytes arrive as one)
  std::string detail;  // kImageUrl: "auto", "low" or "high"; empty when not given
  std::string data;    // kAudio: base64 bytes
  std::string format;  // kAudio: "wav" or "mp3"
};

struct Message {
  std::string role;  // system, developer, user, assistant
  std::vector<ContentPart> parts;
  bool content_is_string = true;  // sent as a plain string (one text part)
  std::string name;
};

/// Priority classes: lower is served first, FIFO within a class.
enum Priority : int { kPriorityHigh = 0, kPriorityNormal = 1, kPriorityLow = 2 };

/// A request's own cache policy ("cache"): the client's policy, or use / refresh / bypass.
enum class CacheMode : uint8_t { kDefault, kUse, kRefresh, kBypass };

struct RequestSpec {
  std::string model;
  std::vector<Message> messages;
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
  int64_t timeout_ms = 0;     // overall deadline from submit, 0 = none
  std::string metadata_json;  // a JSON object, echoed in the result, never sent
  std::string trace_id;
  std::string traceparent;  // W3C trace context, sent to the provider as is
  std::string tracestate;
  CacheMode cache = CacheMode::kDefault;

  // Structured output: the reply must be a JSON document matching this schema.
  std::string schema_name;  // empty: no structured output
  std::string schema_description;
  std::string schema_json;  // the schema as given, for the wire
  bool schema_strict = true;
  std::shared_ptr<const JsonSchema> schema;
};

/// Whether any message carries audio.
bool has_audio(const RequestSpec &req);

/// Parses and validates a request document. `default_model` fills a missing model.
DocError parse_request(std::string_view json, const std::string &default_model,
                       RequestSpec &out);

/// Whether `t` is a W3C traceparent header value (version 00 layout).
bool valid_traceparent(std::string_view t);

}  // namespace llmsvc
