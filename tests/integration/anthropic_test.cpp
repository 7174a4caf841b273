// The Anthropic Messages provider end to end against the emulator's /v1/messages.
#include "support.h"

namespace {
std::string anthropic(const std::string &extra = "") {
  return std::string(R"("provider":"anthropic")") + (extra.empty() ? "" : "," + extra);
}
std::string claude(const std::string &prompt, const std::string &extra = "") {
  std::string r = "{\"model\":\"claude-sonnet-4-5\",\"prompt\":\"" + prompt + "\"";
  if (!extra.empty()) r += "," + extra;
  return r + "}";
}
}  // namespace

TEST(Anthropic, GenerateWithUsageCostAndSystemPrompt) {
  EmulatorProcess emu;
  Client client(emu.config("sk-ant-one", anthropic()));
  Completed c = client.generate(
      R"({"model":"claude-sonnet-4-5","instructions":"answer briefly","prompt":"hello there",
          "max_output_tokens":200,"operation":"greet"})");
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  EXPECT_FALSE(c.text.empty());
  rapidjson::Document d = c.doc();
  EXPECT_EQ(std::string(d["response_id"].GetString()).rfind("msg_", 0), 0u);
  // 3 + user (4 + ceil(11/4)) + system (4 + ceil(14/4)) = 3 + 7 + 8
  EXPECT_EQ(i64(d["usage"], "prompt_tokens"), 18);
  int64_t out = i64(d["usage"], "completion_tokens");
  // claude-sonnet-4-5: $3 in, $15 out per million: 3000 and 15000 nano-USD per token.
  EXPECT_EQ(i64(d, "cost_nano_usd"), 18 * 3000 + out * 15000);
  rapidjson::Document s = emu.stats("sk-ant-one");
  EXPECT_EQ(i64(s, "ok"), 1);
  EXPECT_EQ(i64(s, "prompt_tokens"), 18);
  EXPECT_EQ(i64(s, "completion_tokens"), out);
}

TEST(Anthropic, InputAndOutputLimitsHeldWithZero429s) {
  // Per 1 s window: 3000 input tokens, 600 output tokens (by max_tokens at admission,
  // reconciled to the real output).
  EmulatorProcess emu({"--itpm", "180000", "--otpm", "36000", "--window-ms", "1000"});
  Client client(emu.config(
      "sk-ant-lim", anthropic(R"("limits":{"itpm":180000,"otpm":36000,"window_ms":1000})")));
  Collector col;
  const int n = 40;
  for (int i = 0; i < n; ++i)
    client.submit(claude("request number " + std::to_string(i), "\"max_output_tokens\":100"), col);
  ASSERT_TRUE(col.wait_for(n));
  EXPECT_TRUE(col.exactly_once());
  for (const Completed &c : col.results()) ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  rapidjson::Document s = emu.stats("sk-ant-lim");
  EXPECT_EQ(i64(s, "rate_limited"), 0);
  EXPECT_EQ(i64(s, "ok"), n);
  EXPECT_LE(i64(s, "peak_window_output_tokens"), 600);
  EXPECT_LE(i64(s, "peak_window_input_tokens"), 3000);
  rapidjson::Document m = client.metrics();
  EXPECT_GT(i64(m["gates"]["waits"], "otpm"), 0);
}

TEST(Anthropic, RateLimitedByTheServerHonoursRetryAfter) {
  EmulatorProcess emu({"--rpm", "240", "--window-ms", "1000"});  // 4 per window
  Client client(emu.config("sk-ant-429", anthropic(R"("retry":{"max_attempts":20})")));
  Collector col;
  const int n = 8;
  for (int i = 0; i < n; ++i) client.submit(claude("p" + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(n));
  bool saw_server_wait = false;
  for (const Completed &c : col.results()) {
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    rapidjson::Document d = c.doc();
    for (const auto &a : d["attempts"].GetArray())
      if (a["http_status"].GetInt() == 429)
        saw_server_wait |= std::string(a["backoff_source"].GetString()) == "server";
  }
  EXPECT_TRUE(saw_server_wait);
  EXPECT_EQ(i64(emu.stats("sk-ant-429"), "ok"), n);
}

TEST(Anthropic, TransientErrorsRetriedTerminalOnesNot) {
  EmulatorProcess emu({"--fail-first", "2", "--invalid-keys", "sk-ant-wrong"});
  {
    Client client(emu.config("sk-ant-retry", anthropic(R"("retry":{"base_delay_ms":5})")));
    Completed c = client.generate(claude("flaky"));
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    EXPECT_EQ(c.doc()["attempts"].Size(), 3u);
  }
  Client client(emu.config("sk-ant-wrong", anthropic()));
  Completed c = client.generate(claude("x"));
  EXPECT_EQ(c.kind, LLMSVC_KIND_AUTH);
  rapidjson::Document d = c.doc();
  EXPECT_EQ(d["attempts"].Size(), 1u);
  EXPECT_STREQ(d["error"]["provider_type"].GetString(), "authentication_error");
  EXPECT_EQ(c.json.find("sk-ant-wrong"), std::string::npos);
}

TEST(Anthropic, UnsupportedInputRefusedAtSubmit) {
  EmulatorProcess emu;
  Client client(emu.config("sk-ant-bad", anthropic()));
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_submit(client.get(), claude("x", "\"temperature\":1.7").c_str(), nullptr,
                                 nullptr, nullptr, &err),
            LLMSVC_ESCHEMA);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("above 1"), std::string::npos);
  llmsvc_error_free(err);
  EXPECT_EQ(i64(emu.stats("sk-ant-bad"), "received"), 0);
}
