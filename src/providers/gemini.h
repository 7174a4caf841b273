// Google Gemini's native API: POST {base_url}/models/{model}:generateContent, and
// :streamGenerateContent?alt=sse for streams (the model is in the URL, so each request sets
// its own); key in x-goog-api-key. Conversations as `contents` of user and model turns,
// system text as `systemInstruction`, parameters in `generationConfig`, tools as
// `functionDeclarations`; usage from `usageMetadata` (cached and thinking tokens included);
// a 429 says how long to wait in its body (RetryInfo), not in a header.
#pragma once

#include "providers/provider.h"

namespace llmsvc {

class GeminiProvider final : public Provider {
 public:
  explicit GeminiProvider(const Config &config);
  ~GeminiProvider() override;
  GeminiProvider(const GeminiProvider &) = delete;
  GeminiProvider &operator=(const GeminiProvider &) = delete;

  const char *name() const override { return "gemini"; }
  const std::string &url() const override { return url_; }
  bool url_per_request() const override { return true; }
  bool embeds() const override { return true; }  // batchEmbedContents, at request_url
  std::string request_url(const RequestSpec &req) const override;
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
  std::string base_;  // {base_url}/models/
  std::string url_;   // the configured model's generateContent URL
  curl_slist *headers_ = nullptr;
};

}  // namespace llmsvc
