// Small readers shared by the providers' reply parsers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/json.h"

struct curl_slist;

namespace llmsvc {

/// A token count member of an object: 0 when absent. A count that is present but not a
/// whole number from 0 to kMaxTokenCount (negative, 1e30, beyond 64 bits, a string) sets
/// `bad` and reads as 0: the reply's usage is then unknown, never a made-up number.
constexpr int64_t kMaxTokenCount = int64_t(1) << 40;
inline int64_t int_member(const JsonValue &obj, const char *name, bool &bad) {
  if (!obj.IsObject()) return 0;
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return 0;
  if (!it->value.IsInt64() || it->value.GetInt64() < 0 || it->value.GetInt64() > kMaxTokenCount) {
    bad = true;
    return 0;
  }
  return it->value.GetInt64();
}

/// A member of an object; null when `obj` is not an object (a reply may put any JSON where
/// an object is expected) or has no such member.
inline const JsonValue *member(const JsonValue &obj, const char *name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  return it != obj.MemberEnd() ? &it->value : nullptr;
}

/// A string member of an object, empty when absent or not a string.
inline std::string str_member(const JsonValue &obj, const char *name) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return std::string(sv(it->value));
}

/// A non-negative decimal header value; -1 when malformed.
inline int64_t parse_count(std::string_view v) {
  int64_t x = 0;
  bool any = false;
  for (char c : v) {
    if (c == ' ' || c == '\r' || c == '\n') continue;
    if (c < '0' || c > '9' || x > (INT64_MAX - (c - '0')) / 10) return -1;
    x = x * 10 + (c - '0');
    any = true;
  }
  return any ? x : -1;
}

/// Parses `body` into `scratch`; false with `error` set when it is not a JSON object.
bool parse_object(ScratchDoc &scratch, std::string_view body, const char *what,
                  std::string &error);

/// Writes the members every JSON Schema request form shares: name, description (when
/// given), schema and strict.
struct RequestSpec;
void write_schema_members(JsonWriter &w, const RequestSpec &req);
/// Writes temperature and top_p when the request gives them.
void write_sampling(JsonWriter &w, const RequestSpec &req);

/// OpenAI's tools, and with `choice` tool_choice and parallel_tool_calls: nested in
/// "function" (Chat Completions, Ollama) or flat (Responses).
void write_openai_tools(JsonWriter &w, const RequestSpec &req, bool flat, bool choice = true);

/// A tool call's arguments as a JSON object value (Anthropic's tool_use input, Ollama's
/// arguments); false when the text is not a JSON object.
bool write_arguments_object(JsonWriter &w, const std::string &arguments);
/// Why a request's tool calls cannot be sent as objects ("" when they can).
std::string arguments_not_objects(const RequestSpec &req);
/// Why a request's images cannot be sent to `provider`, which takes only base64 data: URLs
/// ("" when they can).
std::string images_not_inline(const RequestSpec &req, const char *provider);

/// The text of a message's parts, for providers that take a tool result as one string.
struct Message;
/// Whether `m` has parts other than thinking (which only Anthropic takes back).
bool has_content_besides_thinking(const Message &m);
std::string parts_text(const Message &m);

/// A streamed choice's logprobs content: appended to `into` (a JSON array text, kept as the
/// provider sent its entries).
void append_logprobs(std::string &into, const JsonValue &content);

/// `extra` (a JSON object) merged into the wire body in `body`: its members replace the
/// body's members of the same name, the others are added.
void merge_extra_body(JsonBuffer &body, const std::string &extra);

/// The provider's error object: {"error": {"type", "code", "message", "param"}} (OpenAI and
/// Anthropic share this part of the shape), or {"error": "text"} (Ollama).
struct ProviderError;
void parse_error_object(std::string_view body, ProviderError &out);

/// The retry headers every provider may send: retry-after-ms, retry-after (seconds or an
/// HTTP date), x-should-retry. True when `name` was one of them.
struct ResponseHeaders;
bool read_retry_header(std::string_view name, std::string_view value, int64_t wall_now_ms,
                       ResponseHeaders &out);

/// Appends the configuration's own headers ("headers") to a curl list.
struct Config;
void append_config_headers(curl_slist *&list, const Config &config);

/// Appends a header line to a curl list; throws std::bad_alloc when curl cannot.
void append_header(curl_slist *&list, const std::string &line);

}  // namespace llmsvc
