#include "providers/anthropic.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "common/clock.h"
#include "providers/fields.h"
#include "retry/policy.h"

using namespace llmsvc;

namespace {
Config config() {
  Config c;
  c.provider = "anthropic";
  c.base_url = "http://127.0.0.1:9/v1";
  c.api_key = "sk-ant-secret";
  return c;
}
RequestSpec request(const char *json) {
  RequestSpec r;
  DocError err = parse_request(json, "", r);
  EXPECT_FALSE(err) << err.message;
  return r;
}
JsonDoc body_of(const AnthropicProvider &p, const RequestSpec &r) {
  JsonBuffer buf;
  p.build_body(r, buf);
  JsonDoc doc;
  EXPECT_FALSE(parse_json(doc, std::string_view(buf.GetString(), buf.GetSize()), "body"));
  return doc;
}
}  // namespace

TEST(Anthropic, WireBodySeparatesTheSystemPrompt) {
  AnthropicProvider p(config());
  EXPECT_EQ(p.url(), "http://127.0.0.1:9/v1/messages");
  RequestSpec r = request(R"({"model":"claude-sonnet-4-5","instructions":"be brief","messages":[
      {"role":"system","content":"use British spelling"},
      {"role":"user","content":[{"type":"text","text":"what is this?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
        {"type":"image_url","image_url":"https://example.com/cat.jpg"}]},
      {"role":"assistant","content":"a cat"},
      {"role":"user","content":"sure?"}],
      "temperature":0.5,"stop":["END"],"user":"u-7"})");
  JsonDoc d = body_of(p, r);
  EXPECT_STREQ(d["model"].GetString(), "claude-sonnet-4-5");
  EXPECT_EQ(d["max_tokens"].GetInt(), 4096);  // required: the configured default
  EXPECT_STREQ(d["system"].GetString(), "be brief\n\nuse British spelling");
  ASSERT_EQ(d["messages"].Size(), 3u);
  const auto &parts = d["messages"][0]["content"];
  EXPECT_STREQ(parts[1]["type"].GetString(), "image");
  EXPECT_STREQ(parts[1]["source"]["type"].GetString(), "base64");
  EXPECT_STREQ(parts[1]["source"]["media_type"].GetString(), "image/png");
  EXPECT_STREQ(parts[1]["source"]["data"].GetString(), "iVBORw0KGgo=");
  EXPECT_STREQ(parts[2]["source"]["type"].GetString(), "url");
  EXPECT_STREQ(d["messages"][1]["role"].GetString(), "assistant");
  EXPECT_STREQ(d["stop_sequences"][0].GetString(), "END");
  EXPECT_STREQ(d["metadata"]["user_id"].GetString(), "u-7");
  EXPECT_FALSE(d.HasMember("max_completion_tokens"));
}

TEST(Anthropic, ReservationAndMetering) {
  AnthropicProvider p(config());
  RequestSpec r = request(R"({"model":"m","system":"abc","prompt":"hello","max_output_tokens":50})");
  // 3 + user (4 + 2) + system (4 + 1)
  EXPECT_EQ(p.estimate_prompt_tokens(r), 14);
  EXPECT_EQ(p.output_bound(r), 50);
  TokenUsage u;
  u.prompt = 1000;
  u.cached = 768;
  u.completion = 20;
  Tokens t = p.metered(u);
  EXPECT_EQ(t.input, 232);  // cache reads do not count against the input limit
  EXPECT_EQ(t.output, 20);
}

TEST(Anthropic, RefusesWhatItCannotSendBeforeSending) {
  AnthropicProvider p(config());
  EXPECT_NE(p.unsupported(request(R"({"model":"m","prompt":"x","temperature":1.5})")).find("above 1"),
            std::string::npos);
  EXPECT_NE(p.unsupported(request(R"({"model":"m","messages":[{"role":"assistant","content":"x"}]})"))
                .find("start with a user message"),
            std::string::npos);
  EXPECT_NE(p.unsupported(request(R"({"model":"m","messages":[{"role":"user","content":[
                {"type":"image_url","image_url":"data:image/bmp;base64,AA"}]}]})"))
                .find("not image/bmp"),
            std::string::npos);
  EXPECT_EQ(p.unsupported(request(R"({"model":"m","prompt":"fine"})")), "");
  EXPECT_NE(p.unsupported(request(R"({"model":"m","messages":[{"role":"user","content":[
                {"type":"audio","data":"AA","format":"mp3"}]}]})"))
                .find("no audio"),
            std::string::npos);
}

TEST(Anthropic, ParsesReplyWithCacheUsage) {
  AnthropicProvider p(config());
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"id":"msg_1","type":"message","role":"assistant",
      "model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hel"},{"type":"text","text":"lo"}],
      "stop_reason":"end_turn","stop_sequence":null,
      "usage":{"input_tokens":12,"cache_creation_input_tokens":100,"cache_read_input_tokens":900,"output_tokens":7}})",
                            r, err))
      << err;
  EXPECT_EQ(r.text, "Hello");
  EXPECT_EQ(r.finish_reason, "end_turn");
  EXPECT_EQ(r.usage.prompt, 1012);
  EXPECT_EQ(r.usage.cached, 900);
  EXPECT_EQ(r.usage.cache_write, 100);
  EXPECT_EQ(r.usage.completion, 7);
  // Priced with Anthropic's own cache rates: $3 in, $0.30 cache read, $3.75 cache write,
  // $15 out per million tokens (pico-USD per token: 3e6, 3e5, 3.75e6, 1.5e7).
  PriceTable t = PriceTable::builtin();
  EXPECT_EQ(t.cost_pico(r.model, r.usage),
            12 * 3000000LL + 900 * 300000LL + 100 * 3750000LL + 7 * 15000000LL);
}

TEST(Anthropic, ErrorsAndHeaders) {
  AnthropicProvider p(config());
  ProviderError e = p.parse_error(
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"})");
  EXPECT_EQ(e.type, "overloaded_error");
  EXPECT_EQ(e.message, "Overloaded");
  Classification c = classify_http(529, e.type, e.code, -1);
  EXPECT_TRUE(c.retryable);
  EXPECT_EQ(c.kind, LLMSVC_KIND_SERVER_ERROR);
  EXPECT_FALSE(classify_http(401, "authentication_error", "", -1).retryable);

  const int64_t now_ms = 1735689600000;  // 2025-01-01T00:00:00Z
  ResponseHeaders h;
  p.read_header("anthropic-ratelimit-input-tokens-remaining", "1200", now_ms, h);
  p.read_header("anthropic-ratelimit-input-tokens-reset", "2025-01-01T00:00:30Z", now_ms, h);
  p.read_header("anthropic-ratelimit-requests-reset", "2025-01-01T01:00:02+01:00", now_ms, h);
  p.read_header("retry-after", "4", now_ms, h);
  p.read_header("request-id", "req_abc", now_ms, h);
  EXPECT_EQ(h.remaining_input_tokens, 1200);
  EXPECT_EQ(h.reset_input_tokens_ns, 30 * kNsPerSec);
  EXPECT_EQ(h.reset_requests_ns, 2 * kNsPerSec);
  EXPECT_EQ(h.retry_after_ns, 4 * kNsPerSec);
  EXPECT_EQ(h.request_id, "req_abc");
}

TEST(Rfc3339, Forms) {
  const int64_t now_ms = 1735689600000;  // 2025-01-01T00:00:00Z
  EXPECT_EQ(parse_rfc3339_from("2025-01-01T00:00:01.5Z", now_ms), 1500 * kNsPerMs);
  EXPECT_EQ(parse_rfc3339_from("2024-12-31T23:59:00Z", now_ms), 0);  // past: no wait
  EXPECT_EQ(parse_rfc3339_from("2025-01-01 00:00:10z", now_ms), 10 * kNsPerSec);
  EXPECT_EQ(parse_rfc3339_from("2025-01-01T00:00:10", now_ms), -1);  // no zone
  EXPECT_EQ(parse_rfc3339_from("soon", now_ms), -1);
}

TEST(Config, AnthropicDefaultsFromItsOwnEnvironment) {
  unsetenv("ANTHROPIC_BASE_URL");
  unsetenv("OPENAI_BASE_URL");
  setenv("ANTHROPIC_API_KEY", "from-env", 1);
  Config e;
  ASSERT_FALSE(parse_config(R"({"provider":"anthropic"})", e));
  EXPECT_EQ(e.api_key, "from-env");
  unsetenv("ANTHROPIC_API_KEY");
  Config c;
  ASSERT_FALSE(parse_config(R"({"provider":"anthropic","api_key":"k"})", c));
  EXPECT_EQ(c.base_url, "https://api.anthropic.com/v1");
  EXPECT_EQ(c.anthropic_version, "2023-06-01");
  Config o;
  ASSERT_FALSE(parse_config(R"({"api_key":"k"})", o));
  EXPECT_EQ(o.base_url, "https://api.openai.com/v1");
}

TEST(Anthropic, StructuredOutputThroughOneForcedTool) {
  AnthropicProvider p(config());
  JsonDoc d = body_of(p, request(R"({"model":"m","prompt":"a pet","json_schema":{"name":"pet",
      "schema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}})"));
  ASSERT_EQ(d["tools"].Size(), 1u);
  EXPECT_STREQ(d["tools"][0]["name"].GetString(), "pet");
  EXPECT_STREQ(d["tools"][0]["input_schema"]["required"][0].GetString(), "name");
  EXPECT_STREQ(d["tool_choice"]["type"].GetString(), "tool");
  EXPECT_STREQ(d["tool_choice"]["name"].GetString(), "pet");
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"id":"msg_2","type":"message","role":"assistant","model":"m",
      "content":[{"type":"tool_use","id":"toolu_1","name":"pet","input":{"name":"Rex"}}],
      "stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":9}})",
                            r, err));
  // The provider reads a tool call; the engine makes the schema's call the answer.
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.finish_reason, "tool_calls");
  take_schema_call(r, "pet");
  EXPECT_EQ(r.text, R"({"name":"Rex"})");
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.finish_reason, "stop");
}

TEST(Anthropic, StreamMessageStartWhoseMessageIsNotAnObject) {
  // Found by fuzz_anthropic: a message_start whose "message" is a string was read as an
  // object.
  AnthropicProvider p(config());
  StreamState st;
  std::string delta;
  ProviderError err;
  EXPECT_TRUE(p.on_stream_event({"message_start", R"({"message":"model"})"}, st, delta, err));
  EXPECT_TRUE(p.on_stream_event({"message_start", R"({"message":{"id":"m1","usage":3}})"}, st,
                                delta, err));
  EXPECT_EQ(st.reply.response_id, "m1");
  EXPECT_EQ(st.reply.usage.prompt, 0);
}

TEST(Anthropic, HugeOrNegativeUsageCountsMakeTheUsageUnknown) {
  // Input + cache read + cache write counts near INT64_MAX once overflowed when added
  // (undefined behaviour), and a negative count read as a confident 0. A count that is not
  // one makes the usage unknown; counts up to 2^40 each add up without overflow.
  AnthropicProvider p(config());
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"content":[],"model":"claude-sonnet-4-5","usage":{
      "input_tokens":9223372036854775807,"cache_read_input_tokens":9223372036854775807,
      "cache_creation_input_tokens":-5,"output_tokens":-1}})",
                            r, err));
  EXPECT_FALSE(r.has_usage);
  EXPECT_TRUE(r.usage_unreadable);
  EXPECT_EQ(r.usage.prompt, 0);
  ASSERT_TRUE(p.parse_reply(R"({"content":[],"model":"claude-sonnet-4-5","usage":{
      "input_tokens":1099511627776,"cache_read_input_tokens":1099511627776,
      "cache_creation_input_tokens":0,"output_tokens":0}})",
                            r, err));
  EXPECT_TRUE(r.has_usage);
  EXPECT_EQ(r.usage.prompt, 2 * kMaxTokenCount);
  EXPECT_GT(PriceTable::builtin().cost_pico(r.model, r.usage), 0);
  // In a stream: a bad count in message_start makes the usage unknown at message_delta.
  StreamState st;
  std::string delta;
  ProviderError pe;
  ASSERT_TRUE(p.on_stream_event({"message_start", R"({"message":{"id":"m","usage":{"input_tokens":"9"}}})"},
                                st, delta, pe));
  ASSERT_TRUE(p.on_stream_event({"message_delta", R"({"delta":{},"usage":{"output_tokens":4}})"}, st, delta, pe));
  EXPECT_FALSE(st.reply.has_usage);
  EXPECT_TRUE(st.reply.usage_unreadable);
}
