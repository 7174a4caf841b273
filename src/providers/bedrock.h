// AWS Bedrock's Converse API (POST {base_url}/model/{modelId}/converse) and ConverseStream
// (…/converse-stream, an AWS binary event stream), signed with Signature Version 4 by
// libcurl (CURLOPT_AWS_SIGV4) from the configuration's or the environment's credentials.
// One wire shape for every model Bedrock serves (Claude, Llama, Mistral, Nova, ...);
// embeddings through InvokeModel in the embedding model's own shape (Titan, Cohere).
#pragma once

#include "providers/provider.h"

namespace llmsvc {

class BedrockProvider final : public Provider {
 public:
  explicit BedrockProvider(const Config &config);
  ~BedrockProvider() override;
  BedrockProvider(const BedrockProvider &) = delete;
  BedrockProvider &operator=(const BedrockProvider &) = delete;

  const char *name() const override { return "bedrock"; }
  const std::string &url() const override { return url_; }
  bool url_per_request() const override { return true; }
  std::string request_url(const RequestSpec &req) const override;
  /// Embeddings through InvokeModel ({base_url}/model/{id}/invoke): Amazon Titan Text
  /// Embeddings (one input per request) and Cohere Embed (up to 96).
  bool embeds() const override { return true; }
  curl_slist *headers() const override { return headers_; }
  void configure_handle(void *easy) const override;
  void build_body(const RequestSpec &req, JsonBuffer &out) const override;
  int64_t estimate_prompt_tokens(const RequestSpec &req) const override;
  int64_t output_bound(const RequestSpec &req) const override;
  std::string unsupported(const RequestSpec &req) const override;
  bool schema_as_tool() const override { return true; }
  bool parse_reply(std::string_view body, ProviderReply &out,
                   std::string &error) const override;
  ProviderError parse_error(std::string_view body) const override;
  void read_header(std::string_view name, std::string_view value, int64_t wall_now_ms,
                   ResponseHeaders &out) const override;
  bool streams() const override { return true; }
  StreamDecoder::Format stream_format() const override {
    return StreamDecoder::Format::kAwsEventStream;
  }
  bool on_stream_event(const StreamEvent &ev, StreamState &st, std::string &delta,
                       ProviderError &error) const override;

 private:
  std::string base_;  // {base_url}/model/
  std::string url_;   // the configured model's converse URL
  std::string sigv4_;       // "aws:amz:REGION:bedrock"
  std::string access_key_;  // id, then secret: libcurl's user name and password
  std::string secret_key_;
  int64_t default_max_tokens_;
  curl_slist *headers_ = nullptr;
};

}  // namespace llmsvc
