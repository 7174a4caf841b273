// Transient faults are retried until success, exactly once each; terminal errors fail at
// once with the provider's own message.
#include "support.h"

namespace {
const char *kFastRetry = R"("retry":{"max_attempts":10,"base_delay_ms":5,"max_delay_ms":50})";
}

TEST(Faults, FailFirstRetriedWithClientBackoff) {
  EmulatorProcess emu({"--fail-first", "2"});
  Client client(emu.config("sk-ff", kFastRetry));
  Completed c = client.generate(prompt_request("flaky"));
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  rapidjson::Document d = c.doc();
  ASSERT_EQ(d["attempts"].Size(), 3u);
  for (int i = 0; i < 2; ++i) {
    const auto &a = d["attempts"][i];
    EXPECT_EQ(a["http_status"].GetInt(), 500);
    EXPECT_STREQ(a["kind"].GetString(), "server_error");
    EXPECT_STREQ(a["backoff_source"].GetString(), "client");
    EXPECT_GT(a["backoff_ms"].GetDouble(), 0.0);
  }
  EXPECT_EQ(d["attempts"][2]["http_status"].GetInt(), 200);
  rapidjson::Document m = client.metrics();
  EXPECT_EQ(i64(m["attempts"], "retries"), 2);
  EXPECT_EQ(i64(m["attempts"]["errors_by_kind"], "server_error"), 2);
}

TEST(Faults, StormOfErrorsAndResetsLosesNothing) {
  EmulatorProcess emu({"--error-rate", "0.3", "--reset-rate", "0.15", "--seed", "7"});
  Client client(emu.config("sk-storm", std::string(kFastRetry) + R"(,"limits":{"concurrency":8})"));
  Collector col;
  const int n = 150;
  for (int i = 0; i < n; ++i) client.submit(prompt_request("storm " + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(n));
  EXPECT_TRUE(col.exactly_once());
  int64_t prompt = 0, completion = 0, retried = 0;
  for (const Completed &c : col.results()) {
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    rapidjson::Document d = c.doc();
    prompt += i64(d["usage"], "prompt_tokens");
    completion += i64(d["usage"], "completion_tokens");
    retried += d["attempts"].Size() > 1;
  }
  rapidjson::Document s = emu.stats("sk-storm");
  EXPECT_EQ(i64(s, "ok"), n);  // each served exactly once
  EXPECT_GT(i64(s, "server_errors"), 0);
  EXPECT_GT(i64(s, "resets"), 0);
  EXPECT_GT(retried, 0);
  EXPECT_EQ(i64(s, "prompt_tokens"), prompt);
  EXPECT_EQ(i64(s, "completion_tokens"), completion);
  rapidjson::Document m = client.metrics();
  EXPECT_EQ(i64(m["usage"]["total"], "prompt_tokens"), prompt);
  EXPECT_GT(i64(m["attempts"]["errors_by_kind"], "connection"), 0);
}

TEST(Faults, StallsTimeOutAndRetry) {
  EmulatorProcess emu({"--stall-rate", "0.4", "--stall-ms", "20000", "--seed", "3"});
  Client client(emu.config("sk-stall", std::string(kFastRetry) + R"(,"timeouts":{"request_ms":300})"));
  Collector col;
  const int n = 20;
  for (int i = 0; i < n; ++i) client.submit(prompt_request("stall " + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(n));
  for (const Completed &c : col.results()) ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  EXPECT_GT(i64(emu.stats("sk-stall"), "stalls"), 0);
  EXPECT_GT(i64(client.metrics()["attempts"]["errors_by_kind"], "timeout"), 0);
}

TEST(Faults, InsufficientQuotaFailsAtOnce) {
  EmulatorProcess emu({"--quota-keys", "sk-broke"});
  Client client(emu.config("sk-broke", kFastRetry));
  Completed c = client.generate(prompt_request("anything"));
  EXPECT_EQ(c.kind, LLMSVC_KIND_INSUFFICIENT_QUOTA);
  EXPECT_EQ(c.http_status, 429);
  rapidjson::Document d = c.doc();
  EXPECT_EQ(d["attempts"].Size(), 1u);
  EXPECT_STREQ(d["error"]["provider_code"].GetString(), "insufficient_quota");
  EXPECT_NE(std::string(d["error"]["message"].GetString()).find("quota"), std::string::npos);
  EXPECT_EQ(i64(emu.stats("sk-broke"), "received"), 1);
}

TEST(Faults, AuthAndNotFoundAreNotRetried) {
  EmulatorProcess emu({"--invalid-keys", "sk-wrong-key-123456", "--known-models", "gpt-4o-mini"});
  {
    Client client(emu.config("sk-wrong-key-123456", kFastRetry));
    Completed c = client.generate(prompt_request("x"));
    EXPECT_EQ(c.kind, LLMSVC_KIND_AUTH);
    EXPECT_EQ(c.http_status, 401);
    EXPECT_EQ(c.doc()["attempts"].Size(), 1u);
    // The key never shows, in results or metrics.
    EXPECT_EQ(c.json.find("sk-wrong-key-123456"), std::string::npos);
    char *m = nullptr;
    ASSERT_EQ(llmsvc_client_metrics(client.get(), &m, nullptr), LLMSVC_OK);
    EXPECT_EQ(std::string(m).find("sk-wrong-key-123456"), std::string::npos);
    llmsvc_free(m);
  }
  Client client(emu.config("sk-ok", kFastRetry));
  Completed c = client.generate(R"({"model":"gpt-9","prompt":"x"})");
  EXPECT_EQ(c.kind, LLMSVC_KIND_NOT_FOUND);
  EXPECT_EQ(c.http_status, 404);
  EXPECT_EQ(c.doc()["attempts"].Size(), 1u);
  EXPECT_NE(c.json.find("model_not_found"), std::string::npos);
}

TEST(Faults, ConnectionRefusedRetriedThenReported) {
  int port;
  {
    EmulatorProcess emu;  // a port that was free a moment ago and is closed now
    port = emu.port();
  }
  Client client("{\"base_url\":\"http://127.0.0.1:" + std::to_string(port) +
                R"(/v1","api_key":"sk-x","retry":{"max_attempts":3,"base_delay_ms":1,"max_delay_ms":2}})");
  Completed c = client.generate(prompt_request("x"));
  EXPECT_EQ(c.kind, LLMSVC_KIND_CONNECTION);
  EXPECT_EQ(c.doc()["attempts"].Size(), 3u);
  EXPECT_NE(c.json.find("gave up after 3 attempts"), std::string::npos);
}

TEST(Faults, DeadlineCoversQueueingAndAttempts) {
  EmulatorProcess emu({"--stall-rate", "1", "--stall-ms", "20000"});
  Client client(emu.config("sk-deadline", kFastRetry));
  Completed c = client.generate(prompt_request("slow", R"("timeout_ms":200)"));
  EXPECT_EQ(c.kind, LLMSVC_KIND_DEADLINE_EXCEEDED);
  EXPECT_NE(c.json.find("timeout_ms 200"), std::string::npos);
}
