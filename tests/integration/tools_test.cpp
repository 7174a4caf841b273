// Tools and the rest of the request surface end to end: every provider against the
// emulator (OpenAI bodies checked against OpenAI's OpenAPI document on arrival).
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "support.h"

namespace {

const char *const kProviders[] = {"openai_chat", "openai_responses", "anthropic", "ollama"};

std::string model_of(const std::string &provider) {
  if (provider == "anthropic") return "claude-haiku-4-5";
  if (provider == "ollama") return "llama3.2";
  return "gpt-4o-mini";
}

// The emulator's base URL for a provider (Ollama's chat API is not under /v1).
std::string base_for(const EmulatorProcess &emu, const std::string &provider) {
  std::string base = emu.base_url();
  if (provider == "ollama") base.resize(base.size() - 3);
  return base;
}

std::string client_config(const EmulatorProcess &emu, const std::string &provider,
                          const std::string &extra = "") {
  std::string c = R"({"provider":")" + provider + R"(","base_url":")" + base_for(emu, provider) +
                  R"(","api_key":"sk-tools","model":")" + model_of(provider) + "\"";
  if (!extra.empty()) c += "," + extra;
  return c + "}";
}

const std::string kTools = R"([{"type":"function","function":{"name":"get_weather",
    "description":"The weather in a city","parameters":{"type":"object",
    "properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}},
  {"type":"function","function":{"name":"get_time","parameters":{"type":"object",
    "properties":{"zone":{"type":"string"}},"required":["zone"]}}}])";

std::vector<std::string> spec_args() { return {"--validate-spec", LLMSVC_SPEC_PATH}; }

// Pieces as llmsvc_piece_cb delivers them.
struct Pieces {
  std::mutex mu;
  std::string text;
  std::vector<std::array<std::string, 3>> calls;  // id, name, arguments
  int argument_pieces = 0;
  Collector done;
  static void on_piece(uint64_t, int kind, uint32_t index, const char *id, const char *name,
                       const char *text, size_t len, void *self) {
    auto *p = static_cast<Pieces *>(self);
    std::lock_guard<std::mutex> lock(p->mu);
    if (kind == LLMSVC_PIECE_TEXT) {
      p->text.append(text, len);
    } else if (kind == LLMSVC_PIECE_TOOL_CALL) {
      EXPECT_EQ(index, p->calls.size());
      p->calls.push_back({id, name, ""});
    } else {
      EXPECT_EQ(kind, LLMSVC_PIECE_TOOL_ARGUMENTS);
      EXPECT_LT(index, p->calls.size());
      if (index < p->calls.size()) p->calls[index][2].append(text, len);
      ++p->argument_pieces;
    }
  }
  static void on_done(llmsvc_result *r, void *self) { static_cast<Pieces *>(self)->done.add(r); }
};

}  // namespace

TEST(Tools, TheCToolLoopExampleRunsOnEveryProvider) {
  if (std::string(LLMSVC_TOOL_LOOP).empty()) GTEST_SKIP() << "examples are not built";
  EmulatorProcess emu(spec_args());
  for (const std::string provider : kProviders) {
    std::string cmd = std::string(LLMSVC_TOOL_LOOP) + " '" + base_for(emu, provider) +
                      "' sk-loop " + provider + " 2>&1";
    FILE *out = popen(cmd.c_str(), "r");
    ASSERT_NE(out, nullptr);
    std::string text;
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, out)) text.append(buf, n);
    int status = pclose(out);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << provider << ":\n" << text;
    EXPECT_NE(text.find("round 1: 1 tool call(s)"), std::string::npos) << provider << ":\n" << text;
    EXPECT_NE(text.find("get_weather({\"city\":"), std::string::npos) << provider << ":\n" << text;
    EXPECT_NE(text.find("round 2: Tool results: 18 C and clear"), std::string::npos)
        << provider << ":\n" << text;
  }
}

TEST(Tools, CallsComeBackTypedOnEveryProvider) {
  EmulatorProcess emu(spec_args());
  for (const std::string provider : kProviders) {
    Client client(client_config(emu, provider));
    Completed c = client.generate(R"({"tools":)" + kTools +
                                  R"(,"prompt":"Use get_weather and get_time for Paris."})");
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << provider << ": " << c.json;
    rapidjson::Document d = c.doc();
    EXPECT_STREQ(d["finish_reason"].GetString(), "tool_calls") << provider;
    ASSERT_TRUE(d.HasMember("tool_calls")) << c.json;
    ASSERT_EQ(d["tool_calls"].Size(), 2u) << provider << ": " << c.json;
    const auto &call = d["tool_calls"][0];
    EXPECT_STREQ(call["name"].GetString(), "get_weather");
    EXPECT_FALSE(std::string(call["id"].GetString()).empty());
    ASSERT_TRUE(call["arguments_json"].IsObject()) << c.json;
    EXPECT_TRUE(call["arguments_json"]["city"].IsString()) << c.json;
    EXPECT_FALSE(call.HasMember("arguments_error")) << c.json;
    EXPECT_FALSE(call.HasMember("unknown_tool")) << c.json;
    // The tool definitions count in the prompt: more than the same prompt without them.
    Completed plain = client.generate(R"({"prompt":"Use get_weather and get_time for Paris."})");
    EXPECT_GT(i64(d["usage"], "prompt_tokens"), i64(plain.doc()["usage"], "prompt_tokens")) << provider;
  }
}

TEST(Tools, StreamedCallsArriveAsPiecesAndAssembleOnEveryProvider) {
  EmulatorProcess emu(spec_args());
  for (const std::string provider : kProviders) {
    Client client(client_config(emu, provider));
    Pieces pieces;
    llmsvc_error *err = nullptr;
    std::string req = R"({"tools":)" + kTools + R"(,"prompt":"Use get_weather for Paris."})";
    ASSERT_EQ(llmsvc_client_submit_stream_pieces(client.get(), req.c_str(), &Pieces::on_piece,
                                                 &Pieces::on_done, &pieces, nullptr, &err),
              LLMSVC_OK)
        << llmsvc_error_message(err);
    ASSERT_TRUE(pieces.done.wait_for(1));
    Completed c = pieces.done.results().front();
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << provider << ": " << c.json;
    rapidjson::Document d = c.doc();
    ASSERT_EQ(pieces.calls.size(), 1u) << provider << ": " << c.json;
    ASSERT_EQ(d["tool_calls"].Size(), 1u) << c.json;
    EXPECT_EQ(pieces.calls[0][0], d["tool_calls"][0]["id"].GetString()) << provider;
    EXPECT_EQ(pieces.calls[0][1], "get_weather") << provider;
    EXPECT_EQ(pieces.calls[0][2], d["tool_calls"][0]["arguments"].GetString()) << provider;
    if (provider != "ollama") {  // Ollama sends each call whole
      EXPECT_GT(pieces.argument_pieces, 1) << provider;
    }
    EXPECT_STREQ(d["finish_reason"].GetString(), "tool_calls") << provider;
  }
}

TEST(Tools, PiecesGoToTheCompletionQueueTyped) {
  EmulatorProcess emu;
  Client client(client_config(emu, "openai_chat"));
  std::string req = R"({"tools":)" + kTools + R"(,"prompt":"Use get_weather for Oslo."})";
  ASSERT_EQ(llmsvc_client_submit_stream_pieces(client.get(), req.c_str(), nullptr, nullptr,
                                               nullptr, nullptr, nullptr),
            LLMSVC_OK);
  std::string name, arguments;
  for (;;) {
    llmsvc_result *r = nullptr;
    ASSERT_EQ(llmsvc_client_poll(client.get(), 10000, &r, nullptr), LLMSVC_OK);
    if (llmsvc_result_type(r) != LLMSVC_RESULT_DELTA) {
      ASSERT_EQ(llmsvc_result_kind(r), LLMSVC_KIND_NONE);
      ASSERT_EQ(llmsvc_result_tool_call_count(r), 1u);
      const char *n = nullptr, *a = nullptr;
      ASSERT_EQ(llmsvc_result_tool_call(r, 0, nullptr, &n, &a), LLMSVC_OK);
      EXPECT_EQ(name, n);
      EXPECT_EQ(arguments, a);
      EXPECT_EQ(llmsvc_result_tool_call(r, 1, nullptr, nullptr, nullptr), LLMSVC_EINVAL);
      llmsvc_result_free(r);
      break;
    }
    int kind = -1;
    uint32_t index = 9;
    const char *id = nullptr, *call_name = nullptr;
    ASSERT_EQ(llmsvc_result_piece(r, &kind, &index, &id, &call_name), LLMSVC_OK);
    if (kind == LLMSVC_PIECE_TOOL_CALL) name = call_name;
    if (kind == LLMSVC_PIECE_TOOL_ARGUMENTS) arguments += llmsvc_result_text(r);
    EXPECT_NE(std::string(llmsvc_result_json(r, nullptr)).find("\"piece\":"), std::string::npos);
    llmsvc_result_free(r);
  }
  EXPECT_EQ(name, "get_weather");
  EXPECT_EQ(llmsvc_result_piece(nullptr, nullptr, nullptr, nullptr, nullptr), LLMSVC_EINVAL);
}

TEST(Tools, NLogprobsJsonModeAndServiceTier) {
  EmulatorProcess emu(spec_args());
  Client chat(client_config(emu, "openai_chat"));
  Completed c = chat.generate(R"({"prompt":"say hi","n":3,"logprobs":true,"top_logprobs":2,)"
                              R"("service_tier":"flex","frequency_penalty":0.1})");
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  rapidjson::Document d = c.doc();
  ASSERT_EQ(d["choices"].Size(), 3u) << c.json;
  EXPECT_NE(std::string(d["choices"][1]["text"].GetString()), d["choices"][0]["text"].GetString());
  ASSERT_TRUE(d["logprobs"].IsArray()) << c.json;
  EXPECT_GT(d["logprobs"].Size(), 0u);
  EXPECT_EQ(d["logprobs"][0]["top_logprobs"].Size(), 2u) << c.json;
  EXPECT_STREQ(d["service_tier"].GetString(), "flex") << c.json;
  for (const std::string provider : {"openai_chat", "openai_responses", "ollama"}) {
    Client client(client_config(emu, provider));
    Completed j = client.generate(R"({"prompt":"Answer in JSON: a colour.","response_format":{"type":"json_object"}})");
    ASSERT_EQ(j.kind, LLMSVC_KIND_NONE) << provider << ": " << j.json;
    EXPECT_TRUE(j.doc()["json"].IsObject()) << provider << ": " << j.json;
  }
  Client responses(client_config(emu, "openai_responses"));
  Completed r = responses.generate(R"({"prompt":"say hi","logprobs":true,"top_logprobs":1})");
  ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  EXPECT_TRUE(r.doc()["logprobs"].IsArray()) << r.json;
}

TEST(Tools, AnthropicThinkingGoesBackInTheNextRound) {
  EmulatorProcess emu;
  Client client(client_config(emu, "anthropic"));
  Completed first = client.generate(R"({"tools":)" + kTools +
                                    R"(,"prompt":"Use get_weather for Paris.","max_output_tokens":4000,)"
                                    R"("thinking":{"type":"enabled","budget_tokens":2048}})");
  ASSERT_EQ(first.kind, LLMSVC_KIND_NONE) << first.json;
  rapidjson::Document d = first.doc();
  ASSERT_TRUE(d["thinking"].IsString()) << first.json;
  EXPECT_FALSE(std::string(d["thinking"].GetString()).empty());
  std::string signature = d["thinking_signature"].GetString();
  ASSERT_EQ(d["tool_calls"].Size(), 1u) << first.json;
  std::string id = d["tool_calls"][0]["id"].GetString();
  std::string args = to_json(d["tool_calls"][0]["arguments"]);  // a JSON string literal
  Completed second = client.generate(
      R"({"tools":)" + kTools + R"(,"max_output_tokens":4000,"thinking":{"type":"enabled","budget_tokens":2048},)"
      R"("messages":[{"role":"user","content":"Use get_weather for Paris."},)"
      R"({"role":"assistant","content":[{"type":"thinking","thinking":)" + to_json(d["thinking"]) +
      R"(,"signature":")" + signature + R"("}],"tool_calls":[{"id":")" + id +
      R"(","type":"function","function":{"name":"get_weather","arguments":)" + args + R"(}}]},)"
      R"({"role":"tool","tool_call_id":")" + id + R"(","content":"18 C"}]})");
  ASSERT_EQ(second.kind, LLMSVC_KIND_NONE) << second.json;
  EXPECT_STREQ(second.doc()["finish_reason"].GetString(), "end_turn") << second.json;
  EXPECT_NE(second.text.find("18 C"), std::string::npos) << second.json;
}

TEST(Tools, AnthropicPromptCachingWritesThenReads) {
  EmulatorProcess emu;
  Client client(client_config(emu, "anthropic"));
  std::string rules(8000, 'r');  // a prefix of 2000 tokens: caches take 1024 and more
  std::string req = R"({"messages":[{"role":"system","content":[{"type":"text","text":")" + rules +
                    R"(","cache_control":{"type":"ephemeral","ttl":"1h"}}]},{"role":"user","content":"hi"}]})";
  Completed first = client.generate(req);
  ASSERT_EQ(first.kind, LLMSVC_KIND_NONE) << first.json;
  rapidjson::Document u1 = first.doc();
  EXPECT_GT(i64(u1["usage"], "cache_write_tokens"), 0) << first.json;
  EXPECT_EQ(i64(u1["usage"], "cache_write_1h_tokens"), i64(u1["usage"], "cache_write_tokens")) << first.json;
  Completed second = client.generate(req);
  ASSERT_EQ(second.kind, LLMSVC_KIND_NONE) << second.json;
  rapidjson::Document u2 = second.doc();
  EXPECT_EQ(i64(u2["usage"], "cached_tokens"), i64(u1["usage"], "cache_write_tokens")) << second.json;
  // Reading is cheaper than writing for an hour.
  EXPECT_LT(i64(u2, "cost_nano_usd"), i64(u1, "cost_nano_usd"));
}

TEST(Tools, ExtraBodyAndHeadersReachTheProviderAndNeverTheKey) {
  EmulatorProcess emu(spec_args());
  Client client(client_config(emu, "openai_chat", R"("headers":{"x-team":"search"})"));
  Completed c = client.generate(R"({"prompt":"hi","extra_body":{"store":true},"extra_headers":{"x-request-tag":"t1"}})");
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  llmsvc_error *err = nullptr;
  uint64_t id = 0;
  EXPECT_EQ(llmsvc_client_submit(client.get(), R"({"prompt":"hi","extra_headers":{"authorization":"Bearer other"}})",
                                 nullptr, nullptr, &id, &err),
            LLMSVC_ESCHEMA);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("credentials"), std::string::npos);
  llmsvc_error_free(err);
  llmsvc_client *bad = nullptr;
  EXPECT_EQ(llmsvc_client_new(&bad, R"({"headers":{"x-api-key":"k2"}})", &err), LLMSVC_ESCHEMA);
  llmsvc_error_free(err);
}

TEST(Tools, ACachedToolCallReplyKeepsItsCalls) {
  EmulatorProcess emu;
  Client client(client_config(emu, "openai_chat", R"("cache":{"memory":{"max_entries":100}})"));
  std::string req = R"({"tools":)" + kTools + R"(,"prompt":"Use get_weather for Rome.","cache":"use"})";
  Completed first = client.generate(req);
  ASSERT_EQ(first.kind, LLMSVC_KIND_NONE) << first.json;
  Completed again = client.generate(req);
  ASSERT_EQ(again.kind, LLMSVC_KIND_NONE) << again.json;
  rapidjson::Document d = again.doc();
  EXPECT_TRUE(d["cache"]["hit"].GetBool()) << again.json;
  ASSERT_TRUE(d.HasMember("tool_calls")) << again.json;
  EXPECT_EQ(to_json(d["tool_calls"]), to_json(first.doc()["tool_calls"]));
  EXPECT_EQ(i64(emu.stats("sk-tools"), "received"), 1);
}

TEST(Tools, AFlexTierWithoutCapacityDoesNotPauseTheKey) {
  // The emulator answers every flex request with 429 resource_unavailable (retry-after 1 s):
  // the provider is short of flex capacity, the key is not over its limit.
  EmulatorProcess emu({"--flex-unavailable"});
  Client client(client_config(emu, "openai_chat", R"("retry":{"max_attempts":2})"));
  Collector col;
  uint64_t flex = client.submit(R"({"prompt":"later is fine","service_tier":"flex"})", col);
  ASSERT_TRUE(client.wait_metrics([](const rapidjson::Document &m) {
    return i64(m["attempts"]["errors_by_kind"], "rate_limited") >= 1;
  }));
  EXPECT_EQ(i64(client.metrics()["gates"], "paused_for_ms"), 0);
  Completed now = client.generate(R"({"prompt":"now please"})");
  EXPECT_EQ(now.kind, LLMSVC_KIND_NONE) << now.json;
  EXPECT_EQ(now.doc()["attempts"].Size(), 1u);
  ASSERT_TRUE(col.wait_for(1));
  Completed f = col.results().front();
  EXPECT_EQ(f.id, flex);
  EXPECT_EQ(f.kind, LLMSVC_KIND_RATE_LIMITED) << f.json;
  EXPECT_STREQ(f.doc()["error"]["provider_code"].GetString(), "resource_unavailable");
  EXPECT_EQ(f.doc()["attempts"].Size(), 2u) << "retried as the provider advised";
}
