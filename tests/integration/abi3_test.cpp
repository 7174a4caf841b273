// The 0.3 additions to the C ABI: typed results, batches, calls that never block, pause.
#include <atomic>
#include <set>

#include "support.h"

namespace {

constexpr const char *kFastRetry = R"("retry":{"base_delay_ms":1,"max_delay_ms":5})";

// Every result of the queue or a batch: counted by id, freed.
struct Tally {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, int> count;
  std::map<int, int> kinds;
  size_t completions = 0;
  size_t batches = 0;
  void add(llmsvc_result *r) {
    const bool completion = llmsvc_result_type(r) == LLMSVC_RESULT_COMPLETION;
    const uint64_t id = llmsvc_result_id(r);
    const int kind = llmsvc_result_kind(r);
    llmsvc_result_free(r);
    // Notified under the lock: once a waiter sees the count, this thread no longer
    // touches the tally, which the test may then destroy.
    std::lock_guard<std::mutex> lock(mu);
    if (completion) {
      ++count[id];
      ++kinds[kind];
      ++completions;
    }
    cv.notify_all();
  }
  bool wait_for(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return completions >= n; });
  }
  bool exactly_once(size_t n) {
    std::lock_guard<std::mutex> lock(mu);
    if (count.size() != n) return false;
    for (auto &[id, c] : count)
      if (c != 1) return false;
    return true;
  }
  static void on_batch(llmsvc_result **rs, void **, size_t n, void *self) {
    auto *t = static_cast<Tally *>(self);
    {
      std::lock_guard<std::mutex> lock(t->mu);
      ++t->batches;
    }
    for (size_t i = 0; i < n; ++i) t->add(rs[i]);
  }
};

}  // namespace

TEST(Abi3, TypedResultAgreesWithItsJsonAfterARetry) {
  EmulatorProcess emu({"--fail-first", "1"});
  Client client(emu.config("sk-typed", kFastRetry));
  llmsvc_result *r = nullptr;
  ASSERT_EQ(llmsvc_client_generate(client.get(), prompt_request("typed").c_str(), &r, nullptr),
            LLMSVC_OK);
  size_t len = 0;
  rapidjson::Document d;
  d.Parse(llmsvc_result_json(r, &len));
  ASSERT_TRUE(d.IsObject());
  int64_t n[LLMSVC_NUM_COUNT + 2];
  EXPECT_EQ(llmsvc_result_numbers(r, n, LLMSVC_NUM_COUNT + 2), size_t(LLMSVC_NUM_COUNT));
  EXPECT_EQ(n[LLMSVC_NUM_COUNT], LLMSVC_UNKNOWN);  // keys this version has not
  EXPECT_EQ(n[LLMSVC_NUM_KIND], LLMSVC_KIND_NONE);
  EXPECT_EQ(n[LLMSVC_NUM_HTTP_STATUS], 200);
  EXPECT_EQ(n[LLMSVC_NUM_PROMPT_TOKENS], i64(d["usage"], "prompt_tokens"));
  EXPECT_EQ(n[LLMSVC_NUM_COMPLETION_TOKENS], i64(d["usage"], "completion_tokens"));
  EXPECT_EQ(n[LLMSVC_NUM_CACHED_TOKENS], i64(d["usage"], "cached_tokens"));
  EXPECT_EQ(n[LLMSVC_NUM_REASONING_TOKENS], i64(d["usage"], "reasoning_tokens"));
  EXPECT_EQ(n[LLMSVC_NUM_USAGE], 1);
  EXPECT_EQ(n[LLMSVC_NUM_COST_NANO_USD], i64(d, "cost_nano_usd"));
  EXPECT_GT(n[LLMSVC_NUM_COST_NANO_USD], 0);
  EXPECT_EQ(n[LLMSVC_NUM_ATTEMPTS], 2);
  EXPECT_EQ(n[LLMSVC_NUM_CHOICES], 1);
  EXPECT_EQ(n[LLMSVC_NUM_FIRST_TOKEN_NS], LLMSVC_UNKNOWN);  // not streamed
  EXPECT_GT(n[LLMSVC_NUM_TOTAL_NS], 0);
  EXPECT_EQ(n[LLMSVC_NUM_SUBMIT_UNIX_MS], i64(d["timing"], "submit_unix_ms"));
  EXPECT_EQ(llmsvc_result_number(r, LLMSVC_NUM_ATTEMPTS), 2);
  EXPECT_EQ(llmsvc_result_number(r, -1), LLMSVC_UNKNOWN);
  EXPECT_EQ(llmsvc_result_number(r, LLMSVC_NUM_COUNT), LLMSVC_UNKNOWN);

  size_t slen = 0;
  EXPECT_STREQ(llmsvc_result_string(r, LLMSVC_STR_MODEL, &slen), "gpt-4o-mini");
  EXPECT_EQ(slen, strlen("gpt-4o-mini"));
  EXPECT_STREQ(llmsvc_result_string(r, LLMSVC_STR_RESPONSE_ID, nullptr),
               d["response_id"].GetString());
  EXPECT_STREQ(llmsvc_result_string(r, LLMSVC_STR_FINISH_REASON, nullptr),
               d["finish_reason"].GetString());
  EXPECT_STREQ(llmsvc_result_string(r, LLMSVC_STR_TEXT, nullptr), d["text"].GetString());
  EXPECT_STREQ(llmsvc_result_string(r, LLMSVC_STR_ERROR_KIND, nullptr), "none");
  EXPECT_STREQ(llmsvc_result_string(r, LLMSVC_STR_PROVIDER_MESSAGE, nullptr), "");
  EXPECT_EQ(llmsvc_result_string(r, LLMSVC_STR_COUNT, &slen), nullptr);
  EXPECT_EQ(slen, 0u);

  int64_t a[LLMSVC_ATTEMPT_COUNT];
  const char *rid = nullptr, *dep = nullptr;
  ASSERT_EQ(llmsvc_result_attempt(r, 0, a, LLMSVC_ATTEMPT_COUNT, &rid, &dep),
            size_t(LLMSVC_ATTEMPT_COUNT));
  EXPECT_EQ(a[LLMSVC_ATTEMPT_HTTP_STATUS], 500);
  EXPECT_EQ(a[LLMSVC_ATTEMPT_KIND], LLMSVC_KIND_SERVER_ERROR);
  EXPECT_EQ(a[LLMSVC_ATTEMPT_BACKOFF_SOURCE], 1);  // the client's own backoff
  EXPECT_EQ(a[LLMSVC_ATTEMPT_PROMPT_TOKENS], LLMSVC_UNKNOWN);
  EXPECT_STREQ(dep, "");
  ASSERT_EQ(llmsvc_result_attempt(r, 1, a, 3, nullptr, nullptr), 3u);
  EXPECT_EQ(a[LLMSVC_ATTEMPT_HTTP_STATUS], 200);
  EXPECT_EQ(a[LLMSVC_ATTEMPT_KIND], LLMSVC_KIND_NONE);
  EXPECT_EQ(llmsvc_result_attempt(r, 2, a, LLMSVC_ATTEMPT_COUNT, nullptr, nullptr), 0u);

  const char *text = nullptr, *finish = nullptr;
  size_t tlen = 0, calls = 9;
  ASSERT_EQ(llmsvc_result_choice(r, 0, &text, &tlen, &finish, &calls), LLMSVC_OK);
  EXPECT_STREQ(text, d["text"].GetString());
  EXPECT_EQ(calls, 0u);
  EXPECT_EQ(llmsvc_result_choice(r, 1, &text, &tlen, &finish, &calls), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_result_choice_tool_call(r, 0, 0, nullptr, nullptr, nullptr), LLMSVC_EINVAL);
  llmsvc_result_free(r);
}

TEST(Abi3, TypedGettersTakeNullAndErrors) {
  int64_t n[4] = {1, 2, 3, 4};
  EXPECT_EQ(llmsvc_result_number(nullptr, LLMSVC_NUM_KIND), LLMSVC_UNKNOWN);
  EXPECT_EQ(llmsvc_result_numbers(nullptr, n, 4), 0u);
  EXPECT_EQ(llmsvc_result_string(nullptr, LLMSVC_STR_MODEL, nullptr), nullptr);
  EXPECT_EQ(llmsvc_result_attempt(nullptr, 0, n, 4, nullptr, nullptr), 0u);
  EXPECT_EQ(llmsvc_result_choice(nullptr, 0, nullptr, nullptr, nullptr, nullptr), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_result_choice_tool_call(nullptr, 0, 0, nullptr, nullptr, nullptr),
            LLMSVC_EINVAL);

  EmulatorProcess emu({"--invalid-keys", "sk-bad"});
  Client client(emu.config("sk-bad"));
  llmsvc_result *r = nullptr;
  ASSERT_EQ(llmsvc_client_generate(client.get(), prompt_request("x").c_str(), &r, nullptr),
            LLMSVC_OK);
  EXPECT_EQ(llmsvc_result_number(r, LLMSVC_NUM_KIND), LLMSVC_KIND_AUTH);
  EXPECT_EQ(llmsvc_result_number(r, LLMSVC_NUM_HTTP_STATUS), 401);
  EXPECT_EQ(llmsvc_result_number(r, LLMSVC_NUM_COST_NANO_USD), LLMSVC_UNKNOWN);
  EXPECT_EQ(llmsvc_result_number(r, LLMSVC_NUM_PROMPT_TOKENS), LLMSVC_UNKNOWN);
  EXPECT_EQ(llmsvc_result_number(r, LLMSVC_NUM_USAGE), 0);
  EXPECT_EQ(llmsvc_result_number(r, LLMSVC_NUM_CHOICES), 0);
  EXPECT_STREQ(llmsvc_result_string(r, LLMSVC_STR_ERROR_KIND, nullptr), "auth");
  EXPECT_STREQ(llmsvc_result_string(r, LLMSVC_STR_PROVIDER_ERROR_CODE, nullptr),
               "invalid_api_key");
  EXPECT_STREQ(llmsvc_result_string(r, LLMSVC_STR_ERROR_MESSAGE, nullptr),
               llmsvc_result_error_message(r));
  EXPECT_EQ(llmsvc_result_choice(r, 0, nullptr, nullptr, nullptr, nullptr), LLMSVC_EINVAL);
  llmsvc_result_free(r);

  // The new client calls on NULL and destroyed handles.
  llmsvc_result *out[2];
  size_t got = 7;
  EXPECT_EQ(llmsvc_client_poll_batch(nullptr, 0, out, nullptr, 2, &got), LLMSVC_EINVAL);
  EXPECT_EQ(got, 0u);
  EXPECT_EQ(llmsvc_client_poll_batch(client.get(), 0, nullptr, nullptr, 2, &got), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_poll_batch(client.get(), 0, out, nullptr, 0, &got), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_poll_batch(client.get(), 0, out, nullptr, 2, nullptr), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_poll_batch(client.get(), 0, out, nullptr, 2, &got), LLMSVC_ETIMEOUT);
  EXPECT_EQ(llmsvc_client_cancel_async(nullptr, 1), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_cancel_async(client.get(), 0), LLMSVC_ENOTFOUND);
  EXPECT_EQ(llmsvc_client_cancel_async(client.get(), 1u << 30), LLMSVC_ENOTFOUND);
  EXPECT_EQ(llmsvc_client_close_async(nullptr, nullptr, nullptr), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_pause(nullptr, 1), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_set_batch_callback(nullptr, nullptr, nullptr), LLMSVC_EINVAL);
  llmsvc_client *gone = nullptr;
  ASSERT_EQ(llmsvc_client_new(&gone, emu.config("sk-x").c_str(), nullptr), LLMSVC_OK);
  ASSERT_EQ(llmsvc_client_destroy(gone), LLMSVC_OK);
  EXPECT_EQ(llmsvc_client_cancel_async(gone, 1), LLMSVC_EHANDLE);
  EXPECT_EQ(llmsvc_client_close_async(gone, nullptr, nullptr), LLMSVC_EHANDLE);
  EXPECT_EQ(llmsvc_client_pause(gone, 0), LLMSVC_EHANDLE);
  EXPECT_EQ(llmsvc_client_poll_batch(gone, 0, out, nullptr, 2, &got), LLMSVC_EHANDLE);
  EXPECT_EQ(llmsvc_client_set_batch_callback(gone, nullptr, nullptr), LLMSVC_EHANDLE);
}

TEST(Abi3, PollBatchTakesEveryResultOnceInOrderOfArrival) {
  EmulatorProcess emu;
  Client client(emu.config("sk-batch"));
  const size_t n = 40;
  std::set<uint64_t> ids;
  for (size_t i = 0; i < n; ++i) {
    uint64_t id = 0;
    ASSERT_EQ(llmsvc_client_submit(client.get(), prompt_request("b" + std::to_string(i)).c_str(),
                                   nullptr, reinterpret_cast<void *>(i + 1), &id, nullptr),
              LLMSVC_OK);
    ids.insert(id);
  }
  std::map<uint64_t, int> seen;
  size_t taken = 0, calls = 0;
  while (taken < n) {
    llmsvc_result *out[8];
    void *payloads[8];
    size_t got = 0;
    ASSERT_EQ(llmsvc_client_poll_batch(client.get(), 30000, out, payloads, 8, &got), LLMSVC_OK);
    ASSERT_GE(got, 1u);
    ASSERT_LE(got, 8u);
    ++calls;
    for (size_t i = 0; i < got; ++i) {
      EXPECT_EQ(llmsvc_result_kind(out[i]), LLMSVC_KIND_NONE);
      EXPECT_GE(reinterpret_cast<uintptr_t>(payloads[i]), 1u);
      ++seen[llmsvc_result_id(out[i])];
      llmsvc_result_free(out[i]);
    }
    taken += got;
  }
  EXPECT_EQ(taken, n);
  EXPECT_EQ(seen.size(), n);
  for (auto &[id, c] : seen) {
    EXPECT_EQ(c, 1);
    EXPECT_TRUE(ids.count(id));
  }
  EXPECT_LE(calls, n);
}

TEST(Abi3, BatchCallbackHandsOverEveryCompletionOnce) {
  EmulatorProcess emu({"--latency-ms", "20"});
  Client client(emu.config("sk-cb", R"("limits":{"concurrency":64})"));
  Tally t;
  ASSERT_EQ(llmsvc_client_set_batch_callback(client.get(), &Tally::on_batch, &t), LLMSVC_OK);
  const size_t n = 200;
  for (size_t i = 0; i < n; ++i)
    ASSERT_EQ(llmsvc_client_submit(client.get(), prompt_request("c" + std::to_string(i)).c_str(),
                                   nullptr, nullptr, nullptr, nullptr),
              LLMSVC_OK);
  ASSERT_TRUE(t.wait_for(n));
  EXPECT_EQ(llmsvc_client_close(client.get()), LLMSVC_OK);  // no callback outlives `t`
  EXPECT_TRUE(t.exactly_once(n));
  std::lock_guard<std::mutex> lock(t.mu);
  EXPECT_EQ(t.kinds[LLMSVC_KIND_NONE], int(n));
  EXPECT_LE(t.batches, n);
  EXPECT_GE(t.batches, 1u);
}

TEST(Abi3, StreamedPiecesComeInBatchesBeforeTheirCompletion) {
  EmulatorProcess emu;
  Client client(emu.config("sk-pieces"));
  struct Order {
    std::mutex mu;
    std::condition_variable cv;
    std::map<uint64_t, std::string> text;
    std::map<uint64_t, bool> done;
    size_t completions = 0;
    bool bad = false;
  } o;
  auto cb = [](llmsvc_result **rs, void **, size_t n, void *self) {
    auto *st = static_cast<Order *>(self);
    std::lock_guard<std::mutex> lock(st->mu);
    for (size_t i = 0; i < n; ++i) {
      uint64_t id = llmsvc_result_id(rs[i]);
      if (llmsvc_result_type(rs[i]) == LLMSVC_RESULT_DELTA) {
        if (st->done.count(id)) st->bad = true;  // a piece after its completion
        st->text[id] += llmsvc_result_text(rs[i]);
      } else {
        if (st->done.count(id) || st->text[id] != llmsvc_result_text(rs[i])) st->bad = true;
        st->done[id] = true;
        ++st->completions;
      }
      llmsvc_result_free(rs[i]);
    }
    st->cv.notify_all();
  };
  ASSERT_EQ(llmsvc_client_set_batch_callback(client.get(), cb, &o), LLMSVC_OK);
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(llmsvc_client_submit_stream(client.get(),
                                          prompt_request("s" + std::to_string(i)).c_str(),
                                          nullptr, nullptr, nullptr, nullptr, nullptr),
              LLMSVC_OK);
  std::unique_lock<std::mutex> lock(o.mu);
  ASSERT_TRUE(o.cv.wait_for(lock, std::chrono::seconds(60), [&] { return o.completions == 10; }));
  EXPECT_EQ(o.done.size(), 10u);
  EXPECT_FALSE(o.bad);
  for (auto &[id, text] : o.text) EXPECT_FALSE(text.empty());
  lock.unlock();
  EXPECT_EQ(llmsvc_client_close(client.get()), LLMSVC_OK);  // no callback outlives `o`
}

TEST(Abi3, CancelAsyncFromManyThreadsAndCallbacksCompletesEachOnce) {
  EmulatorProcess emu({"--latency-ms", "3000"});
  Client client(emu.config("sk-cancel", R"("limits":{"concurrency":50})"));
  struct State {
    llmsvc_client *client;
    Tally tally;
    std::vector<uint64_t> ids;
  } s{client.get(), {}, {}};
  // Each completion cancels the next request from inside its callback, too.
  auto on_done = [](llmsvc_result *r, void *p) {
    auto *st = static_cast<State *>(p);
    uint64_t id = llmsvc_result_id(r);
    int rc = llmsvc_client_cancel_async(st->client, id + 1);
    EXPECT_TRUE(rc == LLMSVC_OK || rc == LLMSVC_ENOTFOUND) << rc;
    st->tally.add(r);
  };
  const size_t n = 300;
  for (size_t i = 0; i < n; ++i) {
    uint64_t id = 0;
    ASSERT_EQ(llmsvc_client_submit(client.get(), prompt_request("x" + std::to_string(i)).c_str(),
                                   on_done, &s, &id, nullptr),
              LLMSVC_OK);
    s.ids.push_back(id);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (size_t i = t; i < n; i += 2) {  // every id from two threads
        int rc = llmsvc_client_cancel_async(client.get(), s.ids[i]);
        EXPECT_EQ(rc, LLMSVC_OK);
      }
    });
  for (auto &th : threads) th.join();
  ASSERT_TRUE(s.tally.wait_for(n));
  EXPECT_EQ(llmsvc_client_close(client.get()), LLMSVC_OK);  // no callback outlives `s`
  EXPECT_TRUE(s.tally.exactly_once(n));
  std::lock_guard<std::mutex> lock(s.tally.mu);
  EXPECT_EQ(s.tally.kinds[LLMSVC_KIND_CANCELLED], int(n));  // none could answer in time
}

TEST(Abi3, CloseAsyncReturnsAtOnceAndSignalsAfterTheLastCompletion) {
  EmulatorProcess emu({"--latency-ms", "60000"});
  llmsvc_client *c = nullptr;
  ASSERT_EQ(llmsvc_client_new(&c, emu.config("sk-close").c_str(), nullptr), LLMSVC_OK);
  struct State {
    Tally tally;
    std::atomic<int> closed{0};
    std::atomic<size_t> done_at_close{0};
  } s;
  auto on_done = [](llmsvc_result *r, void *p) { static_cast<State *>(p)->tally.add(r); };
  const size_t n = 100;
  for (size_t i = 0; i < n; ++i)
    ASSERT_EQ(llmsvc_client_submit(c, prompt_request("c" + std::to_string(i)).c_str(), on_done,
                                   &s, nullptr, nullptr),
              LLMSVC_OK);
  auto on_closed = [](void *p) {
    auto *st = static_cast<State *>(p);
    {
      std::lock_guard<std::mutex> lock(st->tally.mu);
      st->done_at_close = st->tally.completions;
    }
    ++st->closed;
    st->tally.cv.notify_all();
  };
  ASSERT_EQ(llmsvc_client_close_async(c, on_closed, &s), LLMSVC_OK);  // never waits 60 s
  EXPECT_EQ(llmsvc_client_submit(c, prompt_request("late").c_str(), on_done, &s, nullptr, nullptr),
            LLMSVC_ECLOSED);
  {
    std::unique_lock<std::mutex> lock(s.tally.mu);
    ASSERT_TRUE(s.tally.cv.wait_for(lock, std::chrono::seconds(60), [&] { return s.closed == 1; }));
  }
  EXPECT_EQ(s.done_at_close, n);  // every completion came first
  EXPECT_TRUE(s.tally.exactly_once(n));
  EXPECT_EQ(s.tally.kinds[LLMSVC_KIND_SHUT_DOWN], int(n));
  // A second close of either form does nothing more; one after the end says so at once.
  std::atomic<int> again{0};
  ASSERT_EQ(llmsvc_client_close_async(c, [](void *p) { ++*static_cast<std::atomic<int> *>(p); },
                                      &again),
            LLMSVC_OK);
  EXPECT_EQ(again, 1);
  EXPECT_EQ(llmsvc_client_close(c), LLMSVC_OK);
  EXPECT_EQ(s.closed, 1);
  // The queue's fd is readable and a poll says closed.
  llmsvc_result *r = nullptr;
  EXPECT_EQ(llmsvc_client_poll(c, 0, &r, nullptr), LLMSVC_ECLOSED);
  EXPECT_EQ(llmsvc_client_destroy(c), LLMSVC_OK);
}

TEST(Abi3, CloseAsyncFromInsideACallback) {
  EmulatorProcess emu;
  llmsvc_client *c = nullptr;
  ASSERT_EQ(llmsvc_client_new(&c, emu.config("sk-inside").c_str(), nullptr), LLMSVC_OK);
  struct State {
    llmsvc_client *c;
    Tally tally;
    std::atomic<int> closed{0};
  } s{c, {}, {}};
  auto on_done = [](llmsvc_result *r, void *p) {
    auto *st = static_cast<State *>(p);
    EXPECT_EQ(llmsvc_client_close_async(st->c, [](void *q) { ++static_cast<State *>(q)->closed; }, st),
              LLMSVC_OK);
    st->tally.add(r);
  };
  // Held until all twenty are in: the first completion closes the client, and a submit
  // after that is refused.
  ASSERT_EQ(llmsvc_client_pause(c, 1), LLMSVC_OK);
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(llmsvc_client_submit(c, prompt_request("c" + std::to_string(i)).c_str(), on_done, &s,
                                   nullptr, nullptr),
              LLMSVC_OK);
  ASSERT_EQ(llmsvc_client_pause(c, 0), LLMSVC_OK);
  ASSERT_TRUE(s.tally.wait_for(20));
  EXPECT_EQ(llmsvc_client_destroy(c), LLMSVC_OK);  // joins the finished engine
  EXPECT_TRUE(s.tally.exactly_once(20));
  EXPECT_GE(s.closed, 1);
}

TEST(Abi3, PauseHoldsAdmissionAndResumeSendsEverything) {
  EmulatorProcess emu;
  Client client(emu.config("sk-pause"));
  ASSERT_EQ(llmsvc_client_pause(client.get(), 1), LLMSVC_OK);
  Collector col;
  for (int i = 0; i < 5; ++i) client.submit(prompt_request("p" + std::to_string(i)), col);
  // The metrics snapshot is taken on the engine thread after it took the five.
  rapidjson::Document m = client.metrics();
  EXPECT_EQ(i64(m["requests"], "queued"), 5) << to_json(m["requests"]);
  EXPECT_EQ(i64(m["requests"], "in_flight"), 0);
  EXPECT_EQ(i64(emu.stats("sk-pause"), "received"), 0);
  EXPECT_EQ(col.size(), 0u);
  ASSERT_EQ(llmsvc_client_pause(client.get(), 0), LLMSVC_OK);
  ASSERT_TRUE(col.wait_for(5));
  EXPECT_TRUE(col.exactly_once());
  for (const Completed &c : col.results()) EXPECT_EQ(c.kind, LLMSVC_KIND_NONE);
}

TEST(Abi3, SubmitStreamRefusesStreamFalse) {
  EmulatorProcess emu;
  Client client(emu.config("sk-sf"));
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_submit_stream(client.get(), prompt_request("x", R"("stream":false)").c_str(),
                                        nullptr, nullptr, nullptr, nullptr, &err),
            LLMSVC_ESCHEMA);
  ASSERT_NE(err, nullptr);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("request.stream: false"), std::string::npos);
  llmsvc_error_free(err);
  // "stream": true is what the call means anyway.
  EXPECT_EQ(llmsvc_client_submit_stream(client.get(), prompt_request("x", R"("stream":true)").c_str(),
                                        nullptr, nullptr, nullptr, nullptr, nullptr),
            LLMSVC_OK);
}

TEST(Abi3, QueuedEventsSayTheirTypeWithoutJson) {
  EmulatorProcess emu;
  Client client(emu.config("sk-events"));
  ASSERT_EQ(llmsvc_client_set_event_hook(client.get(), LLMSVC_EVENT_QUEUED | LLMSVC_EVENT_COMPLETED,
                                         0, nullptr, nullptr, nullptr),
            LLMSVC_OK);
  ASSERT_EQ(llmsvc_client_submit(client.get(), prompt_request("e").c_str(), nullptr, nullptr,
                                 nullptr, nullptr),
            LLMSVC_OK);
  std::vector<int64_t> types;
  while (types.size() < 3) {
    llmsvc_result *r = nullptr;
    ASSERT_EQ(llmsvc_client_poll(client.get(), 30000, &r, nullptr), LLMSVC_OK);
    types.push_back(llmsvc_result_type(r) == LLMSVC_RESULT_EVENT
                        ? llmsvc_result_number(r, LLMSVC_NUM_EVENT_TYPE)
                        : -llmsvc_result_number(r, LLMSVC_NUM_EVENT_TYPE) - 1);
    llmsvc_result_free(r);
  }
  // The queued event, the completed event, then the completion (whose event type is 0).
  EXPECT_EQ(types, (std::vector<int64_t>{LLMSVC_EVENT_QUEUED, LLMSVC_EVENT_COMPLETED, -1}));
}

TEST(Abi3, PlainSubmitOfAStreamedDocumentGivesOneResult) {
  EmulatorProcess emu;
  Client client(emu.config("sk-one"));
  ASSERT_EQ(llmsvc_client_submit(client.get(), prompt_request("x", R"("stream":true)").c_str(),
                                 nullptr, nullptr, nullptr, nullptr),
            LLMSVC_OK);
  llmsvc_result *r = nullptr;
  ASSERT_EQ(llmsvc_client_poll(client.get(), 30000, &r, nullptr), LLMSVC_OK);
  EXPECT_EQ(llmsvc_result_type(r), LLMSVC_RESULT_COMPLETION);
  EXPECT_EQ(llmsvc_result_kind(r), LLMSVC_KIND_NONE);
  EXPECT_NE(llmsvc_result_number(r, LLMSVC_NUM_FIRST_TOKEN_NS), LLMSVC_UNKNOWN);  // it streamed
  llmsvc_result_free(r);
  EXPECT_EQ(llmsvc_client_poll(client.get(), 0, &r, nullptr), LLMSVC_ETIMEOUT);
}

TEST(Abi3, EveryRequestTheServerSawIsAnAttempt) {
  // Resets before any byte, on kept-alive connections: libcurl re-sends some of those by
  // itself; each send must show as an attempt.
  EmulatorProcess emu({"--reset-rate", "0.3", "--seed", "11"});
  Client client(emu.config(
      "sk-resets",
      R"("limits":{"concurrency":4},"retry":{"max_attempts":20,"base_delay_ms":1,"max_delay_ms":5})"));
  Collector col;
  const int n = 300;
  for (int i = 0; i < n; ++i) client.submit(prompt_request("r" + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(n));
  EXPECT_TRUE(col.exactly_once());
  int64_t attempts = 0;
  for (const Completed &c : col.results()) {
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    attempts += c.doc()["attempts"].Size();
  }
  rapidjson::Document s = emu.stats("sk-resets");
  EXPECT_EQ(i64(s, "ok"), n);
  EXPECT_EQ(attempts, i64(s, "received"));
  rapidjson::Document m = client.metrics();
  EXPECT_EQ(i64(m["attempts"], "total"), i64(s, "received")) << to_json(m["attempts"]);
  EXPECT_GT(i64(m, "transport_resends"), 0) << "the case this test is about did not happen";
}
