#include "providers/openai_chat.h"

#include "common/clock.h"

#include <gtest/gtest.h>

using namespace llmsvc;

namespace {
Config config() {
  Config c;
  c.base_url = "http://127.0.0.1:9/v1";
  c.api_key = "sk-secret";
  return c;
}
RequestSpec request(const char *json) {
  RequestSpec r;
  DocError err = parse_request(json, "", r);
  EXPECT_FALSE(err) << err.message;
  return r;
}
}  // namespace

TEST(OpenAIChat, WireBody) {
  OpenAIChatProvider p(config());
  EXPECT_EQ(p.url(), "http://127.0.0.1:9/v1/chat/completions");
  RequestSpec r = request(R"({"model":"gpt-4o-mini","instructions":"sys","prompt":"hi",
      "max_output_tokens":5,"temperature":0.5,"stop":"x","metadata":{"local":"only"}})");
  JsonBuffer buf;
  p.build_body(r, buf);
  JsonDoc doc;
  ASSERT_FALSE(parse_json(doc, std::string_view(buf.GetString(), buf.GetSize()), "body"));
  EXPECT_STREQ(doc["model"].GetString(), "gpt-4o-mini");
  ASSERT_EQ(doc["messages"].Size(), 2u);
  EXPECT_STREQ(doc["messages"][0]["role"].GetString(), "system");
  EXPECT_STREQ(doc["messages"][1]["content"].GetString(), "hi");
  EXPECT_EQ(doc["max_completion_tokens"].GetInt(), 5);
  EXPECT_DOUBLE_EQ(doc["temperature"].GetDouble(), 0.5);
  EXPECT_STREQ(doc["stop"][0].GetString(), "x");
  EXPECT_FALSE(doc.HasMember("metadata"));  // ours, not the provider's
  EXPECT_FALSE(doc.HasMember("operation"));
}

TEST(OpenAIChat, MaxTokensFieldForOlderServers) {
  Config c = config();
  c.max_tokens_field = "max_tokens";
  OpenAIChatProvider p(c);
  JsonBuffer buf;
  p.build_body(request(R"({"model":"m","prompt":"hi","max_tokens":7})"), buf);
  JsonDoc doc;
  ASSERT_FALSE(parse_json(doc, std::string_view(buf.GetString(), buf.GetSize()), "body"));
  EXPECT_EQ(doc["max_tokens"].GetInt(), 7);
}

TEST(OpenAIChat, TokenEstimateFormula) {
  OpenAIChatProvider p(config());
  // 3 + (4 + ceil(5/4)=2) = 9
  EXPECT_EQ(p.estimate_prompt_tokens(request(R"({"model":"m","prompt":"hello"})")), 9);
  // 3 + system (4 + 1) + user (4 + ceil(8/4)=2 + an image at most 1445 tokens) = 1459
  EXPECT_EQ(p.estimate_prompt_tokens(request(R"({"model":"m","system":"abc","messages":[
      {"role":"user","content":[{"type":"text","text":"12345678"},
                                {"type":"image_url","image_url":"data:image/png;base64,AA"}]}]})")),
            1459);
  // Low detail is 85 whatever the size; images cost by size class, not by base64 length.
  std::string big(400000, 'A');
  EXPECT_EQ(p.estimate_prompt_tokens(request((R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image","data":")" + big + R"(","media_type":"image/png","detail":"low"}]}]})").c_str())),
            3 + 4 + 85);
}

TEST(OpenAIChat, ParsesReplyWithUsageDetails) {
  OpenAIChatProvider p(config());
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"id":"chatcmpl-1","object":"chat.completion","model":"o3-mini",
    "choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
    "usage":{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30,
             "prompt_tokens_details":{"cached_tokens":8},
             "completion_tokens_details":{"reasoning_tokens":4}}})",
                            r, err))
      << err;
  EXPECT_EQ(r.text, "ok");
  EXPECT_EQ(r.response_id, "chatcmpl-1");
  EXPECT_EQ(r.usage.prompt, 20);
  EXPECT_EQ(r.usage.cached, 8);
  EXPECT_EQ(r.usage.reasoning, 4);
  EXPECT_FALSE(p.parse_reply("<html>", r, err));
  EXPECT_FALSE(p.parse_reply(R"({"choices":[]})", r, err));
}

TEST(OpenAIChat, ParsesErrorBodyAndHeaders) {
  OpenAIChatProvider p(config());
  ProviderError e = p.parse_error(
      R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})");
  EXPECT_EQ(e.type, "insufficient_quota");
  EXPECT_EQ(e.code, "insufficient_quota");
  EXPECT_EQ(e.message, "You exceeded your current quota");
  ResponseHeaders h;
  p.read_header("x-ratelimit-remaining-requests", "59", 0, h);
  p.read_header("x-ratelimit-reset-tokens", "6m0s", 0, h);
  p.read_header("retry-after-ms", "120", 0, h);
  p.read_header("x-should-retry", "false", 0, h);
  EXPECT_EQ(h.remaining_requests, 59);
  EXPECT_EQ(h.reset_tokens_ns, 360 * kNsPerSec);
  EXPECT_EQ(h.retry_after_ms_ns, 120 * kNsPerMs);
  EXPECT_EQ(h.should_retry, 0);
}

TEST(OpenAIChat, StructuredOutputAsResponseFormat) {
  OpenAIChatProvider p(config());
  JsonBuffer buf;
  p.build_body(request(R"({"model":"m","prompt":"a pet","json_schema":{"name":"pet","strict":true,
      "schema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"],
                "additionalProperties":false}}})"),
               buf);
  JsonDoc doc;
  ASSERT_FALSE(parse_json(doc, std::string_view(buf.GetString(), buf.GetSize()), "body"));
  const auto &rf = doc["response_format"];
  EXPECT_STREQ(rf["type"].GetString(), "json_schema");
  EXPECT_STREQ(rf["json_schema"]["name"].GetString(), "pet");
  EXPECT_TRUE(rf["json_schema"]["strict"].GetBool());
  EXPECT_STREQ(rf["json_schema"]["schema"]["required"][0].GetString(), "name");
}

#include "providers/ollama.h"

TEST(Ollama, WireBodyAndNdjsonStream) {
  Config c;
  c.provider = "ollama";
  c.base_url = "http://127.0.0.1:11434";
  OllamaProvider p(c);
  EXPECT_EQ(p.url(), "http://127.0.0.1:11434/api/chat");
  JsonBuffer buf;
  p.build_body(request(R"({"model":"llama3.2","instructions":"sys","messages":[{"role":"user","content":[
      {"type":"text","text":"what?"},{"type":"image_url","image_url":"data:image/png;base64,QUJD"}]}],
      "max_output_tokens":20,"temperature":0.1,"stop":["x"]})"),
               buf);
  JsonDoc d;
  ASSERT_FALSE(parse_json(d, std::string_view(buf.GetString(), buf.GetSize()), "body"));
  EXPECT_FALSE(d["stream"].GetBool());  // Ollama streams unless told not to
  EXPECT_STREQ(d["messages"][0]["role"].GetString(), "system");
  EXPECT_STREQ(d["messages"][1]["content"].GetString(), "what?");
  EXPECT_STREQ(d["messages"][1]["images"][0].GetString(), "QUJD");
  EXPECT_EQ(d["options"]["num_predict"].GetInt(), 20);
  EXPECT_STREQ(d["options"]["stop"][0].GetString(), "x");

  StreamState st;
  std::string delta;
  ProviderError err;
  ASSERT_TRUE(p.on_stream_event({"", R"({"model":"llama3.2","message":{"role":"assistant","content":"Hi"},"done":false})"},
                                st, delta, err));
  EXPECT_EQ(delta, "Hi");
  delta.clear();
  ASSERT_TRUE(p.on_stream_event({"", R"({"model":"llama3.2","message":{"role":"assistant","content":""},"done":true,
      "done_reason":"stop","prompt_eval_count":12,"eval_count":3})"},
                                st, delta, err));
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.reply.usage.prompt, 12);
  EXPECT_EQ(st.reply.usage.completion, 3);
  EXPECT_FALSE(p.on_stream_event({"", R"({"error":"model crashed"})"}, st, delta, err));
  EXPECT_EQ(err.message, "model crashed");
}

TEST(OpenAIChat, ImageBytesAndAudioParts) {
  OpenAIChatProvider p(config());
  RequestSpec r = request(R"({"model":"gpt-4o-audio-preview","messages":[{"role":"user","content":[
      {"type":"image","data":"iVBORw0KGgo=","media_type":"image/png"},
      {"type":"audio","data":"UklGRiQAAABXQVZF","format":"wav"}]}]})");
  JsonBuffer buf;
  p.build_body(r, buf);
  JsonDoc d;
  ASSERT_FALSE(parse_json(d, std::string_view(buf.GetString(), buf.GetSize()), "body"));
  const auto &parts = d["messages"][0]["content"];
  EXPECT_STREQ(parts[0]["image_url"]["url"].GetString(), "data:image/png;base64,iVBORw0KGgo=");
  EXPECT_STREQ(parts[1]["type"].GetString(), "input_audio");
  EXPECT_STREQ(parts[1]["input_audio"]["format"].GetString(), "wav");
  EXPECT_STREQ(parts[1]["input_audio"]["data"].GetString(), "UklGRiQAAABXQVZF");
  RequestSpec bad;
  DocError err = parse_request(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"audio","data":"AA","format":"flac"}]}]})", "", bad);
  EXPECT_NE(err.message.find("request.messages[0].content[0].format: expected wav or mp3"), std::string::npos);
}

TEST(OpenAIChat, StreamChunkWhoseChoiceIsNotAnObject) {
  // Found by fuzz_openai_chat: a choice that is a string was read as an object.
  OpenAIChatProvider p(config());
  StreamState st;
  std::string delta;
  ProviderError err;
  EXPECT_TRUE(p.on_stream_event({"", R"({"choices":["x"]})"}, st, delta, err));
  EXPECT_TRUE(p.on_stream_event({"", R"({"choices":[7,{"delta":{"content":"no"}}]})"}, st, delta, err));
  EXPECT_EQ(delta, "");
  EXPECT_TRUE(p.on_stream_event({"", R"({"choices":[{"delta":"Hi"}]})"}, st, delta, err));
  EXPECT_EQ(delta, "");
}

TEST(OpenAIChat, RepliesNestedTooDeeplyAreErrorsNotStackOverflows) {
  OpenAIChatProvider p(config());
  std::string deep(300000, '[');
  ProviderReply r;
  std::string why;
  EXPECT_FALSE(p.parse_reply(deep, r, why));
  EXPECT_NE(why.find("deeper"), std::string::npos) << why;
  EXPECT_EQ(p.parse_error("{\"error\":" + deep).message, "");
  StreamState st;
  std::string delta;
  ProviderError err;
  EXPECT_FALSE(p.on_stream_event({"", "{\"a\":" + deep}, st, delta, err));
}

TEST(OpenAIChat, TextThatIsNotUtf8BecomesReplacementCharacters) {
  // A reply, a stream delta and an error message with bytes that are not UTF-8 (a lone
  // continuation byte, a truncated sequence, an escaped lone surrogate): each bad byte
  // becomes U+FFFD, the rest arrives as sent, and every string handed on is UTF-8.
  const std::string fffd = "\xef\xbf\xbd";
  OpenAIChatProvider p(config());
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply("{\"choices\":[{\"message\":{\"content\":\"caf\xc3\xa9 \x80 ok \xe2\x82\"},"
                            "\"finish_reason\":\"stop\"}],\"model\":\"m\\udc00\"}",
                            r, err))
      << err;
  EXPECT_EQ(r.text, "caf\xc3\xa9 " + fffd + " ok " + fffd + fffd);
  EXPECT_EQ(r.model, "m" + fffd + fffd + fffd);  // the three bytes of the encoded surrogate
  StreamState st;
  std::string delta;
  ProviderError pe;
  ASSERT_TRUE(p.on_stream_event({"", "{\"choices\":[{\"delta\":{\"content\":\"a\xff" "b\"}}]}"}, st, delta, pe));
  EXPECT_EQ(delta, "a" + fffd + "b");
  ProviderError e = p.parse_error("{\"error\":{\"message\":\"bad \xfe key\",\"type\":\"t\"}}");
  EXPECT_EQ(e.message, "bad " + fffd + " key");
}

TEST(OpenAIChat, UsageThatIsNotCountsIsUnknownNotZero) {
  // Negative, beyond 2^40, beyond 64 bits, fractional or a string: the usage is unknown
  // (has_usage false, flagged), never read as a confident 0.
  OpenAIChatProvider p(config());
  for (const char *bad : {"-5", "1e30", "18446744073709551616", "2.5", "\"12\"", "1099511627777"}) {
    ProviderReply r;
    std::string err;
    std::string body = std::string(R"({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":3,"completion_tokens":)") +
                       bad + "}}";
    ASSERT_TRUE(p.parse_reply(body, r, err)) << err;
    EXPECT_FALSE(r.has_usage) << bad;
    EXPECT_TRUE(r.usage_unreadable) << bad;
    EXPECT_EQ(r.usage.prompt, 0) << bad;
  }
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":3,"completion_tokens":null}})", r, err));
  EXPECT_TRUE(r.has_usage);
  EXPECT_FALSE(r.usage_unreadable);
  EXPECT_EQ(r.usage.prompt, 3);
}
