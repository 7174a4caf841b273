// Anthropic Messages (POST {base_url}/messages).
#pragma once

#include "providers/provider.h"

namespace llmsvc {

class AnthropicProvider final : public Provider {
 public:
  explicit AnthropicProvider(const Config &config);
  ~AnthropicProvider() override;
  AnthropicProvider(const AnthropicProvider &) = delete;
  AnthropicProvider &operator=(const AnthropicProvider &) = delete;

  const char *name() const override { return "anthropic"; }
  const std::string &url() const override { return url_; }
  curl_slist *headers() const override { return headers_; }
  void build_body(const RequestSpec &req, JsonBuffer &out) const override;
  int64_t estimate_prompt_tokens(const RequestSpec &req) const override;
  int64_t output_bound(const RequestSpec &req) const override;
  Tokens metered(const TokenUsage &u) const override;
  std::string unsupported(const RequestSpec &req) const override;
  bool parse_reply(std::string_view body, ProviderReply &out,
                   std::string &error) const override;
  ProviderError parse_error(std::string_view body) const override;
  void read_header(std::string_view name, std::string_view value, int64_t wall_now_ms,
                   ResponseHeaders &out) const override;
  bool streams() const override { return true; }
  bool schema_as_tool() const override { return true; }
  bool on_stream_event(const StreamEvent &ev, StreamState &st, std::string &delta,
                       ProviderError &error) const override;

 private:
  static void write_tool_choice(JsonWriter &w, const RequestSpec &req);
  static void write_schema_tool(JsonWriter &w, const RequestSpec &req);
  /// Reads a usage object into `out`; true when a count in it was not one.
  static bool read_usage(const JsonValue &u, TokenUsage &out);

  std::string url_;
  int64_t default_max_tokens_;
  curl_slist *headers_ = nullptr;
};

}  // namespace llmsvc
