// Embeddings requests: the document, OpenAI's wire body, and the reply's vectors.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "core/request.h"
#include "llmsvc.h"
#include "providers/embeddings.h"
#include "providers/fields.h"
#include "providers/provider.h"

using namespace llmsvc;

namespace {
RequestSpec parsed(const char *json) {
  RequestSpec spec;
  DocError e = parse_request(json, "", spec);
  EXPECT_FALSE(e) << e.message;
  return spec;
}
std::string error_of(const char *json) {
  RequestSpec spec;
  return parse_request(json, "m", spec).message;
}
}  // namespace

TEST(Embeddings, EveryInputShapeIsAnEmbeddingsRequestWithItsTokenEstimate) {
  RequestSpec one = parsed(R"({"model":"text-embedding-3-small","input":"twelve bytes"})");
  EXPECT_TRUE(one.embedding);
  EXPECT_EQ(one.inputs, 1);
  EXPECT_EQ(one.input_tokens, 3);  // ceil(12 / 4)
  EXPECT_EQ(one.input_json, R"("twelve bytes")");
  EXPECT_TRUE(one.messages.empty());

  RequestSpec many = parsed(R"({"model":"m","input":["abcd","abcde","x"],"dimensions":256})");
  EXPECT_EQ(many.inputs, 3);
  EXPECT_EQ(many.input_tokens, 1 + 2 + 1);
  EXPECT_EQ(many.dimensions, 256);

  RequestSpec ids = parsed(R"({"model":"m","input":[1,2,3]})");
  EXPECT_EQ(ids.inputs, 1);
  EXPECT_EQ(ids.input_tokens, 3);
  RequestSpec lists = parsed(R"({"model":"m","input":[[1,2],[3]],"encoding_format":"float"})");
  EXPECT_EQ(lists.inputs, 2);
  EXPECT_EQ(lists.input_tokens, 3);
}

TEST(Embeddings, MistakesAreNamed) {
  EXPECT_NE(error_of(R"({"input":""})").find("request.input: empty"), std::string::npos);
  EXPECT_NE(error_of(R"({"input":[]})").find("request.input: empty"), std::string::npos);
  EXPECT_NE(error_of(R"({"input":["a",""]})").find("request.input[1]: empty"), std::string::npos);
  EXPECT_NE(error_of(R"({"input":["a",1]})").find("expected a string, a list of strings"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"input":[1,-2]})").find("token ids"), std::string::npos);
  EXPECT_NE(error_of(R"({"input":{"a":1}})").find("request.input: expected"), std::string::npos);
  EXPECT_NE(error_of(R"({"input":"a","prompt":"b"})").find("not both"), std::string::npos);
  EXPECT_NE(error_of(R"({"input":"a","messages":[{"role":"user","content":"b"}]})").find("not both"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"input":"a","stream":true})").find("request.stream: not for an embeddings"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"input":"a","tools":[]})").find("request.tools: not for an embeddings"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"input":"a","encoding_format":"hex"})").find("encoding_format"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"input":"a","dimensions":0})").find("dimensions"), std::string::npos);
  EXPECT_NE(error_of(R"({"prompt":"a","dimensions":8})").find("only for an embeddings request"),
            std::string::npos);
  std::string big = R"({"input":[)";
  for (int i = 0; i < 2049; ++i) big += std::string(i ? "," : "") + "\"x\"";
  EXPECT_NE(error_of((big + "]}").c_str()).find("2049 inputs; at most 2048"), std::string::npos);
}

TEST(Embeddings, TheWireBodyAsksForBase64AndCarriesTheInputAsGiven) {
  RequestSpec spec = parsed(R"({"model":"text-embedding-3-large","input":["a","b"],"dimensions":64,"user":"u1"})");
  JsonBuffer out;
  build_openai_embeddings_body(spec, out);
  EXPECT_STREQ(out.GetString(),
               R"({"model":"text-embedding-3-large","input":["a","b"],"encoding_format":"base64","dimensions":64,"user":"u1"})");
  RequestSpec s1 = parsed(R"({"model":"m","input":"just one"})");
  JsonBuffer o1;
  build_openai_embeddings_body(s1, o1);
  EXPECT_STREQ(o1.GetString(), R"({"model":"m","input":"just one","encoding_format":"base64"})");
}

TEST(Embeddings, Float32Base64DecodesLittleEndianAndRefusesWhatIsNot) {
  std::vector<float> v;
  // 1.0f, -2.5f, 0.0f as little-endian float32: 0000803f 000020c0 00000000.
  ASSERT_TRUE(decode_float32_base64("AACAPwAAIMAAAAAA", v));
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], -2.5f);
  EXPECT_EQ(v[2], 0.0f);
  ASSERT_TRUE(decode_float32_base64("AACAPw==", v));  // padded
  EXPECT_EQ(v, (std::vector<float>{1.0f}));
  ASSERT_TRUE(decode_float32_base64("AACAPwAAAEA=", v));
  EXPECT_EQ(v, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_FALSE(decode_float32_base64("AACAP", v));      // not a multiple of 4 characters
  EXPECT_FALSE(decode_float32_base64("AACA", v));       // 3 bytes: not whole floats
  EXPECT_FALSE(decode_float32_base64("AA*APwAA", v));   // outside the alphabet
  ASSERT_TRUE(decode_float32_base64("", v));
  EXPECT_TRUE(v.empty());
}

TEST(Embeddings, TheReplysVectorsComeInInputOrderWithUsage) {
  ScratchDoc scratch;
  std::string error;
  const char *body =
      R"({"object":"list","data":[{"object":"embedding","index":1,"embedding":"AAAAQAAAQEA="},)"
      R"({"object":"embedding","index":0,"embedding":[0.5,-0.25]}],)"
      R"("model":"text-embedding-3-small","usage":{"prompt_tokens":7,"total_tokens":7}})";
  ASSERT_TRUE(parse_object(scratch, body, "the reply", error)) << error;
  ProviderReply r;
  ASSERT_TRUE(parse_openai_embeddings(scratch.doc(), r, error)) << error;
  ASSERT_EQ(r.embeddings.size(), 2u);
  EXPECT_EQ(r.embeddings[0], (std::vector<float>{0.5f, -0.25f}));
  EXPECT_EQ(r.embeddings[1], (std::vector<float>{2.0f, 3.0f}));
  EXPECT_TRUE(r.has_usage);
  EXPECT_EQ(r.usage.prompt, 7);
  EXPECT_EQ(r.usage.completion, 0);
  EXPECT_EQ(r.model, "text-embedding-3-small");

  for (const char *bad : {R"({"data":[]})", R"({"data":[{"index":1,"embedding":[1]}]})",
                          R"({"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]})",
                          R"({"data":[{"index":0,"embedding":"@@@@"}]})",
                          R"({"data":[{"index":0,"embedding":["x"]}]})",
                          R"({"data":[{"index":0,"embedding":{}}]})"}) {
    ScratchDoc s2;
    ASSERT_TRUE(parse_object(s2, bad, "the reply", error));
    ProviderReply r2;
    EXPECT_FALSE(parse_openai_embeddings(s2.doc(), r2, error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

TEST(Embeddings, TheTypedGetterRefusesWhatIsNotThere) {
  size_t dims = 99;
  EXPECT_EQ(llmsvc_result_embedding(nullptr, 0, &dims), nullptr);
  EXPECT_EQ(dims, 0u);
  EXPECT_EQ(llmsvc_result_embedding(nullptr, 0, nullptr), nullptr);
  EXPECT_EQ(llmsvc_result_number(nullptr, LLMSVC_NUM_EMBEDDINGS), LLMSVC_UNKNOWN);
}

TEST(Embeddings, TheCacheKeepsVectorsExactly) {
  ProviderReply r;
  r.embeddings = {{1.0f, -0.1f, 3.4028235e38f, 1e-45f}, {0.123456789f}};
  std::string extra = encode_reply_extras(r);
  ASSERT_FALSE(extra.empty());
  ProviderReply back;
  ASSERT_TRUE(decode_reply_extras(extra, back)) << extra;
  EXPECT_EQ(back.embeddings, r.embeddings);
  EXPECT_EQ(encode_float32_base64({1.0f, -2.5f, 0.0f}), "AACAPwAAIMAAAAAA");
  ProviderReply bad;
  EXPECT_FALSE(decode_reply_extras(R"({"embeddings":["AAA*"]})", bad));
  EXPECT_FALSE(decode_reply_extras(R"({"embeddings":"x"})", bad));
}

namespace {
std::unique_ptr<Provider> provider_named(const char *name) {
  Config c;
  c.provider = name;
  c.base_url = "http://127.0.0.1:1/v";
  c.api_key = "k";
  c.model = "m";
  return make_provider(c);
}
}  // namespace

TEST(Embeddings, OllamaSendsTheInputToApiEmbedAndReadsItsCounts) {
  auto p = provider_named("ollama");
  ASSERT_TRUE(p->embeds());
  EXPECT_EQ(p->embeddings_url(), "http://127.0.0.1:1/v/api/embed");
  RequestSpec spec = parsed(R"({"model":"nomic-embed-text","input":["a","bb"],"dimensions":8})");
  EXPECT_EQ(p->unsupported(spec), "");
  JsonBuffer out;
  p->build_body(spec, out);
  EXPECT_STREQ(out.GetString(), R"({"model":"nomic-embed-text","input":["a","bb"],"dimensions":8})");
  EXPECT_EQ(p->estimate_prompt_tokens(spec), spec.input_tokens);
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p->parse_reply(
      R"({"model":"nomic-embed-text","embeddings":[[0.5,-0.25],[1,0]],"prompt_eval_count":7})", r, err))
      << err;
  ASSERT_EQ(r.embeddings.size(), 2u);
  EXPECT_EQ(r.embeddings[0], (std::vector<float>{0.5f, -0.25f}));
  EXPECT_TRUE(r.has_usage);
  EXPECT_EQ(r.usage.prompt, 7);
  EXPECT_FALSE(p->parse_reply(R"({"embeddings":[["x"]]})", r, err));
  EXPECT_NE(err.find("other than numbers"), std::string::npos) << err;
  EXPECT_NE(p->unsupported(parsed(R"({"model":"m","input":[1,2]})")).find("token ids"),
            std::string::npos);
}

TEST(Embeddings, GeminiBatchEmbedsEveryInputAtTheModelsMethod) {
  auto p = provider_named("gemini");
  ASSERT_TRUE(p->embeds());
  RequestSpec spec = parsed(R"({"model":"gemini-embedding-001","input":["a","b"],"dimensions":16})");
  EXPECT_EQ(p->unsupported(spec), "");
  EXPECT_EQ(p->request_url(spec), "http://127.0.0.1:1/v/models/gemini-embedding-001:batchEmbedContents");
  JsonBuffer out;
  p->build_body(spec, out);
  EXPECT_STREQ(out.GetString(),
               R"({"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"a"}]},"outputDimensionality":16},)"
               R"({"model":"models/gemini-embedding-001","content":{"parts":[{"text":"b"}]},"outputDimensionality":16}]})");
  ProviderReply r;
  std::string err;
  ASSERT_TRUE(p->parse_reply(R"({"embeddings":[{"values":[0.25]},{"values":[1,2]}],"usageMetadata":{"promptTokenCount":2}})",
                             r, err))
      << err;
  ASSERT_EQ(r.embeddings.size(), 2u);
  EXPECT_EQ(r.embeddings[1], (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(r.usage.prompt, 2);
  ProviderReply bare;
  ASSERT_TRUE(p->parse_reply(R"({"embeddings":[{"values":[0.25]}]})", bare, err));
  EXPECT_FALSE(bare.has_usage);  // the engine then counts its own estimate, marked so
  EXPECT_FALSE(p->parse_reply(R"({"embeddings":[{"value":[1]}]})", r, err));
  EXPECT_NE(err.find("no values"), std::string::npos) << err;
  std::string many = R"({"model":"gemini-embedding-001","input":[)";
  for (int i = 0; i < 101; ++i) many += std::string(i ? "," : "") + "\"x\"";
  EXPECT_NE(p->unsupported(parsed((many + "]}").c_str())).find("at most 100"), std::string::npos);
}
