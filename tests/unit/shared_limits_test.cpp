// Shared limits without a Redis server: the configuration, the budget's name, and the
// fallback to a share of the limits when Redis cannot be reached.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "gates/gates.h"

using namespace llmsvc;

TEST(SharedLimitsConfig, AbsentMeansLocalLimitsOnly) {
  Config c;
  ASSERT_FALSE(parse_config(R"({"api_key":"k"})", c));
  EXPECT_FALSE(c.shared_limits.enabled);
}

TEST(SharedLimitsConfig, RedisUrlAndDefaults) {
  Config c;
  DocError e = parse_config(
      R"({"api_key":"k","base_url":"http://x:1/v1","shared_limits":{"redis":"redis://10.1.2.3:6380"}})",
      c);
  ASSERT_FALSE(e) << e.message;
  const SharedLimitsConfig &s = c.shared_limits;
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.host, "10.1.2.3");
  EXPECT_EQ(s.port, 6380);
  EXPECT_DOUBLE_EQ(s.share, 0.5);
  EXPECT_EQ(s.timeout_ms, 50);
  EXPECT_EQ(s.key, default_shared_key("openai_chat", "http://x:1/v1", "k"));

  Config d;
  ASSERT_FALSE(parse_config(R"({"shared_limits":{"redis":"redis://cache.internal/"}})", d));
  EXPECT_EQ(d.shared_limits.host, "cache.internal");
  EXPECT_EQ(d.shared_limits.port, 6379);
  Config v6;
  ASSERT_FALSE(parse_config(R"({"shared_limits":{"redis":"redis://[::1]:7000"}})", v6));
  EXPECT_EQ(v6.shared_limits.host, "::1");
  EXPECT_EQ(v6.shared_limits.port, 7000);
}

TEST(SharedLimitsConfig, HostPortKeyShareTimeout) {
  Config c;
  DocError e = parse_config(R"({"shared_limits":{"host":"127.0.0.1","port":7001,"key":"team-a",
                                "share":0.25,"timeout_ms":20}})",
                            c);
  ASSERT_FALSE(e) << e.message;
  EXPECT_EQ(c.shared_limits.port, 7001);
  EXPECT_EQ(c.shared_limits.key, "team-a");
  EXPECT_DOUBLE_EQ(c.shared_limits.share, 0.25);
  EXPECT_EQ(c.shared_limits.timeout_ms, 20);
}

TEST(SharedLimitsConfig, MistakesAreNamed) {
  auto error_of = [](const char *json) {
    Config c;
    return parse_config(json, c).message;
  };
  EXPECT_NE(error_of(R"({"shared_limits":{}})").find("missing redis"), std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"http://h"}})").find("shared_limits.redis"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"host":"h","tls_ca":"/x"}})").find("without TLS"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"rediss://h","tls":false}})").find("rediss"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"rediss://h","tls_ca":"/no/such/ca.pem"}})")
                .find("tls_ca: cannot read /no/such/ca.pem"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"rediss://h","tls_key":"/k"}})")
                .find("without tls_cert"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"sentinel://h:1"}})").find("name the master"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"sentinels":["h:1"]}})").find("master_name"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"sentinels":[],"master_name":"m"}})").find("sentinels"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"host":"h","master_name":"m"}})").find("only with sentinels"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"host":"h","sentinels":["s"],"master_name":"m"}})")
                .find("not both"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"redis://h:1/x"}})").find("database"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"host":"h","db":-1}})").find("db"), std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"host":"h","password":"a","password_env":"B"}})")
                .find("not both"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"redis://h:99999"}})").find("not a port"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"redis://h:"}})").find("not a port"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"redis://h","host":"h"}})").find("either redis"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"host":"h","share":0}})").find("share"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"host":"h","share":1.5}})").find("share"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"host":"h","sahre":0.5}})").find("sahre"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"host":"h","key":""}})").find("key"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":"redis://h"})").find("expected an object"),
            std::string::npos);
}

TEST(SharedLimitsConfig, CredentialsAndDatabaseFromTheUrlOrTheMembersOrTheEnvironment) {
  Config c;
  ASSERT_FALSE(parse_config(
      R"({"shared_limits":{"redis":"redis://alice:p%40ss%3Aword@cache.internal:7000/3"}})", c));
  EXPECT_EQ(c.shared_limits.host, "cache.internal");
  EXPECT_EQ(c.shared_limits.port, 7000);
  EXPECT_EQ(c.shared_limits.user, "alice");
  EXPECT_EQ(c.shared_limits.password, "p@ss:word");
  EXPECT_EQ(c.shared_limits.db, 3);

  Config d;
  ASSERT_FALSE(parse_config(R"({"shared_limits":{"redis":"redis://:only-a-password@h/"}})", d));
  EXPECT_EQ(d.shared_limits.user, "");
  EXPECT_EQ(d.shared_limits.password, "only-a-password");
  EXPECT_EQ(d.shared_limits.db, 0);

  Config e;
  ASSERT_FALSE(parse_config(
      R"({"shared_limits":{"host":"h","user":"bob","password":"pw","db":2}})", e));
  EXPECT_EQ(e.shared_limits.user, "bob");
  EXPECT_EQ(e.shared_limits.password, "pw");
  EXPECT_EQ(e.shared_limits.db, 2);

  // From the environment, read when the client is created; a variable that is not set is
  // named, and no value ever appears in an error.
  const char *var = "LLMSVC_TEST_REDIS_PASSWORD";
  unsetenv(var);
  Config f;
  DocError err = parse_config(
      R"({"shared_limits":{"host":"h","password_env":"LLMSVC_TEST_REDIS_PASSWORD"}})", f);
  ASSERT_TRUE(err);
  EXPECT_NE(err.message.find("LLMSVC_TEST_REDIS_PASSWORD is not set"), std::string::npos)
      << err.message;
  setenv(var, "from-the-environment", 1);
  Config g;
  ASSERT_FALSE(parse_config(
      R"({"shared_limits":{"host":"h","password_env":"LLMSVC_TEST_REDIS_PASSWORD"}})", g));
  EXPECT_EQ(g.shared_limits.password, "from-the-environment");
  unsetenv(var);
}

TEST(SharedLimitsConfig, TlsAndSentinelsFromTheUrlOrTheMembers) {
  Config a;
  ASSERT_FALSE(parse_config(R"({"shared_limits":{"redis":"rediss://:pw@cache.example:6380/1"}})", a));
  EXPECT_TRUE(a.shared_limits.tls);
  EXPECT_TRUE(a.shared_limits.tls_verify);  // on unless turned off
  EXPECT_EQ(a.shared_limits.host, "cache.example");
  EXPECT_EQ(a.shared_limits.port, 6380);
  EXPECT_EQ(a.shared_limits.db, 1);

  Config b;
  ASSERT_FALSE(parse_config(
      R"({"shared_limits":{"host":"h","tls":true,"tls_server_name":"redis.internal","tls_verify":false}})",
      b));
  EXPECT_TRUE(b.shared_limits.tls);
  EXPECT_FALSE(b.shared_limits.tls_verify);
  EXPECT_EQ(b.shared_limits.tls_server_name, "redis.internal");

  Config c;
  ASSERT_FALSE(parse_config(
      R"({"shared_limits":{"redis":"sentinel://u:p@s1:5000,[::1],s3/mymaster/2"}})", c));
  ASSERT_EQ(c.shared_limits.sentinels.size(), 3u);
  EXPECT_EQ(c.shared_limits.sentinels[0], (std::pair<std::string, int64_t>{"s1", 5000}));
  EXPECT_EQ(c.shared_limits.sentinels[1], (std::pair<std::string, int64_t>{"::1", 26379}));
  EXPECT_EQ(c.shared_limits.sentinels[2], (std::pair<std::string, int64_t>{"s3", 26379}));
  EXPECT_EQ(c.shared_limits.master_name, "mymaster");
  EXPECT_EQ(c.shared_limits.db, 2);
  EXPECT_EQ(c.shared_limits.user, "u");
  EXPECT_EQ(c.shared_limits.password, "p");

  Config d;
  ASSERT_FALSE(parse_config(
      R"({"shared_limits":{"sentinels":["10.0.0.1:26380","10.0.0.2"],"master_name":"m","tls":true}})",
      d));
  ASSERT_EQ(d.shared_limits.sentinels.size(), 2u);
  EXPECT_EQ(d.shared_limits.sentinels[0].second, 26380);
  EXPECT_EQ(d.shared_limits.master_name, "m");
  EXPECT_TRUE(d.shared_limits.tls);
}

TEST(SharedLimitsConfig, DerivedKeyNeverHoldsTheApiKey) {
  const std::string secret = "sk-proj-SECRETSECRETSECRET0123456789";
  std::string k = default_shared_key("openai_chat", "https://api.openai.com/v1", secret);
  EXPECT_EQ(k.find(secret), std::string::npos) << k;
  EXPECT_EQ(k.find("SECRET"), std::string::npos) << k;
  // Provider and endpoint are readable; the key is a 64-bit hash prefix.
  EXPECT_EQ(k.rfind("openai_chat:https://api.openai.com/v1:", 0), 0u) << k;
  EXPECT_EQ(k.size(), std::string("openai_chat:https://api.openai.com/v1:").size() + 16);
  // SHA-256("k") starts with 8254c329a92850f6.
  EXPECT_EQ(default_shared_key("p", "u", "k"), "p:u:8254c329a92850f6");
  // Different keys, different budgets; credentials in the URL are left out.
  EXPECT_NE(k, default_shared_key("openai_chat", "https://api.openai.com/v1", secret + "x"));
  std::string with_user = default_shared_key("openai_chat", "https://bob:pw@h.example/v1", secret);
  EXPECT_EQ(with_user.find("pw"), std::string::npos) << with_user;
  EXPECT_EQ(with_user.rfind("openai_chat:https://h.example/v1:", 0), 0u) << with_user;

  Config c;
  ASSERT_FALSE(parse_config(
      (R"({"api_key":")" + secret + R"(","shared_limits":{"host":"127.0.0.1"}})").c_str(), c));
  EXPECT_EQ(c.shared_limits.key.find(secret), std::string::npos);
}

namespace {
// A loopback port nobody listens on: connecting is refused at once.
int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0)
    ADD_FAILURE() << "no free port";
  close(fd);
  return ntohs(a.sin_port);
}

std::string snapshot(Gates &g, int64_t now) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  g.write_shared(w, now);
  w.EndObject();
  return buf.GetString();
}
}  // namespace

TEST(SharedLimitsFallback, ARedisNeverReachedHoldsNoShareSoTheClientWaitsForIt) {
  Config c;
  const std::string secret = "sk-never-in-metrics-0123456789";
  std::string json = R"({"api_key":")" + secret +
                     R"(","limits":{"rpm":1800,"window_ms":1000},"shared_limits":{"host":"127.0.0.1","port":)" +
                     std::to_string(closed_port()) + R"(,"share":0.3333333333}})";
  ASSERT_FALSE(parse_config(json.c_str(), c));
  // Calls to Redis run on a thread of their own: the gates are told when one finished
  // (what they tell outlives them).
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;
  Gates g(c);
  g.set_wake([&] {
    std::lock_guard<std::mutex> lock(mu);
    ++finished;
    cv.notify_all();
  });
  auto answered = [&](int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return finished >= n; });
  };
  const int64_t ms = kNsPerMs;
  // The first request waits for the connection, and the engine goes on meanwhile.
  GateDecision d = g.check(0, Tokens{10, 0});
  EXPECT_FALSE(d.admit);
  ASSERT_TRUE(answered(1));
  // Redis never held a share for this process, so the others would not leave room for
  // what it admitted alone: it waits for Redis, asking again once a second.
  d = g.check(0, Tokens{10, 0});
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.wait_until, 1000 * ms);
  d = g.check(1000 * ms, Tokens{10, 0});  // asks again, and still waits meanwhile
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.wait_until, 2000 * ms);
  ASSERT_TRUE(answered(2));
  d = g.check(1000 * ms, Tokens{10, 0});
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.wait_until, 2000 * ms);
  d = g.check(60000 * ms, Tokens{10, 0});
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(g.too_large(Tokens{10, 0}), GateReason::kNone);

  std::string m = snapshot(g, 60000 * ms);
  EXPECT_NE(m.find(R"("mode":"local_fallback")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("alone":"waiting")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("fallbacks":1,)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("rejoins":0,)"), std::string::npos) << m;
  EXPECT_NE(m.find("Connection refused"), std::string::npos) << m;
  EXPECT_EQ(m.find(secret), std::string::npos) << m;
}

namespace {
// A Redis that grants every lease asked for, until it goes away. It reads the lease
// script's arguments as Redis would (their order: src/gates/redis_budget.cpp).
class GrantingLink final : public ScriptLink {
 public:
  bool up = true;
  int calls = 0;
  std::vector<std::string> last;
  bool connect(std::string &run_id, int64_t &started_us, std::string &error) override {
    connected_ = up;
    run_id = "fake";
    started_us = 0;
    if (!up) error = "connect: Connection refused";
    return up;
  }
  void disconnect() override { connected_ = false; }
  bool connected() const override { return connected_; }
  bool eval(BudgetScript, const std::vector<std::string> &, const std::vector<std::string> &args,
            std::vector<int64_t> &out, std::string &error) override {
    ++calls;
    last = args;
    if (!up) {
      connected_ = false;
      error = "script call: connection lost";
      return false;
    }
    const bool wants = std::stoll(args[19]) > 0 || std::stoll(args[23]) > 0;
    out = {wants ? 1 : 0};
    for (int i = 0; i < 4; ++i) out.push_back(wants ? std::stoll(args[size_t(23 + i)]) : 0);
    out.insert(out.end(), {0, 0, 1, 0, 0});  // wait, why, holders, polled, share-only
    return true;
  }

 private:
  bool connected_ = false;
};

Config shared_config(const std::string &limits, const std::string &share) {
  Config c;
  EXPECT_FALSE(parse_config((R"({"limits":)" + limits +
                             R"(,"shared_limits":{"host":"127.0.0.1","share":)" +
                             share + "}}")
                                .c_str(),
                            c));
  return c;
}
}  // namespace

TEST(SharedLimitsLease, RequestsAreAdmittedFromTheLeaseWithoutACallEach) {
  auto owned = std::make_unique<GrantingLink>();
  GrantingLink &link = *owned;
  Gates g(shared_config(R"({"rpm":1800,"window_ms":1000})", "0.5"), std::move(owned), "p");
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(g.check(0, Tokens{10, 5}).admit) << i;
    g.acquire(Tokens{10, 5});
  }
  // A join, then leases of 1, 3, 7, 15 and the rest of the 30 (an equal part for one).
  EXPECT_LE(link.calls, 7);
  EXPECT_EQ(link.last[11], "30");  // the request cap per window
  EXPECT_EQ(link.last[15], "15");  // the share held for it if it lapses: half of 30
  EXPECT_EQ(link.last[27], "26");  // what it had in flight at the last lease: 1 + 3 + 7 + 15
  // The lease's time is up a quarter of the window later: settlements are handed over
  // in one call, and the lease is renewed since it was used.
  for (int i = 0; i < 30; ++i) g.settle(100 * kNsPerMs, Tokens{10, 5}, Tokens{10, 2});
  const int before = link.calls;
  EXPECT_EQ(g.next_housekeeping(), 250 * kNsPerMs);
  g.housekeep(250 * kNsPerMs);
  EXPECT_EQ(link.calls, before + 1);
  EXPECT_EQ(link.last[31], "1");  // one settlement entry (they came within a bucket)
  EXPECT_EQ(link.last[33], "30");  // 30 requests...
  EXPECT_EQ(link.last[34], "360");  // ... and their real tokens
  EXPECT_EQ(link.last[27], "0");
  // Unused for a lease's time and nothing in flight: it leaves, and nothing is due.
  g.housekeep(500 * kNsPerMs);
  EXPECT_EQ(link.last[9], "1");
  EXPECT_EQ(g.next_housekeeping(), kNever);
}

TEST(SharedLimitsLease, CutOffItWaitsUntilRedisHoldsItsShareThenAdmitsTheShare) {
  auto owned = std::make_unique<GrantingLink>();
  GrantingLink &link = *owned;
  const int64_t ms = kNsPerMs;
  // 30 per 1 s window; a third of it alone: 10. Buckets of 10 ms, a lease used for 250 ms
  // (its holding lapses 20 ms later), Redis calls of 50 ms at most.
  Gates g(shared_config(R"({"rpm":1800,"window_ms":1000})", "0.3333333333"), std::move(owned), "p");
  ASSERT_TRUE(g.check(0, Tokens{}).admit);
  g.acquire(Tokens{});
  g.settle(5 * ms, Tokens{}, Tokens{});
  link.up = false;
  // The next call fails; it may have run, so what this process may do alone is timed from
  // it: the others' leases granted before Redis held our share end, and what they
  // admitted ages out: 50 + 270 + 250 + 1000 + 20 ms.
  const int64_t cut = 100 * ms, from = cut + 1590 * ms;
  GateDecision d = g.check(cut, Tokens{});
  EXPECT_FALSE(d.admit);
  EXPECT_TRUE(g.cut_off());
  EXPECT_EQ(d.wait_until, cut + 1000 * ms);  // the next try at Redis comes first
  d = g.check(from - ms, Tokens{});
  EXPECT_FALSE(d.admit);
  // A window after the cut the share is free: 10 requests, then the window is full.
  int admitted = 0;
  while (admitted < 20 && g.check(from, Tokens{}).admit) {
    g.acquire(Tokens{});
    ++admitted;
  }
  EXPECT_EQ(admitted, 10);
  // Redis holds the share from the lapse of the last holding it surely set (the call at
  // 0, lapsing 270 ms later) for the wait and 10 windows more; a bucket before that ends
  // the process waits again.
  const int64_t until = 270 * ms + (1590 + 10000) * ms - 10 * ms;
  for (int i = 0; i < 10; ++i) g.settle(until - 2000 * ms, Tokens{}, Tokens{});
  EXPECT_TRUE(g.check(until - ms, Tokens{}).admit);
  EXPECT_FALSE(g.check(until, Tokens{}).admit);
  std::string m = snapshot(g, until);
  EXPECT_NE(m.find(R"("alone":"waiting")"), std::string::npos) << m;
  // Redis is back: the process rejoins, hands over what it used alone, and leases again.
  link.up = true;
  EXPECT_TRUE(g.check(until + 1000 * ms, Tokens{}).admit);
  EXPECT_FALSE(g.cut_off());
  m = snapshot(g, until + 1000 * ms);
  EXPECT_NE(m.find(R"("rejoins":1,)"), std::string::npos) << m;
}

TEST(SharedLimitsLease, AShareRoundsDownAndNoneMeansWaiting) {
  auto owned = std::make_unique<GrantingLink>();
  GrantingLink &link = *owned;
  // 2 per window, a tenth of it alone: nothing. Redis holds nothing for it either.
  Gates g(shared_config(R"({"rpm":120,"window_ms":1000})", "0.1"), std::move(owned), "p");
  ASSERT_TRUE(g.check(0, Tokens{}).admit);
  EXPECT_EQ(link.last[15], "0");
  g.acquire(Tokens{});
  g.settle(1, Tokens{}, Tokens{});
  link.up = false;
  for (int64_t t : {int64_t(300), int64_t(2000), int64_t(5000)})
    EXPECT_FALSE(g.check(t * kNsPerMs, Tokens{}).admit) << t;
}
