// OpenAI Responses (POST {base_url}/responses): instructions and input items, reasoning
// effort, text.format JSON Schema, previous_response_id chaining.
#pragma once

#include "providers/provider.h"

namespace llmsvc {

class OpenAIResponsesProvider final : public Provider {
 public:
  explicit OpenAIResponsesProvider(const Config &config);
  ~OpenAIResponsesProvider() override;
  OpenAIResponsesProvider(const OpenAIResponsesProvider &) = delete;
  OpenAIResponsesProvider &operator=(const OpenAIResponsesProvider &) = delete;

  const char *name() const override { return "openai_responses"; }
  const std::string &url() const override { return url_; }
  curl_slist *headers() const override { return headers_; }
  void build_body(const RequestSpec &req, JsonBuffer &out) const override;
  int64_t estimate_prompt_tokens(const RequestSpec &req) const override;
  std::string unsupported(const RequestSpec &req) const override;
  bool chains() const override { return true; }
  bool parse_reply(std::string_view body, ProviderReply &out,
                   std::string &error) const override;
  ProviderError parse_error(std::string_view body) const override;
  void read_header(std::string_view name, std::string_view value, int64_t wall_now_ms,
                   ResponseHeaders &out) const override;
  bool streams() const override { return true; }
  bool on_stream_event(const StreamEvent &ev, StreamState &st, std::string &delta,
                       ProviderError &error) const override;

 private:
  static bool read_response(const JsonValue &doc, ProviderReply &out, std::string &error);

  std::string url_;
  curl_slist *headers_ = nullptr;
};

}  // namespace llmsvc
