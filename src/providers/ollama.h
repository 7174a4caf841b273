// Ollama's native chat API (POST {base_url}/api/chat): whole replies as JSON, streamed
// replies as NDJSON; `format` carries a JSON Schema; usage from prompt_eval_count and
// eval_count; embeddings through POST {base_url}/api/embed. (Ollama also serves the OpenAI-compatible /v1 for the openai_chat provider.)
#pragma once

#include "providers/provider.h"

namespace llmsvc {

class OllamaProvider final : public Provider {
 public:
  explicit OllamaProvider(const Config &config);
  ~OllamaProvider() override;
  OllamaProvider(const OllamaProvider &) = delete;
  OllamaProvider &operator=(const OllamaProvider &) = delete;

  const char *name() const override { return "ollama"; }
  const std::string &url() const override { return url_; }
  bool embeds() const override { return true; }
  const std::string &embeddings_url() const override { return embed_url_; }
  curl_slist *headers() const override { return headers_; }
  void build_body(const RequestSpec &req, JsonBuffer &out) const override;
  int64_t estimate_prompt_tokens(const RequestSpec &req) const override;
  std::string unsupported(const RequestSpec &req) const override;
  bool parse_reply(std::string_view body, ProviderReply &out,
                   std::string &error) const override;
  ProviderError parse_error(std::string_view body) const override;
  void read_header(std::string_view name, std::string_view value, int64_t wall_now_ms,
                   ResponseHeaders &out) const override;
  bool streams() const override { return true; }
  StreamDecoder::Format stream_format() const override { return StreamDecoder::Format::kNdjson; }
  bool on_stream_event(const StreamEvent &ev, StreamState &st, std::string &delta,
                       ProviderError &error) const override;

 private:
  /// A message's thinking and tool calls, into `out` (and as pieces into `st` when streamed).
  static void read_message_extras(const JsonValue &msg, ProviderReply &out, StreamState *st);
  static void read_final(const JsonValue &doc, ProviderReply &out);

  std::string url_;
  std::string embed_url_;  // {base_url}/api/embed
  curl_slist *headers_ = nullptr;
};

}  // namespace llmsvc
