// One provider's wire format: the request body, the reply, its errors and its rate-limit
// headers. Adding a provider touches no other provider and nothing in the engine.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/json.h"
#include "core/config.h"
#include "core/request.h"
#include "core/tokens.h"
#include "http/stream_decoder.h"
#include "usage/prices.h"

struct curl_slist;

namespace llmsvc {

/// A successful reply, parsed.
/// One choice of a reply that was asked for several (request n > 1).
struct ReplyChoice {
  std::string text;
  std::vector<ToolCall> tool_calls;
  std::string finish_reason;
  std::string logprobs_json;
};

struct ProviderReply {
  std::string text;
  std::vector<ToolCall> tool_calls;  // finish_reason is then "tool_calls", whatever the provider said
  std::string logprobs_json;         // the (first) choice's token log probabilities, as sent
  std::vector<ReplyChoice> choices;  // every choice, when the reply has more than one
  std::string service_tier;          // the tier the provider says it used
  std::string thinking;              // reasoning text apart from the answer (Anthropic, Ollama)
  std::string thinking_signature;    // Anthropic: goes back with the thinking in a tool round
  std::string response_id;
  std::string model;
  std::string finish_reason;
  std::vector<std::vector<float>> embeddings;  // an embeddings reply: one vector per input
  TokenUsage usage;
  bool has_usage = false;
  bool usage_unreadable = false;  // usage was sent but a count in it was not one (has_usage false)
  /// Marks the usage as unknown when a count in it could not be read.
  void usage_read(bool bad) {
    if (!bad) return;
    has_usage = false;
    usage_unreadable = true;
    usage = TokenUsage{};
  }
};

/// The provider's own error body (error.type, error.code, error.message, error.param).
struct ProviderError {
  std::string type;
  std::string code;
  std::string message;
  std::string param;
  int64_t retry_after_ns = -1;  // a wait the body itself asks for (Gemini's RetryInfo)
};

/// What a response's headers say about limits and retrying. -1: not given.
struct ResponseHeaders {
  int64_t remaining_requests = -1;
  int64_t remaining_tokens = -1;
  int64_t remaining_input_tokens = -1;
  int64_t remaining_output_tokens = -1;
  int64_t reset_requests_ns = -1;
  int64_t reset_tokens_ns = -1;
  int64_t reset_input_tokens_ns = -1;
  int64_t reset_output_tokens_ns = -1;
  int64_t retry_after_ns = -1;  // retry-after-ms wins over retry-after
  int64_t retry_after_ms_ns = -1;
  int should_retry = -1;  // x-should-retry: 1 true, 0 false
  std::string request_id;
  int64_t input_tokens = -1;  // a reply's input token count given as a header (Bedrock's)
};

/// What a streamed reply has told so far.
/// A piece of a streamed tool call: which call (`index`, in the reply's order), its id and
/// name when the call starts, and the next piece of its arguments' JSON text.
struct ToolPiece {
  size_t index = 0;
  std::string id;
  std::string name;
  std::string arguments;
};

struct StreamState {
  ProviderReply reply;  // text so far (the engine appends every delta), ids, usage, tool calls
  bool done = false;    // the provider's closing event arrived
  std::vector<ToolPiece> tool_pieces;  // since the engine last took them
  std::vector<int64_t> call_keys;      // the provider's key (index, block, item) of each call

  /// Records a piece of the call the provider's `key` names: starts it when it is new, takes
  /// its id and name when they come, appends `arguments`, and queues the piece.
  void tool_piece(int64_t key, std::string_view id, std::string_view name,
                  std::string_view arguments);
  static constexpr size_t kMaxStreamedCalls = 128;
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual const char *name() const = 0;
  /// The endpoint every request of this provider is posted to.
  virtual const std::string &url() const = 0;
  /// Whether the endpoint depends on the request (Gemini names the model and the
  /// streaming method in the URL): each attempt then posts to request_url(req).
  virtual bool url_per_request() const { return false; }
  virtual std::string request_url(const RequestSpec &) const { return url(); }
  /// Embeddings (a request with input): whether this provider serves them, and where.
  virtual bool embeds() const { return false; }
  virtual const std::string &embeddings_url() const { return url(); }
  /// Headers every request carries (authentication, content type). Owned by the provider.
  virtual curl_slist *headers() const = 0;
  /// Sets what else a libcurl easy handle (a CURL *) needs for this provider, once per
  /// handle (Bedrock: Signature Version 4 and its credentials).
  virtual void configure_handle(void * /*easy*/) const {}
  /// The wire body for `req`.
  virtual void build_body(const RequestSpec &req, JsonBuffer &out) const = 0;
  /// Prompt tokens the provider's limiter will count for `req` (before max output tokens).
  virtual int64_t estimate_prompt_tokens(const RequestSpec &req) const = 0;
  /// The output bound the provider's limiter counts at admission (0 when none is sent).
  virtual int64_t output_bound(const RequestSpec &req) const {
    return req.max_output_tokens > 0 ? req.max_output_tokens : 0;
  }
  /// What the limiter counts once the reply's usage is known.
  virtual Tokens metered(const TokenUsage &u) const { return {u.prompt, u.completion}; }
  /// Whether a request may continue a stored response (previous_response_id), whose
  /// context the provider then counts as input again.
  virtual bool chains() const { return false; }
  /// Whether structured output comes back as a call of a tool named like the schema (the
  /// engine then makes that call's arguments the text).
  virtual bool schema_as_tool() const { return false; }
  /// A request this provider cannot send as it is: the reason, else empty. Checked at
  /// submit, before anything is sent.
  virtual std::string unsupported(const RequestSpec &) const { return {}; }
  /// Parses a 2xx body; false with `error` set when it is not a valid reply.
  virtual bool parse_reply(std::string_view body, ProviderReply &out,
                           std::string &error) const = 0;
  /// Parses an error body; fields stay empty when the body is not the provider's shape.
  virtual ProviderError parse_error(std::string_view body) const = 0;
  /// Streaming: whether the provider can stream, in which format, and what one event
  /// means. `on_stream_event` appends new text to `delta` and records ids, usage and the
  /// end in `st`; it returns false when the event reports an error (`error` filled).
  virtual bool streams() const { return false; }
  virtual StreamDecoder::Format stream_format() const { return StreamDecoder::Format::kSse; }
  virtual bool on_stream_event(const StreamEvent &, StreamState &, std::string &,
                               ProviderError &error) const {
    error.message = "this provider does not stream";
    return false;
  }
  /// Reads one response header (name lower-cased) into `out`.
  virtual void read_header(std::string_view name, std::string_view value, int64_t wall_now_ms,
                           ResponseHeaders &out) const = 0;
};

/// Structured output that came back as a call of the tool named like the schema
/// (Provider::schema_as_tool): that call's arguments become the text, and the reply ends
/// as an answer ("stop") unless the model called other tools too.
void take_schema_call(ProviderReply &reply, const std::string &schema_name);

/// What a reply carries beyond text, usage and ids (tool calls, choices, logprobs, service
/// tier, thinking) as a JSON document, for the response cache; "" when it carries none.
std::string encode_reply_extras(const ProviderReply &reply);
/// Reads what encode_reply_extras wrote into `reply`; false when it is not that form.
bool decode_reply_extras(std::string_view json, ProviderReply &reply);

/// The provider a configuration names.
std::unique_ptr<Provider> make_provider(const Config &config);


/// What an image can cost at most, by size class, never by the length of its base64 text.
/// OpenAI: 85 at low detail, else 85 + 170 per 512-pixel tile after scaling into 2048 and
/// 768 pixels, at most 8 tiles. Anthropic: about (width x height) / 750 after scaling to
/// 1.15 megapixels, at most about 1,600.
inline int64_t image_tokens_openai(const ContentPart &p) { return p.detail == "low" ? 85 : 1445; }
constexpr int64_t kImageTokensAnthropic = 1600;
/// Audio: about 10 tokens a second, counting 16 kB of encoded audio a second (MP3 at
/// 128 kbit/s; WAV is larger, so this over-reserves, never under).
inline int64_t audio_tokens(const ContentPart &p) {
  int64_t bytes = int64_t(p.data.size()) * 3 / 4;
  return (bytes + 1599) / 1600;
}

/// One part's estimate; `image` prices an image.
template <typename ImageCost>
int64_t part_tokens(const ContentPart &p, ImageCost image) {
  switch (p.type) {
    case ContentPart::Type::kText: return text_tokens(p.text.size());
    case ContentPart::Type::kImageUrl: return image(p);
    case ContentPart::Type::kAudio: return audio_tokens(p);
    case ContentPart::Type::kThinking: return text_tokens(p.text.size());
  }
  return 0;
}

/// Tool calls sent back in a message: their ids, names and arguments as text.
inline int64_t tool_call_tokens(const Message &m) {
  int64_t total = 0;
  for (const ToolCall &c : m.tool_calls)
    total += 4 + text_tokens(c.id.size() + c.name.size() + c.arguments.size());
  if (!m.tool_call_id.empty()) total += text_tokens(m.tool_call_id.size());
  return total;
}

/// The tool definitions a request offers, which the provider counts as prompt: names,
/// descriptions and schemas as text, plus a few tokens of framing each.
inline int64_t tool_tokens(const RequestSpec &req) {
  int64_t total = 0;
  for (const ToolDef &t : req.tools)
    total += 8 + text_tokens(t.name.size() + t.description.size() + t.parameters_json.size());
  return total;
}

/// The shared prompt estimate: 3 + per message 4 + its parts and tool calls (instructions,
/// when given, count as one more message: see estimate_with_instructions).
template <typename ImageCost>
int64_t estimate_messages(const std::vector<Message> &messages, ImageCost image) {
  constexpr int64_t kPerMessage = 4, kBase = 3;
  int64_t total = kBase;
  for (const Message &m : messages) {
    total += kPerMessage + tool_call_tokens(m);
    for (const ContentPart &p : m.parts) total += part_tokens(p, image);
  }
  return total;
}

/// The OpenAI-style estimate with the instructions as one more message, and the tools.
inline int64_t estimate_with_instructions(const RequestSpec &req) {
  int64_t total = estimate_messages(req.messages, image_tokens_openai) + tool_tokens(req);
  if (!req.instructions.empty()) total += 4 + text_tokens(req.instructions.size());
  return total;
}

}  // namespace llmsvc
