// Providers that misbehave on purpose (docs/reliability.md, "Hostile replies").
#include "support.h"

TEST(Hostile, AKeyEchoedByTheServerNeverLeavesTheLibrary) {
  // The emulator answers this key with a 401 whose message, param and a header carry the
  // whole key, as some providers and proxies do.
  const std::string canary = "sk-canary-9f8e7d6c5b4a39281706";
  EmulatorProcess emu({"--invalid-keys", canary, "--echo-keys"});
  Client client(emu.config(canary, R"("retry":{"max_attempts":2})"));
  Collector col;
  for (int i = 0; i < 3; ++i) client.submit(prompt_request("leak" + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(3));
  for (const Completed &c : col.results()) {
    EXPECT_EQ(c.kind, LLMSVC_KIND_AUTH) << c.json;
    EXPECT_EQ(c.json.find(canary), std::string::npos) << c.json;
    EXPECT_NE(c.json.find("[redacted]"), std::string::npos) << c.json;  // the echo was there
    rapidjson::Document d = c.doc();
    EXPECT_STREQ(d["error"]["provider_param"].GetString(), "[redacted]");
  }
  EXPECT_EQ(client.metrics_json().find(canary), std::string::npos);
  EXPECT_EQ(client.prometheus().find(canary), std::string::npos);
  EXPECT_GT(i64(emu.stats(canary), "received"), 0);
}
