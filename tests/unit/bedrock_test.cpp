// AWS Bedrock's Converse API: the wire body in the shape AWS documents, replies, errors,
// ConverseStream's binary event stream (framing, CRCs, events) and the configuration.
#include "providers/bedrock.h"

#include <zlib.h>

#include <gtest/gtest.h>

#include <cstdlib>

#include "providers/fields.h"

using namespace llmsvc;

namespace {
Config config() {
  Config c;
  c.provider = "bedrock";
  c.base_url = "http://127.0.0.1:9";
  c.aws_region = "us-west-2";
  c.aws_access_key_id = "AKIDTEST";
  c.aws_secret_access_key = "secret";
  c.model = "anthropic.claude-3-5-haiku-20241022-v1:0";
  return c;
}
RequestSpec request(const char *json) {
  RequestSpec r;
  DocError err = parse_request(json, "anthropic.claude-3-5-haiku-20241022-v1:0", r);
  EXPECT_FALSE(err) << err.message;
  return r;
}
std::string body_text(const BedrockProvider &p, const RequestSpec &r) {
  JsonBuffer buf;
  p.build_body(r, buf);
  return std::string(buf.GetString(), buf.GetSize());
}

void be32(std::string &out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(char((v >> s) & 0xff));
}
uint32_t crc(const std::string &s) {
  return uint32_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef *>(s.data()), uInt(s.size())));
}
// One event stream message with string headers, as AWS frames it.
std::string message(const std::vector<std::pair<std::string, std::string>> &headers,
                    const std::string &payload) {
  std::string h;
  for (const auto &[name, value] : headers) {
    h.push_back(char(name.size()));
    h += name;
    h.push_back(7);
    h.push_back(char(value.size() >> 8));
    h.push_back(char(value.size() & 0xff));
    h += value;
  }
  std::string m;
  be32(m, uint32_t(16 + h.size() + payload.size()));
  be32(m, uint32_t(h.size()));
  be32(m, crc(m));
  m += h + payload;
  be32(m, crc(m));
  return m;
}
std::string event(const std::string &type, const std::string &payload) {
  return message({{":event-type", type}, {":content-type", "application/json"}, {":message-type", "event"}},
                 payload);
}
}  // namespace

TEST(Bedrock, TheConverseBodyMapsTheConversationToolsAndLimits) {
  BedrockProvider p(config());
  RequestSpec r = request(R"({
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": null,
       "tool_calls": [{"id": "t1", "type": "function",
                       "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "t1", "content": "18 C"},
      {"role": "user", "content": "And tomorrow?"}],
    "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather now",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "tool_choice": "required", "max_output_tokens": 300, "temperature": 0.5, "stop": ["END"]})");
  EXPECT_EQ(p.unsupported(r), "");
  EXPECT_EQ(body_text(p, r),
            R"({"messages":[{"role":"user","content":[{"text":"Weather in Paris?"}]},)"
            R"({"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"weather","input":{"city":"Paris"}}}]},)"
            R"({"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"18 C"}]}},{"text":"And tomorrow?"}]}],)"
            R"("system":[{"text":"Be brief."}],)"
            R"("inferenceConfig":{"maxTokens":300,"temperature":0.5,"stopSequences":["END"]},)"
            R"("toolConfig":{"tools":[{"toolSpec":{"name":"weather","description":"Weather now",)"
            R"("inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}}}}}}],)"
            R"("toolChoice":{"any":{}}}})");
  EXPECT_EQ(p.request_url(r),
            "http://127.0.0.1:9/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse");
  r.stream = true;
  EXPECT_EQ(p.request_url(r),
            "http://127.0.0.1:9/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream");
}

TEST(Bedrock, StructuredOutputIsAForcedToolAndImagesGoAsBytes) {
  BedrockProvider p(config());
  RequestSpec r = request(R"({"messages":[{"role":"user","content":[
      {"type":"text","text":"What is it?"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}],
    "json_schema":{"name":"thing","schema":{"type":"object","properties":{"name":{"type":"string"}}}}})");
  EXPECT_EQ(p.unsupported(r), "");
  std::string body = body_text(p, r);
  EXPECT_NE(body.find(R"({"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}})"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("toolChoice":{"tool":{"name":"thing"}})"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("maxTokens":4096)"), std::string::npos) << body;
}

TEST(Bedrock, WhatConverseCannotSayIsRefusedByName) {
  BedrockProvider p(config());
  struct Case { const char *request; const char *says; } cases[] = {
      {R"({"prompt":"x","n":2})", "n above 1"},
      {R"({"prompt":"x","logprobs":true})", "log probabilities"},
      {R"({"prompt":"x","seed":1})", "seed"},
      {R"({"prompt":"x","user":"u"})", "user"},
      {R"({"prompt":"x","top_k":5})", "top_k"},
      {R"({"prompt":"x","response_format":{"type":"json_object"}})", "JSON mode"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/a.png"}}]}]})",
       "data: URLs"},
      {R"({"messages":[{"role":"assistant","content":"hi"}]})", "start with a user message"},
  };
  for (const Case &c : cases)
    EXPECT_NE(p.unsupported(request(c.request)).find(c.says), std::string::npos) << c.request;
}

TEST(Bedrock, RepliesGiveTextToolCallsAndEveryInputToken) {
  BedrockProvider p(config());
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"output":{"message":{"role":"assistant","content":[
      {"text":"Let me look."},{"toolUse":{"toolUseId":"tu_1","name":"weather","input":{"city":"Oslo"}}}]}},
      "stopReason":"tool_use","usage":{"inputTokens":20,"outputTokens":9,"totalTokens":29,
      "cacheReadInputTokens":100,"cacheWriteInputTokens":5},"metrics":{"latencyMs":300}})",
                            r, err))
      << err;
  EXPECT_EQ(r.text, "Let me look.");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].id, "tu_1");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city":"Oslo"})");
  EXPECT_EQ(r.finish_reason, "tool_calls");
  EXPECT_EQ(r.usage.prompt, 125);
  EXPECT_EQ(r.usage.cached, 100);
  EXPECT_EQ(r.usage.cache_write, 5);
  EXPECT_EQ(r.usage.completion, 9);
  ProviderReply cut;
  ASSERT_TRUE(p.parse_reply(R"({"output":{"message":{"content":[{"text":"a"}]}},"stopReason":"max_tokens",
                               "usage":{"inputTokens":1,"outputTokens":1}})", cut, err));
  EXPECT_EQ(cut.finish_reason, "length");
  EXPECT_FALSE(p.parse_reply(R"({"output":{}})", cut, err));
  EXPECT_FALSE(p.parse_reply(R"({"output":{"message":{"content":[]}},"usage":{"inputTokens":-1,"outputTokens":1}})",
                             cut, err) && cut.has_usage);
  ProviderError e = p.parse_error(R"({"message":"Too many requests, please wait before trying again."})");
  EXPECT_EQ(e.message, "Too many requests, please wait before trying again.");
}

TEST(Bedrock, ConverseStreamEventsArriveThroughTheEventStreamDecoder) {
  BedrockProvider p(config());
  std::string body = event("messageStart", R"({"role":"assistant"})") +
                     event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"Hel"}})") +
                     event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"lo"}})") +
                     event("contentBlockStop", R"({"contentBlockIndex":0})") +
                     event("contentBlockStart",
                           R"({"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"tu_9","name":"f"}}})") +
                     event("contentBlockDelta", R"({"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"a\":"}}})") +
                     event("contentBlockDelta", R"({"contentBlockIndex":1,"delta":{"toolUse":{"input":"1}"}}})") +
                     event("messageStop", R"({"stopReason":"tool_use"})") +
                     event("metadata", R"({"usage":{"inputTokens":7,"outputTokens":3,"totalTokens":10},"metrics":{"latencyMs":9}})");
  // Cut anywhere: byte by byte gives the same events.
  StreamDecoder d(p.stream_format());
  std::vector<StreamEvent> events;
  for (char c : body) d.feed(std::string_view(&c, 1), events);
  d.finish(events);
  ASSERT_EQ(events.size(), 9u);
  StreamState st;
  std::string text;
  for (const StreamEvent &ev : events) {
    std::string delta;
    ProviderError error;
    ASSERT_TRUE(p.on_stream_event(ev, st, delta, error)) << ev.name << ": " << error.message;
    text += delta;
  }
  EXPECT_EQ(text, "Hello");
  EXPECT_TRUE(st.done);
  ASSERT_EQ(st.reply.tool_calls.size(), 1u);
  EXPECT_EQ(st.reply.tool_calls[0].id, "tu_9");
  EXPECT_EQ(st.reply.tool_calls[0].arguments, R"({"a":1})");
  EXPECT_EQ(st.reply.finish_reason, "tool_calls");
  EXPECT_EQ(st.reply.usage.prompt, 7);
  EXPECT_EQ(st.reply.usage.completion, 3);
}

TEST(Bedrock, ABrokenOrFailingStreamSaysWhy) {
  BedrockProvider p(config());
  auto first = [&](const std::string &body) {
    StreamDecoder d(p.stream_format());
    std::vector<StreamEvent> events;
    d.feed(body, events);
    d.finish(events);
    StreamState st;
    for (const StreamEvent &ev : events) {
      std::string delta;
      ProviderError error;
      if (!p.on_stream_event(ev, st, delta, error)) return error;
    }
    return ProviderError{};
  };
  std::string good = event("messageStart", R"({"role":"assistant"})");
  std::string bad_crc = good;
  bad_crc[bad_crc.size() - 1] ^= 1;
  EXPECT_NE(first(bad_crc).message.find("CRC32"), std::string::npos);
  std::string bad_prelude = good;
  bad_prelude[3] ^= 1;
  EXPECT_NE(first(bad_prelude).message.find("prelude"), std::string::npos);
  EXPECT_NE(first(good.substr(0, good.size() - 3)).message.find("ended inside"), std::string::npos);
  ProviderError e = first(good + message({{":exception-type", "throttlingException"},
                                          {":content-type", "application/json"},
                                          {":message-type", "exception"}},
                                         R"({"message":"Too many tokens, please wait."})"));
  EXPECT_EQ(e.type, "throttlingException");
  EXPECT_EQ(e.message, "Too many tokens, please wait.");
}

TEST(Bedrock, TheConfigurationFindsRegionCredentialsAndEndpoint) {
  Config c;
  DocError e = parse_config(R"({"provider":"bedrock","aws_region":"eu-west-1",
      "aws_access_key_id":"AKID","aws_secret_access_key":"s","model":"amazon.nova-lite-v1:0"})", c);
  ASSERT_FALSE(e) << e.message;
  EXPECT_EQ(c.base_url, "https://bedrock-runtime.eu-west-1.amazonaws.com");
  Config none;
  e = parse_config(R"({"provider":"bedrock","aws_access_key_id":"AKID","aws_secret_access_key":"s"})", none);
  if (!std::getenv("AWS_REGION") && !std::getenv("AWS_DEFAULT_REGION")) {
    ASSERT_TRUE(e);
    EXPECT_NE(e.message.find("aws_region"), std::string::npos) << e.message;
  }
  Config nokey;
  e = parse_config(R"({"provider":"bedrock","aws_region":"us-east-1","aws_access_key_id":"AKID"})", nokey);
  ASSERT_TRUE(e);
  EXPECT_NE(e.message.find("credentials"), std::string::npos) << e.message;
}

TEST(Bedrock, EmbeddingsGoToInvokeModelInTheModelsOwnShape) {
  BedrockProvider p(config());
  RequestSpec titan = request(R"({"model":"amazon.titan-embed-text-v2:0","input":"hello","dimensions":256})");
  EXPECT_EQ(p.unsupported(titan), "");
  EXPECT_EQ(p.request_url(titan), "http://127.0.0.1:9/model/amazon.titan-embed-text-v2%3A0/invoke");
  EXPECT_EQ(body_text(p, titan), R"({"inputText":"hello","dimensions":256})");
  RequestSpec cohere = request(R"({"model":"cohere.embed-english-v3","input":["a","b"]})");
  EXPECT_EQ(p.unsupported(cohere), "");
  EXPECT_EQ(body_text(p, cohere), R"({"texts":["a","b"],"input_type":"search_document"})");
  struct Case { const char *request; const char *says; } cases[] = {
      {R"({"model":"amazon.titan-embed-text-v2:0","input":["a","b"]})", "one text per request"},
      {R"({"model":"amazon.titan-embed-text-v2:0","input":"a","dimensions":300})", "256, 512 or 1024"},
      {R"({"model":"amazon.titan-embed-text-v1","input":"a","dimensions":256})", "1536"},
      {R"({"model":"cohere.embed-english-v3","input":"a","dimensions":256})", "1024"},
      {R"({"model":"cohere.embed-english-v3","input":[1,2]})", "token ids"},
      {R"({"model":"anthropic.claude-3-5-haiku-20241022-v1:0","input":"a"})", "Titan Text Embeddings and Cohere"},
  };
  for (const Case &c : cases)
    EXPECT_NE(p.unsupported(request(c.request)).find(c.says), std::string::npos) << c.request;
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p.parse_reply(R"({"embedding":[0.5,0.25],"inputTextTokenCount":2})", r, err)) << err;
  ASSERT_EQ(r.embeddings.size(), 1u);
  EXPECT_TRUE(r.has_usage);
  EXPECT_EQ(r.usage.prompt, 2);
  ProviderReply c2;
  ASSERT_TRUE(p.parse_reply(R"({"id":"x","embeddings":{"float":[[1],[2]]},"response_type":"embeddings_by_type"})", c2, err)) << err;
  EXPECT_EQ(c2.embeddings.size(), 2u);
  EXPECT_FALSE(c2.has_usage);  // in the x-amzn-bedrock-input-token-count header instead
  ResponseHeaders h;
  p.read_header("x-amzn-bedrock-input-token-count", "17", 0, h);
  EXPECT_EQ(h.input_tokens, 17);
}

TEST(Bedrock, ADeploymentsModelMovesItToAnotherProviderOnlyWhenItNamesOne) {
  // Bedrock ids and local model names stay with the client's provider; a Claude or GPT name
  // moves the deployment to Anthropic or OpenAI as before.
  Config c;
  DocError e = parse_config(R"({"provider":"bedrock","aws_region":"us-east-1",
      "aws_access_key_id":"AKID","aws_secret_access_key":"s",
      "deployments":[{"name":"titan","model":"amazon.titan-embed-text-v2:0"},
                     {"name":"claude","model":"anthropic.claude-3-5-haiku-20241022-v1:0"},
                     {"name":"direct","model":"claude-sonnet-4-5","api_key":"k"}]})", c);
  ASSERT_FALSE(e) << e.message;
  ASSERT_EQ(c.deployments.size(), 3u);
  EXPECT_EQ(c.deployments[0].config.provider, "bedrock");
  EXPECT_EQ(c.deployments[0].config.base_url, "https://bedrock-runtime.us-east-1.amazonaws.com");
  EXPECT_EQ(c.deployments[1].config.provider, "bedrock");
  EXPECT_EQ(c.deployments[2].config.provider, "anthropic");
  Config o;
  e = parse_config(R"({"provider":"ollama","deployments":[{"name":"l","model":"llama3.2"}]})", o);
  ASSERT_FALSE(e) << e.message;
  EXPECT_EQ(o.deployments[0].config.provider, "ollama");
}
