// Response caching end to end against the emulator: hits, policy, coalescing of identical
// requests in flight, streams, SQLite persistence across clients and processes, and a
// corrupt cache file.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "support.h"

namespace {

const char *kMemory = R"("cache":{"memory":{}})";

std::string deterministic(const std::string &prompt, const std::string &extra = "") {
  return prompt_request(prompt, "\"temperature\":0" + (extra.empty() ? "" : "," + extra));
}

const rapidjson::Value *cache_of(const rapidjson::Document &d) {
  auto it = d.FindMember("cache");
  return it == d.MemberEnd() ? nullptr : &it->value;
}

bool hit(const Completed &c) {
  rapidjson::Document d = c.doc();
  const rapidjson::Value *cache = cache_of(d);
  return cache && (*cache)["hit"].GetBool();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/llmsvc-cache-it-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string sqlite_cache(const std::string &path, const std::string &more = "") {
  return R"("cache":{"sqlite":{"path":")" + path + "\"" + more + "}}";
}

}  // namespace

TEST(Cache, RepeatedDeterministicRequestIsServedFromMemory) {
  EmulatorProcess emu;
  Client client(emu.config("sk-c1", kMemory));
  Completed first = client.generate(deterministic("what is two plus two"));
  ASSERT_EQ(first.kind, LLMSVC_KIND_NONE) << first.json;
  rapidjson::Document d1 = first.doc();
  ASSERT_TRUE(cache_of(d1)) << first.json;
  EXPECT_FALSE((*cache_of(d1))["hit"].GetBool());
  EXPECT_TRUE((*cache_of(d1))["stored"].GetBool());
  int64_t cost = i64(d1, "cost_nano_usd");
  ASSERT_GT(cost, 0);

  // The same request written differently, with other bookkeeping: the same answer.
  Completed second = client.generate(
      R"({"temperature":0, "prompt":"what is two plus two", "model":"gpt-4o-mini",
          "trace_id":"t-2","metadata":{"row":2},"operation":"again"})");
  ASSERT_EQ(second.kind, LLMSVC_KIND_NONE) << second.json;
  EXPECT_EQ(second.text, first.text);
  rapidjson::Document d2 = second.doc();
  const rapidjson::Value &c2 = *cache_of(d2);
  EXPECT_TRUE(c2["hit"].GetBool());
  EXPECT_STREQ(c2["source"].GetString(), "memory");
  EXPECT_STREQ(c2["key"].GetString(), (*cache_of(d1))["key"].GetString());
  EXPECT_EQ(i64(c2, "saved_cost_nano_usd"), cost);
  EXPECT_EQ(i64(c2["saved_usage"], "prompt_tokens"), i64(d1["usage"], "prompt_tokens"));
  EXPECT_EQ(i64(d2, "cost_nano_usd"), 0);  // nothing new was spent
  EXPECT_EQ(i64(d2["usage"], "total_tokens"), 0);
  EXPECT_EQ(d2["attempts"].Size(), 0u);
  EXPECT_STREQ(d2["trace_id"].GetString(), "t-2");  // its own bookkeeping, not the first's
  EXPECT_STREQ(d2["operation"].GetString(), "again");

  EXPECT_EQ(i64(emu.stats("sk-c1"), "received"), 1);
  rapidjson::Document m = client.metrics();
  const rapidjson::Value &mc = m["cache"];
  EXPECT_EQ(i64(mc, "hits"), 1);
  EXPECT_EQ(i64(mc, "hits_memory"), 1);
  EXPECT_EQ(i64(mc, "misses"), 1);
  EXPECT_EQ(i64(mc, "stores"), 1);
  EXPECT_EQ(i64(mc, "saved_cost_nano_usd"), cost);
  EXPECT_EQ(i64(mc["memory"], "entries"), 1);
  // The ledger counts both requests and only the cost actually paid.
  EXPECT_EQ(i64(m["usage"]["total"], "requests"), 2);
  EXPECT_EQ(i64(m["usage"]["total"], "cost_nano_usd"), cost);
}

TEST(Cache, PolicyAndPerRequestModesDecideWhatIsCached) {
  EmulatorProcess emu;
  {
    Client client(emu.config("sk-pol", kMemory));
    // Default policy: a request that does not ask for determinism is not cached at all.
    Completed a = client.generate(prompt_request("creative"));
    Completed b = client.generate(prompt_request("creative"));
    EXPECT_FALSE(cache_of(a.doc()));
    EXPECT_FALSE(hit(b));
    EXPECT_EQ(i64(emu.stats("sk-pol"), "received"), 2);
    // "use" asks for it explicitly.
    client.generate(prompt_request("asked", "\"cache\":\"use\""));
    EXPECT_TRUE(hit(client.generate(prompt_request("asked", "\"cache\":\"use\""))));
    EXPECT_EQ(i64(emu.stats("sk-pol"), "received"), 3);
    // "bypass" neither reads nor writes; "refresh" fetches anew and stores.
    client.generate(deterministic("fresh"));
    Completed byp = client.generate(deterministic("fresh", "\"cache\":\"bypass\""));
    EXPECT_FALSE(cache_of(byp.doc()));
    EXPECT_EQ(i64(emu.stats("sk-pol"), "received"), 5);
    Completed ref = client.generate(deterministic("fresh", "\"cache\":\"refresh\""));
    rapidjson::Document rd = ref.doc();
    EXPECT_FALSE((*cache_of(rd))["hit"].GetBool());
    EXPECT_TRUE((*cache_of(rd))["stored"].GetBool());
    EXPECT_EQ(i64(emu.stats("sk-pol"), "received"), 6);
    EXPECT_TRUE(hit(client.generate(deterministic("fresh"))));
    EXPECT_EQ(i64(client.metrics()["cache"], "refreshes"), 1);
  }
  Client all(emu.config("sk-all", R"("cache":{"policy":"all","memory":true})"));
  all.generate(prompt_request("anything"));
  EXPECT_TRUE(hit(all.generate(prompt_request("anything"))));
  EXPECT_EQ(i64(emu.stats("sk-all"), "received"), 1);
}

TEST(Cache, AHitNeverWaitsAtTheGates) {
  EmulatorProcess emu;
  // One request per minute: after the first, anything sent would wait a minute.
  Client client(emu.config("sk-gate", std::string(kMemory) + R"(,"limits":{"rpm":1})"));
  Completed first = client.generate(deterministic("only once"));
  ASSERT_EQ(first.kind, LLMSVC_KIND_NONE) << first.json;
  Completed again = client.generate(deterministic("only once", "\"timeout_ms\":60000"));
  EXPECT_TRUE(hit(again)) << again.json;
  // A request that is not in the cache does wait: the gate is really full.
  Completed other = client.generate(deterministic("not cached", "\"timeout_ms\":150"));
  EXPECT_EQ(other.kind, LLMSVC_KIND_DEADLINE_EXCEEDED) << other.json;
  rapidjson::Document m = client.metrics();
  EXPECT_EQ(i64(m["gates"], "window_requests_used"), 1);
  EXPECT_EQ(i64(emu.stats("sk-gate"), "received"), 1);
}

// A slow request holds the only concurrency slot, so identical requests submitted after
// it queue behind it together: the first of them leads, the others follow.
struct Coalescing : ::testing::Test {
  EmulatorProcess emu{{"--latency-ms", "400"}};
  Client client{emu.config("sk-co", std::string(kMemory) + R"(,"limits":{"concurrency":1})")};
  Collector col;
  void SetUp() override { client.submit(deterministic("hold the slot"), col); }
};

TEST_F(Coalescing, IdenticalRequestsInFlightShareOneProviderCall) {
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(client.submit(deterministic("shared question", "\"trace_id\":\"t" +
                                                                     std::to_string(i) + "\""),
                                col));
  ASSERT_TRUE(col.wait_for(6));
  EXPECT_TRUE(col.exactly_once());
  EXPECT_EQ(i64(emu.stats("sk-co"), "received"), 2);  // the slot holder and one leader
  std::string text;
  int followers = 0;
  for (const Completed &c : col.results()) {
    if (c.id == 1 || c.id == ids[0]) continue;
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    rapidjson::Document d = c.doc();
    const rapidjson::Value &cache = *cache_of(d);
    EXPECT_TRUE(cache["hit"].GetBool());
    EXPECT_STREQ(cache["source"].GetString(), "coalesced");
    EXPECT_EQ(cache["coalesced_with"].GetUint64(), ids[0]);
    if (text.empty()) text = c.text;
    EXPECT_EQ(c.text, text);
    ++followers;
  }
  EXPECT_EQ(followers, 4);
  EXPECT_EQ(i64(client.metrics()["cache"], "coalesced"), 4);
}

TEST_F(Coalescing, ACancelledLeaderHandsOverToTheNextInLine) {
  uint64_t leader = client.submit(deterministic("handed over"), col);
  uint64_t next = client.submit(deterministic("handed over"), col);
  uint64_t last = client.submit(deterministic("handed over"), col);
  ASSERT_EQ(llmsvc_client_cancel(client.get(), leader), LLMSVC_OK);
  ASSERT_TRUE(col.wait_for(4));
  EXPECT_TRUE(col.exactly_once());
  for (const Completed &c : col.results()) {
    if (c.id == leader) {
      EXPECT_EQ(c.kind, LLMSVC_KIND_CANCELLED);
    }
    if (c.id == next) {
      EXPECT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
      EXPECT_FALSE(hit(c));  // it asked the provider itself
    }
    if (c.id == last) {
      rapidjson::Document d = c.doc();
      EXPECT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
      EXPECT_EQ((*cache_of(d))["coalesced_with"].GetUint64(), next);
    }
  }
  EXPECT_EQ(i64(emu.stats("sk-co"), "received"), 2);
  EXPECT_EQ(i64(client.metrics()["cache"], "waiting"), 0);
}

TEST(Cache, AFailedLeaderFailsItsFollowersTheSameWay) {
  EmulatorProcess emu{{"--latency-ms", "300", "--quota-keys", "sk-broke"}};
  Client client(emu.config("sk-broke", std::string(kMemory) + R"(,"limits":{"concurrency":1})"));
  Collector col;
  client.submit(deterministic("hold"), col);
  uint64_t leader = client.submit(deterministic("same"), col);
  uint64_t follower = client.submit(deterministic("same"), col);
  ASSERT_TRUE(col.wait_for(3));
  for (const Completed &c : col.results()) {
    EXPECT_EQ(c.kind, LLMSVC_KIND_INSUFFICIENT_QUOTA) << c.json;
    if (c.id == follower) {
      rapidjson::Document d = c.doc();
      EXPECT_EQ((*cache_of(d))["coalesced_with"].GetUint64(), leader);
      EXPECT_NE(std::string(d["error"]["message"].GetString()).find("quota"), std::string::npos);
    }
  }
  EXPECT_EQ(i64(emu.stats("sk-broke"), "received"), 2);
  EXPECT_EQ(i64(client.metrics()["cache"]["memory"], "entries"), 0);  // errors are not kept
}

TEST(Cache, AStreamedHitArrivesAsOneDelta) {
  EmulatorProcess emu;
  Client client(emu.config("sk-st", kMemory));
  Completed first = client.generate(deterministic("stream me"));
  ASSERT_EQ(first.kind, LLMSVC_KIND_NONE);
  struct Deltas {
    std::mutex mu;
    std::string text;
    int n = 0;
    Collector done;
  } s;
  auto on_delta = [](uint64_t, const char *t, size_t len, void *p) {
    auto *d = static_cast<Deltas *>(p);
    std::lock_guard<std::mutex> lock(d->mu);
    d->text.append(t, len);
    ++d->n;
  };
  auto on_done = [](llmsvc_result *r, void *p) { static_cast<Deltas *>(p)->done.add(r); };
  ASSERT_EQ(llmsvc_client_submit_stream(client.get(), deterministic("stream me").c_str(), on_delta,
                                        on_done, &s, nullptr, nullptr),
            LLMSVC_OK);
  ASSERT_TRUE(s.done.wait_for(1));
  Completed c = s.done.results().front();
  EXPECT_TRUE(hit(c)) << c.json;
  std::lock_guard<std::mutex> lock(s.mu);
  EXPECT_EQ(s.n, 1);
  EXPECT_EQ(s.text, first.text);
  EXPECT_EQ(c.text, first.text);
  EXPECT_EQ(i64(emu.stats("sk-st"), "received"), 1);
}

TEST(Cache, AnExpiredEntryIsFetchedAgain) {
  EmulatorProcess emu;
  Client client(emu.config("sk-ttl", R"("cache":{"memory":{"ttl_ms":1}})"));
  client.generate(deterministic("short lived"));
  // Wait for the clock, not for luck: until two milliseconds have surely passed.
  auto until = std::chrono::system_clock::now() + std::chrono::milliseconds(3);
  while (std::chrono::system_clock::now() < until) std::this_thread::yield();
  EXPECT_FALSE(hit(client.generate(deterministic("short lived"))));
  EXPECT_EQ(i64(emu.stats("sk-ttl"), "received"), 2);
  EXPECT_EQ(i64(client.metrics()["cache"]["memory"], "expired"), 1);
}

TEST(Cache, SqliteOutlivesTheClientAndServesTheNext) {
  EmulatorProcess emu;
  TempDir dir;
  std::string cfg = emu.config("sk-sq", sqlite_cache(dir.file("c.db")));
  std::string texts[3];
  {
    Client a(cfg);
    for (int i = 0; i < 3; ++i) texts[i] = a.generate(deterministic("kept " + std::to_string(i))).text;
  }  // destroy writes what is queued
  Client b(cfg);
  for (int i = 0; i < 3; ++i) {
    Completed c = b.generate(deterministic("kept " + std::to_string(i)));
    rapidjson::Document d = c.doc();
    ASSERT_TRUE(cache_of(d)) << c.json;
    EXPECT_STREQ((*cache_of(d))["source"].GetString(), "sqlite") << c.json;
    EXPECT_EQ(c.text, texts[i]);
  }
  EXPECT_EQ(i64(emu.stats("sk-sq"), "received"), 3);
  rapidjson::Document m = b.metrics();
  EXPECT_EQ(i64(m["cache"], "hits_sqlite"), 3);
  EXPECT_TRUE(m["cache"]["sqlite"]["ok"].GetBool());
  EXPECT_EQ(i64(m["cache"]["sqlite"], "entries"), 3);
}

TEST(Cache, ProcessesShareOneSqliteFile) {
  EmulatorProcess emu;
  TempDir dir;
  std::string file = dir.file("shared.db");
  auto command = [&](int from, int to) {
    return std::string(LLMSVC_CACHE_WORKER) + " " + emu.base_url() + " sk-proc " + file + " " +
           std::to_string(from) + " " + std::to_string(to) + " 2>&1";
  };
  auto read_all = [](FILE *f) {
    std::string out;
    char buf[256];
    while (fgets(buf, sizeof buf, f)) out += buf;
    return out;
  };
  // Two processes at once, overlapping halves, on one new file.
  FILE *a = popen(command(0, 40).c_str(), "r");
  FILE *b = popen(command(20, 60).c_str(), "r");
  ASSERT_TRUE(a && b);
  std::string out_a = read_all(a), out_b = read_all(b);
  EXPECT_EQ(pclose(a), 0) << out_a;
  EXPECT_EQ(pclose(b), 0) << out_b;
  EXPECT_NE(out_a.find("ok=40 "), std::string::npos) << out_a;
  EXPECT_NE(out_b.find("ok=40 "), std::string::npos) << out_b;
  int64_t sent = i64(emu.stats("sk-proc"), "received");
  EXPECT_GE(sent, 60);
  EXPECT_LE(sent, 80);
  // A third process finds every answer in the file.
  FILE *c = popen(command(0, 60).c_str(), "r");
  ASSERT_TRUE(c);
  std::string out_c = read_all(c);
  EXPECT_EQ(pclose(c), 0) << out_c;
  EXPECT_NE(out_c.find("ok=60 hits=60 sqlite_errors=0"), std::string::npos) << out_c;
  EXPECT_EQ(i64(emu.stats("sk-proc"), "received"), sent);
}

TEST(Cache, ACorruptFileIsRefusedClearlyOrSetAside) {
  EmulatorProcess emu;
  TempDir dir;
  std::string path = dir.file("broken.db");
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 400; ++i) f << "definitely not sqlite ";
  }
  llmsvc_client *c = nullptr;
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_new(&c, emu.config("sk-bad", sqlite_cache(path)).c_str(), &err),
            LLMSVC_ESYSTEM);
  EXPECT_EQ(c, nullptr);
  std::string msg = llmsvc_error_message(err);
  llmsvc_error_free(err);
  EXPECT_NE(msg.find("config.cache.sqlite.path"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a database"), std::string::npos) << msg;

  Client client(emu.config("sk-bad", sqlite_cache(path, R"(,"on_corrupt":"set_aside")")));
  EXPECT_EQ(client.generate(deterministic("works anyway")).kind, LLMSVC_KIND_NONE);
  rapidjson::Document m = client.metrics();
  std::string aside = m["cache"]["sqlite"]["set_aside"].GetString();
  EXPECT_EQ(aside.rfind(path + ".corrupt-", 0), 0u) << aside;
  EXPECT_EQ(access(aside.c_str(), F_OK), 0);
}
