// Providers that misbehave on purpose (docs/reliability.md, "Hostile replies"): the
// emulator's /hostile/CASE/v1 endpoints. Each case ends in a clear, classified result
// within the configured deadlines, with bounded memory, and never takes the client down.
#include <sys/resource.h>

#include "support.h"

namespace {

const std::string kCanary = "sk-canary-9f8e7d6c5b4a39281706";

// A client of one hostile case, with short deadlines and two attempts.
std::string hostile_config(const EmulatorProcess &emu, const std::string &name,
                           const std::string &extra = "") {
  std::string base = emu.base_url();
  base.insert(base.size() - 3, "/hostile/" + name);  // ".../v1" -> ".../hostile/NAME/v1"
  std::string c = R"({"provider":"openai_chat","base_url":")" + base + R"(","api_key":")" +
                  kCanary + R"(","retry":{"max_attempts":2,"base_delay_ms":10})";
  if (extra.find("\"timeouts\"") == std::string::npos) c += R"(,"timeouts":{"request_ms":5000})";
  if (!extra.empty()) c += "," + extra;
  return c + "}";
}

int64_t peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

bool is_utf8_json_text(const std::string &s) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(s.c_str(), s.size());
  return !d.HasParseError();
}

}  // namespace

TEST(Hostile, RetryAfterForeverFailsTheRequestAndNeverFreezesTheClient) {
  EmulatorProcess emu;
  Client client(hostile_config(emu, "retry-after-forever"));
  Completed first = client.generate(prompt_request("first"));
  EXPECT_EQ(first.kind, LLMSVC_KIND_RATE_LIMITED) << first.json;
  EXPECT_NE(first.json.find("longer than retry.max_retry_after_ms"), std::string::npos) << first.json;
  // The key's pause is bounded by retry.max_pause_ms (an hour by default), visible, and
  // what comes after it fails at once with the wait rather than hanging.
  int64_t paused = i64(client.metrics()["gates"], "paused_for_ms");
  EXPECT_GT(paused, 3000000);
  EXPECT_LE(paused, 3600000);
  Collector col;
  const int n = 19;
  for (int i = 0; i < n; ++i) client.submit(prompt_request("next" + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(n, std::chrono::seconds(10)));
  EXPECT_TRUE(col.exactly_once());
  for (const Completed &c : col.results()) {
    EXPECT_EQ(c.kind, LLMSVC_KIND_RATE_LIMITED) << c.json;
    EXPECT_GT(i64(c.doc()["error"], "retry_after_ms"), 3000000) << c.json;
  }
}

TEST(Hostile, AKeyEchoedByTheServerNeverLeavesTheLibrary) {
  // The server echoes the whole key in its 401 message, its param and a header.
  EmulatorProcess emu;
  Client client(hostile_config(emu, "echo-key"));
  // Every lifecycle event, with content, is captured too.
  struct Events {
    std::mutex mu;
    std::string all;
    static void on(unsigned, uint64_t, const char *json, size_t len, void *self) {
      auto *e = static_cast<Events *>(self);
      std::lock_guard<std::mutex> lock(e->mu);
      e->all.append(json, len).append("\n");
    }
  } events;
  ASSERT_EQ(llmsvc_client_set_event_hook(client.get(), LLMSVC_EVENT_ALL, LLMSVC_EVENTS_WITH_CONTENT,
                                         &Events::on, &events, nullptr),
            LLMSVC_OK);
  Collector col;
  for (int i = 0; i < 3; ++i) client.submit(prompt_request("leak" + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(3));
  for (const Completed &c : col.results()) {
    EXPECT_EQ(c.kind, LLMSVC_KIND_AUTH) << c.json;
    EXPECT_EQ(c.json.find(kCanary), std::string::npos) << c.json;
    EXPECT_NE(c.json.find("[redacted]"), std::string::npos) << c.json;  // the echo was there
    EXPECT_STREQ(c.doc()["error"]["provider_param"].GetString(), "[redacted]");
  }
  EXPECT_EQ(client.metrics_json().find(kCanary), std::string::npos);
  EXPECT_EQ(client.prometheus().find(kCanary), std::string::npos);
  llmsvc_client_set_event_hook(client.get(), 0, 0, nullptr, nullptr, nullptr);
  std::lock_guard<std::mutex> lock(events.mu);
  EXPECT_NE(events.all.find("\"completed\""), std::string::npos) << events.all;
  EXPECT_EQ(events.all.find(kCanary), std::string::npos) << events.all;
}

TEST(Hostile, TextThatIsNotUtf8ArrivesAsReplacementCharacters) {
  EmulatorProcess emu;
  Client client(hostile_config(emu, "bad-utf8"));
  const std::string want = "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd ok \xef\xbf\xbd\xef\xbf\xbd";
  Completed whole = client.generate(prompt_request("x"));
  ASSERT_EQ(whole.kind, LLMSVC_KIND_NONE) << whole.json;
  EXPECT_TRUE(is_utf8_json_text(whole.json));
  EXPECT_EQ(std::string(whole.doc()["text"].GetString()), want);
  Completed streamed = client.generate(prompt_request("x", "\"stream\":true"));
  ASSERT_EQ(streamed.kind, LLMSVC_KIND_NONE) << streamed.json;
  EXPECT_TRUE(is_utf8_json_text(streamed.json));
  EXPECT_EQ(std::string(streamed.doc()["text"].GetString()), want);
}

TEST(Hostile, UsageThatIsNotCountsIsUnknownWithCostNull) {
  EmulatorProcess emu;
  Client client(hostile_config(emu, "bad-usage"));
  Completed c = client.generate(prompt_request("x"));
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  rapidjson::Document d = c.doc();
  EXPECT_TRUE(d["usage"].IsNull()) << c.json;
  EXPECT_TRUE(d["cost_nano_usd"].IsNull()) << c.json;
  EXPECT_TRUE(d["usage_unreadable"].GetBool()) << c.json;
}

TEST(Hostile, AHugeReplyIsRefusedAfterTheBoundWithBoundedMemory) {
  // 200 MB of body against a bound of 1 MiB: refused as a protocol error, and the process
  // grows by far less than the body.
  EmulatorProcess emu;
  Client client(hostile_config(emu, "huge-body", R"("http":{"max_reply_bytes":1048576})"));
  int64_t before = peak_rss_kb();
  Completed c = client.generate(prompt_request("x"));
  EXPECT_EQ(c.kind, LLMSVC_KIND_PROTOCOL) << c.json;
  EXPECT_NE(c.json.find("longer than http.max_reply_bytes (1048576 bytes)"), std::string::npos) << c.json;
  EXPECT_EQ(c.doc()["attempts"].Size(), 1u) << "a reply too long is not asked for again";
  EXPECT_LT(peak_rss_kb() - before, 64 * 1024);
}

TEST(Hostile, AStreamEventPastItsBoundIsAProtocolErrorNotABill) {
  // One 5 MB data line against a bound of 1 MiB per event.
  EmulatorProcess emu;
  Client client(hostile_config(emu, "long-sse-line", R"("http":{"max_stream_event_bytes":1048576})"));
  Completed c = client.generate(prompt_request("x", R"("stream":true,"max_output_tokens":50)"));
  EXPECT_EQ(c.kind, LLMSVC_KIND_PROTOCOL) << c.json;
  EXPECT_NE(c.json.find("longer than http.max_stream_event_bytes"), std::string::npos) << c.json;
}

TEST(Hostile, StallsClosesAndRepliesWithoutLengthEndClearly) {
  EmulatorProcess emu;
  {
    Client client(hostile_config(emu, "stall-headers", R"("timeouts":{"request_ms":300})"));
    Completed c = client.generate(prompt_request("x"));
    EXPECT_EQ(c.kind, LLMSVC_KIND_TIMEOUT) << c.json;
    EXPECT_EQ(c.doc()["attempts"].Size(), 2u) << c.json;
  }
  {
    Client client(hostile_config(emu, "stall-body", R"("timeouts":{"request_ms":300})"));
    Completed c = client.generate(prompt_request("x"));
    EXPECT_EQ(c.kind, LLMSVC_KIND_TIMEOUT) << c.json;
    EXPECT_EQ(c.doc()["attempts"].Size(), 2u) << c.json;
  }
  {
    Client client(hostile_config(emu, "close-mid-header"));
    Completed c = client.generate(prompt_request("x"));
    // libcurl takes the status line as given and finds no body.
    EXPECT_EQ(c.kind, LLMSVC_KIND_PROTOCOL) << c.json;
    EXPECT_NE(c.json.find("not a JSON object"), std::string::npos) << c.json;
  }
  {
    Client client(hostile_config(emu, "no-length"));
    Completed c = client.generate(prompt_request("x"));
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    EXPECT_EQ(std::string(c.doc()["text"].GetString()), "no length");
  }
}

TEST(Hostile, OnePoisonedRequestAmongAThousandLeavesEveryOtherServed) {
  // Model "poison" goes to the deployment whose server asks for 31 years; the thousand
  // others go to the emulator. The poisoned one fails at once; every other is served.
  EmulatorProcess emu;
  std::string hostile = emu.base_url();
  hostile.insert(hostile.size() - 3, "/hostile/retry-after-forever");
  Client client(R"({"api_key":"sk-batch","model":"gpt-4o-mini","deployments":[)"
                R"({"name":"good","model":"gpt-4o-mini","base_url":")" + emu.base_url() + R"("},)"
                R"({"name":"bad","provider":"openai_chat","model":"poison","base_url":")" + hostile + R"("}]})");
  Collector col;
  const int n = 1000;
  uint64_t poisoned = 0;
  for (int i = 0; i < n; ++i) {
    if (i == 500) poisoned = client.submit(R"({"model":"poison","prompt":"p"})", col);
    client.submit(prompt_request("n" + std::to_string(i)), col);
  }
  ASSERT_TRUE(col.wait_for(n + 1, std::chrono::seconds(120)));
  EXPECT_TRUE(col.exactly_once());
  for (const Completed &c : col.results()) {
    if (c.id == poisoned) EXPECT_EQ(c.kind, LLMSVC_KIND_RATE_LIMITED) << c.json;
    else ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  }
  EXPECT_EQ(i64(emu.stats("sk-batch"), "ok"), n);
}
