// Google Gemini's native API: the wire body, replies, stream events and error bodies, in
// the shapes Google documents for generateContent.
#include "providers/gemini.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include "providers/fields.h"
#include "retry/policy.h"

using namespace llmsvc;

namespace {
Config config() {
  Config c;
  c.provider = "gemini";
  c.base_url = "http://127.0.0.1:9/v1beta";
  c.api_key = "gm-secret";
  c.model = "gemini-2.0-flash";
  return c;
}
RequestSpec request(const char *json) {
  RequestSpec r;
  DocError err = parse_request(json, "gemini-2.0-flash", r);
  EXPECT_FALSE(err) << err.message;
  return r;
}
JsonDoc body_of(const GeminiProvider &p, const RequestSpec &r) {
  JsonBuffer buf;
  p.build_body(r, buf);
  JsonDoc doc;
  EXPECT_FALSE(parse_json(doc, std::string_view(buf.GetString(), buf.GetSize()), "body"));
  return doc;
}
std::string text_of(const JsonValue &v) {
  JsonBuffer b;
  JsonWriter w(b);
  v.Accept(w);
  return std::string(b.GetString(), b.GetSize());
}
}  // namespace

TEST(Gemini, TheModelAndTheMethodAreInTheUrl) {
  GeminiProvider p(config());
  EXPECT_TRUE(p.url_per_request());
  EXPECT_EQ(p.url(), "http://127.0.0.1:9/v1beta/models/gemini-2.0-flash:generateContent");
  EXPECT_EQ(p.request_url(request(R"({"model":"gemini-2.5-pro","prompt":"hi"})")),
            "http://127.0.0.1:9/v1beta/models/gemini-2.5-pro:generateContent");
  EXPECT_EQ(p.request_url(request(R"({"model":"models/gemini-2.5-pro","prompt":"hi","stream":true})")),
            "http://127.0.0.1:9/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse");
  bool key = false;
  for (curl_slist *h = p.headers(); h; h = h->next)
    key |= std::string(h->data) == "x-goog-api-key: gm-secret";
  EXPECT_TRUE(key);
}

TEST(Gemini, WireBodyOfAConversationWithToolsAndParameters) {
  GeminiProvider p(config());
  RequestSpec r = request(R"({"instructions":"Be brief.","messages":[
      {"role":"system","content":"You are terse."},
      {"role":"user","content":"Weather in Paris?"},
      {"role":"assistant","content":null,"tool_calls":[
        {"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
        {"id":"c2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"c1","content":"{\"temp\":21}"},
      {"role":"tool","tool_call_id":"c2","content":"noon"},
      {"role":"user","content":[{"type":"text","text":"and this?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",
      "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
    "tool_choice":{"type":"function","function":{"name":"get_weather"}},
    "max_output_tokens":64,"temperature":0.2,"top_p":0.9,"stop":["END"],"seed":7,"n":2})");
  JsonDoc b = body_of(p, r);
  ASSERT_TRUE(b.IsObject());
  EXPECT_EQ(text_of(b["systemInstruction"]),
            R"({"parts":[{"text":"Be brief."},{"text":"You are terse."}]})");
  const JsonValue &c = b["contents"];
  ASSERT_EQ(c.Size(), 4u) << text_of(c);
  EXPECT_EQ(text_of(c[0]), R"({"role":"user","parts":[{"text":"Weather in Paris?"}]})");
  EXPECT_EQ(text_of(c[1]),
            R"({"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},)"
            R"({"functionCall":{"name":"get_time","args":{}}}]})");
  // Both results in one user turn, named by the calls they answer.
  EXPECT_EQ(text_of(c[2]),
            R"({"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp":21}}},)"
            R"({"functionResponse":{"name":"get_time","response":{"result":"noon"}}}]})");
  EXPECT_EQ(text_of(c[3]["parts"][1]),
            R"({"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}})");
  EXPECT_EQ(text_of(b["generationConfig"]),
            R"({"maxOutputTokens":64,"temperature":0.2,"topP":0.9,"stopSequences":["END"],)"
            R"("candidateCount":2,"seed":7})");
  EXPECT_STREQ(b["tools"][0]["functionDeclarations"][0]["name"].GetString(), "get_weather");
  EXPECT_TRUE(b["tools"][0]["functionDeclarations"][0].HasMember("parametersJsonSchema"));
  EXPECT_EQ(text_of(b["toolConfig"]),
            R"({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}})");
  EXPECT_FALSE(b.HasMember("model"));  // in the URL
}

TEST(Gemini, StructuredOutputAndThinking) {
  GeminiProvider p(config());
  JsonDoc b = body_of(p, request(R"({"prompt":"x","json_schema":{"name":"pet","schema":
      {"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}},
      "thinking":{"type":"enabled","budget_tokens":1024}})"));
  const JsonValue &g = b["generationConfig"];
  EXPECT_STREQ(g["responseMimeType"].GetString(), "application/json");
  EXPECT_STREQ(g["responseJsonSchema"]["type"].GetString(), "object");
  EXPECT_EQ(g["thinkingConfig"]["thinkingBudget"].GetInt(), 1024);
}

TEST(Gemini, RefusesWhatItCannotSend) {
  GeminiProvider p(config());
  EXPECT_NE(p.unsupported(request(R"({"prompt":"x","logit_bias":{"1":1}})")), "");
  EXPECT_NE(p.unsupported(request(R"({"prompt":"x","service_tier":"flex"})")), "");
  EXPECT_NE(p.unsupported(request(R"({"messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]})")).find("data: URLs"),
            std::string::npos);
  EXPECT_NE(p.unsupported(request(R"({"model":"../etc","prompt":"x"})")).find("not a Gemini model"),
            std::string::npos);
  EXPECT_EQ(p.unsupported(request(R"({"prompt":"x"})")), "");
}

TEST(Gemini, ReplyWithTextThinkingToolCallsAndUsage) {
  GeminiProvider p(config());
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"candidates":[{"content":{"role":"model","parts":[
      {"text":"pondering","thought":true},{"text":"Let me check."},
      {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},"finishReason":"STOP","index":0}],
      "usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":20,"thoughtsTokenCount":30,
      "cachedContentTokenCount":40,"totalTokenCount":150},
      "modelVersion":"gemini-2.5-flash","responseId":"resp-1"})",
                            r, err))
      << err;
  EXPECT_EQ(r.text, "Let me check.");
  EXPECT_EQ(r.thinking, "pondering");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].id, "call_0");
  EXPECT_EQ(r.tool_calls[0].name, "get_weather");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(r.finish_reason, "tool_calls");
  ASSERT_TRUE(r.has_usage);
  EXPECT_EQ(r.usage.prompt, 100);
  EXPECT_EQ(r.usage.completion, 50);  // candidates + thoughts: thinking is billed as output
  EXPECT_EQ(r.usage.reasoning, 30);
  EXPECT_EQ(r.usage.cached, 40);
  EXPECT_EQ(r.model, "gemini-2.5-flash");
  EXPECT_EQ(r.response_id, "resp-1");
}

TEST(Gemini, CandidatesFinishReasonsAndABlockedPrompt) {
  GeminiProvider p(config());
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"candidates":[
      {"content":{"parts":[{"text":"a"}]},"finishReason":"MAX_TOKENS","index":0},
      {"content":{"parts":[{"text":"b"}]},"finishReason":"SAFETY","index":1}]})",
                            r, err));
  ASSERT_EQ(r.choices.size(), 2u);
  EXPECT_EQ(r.choices[0].finish_reason, "length");
  EXPECT_EQ(r.choices[1].text, "b");
  EXPECT_EQ(r.choices[1].finish_reason, "content_filter");
  ProviderReply blocked;
  ASSERT_TRUE(p.parse_reply(R"({"promptFeedback":{"blockReason":"SAFETY"}})", blocked, err));
  EXPECT_EQ(blocked.finish_reason, "content_filter");
  ProviderReply none;
  EXPECT_FALSE(p.parse_reply(R"({"usageMetadata":{}})", none, err));
  EXPECT_FALSE(p.parse_reply("[1]", none, err));
  ProviderReply bad;
  ASSERT_TRUE(p.parse_reply(R"({"candidates":[{"content":{"parts":[{"text":"x"}]}}],
      "usageMetadata":{"promptTokenCount":-5}})", bad, err));
  EXPECT_FALSE(bad.has_usage);  // a count that is not one: usage unknown, never made up
}

TEST(Gemini, StreamEventsEndWithTheFinishReason) {
  GeminiProvider p(config());
  StreamState st;
  ProviderError e;
  std::string delta;
  StreamEvent ev;
  ev.data = R"({"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}],
      "usageMetadata":{"promptTokenCount":9},"modelVersion":"gemini-2.0-flash","responseId":"r1"})";
  ASSERT_TRUE(p.on_stream_event(ev, st, delta, e));
  EXPECT_EQ(delta, "Hel");
  EXPECT_FALSE(st.done);
  delta.clear();
  ev.data = R"({"candidates":[{"content":{"parts":[{"text":"lo"}]},"finishReason":"STOP"}],
      "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":2,"totalTokenCount":11}})";
  ASSERT_TRUE(p.on_stream_event(ev, st, delta, e));
  EXPECT_EQ(delta, "lo");
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.reply.finish_reason, "stop");
  EXPECT_EQ(st.reply.usage.completion, 2);
  EXPECT_EQ(st.reply.response_id, "r1");

  StreamState calls;
  ev.data = R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}}}]},
      "finishReason":"STOP"}]})";
  delta.clear();
  ASSERT_TRUE(p.on_stream_event(ev, calls, delta, e));
  ASSERT_EQ(calls.reply.tool_calls.size(), 1u);
  EXPECT_EQ(calls.reply.tool_calls[0].arguments, R"({"a":1})");
  EXPECT_EQ(calls.reply.finish_reason, "tool_calls");
  ASSERT_EQ(calls.tool_pieces.size(), 1u);

  StreamState broken;
  ev.data = R"({"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}})";
  EXPECT_FALSE(p.on_stream_event(ev, broken, delta, e));
  EXPECT_EQ(e.type, "server_error");
  EXPECT_EQ(e.message, "An internal error has occurred.");
}

TEST(Gemini, ErrorBodiesSayHowLongToWaitAndWhatIsAtFault) {
  GeminiProvider p(config());
  ProviderError limited = p.parse_error(R"({"error":{"code":429,"message":"Resource has been exhausted",
      "status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure",
      "violations":[{"quotaMetric":"generate_content_requests"}]},
      {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}})");
  EXPECT_EQ(limited.type, "RESOURCE_EXHAUSTED");
  EXPECT_EQ(limited.retry_after_ns, 1500000000);
  EXPECT_EQ(classify_http(429, limited.type, limited.code, -1).kind, LLMSVC_KIND_RATE_LIMITED);

  ProviderError quota = p.parse_error(R"({"error":{"code":429,"message":"Quota exceeded",
      "status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure"}]}})");
  EXPECT_EQ(quota.retry_after_ns, -1);
  EXPECT_EQ(classify_http(429, quota.type, quota.code, -1).kind, LLMSVC_KIND_INSUFFICIENT_QUOTA);

  ProviderError key = p.parse_error(R"({"error":{"code":400,"message":"API key not valid.",
      "status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",
      "reason":"API_KEY_INVALID","domain":"googleapis.com"}]}})");
  EXPECT_EQ(classify_http(400, key.type, key.code, -1).kind, LLMSVC_KIND_AUTH);

  ProviderError odd = p.parse_error(R"({"error":{"details":[{"@type":"x.RetryInfo","retryDelay":"soon"}]}})");
  EXPECT_EQ(odd.retry_after_ns, -1);
  EXPECT_EQ(p.parse_error("not json").message, "");
}
