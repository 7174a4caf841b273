// Google Gemini's native API end to end against the emulator, which checks every body
// against Gemini's request shape: whole and streamed replies, usage and cost, tool rounds,
// structured output, its 429 (the wait is in the body) and its key and quota errors.
#include "support.h"

namespace {

std::string gemini_config(const EmulatorProcess &emu, const std::string &key,
                          const std::string &extra = "") {
  std::string base = emu.base_url().substr(0, emu.base_url().size() - 3) + "/v1beta";
  std::string c = "{\"provider\":\"gemini\",\"base_url\":\"" + base + "\",\"api_key\":\"" + key +
                  "\",\"model\":\"gemini-2.0-flash\"";
  if (!extra.empty()) c += "," + extra;
  return c + "}";
}

}  // namespace

TEST(Gemini, WholeAndStreamedRepliesWithUsageAndCost) {
  EmulatorProcess emu;
  Client client(gemini_config(emu, "gm-one"));
  const std::string req = R"({"prompt":"Say hello to the world","max_output_tokens":40})";
  Completed whole = client.generate(req);
  ASSERT_EQ(whole.kind, LLMSVC_KIND_NONE) << whole.json;
  rapidjson::Document d = whole.doc();
  EXPECT_FALSE(whole.text.empty());
  EXPECT_GT(i64(d["usage"], "prompt_tokens"), 0);
  EXPECT_GT(i64(d["usage"], "completion_tokens"), 0);
  EXPECT_GT(i64(d, "cost_nano_usd"), 0) << "gemini-2.0-flash has a price";

  TextStream p;
  llmsvc_error *err = nullptr;
  ASSERT_EQ(llmsvc_client_submit_stream(client.get(), req.c_str(), &TextStream::on_delta,
                                        &TextStream::on_done, &p, nullptr, &err),
            LLMSVC_OK)
      << llmsvc_error_message(err);
  ASSERT_TRUE(p.done.wait_for(1));
  Completed streamed = p.done.results()[0];
  ASSERT_EQ(streamed.kind, LLMSVC_KIND_NONE) << streamed.json;
  EXPECT_EQ(p.text, whole.text) << "the same body gives the same text, whole or streamed";
  EXPECT_EQ(streamed.text, whole.text);
  EXPECT_EQ(i64(streamed.doc()["usage"], "completion_tokens"), i64(d["usage"], "completion_tokens"));
  rapidjson::Document s = emu.stats("gm-one");
  EXPECT_EQ(i64(s, "ok"), 2) << to_json(s);
  EXPECT_EQ(i64(s, "bad_requests"), 0) << "every body had Gemini's shape";
}

TEST(Gemini, AToolRoundAndStructuredOutput) {
  EmulatorProcess emu;
  Client client(gemini_config(emu, "gm-tools"));
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"get_weather","description":"Weather in a city",
         "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}])";
  Completed first = client.generate(R"({"prompt":"Use get_weather for Paris",)" + tools + "}");
  ASSERT_EQ(first.kind, LLMSVC_KIND_NONE) << first.json;
  rapidjson::Document d = first.doc();
  ASSERT_TRUE(d.HasMember("tool_calls")) << first.json;
  ASSERT_EQ(d["tool_calls"].Size(), 1u);
  EXPECT_STREQ(d["tool_calls"][0]["name"].GetString(), "get_weather");
  EXPECT_STREQ(d["finish_reason"].GetString(), "tool_calls");
  std::string id = d["tool_calls"][0]["id"].GetString();
  std::string args = to_json(d["tool_calls"][0]["arguments"]);
  std::string round =
      R"({"messages":[{"role":"user","content":"Use get_weather for Paris"},
          {"role":"assistant","content":null,"tool_calls":[{"id":")" + id +
      R"(","type":"function","function":{"name":"get_weather","arguments":)" + args +
      R"(}}]},{"role":"tool","tool_call_id":")" + id + R"(","content":"{\"temp_c\":21}"}],)" +
      tools + "}";
  Completed second = client.generate(round);
  ASSERT_EQ(second.kind, LLMSVC_KIND_NONE) << second.json;
  EXPECT_FALSE(second.text.empty());
  EXPECT_FALSE(second.doc().HasMember("tool_calls"));

  Completed pet = client.generate(
      R"({"prompt":"describe a pet","json_schema":{"name":"pet","schema":{"type":"object",
          "properties":{"name":{"type":"string","minLength":1},"legs":{"type":"integer","minimum":0}},
          "required":["name","legs"],"additionalProperties":false}}})");
  ASSERT_EQ(pet.kind, LLMSVC_KIND_NONE) << pet.json;
  EXPECT_TRUE(pet.doc()["json"].IsObject()) << pet.json;
  EXPECT_EQ(i64(emu.stats("gm-tools"), "bad_requests"), 0);
}

TEST(Gemini, A429WaitsAsItsBodySaysAndKeyAndQuotaErrorsFailAtOnce) {
  EmulatorProcess emu({"--rate-limit-first", "1", "--rate-limit-wait-ms", "50", "--invalid-keys",
                       "gm-bad", "--quota-keys", "gm-broke"});
  {
    Client client(gemini_config(emu, "gm-limited"));
    Completed done = client.generate(R"({"prompt":"once limited"})");
    ASSERT_EQ(done.kind, LLMSVC_KIND_NONE) << done.json;
    rapidjson::Document d = done.doc();
    EXPECT_EQ(d["attempts"].Size(), 2u);
    // The wait came from the body's RetryInfo (Gemini sends no retry-after header).
    llmsvc_result *r = nullptr;
    ASSERT_EQ(llmsvc_client_generate(client.get(), R"({"prompt":"twice limited"})", &r, nullptr),
              LLMSVC_OK);
    int64_t a0[LLMSVC_ATTEMPT_COUNT];
    ASSERT_EQ(llmsvc_result_attempt(r, 0, a0, LLMSVC_ATTEMPT_COUNT, nullptr, nullptr),
              size_t(LLMSVC_ATTEMPT_COUNT));
    EXPECT_EQ(a0[LLMSVC_ATTEMPT_HTTP_STATUS], 429);
    EXPECT_EQ(a0[LLMSVC_ATTEMPT_BACKOFF_SOURCE], 2) << "the server's wait";
    EXPECT_EQ(a0[LLMSVC_ATTEMPT_BACKOFF_NS], 50 * 1000000LL);
    EXPECT_EQ(llmsvc_result_number(r, LLMSVC_NUM_RETRY_AFTER_MS), 50);
    llmsvc_result_free(r);
  }
  {
    Client client(gemini_config(emu, "gm-bad"));
    Completed done = client.generate(R"({"prompt":"x"})");
    EXPECT_EQ(done.kind, LLMSVC_KIND_AUTH) << done.json;
    EXPECT_EQ(done.doc()["attempts"].Size(), 1u);
    EXPECT_EQ(done.json.find("gm-bad"), std::string::npos) << "the key is never repeated";
  }
  {
    Client client(gemini_config(emu, "gm-broke"));
    Completed done = client.generate(R"({"prompt":"x"})");
    EXPECT_EQ(done.kind, LLMSVC_KIND_INSUFFICIENT_QUOTA) << done.json;
    EXPECT_EQ(done.doc()["attempts"].Size(), 1u);
  }
}

TEST(Gemini, RequestsItCannotSendAreRefusedAtSubmit) {
  EmulatorProcess emu;
  Client client(gemini_config(emu, "gm-refused"));
  llmsvc_error *err = nullptr;
  uint64_t id = 0;
  Collector col;
  int rc = llmsvc_client_submit(client.get(), R"({"prompt":"x","service_tier":"flex"})",
                                &Collector::callback, &col, &id, &err);
  EXPECT_EQ(rc, LLMSVC_ESCHEMA);
  EXPECT_EQ(std::string(llmsvc_error_message(err)),
            "request: service_tier is not a Gemini parameter");
  EXPECT_EQ(col.size(), 0u) << "refused at submit: no completion follows";
  llmsvc_error_free(err);
  EXPECT_EQ(i64(emu.stats("gm-refused"), "received"), 0);
}
