// The gates against a provider that enforces its limits: use all of it, never cross it.
#include "support.h"

TEST(Limits, RequestLimitUsedFullyWithZero429s) {
  // 1200 rpm over a 1 s window: 20 requests per window, on both sides.
  EmulatorProcess emu({"--rpm", "1200", "--window-ms", "1000"});
  Client client(emu.config("sk-rpm", R"("limits":{"rpm":1200,"window_ms":1000})"));
  Collector col;
  const int n = 70;
  for (int i = 0; i < n; ++i) client.submit(prompt_request("r" + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(n));
  EXPECT_TRUE(col.exactly_once());
  for (const Completed &c : col.results()) ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  rapidjson::Document s = emu.stats("sk-rpm");
  EXPECT_EQ(i64(s, "rate_limited"), 0);
  EXPECT_EQ(i64(s, "ok"), n);
  // Never over the limit, and the whole limit used.
  EXPECT_EQ(i64(s, "peak_window_requests"), 20);
  rapidjson::Document m = client.metrics();
  EXPECT_GT(i64(m["gates"]["waits"], "rpm"), 0);
  EXPECT_EQ(i64(m["attempts"], "retries"), 0);
}

TEST(Limits, TokenLimitReservesAndReconciles) {
  // 60000 tpm over 1 s: 1000 tokens per window. Each request reserves about
  // 9 prompt + 100 max output tokens but uses far fewer output tokens; reconciliation
  // lets more through than the reservations alone would.
  EmulatorProcess emu({"--tpm", "60000", "--window-ms", "1000"});
  Client client(emu.config("sk-tpm", R"("limits":{"tpm":60000,"window_ms":1000})"));
  Collector col;
  const int n = 40;
  for (int i = 0; i < n; ++i)
    client.submit(prompt_request("t" + std::to_string(i), "\"max_output_tokens\":100"), col);
  ASSERT_TRUE(col.wait_for(n));
  for (const Completed &c : col.results()) ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  rapidjson::Document s = emu.stats("sk-tpm");
  EXPECT_EQ(i64(s, "rate_limited"), 0);
  EXPECT_LE(i64(s, "peak_window_tokens"), 1000);
  rapidjson::Document m = client.metrics();
  EXPECT_GT(i64(m["gates"]["waits"], "tpm"), 0);
}

TEST(Limits, RequestTooLargeForTheWindowFailsAtOnce) {
  EmulatorProcess emu;
  Client client(emu.config("sk-big", R"("limits":{"tpm":600,"window_ms":1000})"));  // 10/window
  Completed c = client.generate(prompt_request("x", "\"max_output_tokens\":500"));
  EXPECT_EQ(c.kind, LLMSVC_KIND_INVALID_REQUEST);
  EXPECT_NE(c.json.find("tpm limit allows 10 per window"), std::string::npos) << c.json;
  EXPECT_EQ(i64(emu.stats("sk-big"), "received"), 0);
}

TEST(Limits, Server429WithRetryAfterIsHonouredAndPausesTheGate) {
  // The client knows no limits; the provider allows 5 per 1 s window.
  EmulatorProcess emu({"--rpm", "300", "--window-ms", "1000"});
  Client client(emu.config("sk-429", R"("retry":{"max_attempts":20})"));
  Collector col;
  const int n = 12;
  for (int i = 0; i < n; ++i) client.submit(prompt_request("p" + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(n));
  EXPECT_TRUE(col.exactly_once());
  bool saw_server_backoff = false;
  for (const Completed &c : col.results()) {
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    rapidjson::Document d = c.doc();
    for (const auto &a : d["attempts"].GetArray()) {
      if (a["http_status"].GetInt() != 429) continue;
      EXPECT_STREQ(a["kind"].GetString(), "rate_limited");
      EXPECT_STREQ(a["backoff_source"].GetString(), "server");
      saw_server_backoff = true;
    }
  }
  EXPECT_TRUE(saw_server_backoff);
  rapidjson::Document s = emu.stats("sk-429");
  EXPECT_EQ(i64(s, "ok"), n);
  EXPECT_GT(i64(s, "rate_limited"), 0);
  rapidjson::Document m = client.metrics();
  EXPECT_GT(i64(m["attempts"], "backoffs_server"), 0);
  EXPECT_GT(i64(m["attempts"]["errors_by_kind"], "rate_limited"), 0);
}

TEST(Limits, RetryAfterBeyondTheCeilingFailsFastWithTheWait) {
  EmulatorProcess emu({"--rpm", "1"});  // one per minute
  Client client(emu.config("sk-ceiling", R"("retry":{"max_retry_after_ms":1000})"));
  ASSERT_EQ(client.generate(prompt_request("first")).kind, LLMSVC_KIND_NONE);
  Completed c = client.generate(prompt_request("second"));
  EXPECT_EQ(c.kind, LLMSVC_KIND_RATE_LIMITED);
  rapidjson::Document d = c.doc();
  EXPECT_GT(i64(d["error"], "retry_after_ms"), 1000);
  EXPECT_EQ(d["attempts"].Size(), 1u);
  EXPECT_NE(c.json.find("longer than retry.max_retry_after_ms"), std::string::npos);
  // The key stays paused for the server's wait, visibly; requests meanwhile are not sent
  // and do not hang: each is rate limited at once with what is left of the wait.
  rapidjson::Document m = client.metrics();
  EXPECT_GT(i64(m["gates"], "paused_for_ms"), 1000) << c.json;
  Collector col;
  const int n = 19;
  for (int i = 0; i < n; ++i) client.submit(prompt_request("later" + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(n));
  EXPECT_TRUE(col.exactly_once());
  for (const Completed &later : col.results()) {
    ASSERT_EQ(later.kind, LLMSVC_KIND_RATE_LIMITED) << later.json;
    rapidjson::Document ld = later.doc();
    EXPECT_GT(i64(ld["error"], "retry_after_ms"), 1000) << later.json;
    EXPECT_EQ(ld["attempts"].Size(), 0u) << later.json;
    EXPECT_NE(later.json.find("the provider paused the key for"), std::string::npos) << later.json;
  }
  EXPECT_EQ(i64(emu.stats("sk-ceiling"), "received"), 2);
}

TEST(Limits, APauseIsBoundedAndWaitersPastTheirDeadlineFailAtOnce) {
  // The provider asks for a minute; the client pauses the key for 3 s at most
  // (retry.max_pause_ms). A request whose deadline falls inside the pause is rate limited
  // at once, not at its deadline; one that may wait is sent when the pause ends.
  EmulatorProcess emu({"--rpm", "1"});
  Client client(emu.config(
      "sk-pause", R"("retry":{"max_retry_after_ms":120000,"max_pause_ms":3000,"max_attempts":1})"));
  ASSERT_EQ(client.generate(prompt_request("first")).kind, LLMSVC_KIND_NONE);
  Completed c = client.generate(prompt_request("second"));  // 429: the key pauses for 3 s
  ASSERT_EQ(c.kind, LLMSVC_KIND_RATE_LIMITED) << c.json;
  rapidjson::Document m = client.metrics();
  EXPECT_GT(i64(m["gates"], "paused_for_ms"), 0);
  EXPECT_LE(i64(m["gates"], "paused_for_ms"), 3000);
  Collector col;
  uint64_t hurried = client.submit(prompt_request("hurried", "\"timeout_ms\":100"), col);
  uint64_t patient = client.submit(prompt_request("patient", "\"timeout_ms\":100000"), col);
  ASSERT_TRUE(col.wait_for(2));
  for (const Completed &r : col.results()) {
    // Both are rate limited: "hurried" by the pause, "patient" by the emulator's own 429
    // once the 3 s were over, so the client did not stay paused for the minute.
    EXPECT_EQ(r.kind, LLMSVC_KIND_RATE_LIMITED) << r.json;
    if (r.id == hurried) {
      EXPECT_NE(r.json.find("past the deadline"), std::string::npos) << r.json;
      EXPECT_EQ(r.doc()["attempts"].Size(), 0u) << r.json;
    } else {
      ASSERT_EQ(r.id, patient);
      EXPECT_EQ(r.doc()["attempts"].Size(), 1u) << r.json;
    }
  }
  EXPECT_EQ(i64(emu.stats("sk-pause"), "received"), 3);
}

TEST(Limits, SetLimitsAtRunTimeReleasesWaiters) {
  EmulatorProcess emu;
  Client client(emu.config("sk-set", R"("limits":{"rpm":1})"));  // one per minute
  Collector col;
  client.submit(prompt_request("a"), col);
  client.submit(prompt_request("b"), col);
  ASSERT_TRUE(col.wait_for(1));
  ASSERT_TRUE(client.wait_metrics(
      [](const rapidjson::Document &m) { return i64(m["requests"], "queued") == 1; }));
  EXPECT_EQ(col.size(), 1u);  // the second waits for the minute to pass
  llmsvc_error *err = nullptr;
  ASSERT_EQ(llmsvc_client_set_limits(client.get(), R"({"rpm": 600})", &err), LLMSVC_OK);
  ASSERT_TRUE(col.wait_for(2, std::chrono::seconds(20)));
  rapidjson::Document m = client.metrics();
  EXPECT_EQ(i64(m["gates"]["limits"], "rpm"), 600);
  EXPECT_EQ(llmsvc_client_set_limits(client.get(), R"({"rpm": "fast"})", &err), LLMSVC_ESCHEMA);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("limits.rpm"), std::string::npos);
  llmsvc_error_free(err);
}

TEST(Limits, PriorityClassesServeHighFirstFifoWithin) {
  EmulatorProcess emu;
  // One request per 1 s window: the first goes, the rest queue while we submit.
  Client client(emu.config("sk-prio", R"("limits":{"rpm":60,"window_ms":1000})"));
  Collector col;
  uint64_t first = client.submit(prompt_request("first"), col);
  ASSERT_TRUE(col.wait_for(1));  // the window is now full for about a second
  uint64_t low1 = client.submit(prompt_request("low1", R"("priority":"low")"), col);
  uint64_t low2 = client.submit(prompt_request("low2", R"("priority":"low")"), col);
  uint64_t high = client.submit(prompt_request("high", R"("priority":"high")"), col);
  ASSERT_TRUE(col.wait_for(4, std::chrono::seconds(30)));
  std::vector<uint64_t> order;
  for (const Completed &c : col.results()) order.push_back(c.id);
  EXPECT_EQ(order, (std::vector<uint64_t>{first, high, low1, low2}));
}

// A day's allowance beside the minute's: what is left of the day holds requests back
// (their wait is the day's, not a minute's), and the metrics show the window.
TEST(Limits, ADayWindowHoldsRequestsOnceItsAllowanceIsUsed) {
  EmulatorProcess emu;
  Client client(emu.config("k-rpd", "\"model\":\"gpt-4o-mini\",\"limits\":{\"rpm\":600,\"rpd\":3,"
                                    "\"windows\":[{\"window_ms\":3600000,\"tokens\":100000}]}"));
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(client.generate(prompt_request("day " + std::to_string(i))).kind, LLMSVC_KIND_NONE);
  Collector col;
  uint64_t held = client.submit(prompt_request("the fourth"), col);
  ASSERT_TRUE(client.wait_metrics([](const rapidjson::Document &m) {
    return i64(m["requests"], "queued") == 1;
  })) << client.metrics_json();
  rapidjson::Document m = client.metrics();
  const rapidjson::Value &windows = m["gates"]["windows"];
  ASSERT_EQ(windows.Size(), 2u) << to_json(m["gates"]);
  EXPECT_EQ(i64(windows[0], "window_ms"), 24LL * 3600 * 1000);
  EXPECT_EQ(i64(windows[0], "requests_cap"), 3);
  EXPECT_EQ(i64(windows[0], "requests_used"), 3);
  EXPECT_EQ(i64(windows[1], "window_ms"), 3600000);
  EXPECT_EQ(i64(windows[1], "tokens_cap"), 100000);
  EXPECT_GT(i64(windows[1], "tokens_used"), 0);
  EXPECT_EQ(i64(emu.stats("k-rpd"), "received"), 3);
  std::string prom = client.prometheus();
  EXPECT_NE(prom.find("llmsvc_gate_window_cap{gate=\"requests\",window_seconds=\"86400\"} 3\n"),
            std::string::npos) << prom;
  EXPECT_NE(prom.find("llmsvc_gate_window_used{gate=\"requests\",window_seconds=\"86400\"} 3\n"),
            std::string::npos);
  EXPECT_NE(prom.find("llmsvc_gate_window_cap{gate=\"tokens\",window_seconds=\"3600\"} 100000\n"),
            std::string::npos);
  EXPECT_EQ(llmsvc_client_cancel(client.get(), held), LLMSVC_OK);
  ASSERT_TRUE(col.wait_for(1));
  EXPECT_EQ(col.results()[0].kind, LLMSVC_KIND_CANCELLED);
}

TEST(Limits, WindowsBesideTheMinuteAreCheckedAndNotSharedThroughRedis) {
  struct Case {
    const char *limits_and_more;
    const char *says;
  } cases[] = {
      {"\"limits\":{\"windows\":[{\"window_ms\":1000}]}", "requests, tokens or both"},
      {"\"limits\":{\"windows\":[{\"requests\":5}]}", "window_ms: missing"},
      {"\"limits\":{\"windows\":{\"window_ms\":1000}}", "expected an array"},
      {"\"limits\":{\"rpd\":-1}", "config.limits.rpd"},
      {"\"limits\":{\"rpd\":10},\"shared_limits\":{\"redis\":\"redis://127.0.0.1:6379\"}",
       "not shared through Redis"},
  };
  for (const Case &k : cases) {
    llmsvc_client *c = nullptr;
    llmsvc_error *err = nullptr;
    std::string config = std::string("{\"api_key\":\"sk-x\",") + k.limits_and_more + "}";
    EXPECT_EQ(llmsvc_client_new(&c, config.c_str(), &err), LLMSVC_ESCHEMA) << config;
    std::string message = llmsvc_error_message(err);
    EXPECT_NE(message.find(k.says), std::string::npos) << message;
    llmsvc_error_free(err);
    llmsvc_client_destroy(c);
  }
}
