// Shared limits without a Redis server: the configuration, the budget's name, and the
// fallback to a share of the limits when Redis cannot be reached.
#include <gtest/gtest.h>

#include "core/config.h"

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
