// Shared limits without a Redis server: the configuration, the budget's name, and the
// fallback to a share of the limits when Redis cannot be reached.
#include <arpa/inet.h>
#include <gtest/gtest.h>
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
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"redis://:pw@h:1"}})").find("credentials"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"redis://h:99999"}})").find("not a port"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"redis://h:"}})").find("not a port"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"shared_limits":{"redis":"redis://h","host":"h"}})").find("not both"),
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

TEST(SharedLimitsFallback, UnreachableRedisMeansAShareOfTheLimitsAfterOneWindow) {
  Config c;
  const std::string secret = "sk-never-in-metrics-0123456789";
  std::string json = R"({"api_key":")" + secret +
                     R"(","limits":{"rpm":1800,"window_ms":1000},"shared_limits":{"host":"127.0.0.1","port":)" +
                     std::to_string(closed_port()) + R"(,"share":0.3333333333}})";
  ASSERT_FALSE(parse_config(json.c_str(), c));
  Gates g(c);
  const int64_t ms = kNsPerMs;
  // Cut off from the start: others may have filled the window, and this process held
  // nothing, so it waits until a whole window (and a bucket, 10 ms) has passed. The next
  // attempt at Redis comes first, after a second.
  GateDecision d = g.check(0, Tokens{10, 0});
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.wait_until, 1000 * ms);
  d = g.check(1000 * ms, Tokens{10, 0});  // Redis is tried again, still refused
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.wait_until, 1010 * ms);
  // Then a third of 30 per window: 10.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(g.check(1010 * ms, Tokens{10, 0}).admit) << i;
    g.acquire(Tokens{10, 0});
  }
  d = g.check(1010 * ms, Tokens{10, 0});
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kRequests);
  EXPECT_EQ(d.wait_until, 2000 * ms);  // all in flight: only the next attempt at Redis
  for (int i = 0; i < 10; ++i) g.settle(1100 * ms, Tokens{10, 0}, Tokens{5, 0});
  d = g.check(1200 * ms, Tokens{10, 0});
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.wait_until, 2000 * ms);  // the next attempt comes before 2100 ms
  // The full limit's too_large still applies, not the share's.
  EXPECT_EQ(g.too_large(Tokens{10, 0}), GateReason::kNone);

  std::string m = snapshot(g, 1200 * ms);
  EXPECT_NE(m.find(R"("mode":"local_fallback")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("fallbacks":1,)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("rejoins":0,)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"("errors":2,)"), std::string::npos) << m;  // the first try and the retry
  EXPECT_NE(m.find("Connection refused"), std::string::npos) << m;
  EXPECT_EQ(m.find(secret), std::string::npos) << m;
}

TEST(SharedLimitsFallback, ShareNeverRoundsToNothing) {
  Config c;
  ASSERT_FALSE(parse_config(
      (R"({"limits":{"rpm":120,"window_ms":1000},"shared_limits":{"host":"127.0.0.1","port":)" +
       std::to_string(closed_port()) + R"(,"share":0.1}})")
          .c_str(),
      c));
  Gates g(c);  // 2 per window; a tenth of it still lets one through
  const int64_t after_cut_off = 1020 * kNsPerMs;
  g.check(0, Tokens{});
  ASSERT_TRUE(g.check(after_cut_off, Tokens{}).admit);
  g.acquire(Tokens{});
  EXPECT_FALSE(g.check(after_cut_off, Tokens{}).admit);
}
