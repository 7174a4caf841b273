// Cancellation in every state, close and destroy with work pending, and what callbacks
// may and may not do.
#include "support.h"

namespace {
bool gauge(const rapidjson::Document &m, const char *name, int64_t want) {
  return i64(m["requests"], name) == want;
}
}  // namespace

TEST(Lifecycle, CancelWhileQueuedAtTheGate) {
  EmulatorProcess emu;
  Client client(emu.config("sk-cq", R"("limits":{"rpm":1})"));
  Collector col;
  client.submit(prompt_request("a"), col);
  ASSERT_TRUE(col.wait_for(1));
  uint64_t queued = client.submit(prompt_request("b"), col);
  ASSERT_TRUE(client.wait_metrics([](const auto &m) { return gauge(m, "queued", 1); }));
  EXPECT_EQ(llmsvc_client_cancel(client.get(), queued), LLMSVC_OK);
  ASSERT_TRUE(col.wait_for(2));
  Completed c = col.results()[1];
  EXPECT_EQ(c.id, queued);
  EXPECT_EQ(c.kind, LLMSVC_KIND_CANCELLED);
  EXPECT_EQ(c.doc()["attempts"].Size(), 0u);
  EXPECT_EQ(llmsvc_client_cancel(client.get(), queued), LLMSVC_ENOTFOUND);
  EXPECT_EQ(i64(emu.stats("sk-cq"), "received"), 1);
}

TEST(Lifecycle, CancelWhileBackingOff) {
  EmulatorProcess emu({"--fail-first", "1"});
  Client client(emu.config("sk-cb", R"("retry":{"base_delay_ms":30000,"max_delay_ms":30000,"jitter":0})"));
  Collector col;
  uint64_t id = client.submit(prompt_request("x"), col);
  ASSERT_TRUE(client.wait_metrics([](const auto &m) { return gauge(m, "backing_off", 1); }));
  EXPECT_EQ(llmsvc_client_cancel(client.get(), id), LLMSVC_OK);
  ASSERT_TRUE(col.wait_for(1));
  Completed c = col.results()[0];
  EXPECT_EQ(c.kind, LLMSVC_KIND_CANCELLED);
  rapidjson::Document d = c.doc();
  ASSERT_EQ(d["attempts"].Size(), 1u);
  EXPECT_EQ(d["attempts"][0]["http_status"].GetInt(), 500);
}

TEST(Lifecycle, CancelInFlight) {
  EmulatorProcess emu({"--stall-rate", "1", "--stall-ms", "30000"});
  Client client(emu.config("sk-cf"));
  Collector col;
  uint64_t id = client.submit(prompt_request("x"), col);
  ASSERT_TRUE(client.wait_metrics([](const auto &m) { return gauge(m, "in_flight", 1); }));
  // Wait until the emulator holds it, so the cancel really cuts a live transfer.
  for (int i = 0; i < 2000 && i64(emu.stats("sk-cf"), "stalls") < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(llmsvc_client_cancel(client.get(), id), LLMSVC_OK);
  ASSERT_TRUE(col.wait_for(1, std::chrono::seconds(10)));
  Completed c = col.results()[0];
  EXPECT_EQ(c.kind, LLMSVC_KIND_CANCELLED);
  rapidjson::Document d = c.doc();
  ASSERT_EQ(d["attempts"].Size(), 1u);
  EXPECT_STREQ(d["attempts"][0]["kind"].GetString(), "cancelled");
  rapidjson::Document m = client.metrics();
  EXPECT_EQ(i64(m["requests"], "in_flight"), 0);
  EXPECT_EQ(i64(m["failures_by_kind"], "cancelled"), 1);
}

TEST(Lifecycle, CancelUnknownId) {
  EmulatorProcess emu;
  Client client(emu.config("sk-cu"));
  EXPECT_EQ(llmsvc_client_cancel(client.get(), 424242), LLMSVC_ENOTFOUND);
}

TEST(Lifecycle, DestroyCompletesEverythingPendingExactlyOnce) {
  EmulatorProcess emu({"--stall-rate", "1", "--stall-ms", "30000"});
  Collector col;
  const int n = 30;
  {
    llmsvc_client *c = nullptr;
    ASSERT_EQ(llmsvc_client_new(&c, emu.config("sk-destroy", R"("limits":{"concurrency":10})").c_str(),
                                nullptr),
              LLMSVC_OK);
    for (int i = 0; i < n; ++i)
      ASSERT_EQ(llmsvc_client_submit(c, prompt_request("d" + std::to_string(i)).c_str(),
                                     &Collector::callback, &col, nullptr, nullptr),
                LLMSVC_OK);
    // Some in flight (stalled), the rest queued behind the concurrency gate.
    for (int i = 0; i < 2000 && i64(emu.stats("sk-destroy"), "stalls") < 10; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_EQ(llmsvc_client_destroy(c), LLMSVC_OK);
    // Every callback has run by the time destroy returns.
    EXPECT_EQ(col.size(), size_t(n));
  }
  EXPECT_TRUE(col.exactly_once());
  for (const Completed &r : col.results()) {
    EXPECT_EQ(r.kind, LLMSVC_KIND_SHUT_DOWN);
    EXPECT_NE(r.json.find("closed before the request completed"), std::string::npos);
  }
}

TEST(Lifecycle, CloseRefusesNewWorkAndKeepsTheQueueReadable) {
  EmulatorProcess emu;
  Client client(emu.config("sk-close", R"("limits":{"rpm":1})"));
  int tag = 7;
  ASSERT_EQ(llmsvc_client_submit(client.get(), prompt_request("a").c_str(), nullptr, &tag,
                                 nullptr, nullptr),
            LLMSVC_OK);
  ASSERT_EQ(llmsvc_client_submit(client.get(), prompt_request("b").c_str(), nullptr, &tag,
                                 nullptr, nullptr),
            LLMSVC_OK);
  ASSERT_EQ(llmsvc_client_close(client.get()), LLMSVC_OK);
  EXPECT_EQ(llmsvc_client_close(client.get()), LLMSVC_OK);  // idempotent
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_submit(client.get(), prompt_request("c").c_str(), nullptr, nullptr,
                                 nullptr, &err),
            LLMSVC_ECLOSED);
  EXPECT_STREQ(llmsvc_error_message(err), "the client is closed");
  llmsvc_error_free(err);
  int got = 0;
  llmsvc_result *r = nullptr;
  void *payload = nullptr;
  while (llmsvc_client_poll(client.get(), 1000, &r, &payload) == LLMSVC_OK) {
    EXPECT_EQ(payload, &tag);
    llmsvc_result_free(r);
    ++got;
  }
  EXPECT_EQ(got, 2);
  EXPECT_EQ(llmsvc_client_poll(client.get(), 1000, &r, nullptr), LLMSVC_ECLOSED);
  EXPECT_NE(client.metrics().FindMember("requests"), client.metrics().MemberEnd());
}

namespace {
struct Reentry {
  llmsvc_client *client = nullptr;
  int generate_rc = 0;
  int destroy_rc = 0;
  int close_rc = 0;
  int poll_rc = 0;
  int submit_rc = -100;
  int metrics_rc = -100;
  Collector *followups = nullptr;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};

void reenter(llmsvc_result *r, void *payload) {
  auto *x = static_cast<Reentry *>(payload);
  llmsvc_result_free(r);
  llmsvc_result *out = nullptr;
  x->generate_rc = llmsvc_client_generate(x->client, R"({"model":"m","prompt":"x"})", &out, nullptr);
  x->destroy_rc = llmsvc_client_destroy(x->client);
  x->close_rc = llmsvc_client_close(x->client);
  x->poll_rc = llmsvc_client_poll(x->client, 100, &out, nullptr);
  x->submit_rc = llmsvc_client_submit(x->client, R"({"model":"gpt-4o-mini","prompt":"again"})",
                                      &Collector::callback, x->followups, nullptr, nullptr);
  char *m = nullptr;
  x->metrics_rc = llmsvc_client_metrics(x->client, &m, nullptr);
  llmsvc_free(m);
  std::lock_guard<std::mutex> lock(x->mu);
  x->done = true;
  x->cv.notify_all();
}
}  // namespace

TEST(Lifecycle, CallbacksMaySubmitButNotBlock) {
  EmulatorProcess emu;
  Client client(emu.config("sk-reenter"));
  Collector followups;
  Reentry x;
  x.client = client.get();
  x.followups = &followups;
  ASSERT_EQ(llmsvc_client_submit(client.get(), prompt_request("first").c_str(), &reenter, &x,
                                 nullptr, nullptr),
            LLMSVC_OK);
  {
    std::unique_lock<std::mutex> lock(x.mu);
    ASSERT_TRUE(x.cv.wait_for(lock, std::chrono::seconds(30), [&] { return x.done; }));
  }
  EXPECT_EQ(x.generate_rc, LLMSVC_ERECURSIVE);
  EXPECT_EQ(x.destroy_rc, LLMSVC_ERECURSIVE);
  EXPECT_EQ(x.close_rc, LLMSVC_ERECURSIVE);
  EXPECT_EQ(x.poll_rc, LLMSVC_ERECURSIVE);
  EXPECT_EQ(x.submit_rc, LLMSVC_OK);
  EXPECT_EQ(x.metrics_rc, LLMSVC_OK);
  ASSERT_TRUE(followups.wait_for(1));
  EXPECT_EQ(followups.results()[0].kind, LLMSVC_KIND_NONE);
}
