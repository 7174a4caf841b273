// Lifecycle events (to a callback or the completion queue) and W3C trace context passed
// through to the provider.
#include <mutex>

#include "support.h"

namespace {

struct Events {
  std::mutex mu;
  std::vector<std::pair<unsigned, std::string>> seen;
  llmsvc_client *client = nullptr;
  uint64_t cancel_on_queued = 0;  // cancel this request from inside the hook
  static void hook(unsigned type, uint64_t, const char *json, size_t len, void *self) {
    auto *e = static_cast<Events *>(self);
    {
      std::lock_guard<std::mutex> lock(e->mu);
      e->seen.emplace_back(type, std::string(json, len));
    }
    if (e->cancel_on_queued && type == LLMSVC_EVENT_QUEUED)
      llmsvc_client_cancel(e->client, e->cancel_on_queued);
  }
  std::vector<std::string> types() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::string> t;
    for (auto &[type, json] : seen) t.push_back(llmsvc_event_type_name(type));
    return t;
  }
  rapidjson::Document at(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    rapidjson::Document d;
    d.Parse(seen.at(i).second.c_str());
    return d;
  }
};

}  // namespace

TEST(Events, ARetriedRequestTellsEachStepInOrder) {
  EmulatorProcess emu({"--fail-first", "1"});
  Client client(emu.config("sk-events", R"("retry":{"max_attempts":3,"base_delay_ms":1,"max_delay_ms":2})"));
  Events ev;
  ASSERT_EQ(llmsvc_client_set_event_hook(client.get(), LLMSVC_EVENT_ALL, 0, &Events::hook, &ev,
                                         nullptr),
            LLMSVC_OK);
  Completed r = client.generate(
      R"({"model":"gpt-4o-mini","prompt":"a secret prompt","trace_id":"trace-42","operation":"triage"})");
  ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  // Delivered before the completion: all there when generate returns.
  std::vector<std::string> want = {"queued",          "admitted",         "attempt_started",
                                   "attempt_finished", "retry_scheduled", "admitted",
                                   "attempt_started", "attempt_finished", "completed"};
  ASSERT_EQ(ev.types(), want);
  for (size_t i = 0; i < want.size(); ++i) {
    rapidjson::Document d = ev.at(i);
    EXPECT_EQ(uint64_t(d["request_id"].GetUint64()), r.id);
    EXPECT_STREQ(d["trace_id"].GetString(), "trace-42");
    EXPECT_STREQ(d["operation"].GetString(), "triage");
    EXPECT_GE(d["since_submit_ms"].GetDouble(), 0);
  }
  EXPECT_STREQ(ev.at(3)["kind"].GetString(), "server_error");
  EXPECT_EQ(ev.at(3)["http_status"].GetInt(), 500);
  EXPECT_STREQ(ev.at(4)["reason"].GetString(), "backoff");
  EXPECT_GT(ev.at(4)["backoff_ms"].GetDouble(), 0);
  EXPECT_EQ(ev.at(6)["attempt"].GetInt(), 2);
  EXPECT_STREQ(ev.at(7)["kind"].GetString(), "none");
  EXPECT_GT(ev.at(7)["completion_tokens"].GetInt64(), 0);
  rapidjson::Document done = ev.at(8);
  EXPECT_TRUE(done["ok"].GetBool());
  EXPECT_EQ(done["attempts"].GetInt(), 2);
  // Neither the prompt, nor the reply, nor the key, unless asked for.
  for (size_t i = 0; i < want.size(); ++i) {
    std::string json = to_json(ev.at(i));
    EXPECT_EQ(json.find("secret prompt"), std::string::npos) << json;
    EXPECT_EQ(json.find("sk-events"), std::string::npos) << json;
    EXPECT_EQ(json.find(r.text), std::string::npos) << json;
  }

  // Asked for: the wire body when queued, the text when completed. Only the chosen types.
  ev.seen.clear();
  ASSERT_EQ(llmsvc_client_set_event_hook(client.get(), LLMSVC_EVENT_QUEUED | LLMSVC_EVENT_COMPLETED,
                                         LLMSVC_EVENTS_WITH_CONTENT, &Events::hook, &ev, nullptr),
            LLMSVC_OK);
  r = client.generate(R"({"model":"gpt-4o-mini","prompt":"show me"})");
  ASSERT_EQ(ev.types(), (std::vector<std::string>{"queued", "completed"}));
  EXPECT_STREQ(ev.at(0)["request"]["messages"][0]["content"].GetString(), "show me");
  EXPECT_EQ(std::string(ev.at(1)["text"].GetString()), r.text);

  // Off: nothing more.
  ev.seen.clear();
  ASSERT_EQ(llmsvc_client_set_event_hook(client.get(), 0, 0, nullptr, nullptr, nullptr), LLMSVC_OK);
  client.generate(prompt_request("quiet"));
  EXPECT_TRUE(ev.types().empty());
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_set_event_hook(client.get(), 1u << 10, 0, nullptr, nullptr, &err),
            LLMSVC_EINVAL);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("unknown bits"), std::string::npos);
  llmsvc_error_free(err);
}

TEST(Events, TheCompletionQueueCarriesEventsBeforeTheCompletion) {
  EmulatorProcess emu;
  Client client(emu.config("sk-q"));
  int tag = 0;
  ASSERT_EQ(llmsvc_client_set_event_hook(client.get(), LLMSVC_EVENT_QUEUED | LLMSVC_EVENT_COMPLETED,
                                         0, nullptr, &tag, nullptr),
            LLMSVC_OK);
  uint64_t id = 0;
  ASSERT_EQ(llmsvc_client_submit(client.get(), prompt_request("q").c_str(), nullptr, nullptr, &id,
                                 nullptr),
            LLMSVC_OK);
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    llmsvc_result *r = nullptr;
    void *payload = nullptr;
    ASSERT_EQ(llmsvc_client_poll(client.get(), 10000, &r, &payload), LLMSVC_OK);
    EXPECT_EQ(llmsvc_result_id(r), id);
    if (llmsvc_result_type(r) == LLMSVC_RESULT_EVENT) {
      EXPECT_EQ(payload, &tag);
      rapidjson::Document d;
      size_t len = 0;
      d.Parse(llmsvc_result_json(r, &len));
      order.push_back(d["type"].GetString());
    } else {
      EXPECT_EQ(llmsvc_result_kind(r), LLMSVC_KIND_NONE);
      order.push_back("result");
    }
    llmsvc_result_free(r);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"queued", "completed", "result"}));
}

TEST(Events, AHookMayCallTheClient) {
  // Cancelling from inside the hook is taken like a cancel from a completion callback:
  // after the engine's step, exactly one completion each.
  EmulatorProcess emu({"--latency-ms", "200"});
  Client client(emu.config("sk-h"));
  Events ev;
  ev.client = client.get();
  Collector col;
  uint64_t slow = client.submit(prompt_request("slow"), col);
  ev.cancel_on_queued = slow;
  ASSERT_EQ(llmsvc_client_set_event_hook(client.get(), LLMSVC_EVENT_QUEUED, 0, &Events::hook, &ev,
                                         nullptr),
            LLMSVC_OK);
  client.submit(prompt_request("trigger"), col);
  ASSERT_TRUE(col.wait_for(2));
  EXPECT_TRUE(col.exactly_once());
  for (const Completed &c : col.results())
    EXPECT_EQ(c.kind, c.id == slow ? LLMSVC_KIND_CANCELLED : LLMSVC_KIND_NONE) << c.json;
}

TEST(TraceContext, TraceparentAndTracestateReachTheProvider) {
  EmulatorProcess emu;
  Client client(emu.config("sk-trace"));
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  Completed r = client.generate(R"({"model":"gpt-4o-mini","prompt":"traced","traceparent":")" + tp +
                                R"(","tracestate":"vendor=abc"})");
  ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  rapidjson::Document s = emu.stats("sk-trace");
  EXPECT_EQ(i64(s, "traced"), 1);
  EXPECT_EQ(std::string(s["last_traceparent"].GetString()), tp);
  EXPECT_STREQ(s["last_tracestate"].GetString(), "vendor=abc");
  // The trace's id names the request when it has no trace_id of its own.
  EXPECT_STREQ(r.doc()["trace_id"].GetString(), "4bf92f3577b34da6a3ce929d0e0e4736");
  // Requests without one send none (a reused connection handle forgets it).
  ASSERT_EQ(client.generate(prompt_request("untraced")).kind, LLMSVC_KIND_NONE);
  EXPECT_EQ(i64(emu.stats("sk-trace"), "traced"), 1);

  for (const char *bad : {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}) {
    llmsvc_result *res = nullptr;
    llmsvc_error *err = nullptr;
    std::string req = R"({"model":"gpt-4o-mini","prompt":"x","traceparent":")" + std::string(bad) + R"("})";
    EXPECT_EQ(llmsvc_client_generate(client.get(), req.c_str(), &res, &err), LLMSVC_ESCHEMA) << bad;
    EXPECT_NE(std::string(llmsvc_error_message(err)).find("request.traceparent"), std::string::npos)
        << llmsvc_error_message(err);
    llmsvc_error_free(err);
  }
}
