// AWS Bedrock's Converse API end to end against the emulator, which verifies every request's
// Signature Version 4 with its own key and checks the body against the Converse shape:
// whole and streamed replies (the binary event stream), tool rounds, usage and cost,
// throttling retried, wrong credentials refused.
#include "support.h"

namespace {

const char kModel[] = "anthropic.claude-3-5-haiku-20241022-v1:0";

std::string bedrock_config(const EmulatorProcess &emu, const std::string &secret = "emulator-secret",
                           const std::string &extra = "") {
  std::string base = emu.base_url().substr(0, emu.base_url().size() - 3);
  std::string c = "{\"provider\":\"bedrock\",\"base_url\":\"" + base +
                  "\",\"aws_region\":\"us-east-1\",\"aws_access_key_id\":\"AKIDEMULATOR\","
                  "\"aws_secret_access_key\":\"" + secret + "\",\"model\":\"" + kModel + "\"";
  if (!extra.empty()) c += "," + extra;
  return c + "}";
}

// claude-3-5-haiku: $0.80 and $4 per million tokens, in nano-USD.
int64_t haiku_nano(int64_t prompt, int64_t completion) {
  return (prompt * 800000 + completion * 4000000) / 1000;
}

}  // namespace

TEST(Bedrock, SignedWholeAndStreamedRepliesWithUsageAndCost) {
  EmulatorProcess emu;
  Collector col;
  Client c(bedrock_config(emu));
  c.submit(R"({"prompt":"Say something short.","max_output_tokens":30})", col);
  ASSERT_TRUE(col.wait_for(1));
  Completed r = col.results()[0];
  ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  EXPECT_FALSE(r.text.empty());
  rapidjson::Document d = r.doc();
  int64_t prompt = d["usage"]["prompt_tokens"].GetInt64();
  int64_t completion = d["usage"]["completion_tokens"].GetInt64();
  EXPECT_GT(prompt, 0);
  EXPECT_GT(completion, 0);
  EXPECT_EQ(d["cost_nano_usd"].GetInt64(), haiku_nano(prompt, completion)) << r.json;
  EXPECT_FALSE(std::string(d["attempts"][0]["request_id"].GetString()).empty()) << r.json;

  TextStream s;
  ASSERT_EQ(llmsvc_client_submit_stream(c.get(), R"({"prompt":"Stream a few words.","max_output_tokens":40})",
                                        TextStream::on_delta, TextStream::on_done, &s, nullptr, nullptr),
            LLMSVC_OK);
  ASSERT_TRUE(s.done.wait_for(1));
  Completed sr = s.done.results()[0];
  ASSERT_EQ(sr.kind, LLMSVC_KIND_NONE) << sr.json;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    EXPECT_EQ(s.text, sr.text);
    EXPECT_FALSE(s.text.empty());
  }
  rapidjson::Document sd = sr.doc();
  EXPECT_GT(sd["usage"]["completion_tokens"].GetInt64(), 0) << sr.json;
  EXPECT_FALSE(sd["usage"].HasMember("estimated")) << sr.json;  // the stream's own count
  rapidjson::Document st = emu.stats("AKIDEMULATOR");
  EXPECT_EQ(st["ok"].GetInt(), 2) << "every request signed and accepted";
}

TEST(Bedrock, AToolRoundAndStructuredOutput) {
  EmulatorProcess emu;
  Collector col;
  Client c(bedrock_config(emu));
  const char tools[] = R"("tools":[{"type":"function","function":{"name":"weather",
      "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}])";
  c.submit(std::string(R"({"prompt":"Weather in Oslo?","tool_choice":"required",)") + tools + "}", col);
  ASSERT_TRUE(col.wait_for(1));
  Completed r = col.results()[0];
  ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  rapidjson::Document d = r.doc();
  ASSERT_TRUE(d.HasMember("tool_calls")) << r.json;
  std::string id = d["tool_calls"][0]["id"].GetString();
  EXPECT_STREQ(d["tool_calls"][0]["name"].GetString(), "weather");
  std::string args = to_json(d["tool_calls"][0]["arguments"]);
  EXPECT_EQ(std::string(d["finish_reason"].GetString()), "tool_calls");
  // The result goes back; the emulator checks the toolUse / toolResult pairing.
  std::string round = std::string(R"({"messages":[{"role":"user","content":"Weather in Oslo?"},)") +
                      R"({"role":"assistant","content":null,"tool_calls":[{"id":")" + id +
                      R"(","type":"function","function":{"name":"weather","arguments":)" +
                      args + R"(}}]},{"role":"tool","tool_call_id":")" + id +
                      R"(","content":"3 C and snow"}],)" + tools + "}";
  c.submit(round, col);
  ASSERT_TRUE(col.wait_for(2));
  Completed r2 = col.results()[1];
  ASSERT_EQ(r2.kind, LLMSVC_KIND_NONE) << r2.json;
  EXPECT_FALSE(r2.text.empty());

  c.submit(R"({"prompt":"A pet.","json_schema":{"name":"pet","schema":{"type":"object",
      "properties":{"name":{"type":"string"}},"required":["name"]}}})", col);
  ASSERT_TRUE(col.wait_for(3));
  Completed r3 = col.results()[2];
  ASSERT_EQ(r3.kind, LLMSVC_KIND_NONE) << r3.json;
  EXPECT_TRUE(r3.doc()["json"].IsObject()) << r3.json;
}

TEST(Bedrock, ThrottlingIsRetriedAndWrongCredentialsFailAtOnce) {
  EmulatorProcess emu({"--rate-limit-first", "2"});
  Collector col;
  {
    Client c(bedrock_config(emu, "emulator-secret", R"("retry":{"base_delay_ms":5})"));
    c.submit(R"({"prompt":"retry me"})", col);
    ASSERT_TRUE(col.wait_for(1));
  }
  Completed r = col.results()[0];
  ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  rapidjson::Document d = r.doc();
  EXPECT_EQ(d["attempts"].Size(), 3u) << r.json;
  EXPECT_EQ(d["attempts"][0]["http_status"].GetInt(), 429);

  Collector bad;
  {
    Client c(bedrock_config(emu, "not-the-secret"));
    c.submit(R"({"prompt":"x"})", bad);
    ASSERT_TRUE(bad.wait_for(1));
  }
  Completed b = bad.results()[0];
  EXPECT_EQ(b.http_status, 403) << b.json;
  EXPECT_NE(b.json.find("signature"), std::string::npos) << b.json;
  EXPECT_EQ(b.json.find("not-the-secret"), std::string::npos) << "the secret never shows";
  EXPECT_EQ(b.doc()["attempts"].Size(), 1u) << b.json;
}

TEST(Bedrock, EmbeddingsThroughTitanAndCohereWithTheCountsBedrockGives) {
  EmulatorProcess emu;
  struct Case {
    const char *model, *request;
    size_t vectors, dims;
  } cases[] = {
      {"amazon.titan-embed-text-v2:0", R"({"input":"a text to embed","dimensions":512})", 1, 512},
      {"cohere.embed-english-v3", R"({"input":["first","second text","third"]})", 3, 1024},
  };
  for (const Case &k : cases) {
    Client c(bedrock_config(emu, "emulator-secret", std::string(R"("deployments":[{"name":"e","model":")") +
                                                        k.model + "\"}]"));
    Collector col;
    c.submit(std::string(k.request).insert(1, std::string("\"model\":\"") + k.model + "\","), col);
    ASSERT_TRUE(col.wait_for(1));
    Completed r = col.results()[0];
    ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
    rapidjson::Document d = r.doc();
    ASSERT_EQ(d["embeddings"].Size(), k.vectors) << r.json;
    EXPECT_EQ(d["embeddings"][0].Size(), k.dims);
    EXPECT_GT(d["usage"]["prompt_tokens"].GetInt64(), 0) << r.json;
    EXPECT_FALSE(d["usage"].HasMember("estimated")) << "the count Bedrock gave: " << r.json;
  }
}
