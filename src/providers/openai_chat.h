// OpenAI Chat Completions (POST {base_url}/chat/completions), which OpenAI and every
// OpenAI-compatible server (Ollama's /v1, vLLM, llama.cpp) speak.
#pragma once

#include "providers/provider.h"

namespace llmsvc {

/// What the OpenAI family shares: its headers (Bearer key, organization, project) and its
/// rate-limit and retry response headers.
curl_slist *openai_headers(const Config &config);
void read_openai_header(std::string_view name, std::string_view value, int64_t wall_now_ms,
                        ResponseHeaders &out);

/// Chat Completions; also Azure OpenAI's (POST {endpoint}/openai/deployments/{deployment}/
/// chat/completions?api-version=V with an api-key header), the same wire shape.
class OpenAIChatProvider final : public Provider {
 public:
  explicit OpenAIChatProvider(const Config &config);
  struct Azure {};
  OpenAIChatProvider(const Config &config, Azure);
  ~OpenAIChatProvider() override;
  OpenAIChatProvider(const OpenAIChatProvider &) = delete;
  OpenAIChatProvider &operator=(const OpenAIChatProvider &) = delete;

  const char *name() const override { return name_; }
  const std::string &url() const override { return url_; }
  bool embeds() const override { return true; }
  const std::string &embeddings_url() const override { return embeddings_url_; }
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
  bool on_stream_event(const StreamEvent &ev, StreamState &st, std::string &delta,
                       ProviderError &error) const override;

 private:
  static void read_chat_usage(const JsonValue &doc, ProviderReply &out);

  const char *name_ = "openai_chat";
  std::string url_;
  std::string embeddings_url_;
  std::string max_tokens_field_;
  curl_slist *headers_ = nullptr;
};

}  // namespace llmsvc
