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
struct ProviderReply {
  std::string text;
  std::string response_id;
  std::string model;
  std::string finish_reason;
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
};

/// What a streamed reply has told so far.
struct StreamState {
  ProviderReply reply;  // text so far (the engine appends every delta), ids, usage
  bool done = false;    // the provider's closing event arrived
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual const char *name() const = 0;
  /// The endpoint every request of this provider is posted to.
  virtual const std::string &url() const = 0;
  /// Headers every request carries (authentication, content type). Owned by the provider.
  virtual curl_slist *headers() const = 0;
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

/// The provider a configuration names.
std::unique_ptr<Provider> make_provider(const Config &config);

/// The deterministic token estimate OpenAI-style limiters use: ceil(UTF-8 bytes / 4).
inline int64_t text_tokens(size_t bytes) { return int64_t((bytes + 3) / 4); }

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
  }
  return 0;
}

/// The shared prompt estimate: 3 + per message 4 + its parts (instructions, when given,
/// count as one more message: see estimate_with_instructions).
template <typename ImageCost>
int64_t estimate_messages(const std::vector<Message> &messages, ImageCost image) {
  constexpr int64_t kPerMessage = 4, kBase = 3;
  int64_t total = kBase;
  for (const Message &m : messages) {
    total += kPerMessage;
    for (const ContentPart &p : m.parts) total += part_tokens(p, image);
  }
  return total;
}

/// The OpenAI-style estimate with the instructions as one more message.
inline int64_t estimate_with_instructions(const RequestSpec &req) {
  int64_t total = estimate_messages(req.messages, image_tokens_openai);
  if (!req.instructions.empty()) total += 4 + text_tokens(req.instructions.size());
  return total;
}

}  // namespace llmsvc
