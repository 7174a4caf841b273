#include "providers/openai_responses.h"

#include <gtest/gtest.h>

using namespace llmsvc;

namespace {
Config config() {
  Config c;
  c.provider = "openai_responses";
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

TEST(OpenAIResponses, WireBody) {
  OpenAIResponsesProvider p(config());
  EXPECT_EQ(p.url(), "http://127.0.0.1:9/v1/responses");
  JsonBuffer buf;
  p.build_body(request(R"({"model":"o4-mini","instructions":"be brief","messages":[
      {"role":"user","content":[{"type":"text","text":"what is it?"},
        {"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}]},
      {"role":"assistant","content":"a cat"},
      {"role":"user","content":"sure?"}],
      "max_output_tokens":64,"reasoning_effort":"low","previous_response_id":"resp_1",
      "json_schema":{"name":"answer","schema":{"type":"object"}}})"),
               buf);
  JsonDoc d;
  ASSERT_FALSE(parse_json(d, std::string_view(buf.GetString(), buf.GetSize()), "body"));
  EXPECT_STREQ(d["instructions"].GetString(), "be brief");
  ASSERT_EQ(d["input"].Size(), 3u);
  EXPECT_STREQ(d["input"][0]["content"][0]["type"].GetString(), "input_text");
  EXPECT_STREQ(d["input"][0]["content"][1]["type"].GetString(), "input_image");
  EXPECT_STREQ(d["input"][0]["content"][1]["image_url"].GetString(), "https://x/y.png");
  EXPECT_STREQ(d["input"][0]["content"][1]["detail"].GetString(), "low");
  EXPECT_STREQ(d["input"][1]["content"].GetString(), "a cat");
  EXPECT_EQ(d["max_output_tokens"].GetInt(), 64);
  EXPECT_STREQ(d["reasoning"]["effort"].GetString(), "low");
  EXPECT_STREQ(d["previous_response_id"].GetString(), "resp_1");
  EXPECT_STREQ(d["text"]["format"]["type"].GetString(), "json_schema");
  EXPECT_STREQ(d["text"]["format"]["name"].GetString(), "answer");
  EXPECT_TRUE(d["text"]["format"]["strict"].GetBool());
  EXPECT_FALSE(d.HasMember("messages"));
}

TEST(OpenAIResponses, RefusesWhatTheApiLacks) {
  OpenAIResponsesProvider p(config());
  EXPECT_NE(p.unsupported(request(R"({"model":"m","prompt":"x","stop":"END"})")), "");
  EXPECT_NE(p.unsupported(request(R"({"model":"m","prompt":"x","seed":1})")), "");
  EXPECT_NE(p.unsupported(request(R"({"model":"m","prompt":"x","max_output_tokens":8})")), "");
  EXPECT_EQ(p.unsupported(request(R"({"model":"m","prompt":"x","max_output_tokens":16})")), "");
  EXPECT_TRUE(p.chains());
}

TEST(OpenAIResponses, ParsesOutputAndUsageDetails) {
  OpenAIResponsesProvider p(config());
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"id":"resp_9","object":"response","status":"completed",
      "model":"o4-mini-2025-04-16","output":[
        {"type":"reasoning","id":"rs_1","summary":[]},
        {"type":"message","id":"msg_1","status":"completed","role":"assistant",
         "content":[{"type":"output_text","text":"Hello","annotations":[]},
                    {"type":"output_text","text":" there","annotations":[]}]}],
      "usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":64},
               "output_tokens":40,"output_tokens_details":{"reasoning_tokens":25},"total_tokens":140}})",
                            r, err))
      << err;
  EXPECT_EQ(r.text, "Hello there");
  EXPECT_EQ(r.response_id, "resp_9");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.usage.prompt, 100);
  EXPECT_EQ(r.usage.cached, 64);
  EXPECT_EQ(r.usage.completion, 40);
  EXPECT_EQ(r.usage.reasoning, 25);
  // o4-mini: $1.10 in, $0.275 cached, $4.40 out per million (reasoning billed as output).
  EXPECT_EQ(PriceTable::builtin().cost_pico(r.model, r.usage),
            36 * 1100000LL + 64 * 275000LL + 40 * 4400000LL);

  ProviderReply cut;
  ASSERT_TRUE(p.parse_reply(R"({"id":"resp_10","status":"incomplete",
      "incomplete_details":{"reason":"max_output_tokens"},"output":[]})",
                            cut, err));
  EXPECT_EQ(cut.finish_reason, "length");
  EXPECT_FALSE(p.parse_reply(R"({"id":"x"})", cut, err));
}

TEST(OpenAIResponses, StreamEventsWhoseResponseIsNotAnObject) {
  // Found by fuzz_openai_responses: "response" (and "error" within it) that are not
  // objects were read as objects.
  OpenAIResponsesProvider p(config());
  StreamState st;
  std::string delta;
  ProviderError err;
  EXPECT_FALSE(p.on_stream_event({"response.completed", R"({"response":"Hi"})"}, st, delta, err));
  EXPECT_FALSE(st.done);
  EXPECT_FALSE(p.on_stream_event({"response.failed", R"({"response":[1]})"}, st, delta, err));
  EXPECT_EQ(err.type, "server_error");
  ProviderReply r;
  std::string why;
  EXPECT_FALSE(p.parse_reply(R"({"output":{"type":"message"}})", r, why));
}
