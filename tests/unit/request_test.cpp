#include "core/request.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "core/config.h"
#include "llmsvc.h"

using namespace llmsvc;

namespace {
DocError parse(const char *json, RequestSpec &out) { return parse_request(json, "", out); }
}  // namespace

TEST(Request, FullDocument) {
  RequestSpec r;
  DocError err = parse(R"({
    "model": "gpt-4o-mini", "instructions": "be brief",
    "messages": [
      {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                   {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}]},
      {"role": "assistant", "content": "a cat"},
      {"role": "user", "content": "sure?"}],
    "max_output_tokens": 64, "temperature": 0.2, "top_p": 0.9, "stop": ["\n\n"],
    "operation": "classify", "priority": "high", "timeout_ms": 5000,
    "metadata": {"batch": "7"}, "trace_id": "t-1", "seed": 42, "user": "u1"})",
                       r);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(r.model, "gpt-4o-mini");
  EXPECT_EQ(r.instructions, "be brief");
  ASSERT_EQ(r.messages.size(), 3u);
  ASSERT_EQ(r.messages[0].parts.size(), 2u);
  EXPECT_EQ(r.messages[0].parts[1].type, ContentPart::Type::kImageUrl);
  EXPECT_EQ(r.messages[0].parts[1].detail, "low");
  EXPECT_EQ(r.max_output_tokens, 64);
  EXPECT_DOUBLE_EQ(*r.temperature, 0.2);
  EXPECT_EQ(r.stop.size(), 1u);
  EXPECT_EQ(r.operation, "classify");
  EXPECT_EQ(r.priority, kPriorityHigh);
  EXPECT_EQ(r.timeout_ms, 5000);
  EXPECT_EQ(r.metadata_json, R"({"batch":"7"})");
  EXPECT_EQ(*r.seed, 42);
}

TEST(Request, PromptShorthandAndDefaults) {
  RequestSpec r;
  ASSERT_FALSE(parse_request(R"({"prompt": "hi"})", "gpt-4o", r));
  EXPECT_EQ(r.model, "gpt-4o");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].role, "user");
  EXPECT_EQ(r.operation, "default");
  EXPECT_EQ(r.priority, kPriorityNormal);
}

TEST(Request, ErrorsNameThePathAndTheProblem) {
  struct Case {
    const char *json;
    int status;
    const char *needle;
  } cases[] = {
      {"{", LLMSVC_EJSON, "not valid JSON"},
      {"[]", LLMSVC_ESCHEMA, "expected an object"},
      {R"({"prompt":"x"})", LLMSVC_ESCHEMA, "request.model: missing"},
      {R"({"model":"m"})", LLMSVC_ESCHEMA, "request.messages"},
      {R"({"model":"m","prompt":"x","temperature":"hot"})", LLMSVC_ESCHEMA,
       "request.temperature: expected a number, got a string"},
      {R"({"model":"m","prompt":"x","temperature":3})", LLMSVC_ESCHEMA, "out of range"},
      {R"({"model":"m","prompt":"x","max_output_tokens":1.5})", LLMSVC_ESCHEMA,
       "request.max_output_tokens: expected an integer"},
      {R"({"model":"m","prompt":"x","temprature":1})", LLMSVC_ESCHEMA,
       "unknown field request.temprature"},
      {R"({"model":"m","messages":[{"role":"robot","content":"x"}]})", LLMSVC_ESCHEMA,
       "request.messages[0].role"},
      {R"({"model":"m","messages":[{"role":"user","content":5}]})", LLMSVC_ESCHEMA,
       "request.messages[0].content: expected a string or an array of parts, got a number"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"video"}]}]})",
       LLMSVC_ESCHEMA, "request.messages[0].content[0].type: unknown content part type"},
      {R"({"model":"m","prompt":"x","priority":"urgent"})", LLMSVC_ESCHEMA, "request.priority"},
      {R"({"model":"m","prompt":"x","metadata":[1]})", LLMSVC_ESCHEMA,
       "request.metadata: expected an object"},
  };
  for (const Case &c : cases) {
    RequestSpec r;
    DocError err = parse(c.json, r);
    EXPECT_EQ(err.status, c.status) << c.json;
    EXPECT_NE(err.message.find(c.needle), std::string::npos) << c.json << " -> " << err.message;
  }
}

TEST(Config, DefaultsAndOverrides) {
  Config c;
  DocError err = parse_config(
      R"({"base_url": "http://127.0.0.1:1234/v1/", "api_key": "sk-test", "model": "gpt-4o",
          "limits": {"rpm": 500, "tpm": 30000, "concurrency": 8},
          "retry": {"max_attempts": 3, "base_delay_ms": 10, "max_delay_ms": 100},
          "timeouts": {"connect_ms": 1000}, "http": {"prior_knowledge": true}})",
      c);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(c.base_url, "http://127.0.0.1:1234/v1");
  EXPECT_EQ(c.limits.rpm, 500);
  EXPECT_EQ(c.limits.window_ms, 60000);
  EXPECT_EQ(c.retry.max_attempts, 3);
  EXPECT_EQ(c.connect_timeout_ms, 1000);
  EXPECT_EQ(c.request_timeout_ms, 600000);
  EXPECT_TRUE(c.http2_prior_knowledge);
}

TEST(Config, Errors) {
  const char *bad[] = {
      R"({"limits": {"rpm": -1}})",       R"({"limits": {"rmp": 5}})",
      R"({"base_url": "ftp://x"})",       R"({"provider": "acme"})",
      R"({"retry": {"jitter": 2}})",      R"({"retry": {"base_delay_ms": 10, "max_delay_ms": 1}})",
      R"({"prices_file": "/nonexistent/prices.json"})",
  };
  for (const char *json : bad) {
    Config c;
    EXPECT_TRUE(parse_config(json, c)) << json;
  }
}

TEST(Config, ProviderFollowsTheModelWhenNotNamed) {
  unsetenv("OPENAI_BASE_URL");
  struct Case {
    const char *json;
    const char *provider;
  } cases[] = {
      {R"({"model":"claude-sonnet-4-5"})", "anthropic"},
      {R"({"model":"gpt-4o-mini"})", "openai_responses"},
      {R"({"model":"o4-mini"})", "openai_responses"},
      {R"({"model":"gpt-4o-mini","base_url":"http://127.0.0.1:8000/v1"})", "openai_chat"},
      {R"({"model":"llama3.2"})", "openai_chat"},
      {R"({})", "openai_chat"},
      {R"({"model":"gpt-4o-mini","provider":"openai_chat"})", "openai_chat"},
  };
  for (const Case &c : cases) {
    Config cfg;
    ASSERT_FALSE(parse_config(c.json, cfg)) << c.json;
    EXPECT_EQ(cfg.provider, c.provider) << c.json;
  }
}

TEST(Request, IntegerFieldsBeyondInt64AreErrors) {
  // Found by fuzz_request: an integer written as a number too large for int64 was
  // converted to int64 before being checked (undefined behaviour).
  for (const char *json : {R"({"model":"m","prompt":"x","max_tokens":-922337203685477580816})",
                           R"({"model":"m","prompt":"x","timeout_ms":1e30})",
                           R"({"model":"m","prompt":"x","seed":9223372036854775808})"}) {
    RequestSpec r;
    DocError err = parse_request(json, "", r);
    EXPECT_EQ(err.status, LLMSVC_ESCHEMA) << json;
  }
  RequestSpec r;
  ASSERT_FALSE(parse_request(R"({"model":"m","prompt":"x","timeout_ms":5e3,"seed":-9223372036854775808})", "", r));
  EXPECT_EQ(r.timeout_ms, 5000);
  EXPECT_EQ(*r.seed, INT64_MIN);
}

TEST(Request, DocumentsNestedTooDeeplyAreErrorsNotStackOverflows) {
  // RapidJSON's parser recurses once per level: a document of 300,000 '[' overflowed the
  // stack. Found with the fuzz targets by an input longer than their runs try.
  std::string deep = R"({"model":"m","prompt":"x","metadata":)" + std::string(300000, '[') +
                     std::string(300000, ']') + "}";
  RequestSpec r;
  DocError err = parse_request(deep, "", r);
  EXPECT_EQ(err.status, LLMSVC_EJSON);
  EXPECT_NE(err.message.find("nested deeper than 512"), std::string::npos) << err.message;
  std::string ok = R"({"model":"m","prompt":"x","metadata":{"a":)" + std::string(500, '[') +
                   "\"[[[[\"" + std::string(500, ']') + "}}";
  EXPECT_FALSE(parse_request(ok, "", r));
}

TEST(Request, TextThatIsNotUtf8IsRefusedWithThePath) {
  RequestSpec r;
  // A lone continuation byte, a truncated sequence, an overlong encoding, a surrogate.
  for (const char *bad : {"\x80", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80"}) {
    std::string doc = std::string(R"({"model":"m","messages":[{"role":"user","content":"ok"},)") +
                      R"({"role":"user","content":"caf)" + bad + R"("}]})";
    DocError err = parse_request(doc, "", r);
    EXPECT_EQ(err.status, LLMSVC_EJSON);
    EXPECT_EQ(err.message, "request.messages[1].content: text that is not UTF-8 (JSON documents are UTF-8)");
  }
  // In a member name too.
  DocError err = parse_request("{\"model\":\"m\",\"prompt\":\"x\",\"metadata\":{\"k\xff\":1}}", "", r);
  EXPECT_EQ(err.message, "request.metadata.k...: text that is not UTF-8 (JSON documents are UTF-8)");
  Config c;
  err = parse_config("{\"provider\":\"openai_chat\",\"api_key\":\"sk-\xfe\"}", c);
  EXPECT_EQ(err.status, LLMSVC_EJSON);
  EXPECT_EQ(err.message, "config.api_key: text that is not UTF-8 (JSON documents are UTF-8)");
  // An escaped low surrogate without its high half decodes to bytes that are not UTF-8
  // (found by fuzz_request); a whole pair is text.
  err = parse_request(R"({"model":"m","prompt":"x","metadata":{"k":"a\udfefb"}})", "", r);
  EXPECT_EQ(err.message, "request.metadata.k: text that is not UTF-8 (JSON documents are UTF-8)");
  EXPECT_TRUE(parse_request(R"({"model":"m","prompt":"\ud83d\ude00 \uDE00\u0041"})", "", r))
      << "a lone low half after a pair";
  EXPECT_FALSE(parse_request(R"({"model":"m","prompt":"\ud83d\ude00 \\udc00"})", "", r));
  // UTF-8 of every length is text.
  EXPECT_FALSE(parse_request("{\"model\":\"m\",\"prompt\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", "", r));
}

TEST(Request, NumbersBeyondADoubleAreRefusedWithThePath) {
  // Found by fuzz_cache: RapidJSON reads 722320323580e0303 (7.2e314) as infinity without an
  // error, and infinity has no JSON form.
  RequestSpec r;
  DocError err = parse_request(R"({"model":"m","prompt":"x","metadata":{"a":[1,722320323580e0303]}})", "", r);
  EXPECT_EQ(err.status, LLMSVC_EJSON);
  EXPECT_EQ(err.message, "request.metadata.a[1]: a number beyond the range of a double");
  EXPECT_TRUE(parse_request(R"({"model":"m","prompt":"x","temperature":1e999})", "", r));
  EXPECT_FALSE(parse_request(R"({"model":"m","prompt":"x","metadata":{"a":1.7976931348623157e308}})", "", r));
}
