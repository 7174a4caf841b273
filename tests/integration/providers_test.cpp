// OpenAI Responses, structured output and streaming, end to end against the emulator.
#include "support.h"

namespace {

const char *kPetSchema =
    R"({"name":"pet","schema":{"type":"object","properties":{"name":{"type":"string","minLength":1},
       "legs":{"type":"integer","minimum":0},"kind":{"enum":["cat","dog"]}},
       "required":["name","legs","kind"],"additionalProperties":false}})";

std::string with_schema(const std::string &model) {
  return "{\"model\":\"" + model + "\",\"prompt\":\"describe a pet\",\"json_schema\":" + kPetSchema + "}";
}

struct StreamCollector {
  std::mutex mu;
  std::string text;
  int deltas = 0;
  Collector done;
  static void on_delta(uint64_t, const char *t, size_t n, void *self) {
    auto *s = static_cast<StreamCollector *>(self);
    std::lock_guard<std::mutex> lock(s->mu);
    s->text.append(t, n);
    ++s->deltas;
  }
  static void on_done(llmsvc_result *r, void *self) { static_cast<StreamCollector *>(self)->done.add(r); }
};

Completed stream(Client &client, const std::string &request, StreamCollector &sc) {
  llmsvc_error *err = nullptr;
  int rc = llmsvc_client_submit_stream(client.get(), request.c_str(), &StreamCollector::on_delta,
                                       &StreamCollector::on_done, &sc, nullptr, &err);
  EXPECT_EQ(rc, LLMSVC_OK) << llmsvc_error_message(err);
  llmsvc_error_free(err);
  EXPECT_TRUE(sc.done.wait_for(1));
  auto r = sc.done.results();
  return r.empty() ? Completed{} : r.front();
}

}  // namespace

TEST(Responses, GenerateAndChainWithPreviousResponseId) {
  EmulatorProcess emu({"--validate-spec", LLMSVC_SPEC_PATH});
  Client client(emu.config("sk-resp", R"("provider":"openai_responses")"));
  Completed first = client.generate(
      R"({"model":"gpt-4o-mini","instructions":"be brief","prompt":"name a colour","max_output_tokens":64})");
  ASSERT_EQ(first.kind, LLMSVC_KIND_NONE) << first.json;
  rapidjson::Document d1 = first.doc();
  std::string id = d1["response_id"].GetString();
  EXPECT_EQ(id.rfind("resp_", 0), 0u);
  int64_t ctx = i64(d1["usage"], "total_tokens");
  Completed second = client.generate(R"({"model":"gpt-4o-mini","prompt":"another one","previous_response_id":")" +
                                     id + R"("})");
  ASSERT_EQ(second.kind, LLMSVC_KIND_NONE) << second.json;
  // The provider counts the earlier exchange as input again: 3 + (4 + 3) + the context.
  EXPECT_EQ(i64(second.doc()["usage"], "prompt_tokens"), 10 + ctx);
  Completed unknown = client.generate(R"({"model":"gpt-4o-mini","prompt":"x","previous_response_id":"resp_nope"})");
  EXPECT_EQ(unknown.kind, LLMSVC_KIND_BAD_REQUEST);
  EXPECT_NE(unknown.json.find("previous_response_not_found"), std::string::npos);
  rapidjson::Document s = emu.stats("sk-resp");
  EXPECT_EQ(i64(s, "spec_violations"), 0);
}

TEST(StructuredOutput, EveryProviderReturnsTheValidatedDocument) {
  EmulatorProcess emu;
  for (const char *provider : {"openai_chat", "openai_responses", "anthropic"}) {
    Client client(emu.config(std::string("sk-json-") + provider,
                             std::string("\"provider\":\"") + provider + "\""));
    Completed c = client.generate(with_schema(std::string(provider) == "anthropic" ? "claude-haiku-4-5" : "gpt-4o-mini"));
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << provider << ": " << c.json;
    rapidjson::Document d = c.doc();
    ASSERT_TRUE(d.HasMember("json")) << c.json;
    EXPECT_TRUE(d["json"]["name"].IsString()) << provider;
    EXPECT_TRUE(d["json"]["legs"].IsInt()) << provider;
    EXPECT_EQ(d["attempts"].Size(), 1u);
  }
}

TEST(StructuredOutput, MismatchRetriedOnceThenReportedWithItsPointer) {
  EmulatorProcess emu({"--invalid-json-first", "1"});
  {
    Client client(emu.config("sk-json-retry"));
    Completed c = client.generate(with_schema("gpt-4o-mini"));
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    rapidjson::Document d = c.doc();
    ASSERT_EQ(d["attempts"].Size(), 2u);
    EXPECT_STREQ(d["attempts"][0]["kind"].GetString(), "schema_mismatch");
    // Both attempts were paid for: the usage covers both.
    rapidjson::Document s = emu.stats("sk-json-retry");
    EXPECT_EQ(i64(d["usage"], "completion_tokens"), i64(s, "completion_tokens"));
    // Each attempt carries its own share, so spend times retries is visible.
    const rapidjson::Value &a0 = d["attempts"][0], &a1 = d["attempts"][1];
    EXPECT_GT(i64(a0, "cost_nano_usd"), 0);
    EXPECT_GT(i64(a1, "cost_nano_usd"), 0);
    EXPECT_EQ(i64(a0, "cost_nano_usd") + i64(a1, "cost_nano_usd"), i64(d, "cost_nano_usd"));
    EXPECT_EQ(i64(a0, "completion_tokens") + i64(a1, "completion_tokens"),
              i64(d["usage"], "completion_tokens"));
  }
  Client client(emu.config("sk-json-fail", R"("retry":{"schema_retries":0})"));
  Completed c = client.generate(with_schema("gpt-4o-mini"));
  EXPECT_EQ(c.kind, LLMSVC_KIND_SCHEMA_MISMATCH);
  rapidjson::Document d = c.doc();
  EXPECT_STREQ(d["error"]["pointer"].GetString(), "/name");
  EXPECT_STREQ(d["error"]["keyword"].GetString(), "required");
  EXPECT_FALSE(d["usage"].IsNull());
}

TEST(Streaming, DeltasThenTheWholeTextForEveryProvider) {
  EmulatorProcess emu;
  for (const char *provider : {"openai_chat", "openai_responses", "anthropic"}) {
    std::string key = std::string("sk-stream-") + provider;
    Client client(emu.config(key, std::string("\"provider\":\"") + provider + "\""));
    std::string model = std::string(provider) == "anthropic" ? "claude-sonnet-4-5" : "gpt-4o-mini";
    std::string req = "{\"model\":\"" + model + "\",\"prompt\":\"tell me a story\",\"max_output_tokens\":40}";
    Completed whole = client.generate(req);
    ASSERT_EQ(whole.kind, LLMSVC_KIND_NONE) << whole.json;
    StreamCollector sc;
    Completed c = stream(client, req, sc);
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << provider << ": " << c.json;
    EXPECT_GT(sc.deltas, 1) << provider;
    EXPECT_EQ(sc.text, c.text) << provider;
    EXPECT_EQ(c.text, whole.text) << provider;  // the same reply, streamed or not
    rapidjson::Document d = c.doc();
    EXPECT_EQ(i64(d["usage"], "completion_tokens"), i64(whole.doc()["usage"], "completion_tokens"));
    EXPECT_FALSE(d["usage"].HasMember("estimated"));
    EXPECT_TRUE(d["timing"].HasMember("first_token_ms"));
    EXPECT_EQ(client.metrics()["first_token_ms"]["count"].GetInt64(), 1);
  }
}

TEST(Streaming, CompletionQueueCarriesDeltasInOrder) {
  EmulatorProcess emu;
  Client client(emu.config("sk-stream-q"));
  ASSERT_EQ(llmsvc_client_submit_stream(client.get(), prompt_request("stream to the queue").c_str(),
                                        nullptr, nullptr, nullptr, nullptr, nullptr),
            LLMSVC_OK);
  std::string text;
  int deltas = 0;
  for (;;) {
    llmsvc_result *r = nullptr;
    ASSERT_EQ(llmsvc_client_poll(client.get(), 10000, &r, nullptr), LLMSVC_OK);
    if (llmsvc_result_type(r) == LLMSVC_RESULT_DELTA) {
      text += llmsvc_result_text(r);
      ++deltas;
      llmsvc_result_free(r);
      continue;
    }
    EXPECT_EQ(llmsvc_result_kind(r), LLMSVC_KIND_NONE);
    EXPECT_EQ(text, llmsvc_result_text(r));
    llmsvc_result_free(r);
    break;
  }
  EXPECT_GT(deltas, 1);
  EXPECT_EQ(llmsvc_client_submit_stream(client.get(), "{}", &StreamCollector::on_delta, nullptr,
                                        nullptr, nullptr, nullptr),
            LLMSVC_EINVAL);
}

TEST(Streaming, RetriedBeforeTheFirstDeltaNotAfter) {
  EmulatorProcess emu({"--fail-first", "1"});
  Client client(emu.config("sk-stream-retry", R"("retry":{"base_delay_ms":5})"));
  StreamCollector sc;
  Completed c = stream(client, prompt_request("flaky stream"), sc);
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  EXPECT_EQ(c.doc()["attempts"].Size(), 2u);  // the 500 came before any text

  // Broken mid-stream (an error event after half the deltas): text was delivered, so no
  // retry, and the usage is an estimate flagged as such.
  EmulatorProcess cut({"--midstream-error-rate", "1", "--stream-delay-ms", "1"});
  Client client2(cut.config("sk-stream-cut", R"("retry":{"base_delay_ms":5})"));
  StreamCollector sc2;
  Completed c2 = stream(client2, prompt_request("a long story", "\"max_output_tokens\":60"), sc2);
  EXPECT_EQ(c2.kind, LLMSVC_KIND_SERVER_ERROR) << c2.json;
  rapidjson::Document d = c2.doc();
  EXPECT_EQ(d["attempts"].Size(), 1u);
  EXPECT_NE(c2.json.find("not retried"), std::string::npos);
  EXPECT_TRUE(d["usage"]["estimated"].GetBool());
  EXPECT_GT(sc2.deltas, 0);
}

TEST(Streaming, CancelMidStreamStopsTheTransfer) {
  EmulatorProcess emu({"--stream-delay-ms", "200"});
  Client client(emu.config("sk-stream-cancel"));
  StreamCollector sc;
  uint64_t id = 0;
  ASSERT_EQ(llmsvc_client_submit_stream(client.get(), prompt_request("slow story", "\"max_output_tokens\":60").c_str(),
                                        &StreamCollector::on_delta, &StreamCollector::on_done, &sc,
                                        &id, nullptr),
            LLMSVC_OK);
  for (int i = 0; i < 5000; ++i) {
    {
      std::lock_guard<std::mutex> lock(sc.mu);
      if (sc.deltas > 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(llmsvc_client_cancel(client.get(), id), LLMSVC_OK);
  ASSERT_TRUE(sc.done.wait_for(1, std::chrono::seconds(10)));
  Completed c = sc.done.results()[0];
  EXPECT_EQ(c.kind, LLMSVC_KIND_CANCELLED);
  rapidjson::Document d = c.doc();
  EXPECT_FALSE(d["usage"].IsNull());  // what was used is still recorded
  EXPECT_EQ(i64(client.metrics()["requests"], "in_flight"), 0);
}

namespace {
std::string ollama_config(const EmulatorProcess &emu, const std::string &extra = "") {
  return "{\"provider\":\"ollama\",\"base_url\":\"http://127.0.0.1:" + std::to_string(emu.port()) +
         "\"" + (extra.empty() ? "" : "," + extra) + "}";
}
}  // namespace

TEST(Ollama, WholeAndStreamedRepliesWithUsageAndNoPrice) {
  EmulatorProcess emu;
  Client client(ollama_config(emu, R"("free_models":["llama3.2"])"));
  std::string req = R"({"model":"llama3.2","instructions":"be brief","prompt":"hello","max_output_tokens":30})";
  Completed whole = client.generate(req);
  ASSERT_EQ(whole.kind, LLMSVC_KIND_NONE) << whole.json;
  rapidjson::Document d = whole.doc();
  // 3 + system (4 + 2) + user (4 + 2)
  EXPECT_EQ(i64(d["usage"], "prompt_tokens"), 15);
  EXPECT_EQ(i64(d, "cost_nano_usd"), 0);  // declared free
  StreamCollector sc;
  Completed streamed = stream(client, req, sc);
  ASSERT_EQ(streamed.kind, LLMSVC_KIND_NONE) << streamed.json;
  EXPECT_GT(sc.deltas, 1);
  EXPECT_EQ(sc.text, whole.text);
  EXPECT_EQ(streamed.text, whole.text);
  EXPECT_EQ(i64(streamed.doc()["usage"], "completion_tokens"), i64(d["usage"], "completion_tokens"));

  Completed unpriced = client.generate(R"({"model":"mistral","prompt":"hi"})");
  ASSERT_EQ(unpriced.kind, LLMSVC_KIND_NONE) << unpriced.json;
  EXPECT_TRUE(unpriced.doc()["cost_nano_usd"].IsNull());  // not declared free: unknown
  EXPECT_EQ(i64(emu.stats("ollama"), "ok"), 3);
}

TEST(Ollama, StructuredOutputImagesAndErrors) {
  EmulatorProcess emu({"--known-models", "llama3.2"});
  Client client(ollama_config(emu));
  Completed c = client.generate(with_schema("llama3.2"));
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  EXPECT_TRUE(c.doc()["json"]["name"].IsString());
  Completed img = client.generate(R"({"model":"llama3.2","messages":[{"role":"user","content":[
      {"type":"text","text":"what is it?"},
      {"type":"image_url","image_url":"data:image/png;base64,iVBORw0KGgo="}]}]})");
  ASSERT_EQ(img.kind, LLMSVC_KIND_NONE) << img.json;
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_submit(client.get(), R"({"model":"llama3.2","messages":[{"role":"user",
      "content":[{"type":"image_url","image_url":"https://example.com/cat.png"}]}]})",
                                 nullptr, nullptr, nullptr, &err),
            LLMSVC_ESCHEMA);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("base64"), std::string::npos);
  llmsvc_error_free(err);
  Completed missing = client.generate(R"({"model":"gemma","prompt":"hi"})");
  EXPECT_EQ(missing.kind, LLMSVC_KIND_NOT_FOUND);
  EXPECT_NE(missing.json.find("try pulling it first"), std::string::npos);
}

TEST(AzureOpenAI, DeploymentUrlApiVersionAndApiKeyHeader) {
  EmulatorProcess emu;
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(emu.port());
  Client client(R"({"provider":"azure_openai","base_url":")" + endpoint +
                R"(","api_key":"sk-azure","azure_deployment":"prod-4o","api_version":"2024-10-21",)"
                R"("model":"gpt-4o-mini"})");
  Completed c = client.generate(prompt_request("hello azure"));
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  rapidjson::Document d = c.doc();
  EXPECT_GT(d["usage"]["prompt_tokens"].GetInt64(), 0);
  EXPECT_FALSE(c.text.empty());
  // The key went in the api-key header: the emulator counted it under that key.
  EXPECT_EQ(emu.stats("sk-azure")["ok"].GetInt64(), 1);

  // Streaming takes the same route.
  Collector col;
  uint64_t id = 0;
  ASSERT_EQ(llmsvc_client_submit_stream(client.get(), prompt_request("stream azure").c_str(),
                                        nullptr, &Collector::callback, &col, &id, nullptr),
            LLMSVC_OK);
  ASSERT_TRUE(col.wait_for(1));
  EXPECT_EQ(col.results()[0].kind, LLMSVC_KIND_NONE) << col.results()[0].json;
  EXPECT_EQ(emu.stats("sk-azure")["ok"].GetInt64(), 2);
}

TEST(AzureOpenAI, ConfigurationErrorsNameWhatIsMissing) {
  unsetenv("AZURE_OPENAI_ENDPOINT");
  auto refused = [](const std::string &config) {
    llmsvc_client *c = nullptr;
    llmsvc_error *err = nullptr;
    int rc = llmsvc_client_new(&c, config.c_str(), &err);
    std::string message = err ? llmsvc_error_message(err) : "";
    llmsvc_error_free(err);
    llmsvc_client_destroy(c);
    return rc == LLMSVC_ESCHEMA ? message : "accepted (" + std::to_string(rc) + ")";
  };
  EXPECT_NE(refused(R"({"provider":"azure_openai","api_key":"k","model":"gpt-4o"})")
                .find("AZURE_OPENAI_ENDPOINT"),
            std::string::npos);
  EXPECT_NE(refused(R"({"provider":"azure_openai","base_url":"https://x.openai.azure.com",)"
                    R"("api_key":"k","azure_deployment":"a/b"})")
                .find("config.azure_deployment"),
            std::string::npos);
  EXPECT_NE(refused(R"({"provider":"azure_openai","base_url":"https://x.openai.azure.com",)"
                    R"("api_key":"k","model":"gpt-4o","api_version":"2024-10-21&x=1"})")
                .find("config.api_version"),
            std::string::npos);
  EXPECT_NE(refused(R"({"provider":"azure","base_url":"https://x.openai.azure.com"})")
                .find("azure_openai"),
            std::string::npos);
}
