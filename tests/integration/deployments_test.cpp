// Several deployments behind one client: key pools spread by the routing strategy, each
// with its own limits; a deployment whose key, quota or region fails is taken out of
// rotation and the request goes on elsewhere; fallback chains when a tier is exhausted;
// the result and the metrics say which deployment served.
#include <map>

#include "support.h"

namespace {

std::string deployment_of(const Completed &c) {
  rapidjson::Document d = c.doc();
  return d.HasMember("deployment") && d["deployment"].IsString() ? d["deployment"].GetString()
                                                                 : "";
}

const rapidjson::Value *find_deployment(const rapidjson::Document &m, const std::string &name) {
  if (!m.HasMember("deployments")) return nullptr;
  for (const auto &d : m["deployments"].GetArray())
    if (name == d["name"].GetString()) return &d;
  return nullptr;
}

std::string base(const EmulatorProcess &emu) {
  return R"("base_url":")" + emu.base_url() + R"(")";
}

}  // namespace

TEST(Deployments, AKeyPoolTakesTurnsAndEachKeyKeepsItsOwnLimit) {
  // Two keys of 10 requests per 500 ms window each: 40 requests need two windows per key,
  // never a 429, half on each key, and the result names the deployment.
  EmulatorProcess emu({"--rpm", "1200", "--window-ms", "500"});
  Client client("{" + base(emu) + R"(,"model":"gpt-4o-mini","api_keys":["sk-pool-a","sk-pool-b"],)"
                R"("limits":{"rpm":1200,"window_ms":500}})");
  Collector col;
  for (int i = 0; i < 40; ++i) client.submit(prompt_request("pool " + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(40));
  std::map<std::string, int> served;
  for (const Completed &c : col.results()) {
    EXPECT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    ++served[deployment_of(c)];
  }
  EXPECT_EQ(served["gpt-4o-mini#0"], 20);
  EXPECT_EQ(served["gpt-4o-mini#1"], 20);
  for (const char *key : {"sk-pool-a", "sk-pool-b"}) {
    rapidjson::Document s = emu.stats(key);
    EXPECT_EQ(i64(s, "received"), 20) << key;
    EXPECT_EQ(i64(s, "rate_limited"), 0) << key;
    EXPECT_LE(i64(s, "peak_window_requests"), 10) << key;
  }
  rapidjson::Document m = client.metrics();
  ASSERT_TRUE(m.HasMember("deployments")) << to_json(m);
  EXPECT_STREQ(m["routing"]["strategy"].GetString(), "round_robin");
  const rapidjson::Value *d0 = find_deployment(m, "gpt-4o-mini#0");
  ASSERT_NE(d0, nullptr);
  EXPECT_EQ(i64(*d0, "served"), 20);
  EXPECT_TRUE((*d0)["in_rotation"].GetBool());
  // The keys never appear in the snapshot.
  EXPECT_EQ(to_json(m).find("sk-pool-a"), std::string::npos);
}

TEST(Deployments, LeastLoadedFillsEachKeyInProportionToItsLimit) {
  // Key a allows 10 per 500 ms window, key b 30: least loaded keeps their use at the same
  // fraction of each limit, so b serves about three times as many, and neither crosses.
  EmulatorProcess emu({"--rpm", "3600", "--window-ms", "500"});
  Client client("{" + base(emu) + R"(,"model":"gpt-4o-mini","routing":{"strategy":"least_loaded"},)"
                R"("deployments":[{"name":"a","api_key":"sk-ll-a","limits":{"rpm":1200,"window_ms":500}},)"
                R"({"name":"b","api_key":"sk-ll-b","limits":{"rpm":3600,"window_ms":500}}]})");
  Collector col;
  for (int i = 0; i < 80; ++i) client.submit(prompt_request("ll " + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(80));
  for (const Completed &c : col.results()) EXPECT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  int64_t a = i64(emu.stats("sk-ll-a"), "received"), b = i64(emu.stats("sk-ll-b"), "received");
  EXPECT_EQ(a + b, 80);
  EXPECT_GE(a, 15);
  EXPECT_GE(b, 50);
  EXPECT_LE(i64(emu.stats("sk-ll-a"), "peak_window_requests"), 10);
  EXPECT_LE(i64(emu.stats("sk-ll-b"), "peak_window_requests"), 30);
  EXPECT_EQ(i64(emu.stats("sk-ll-a"), "rate_limited") + i64(emu.stats("sk-ll-b"), "rate_limited"), 0);
}

TEST(Deployments, ARejectedKeyLeavesTheRotationAndTheOthersServe) {
  EmulatorProcess emu({"--invalid-keys", "sk-revoked"});
  Client client("{" + base(emu) + R"(,"model":"gpt-4o-mini",)"
                R"("api_keys":["sk-good-1","sk-revoked","sk-good-2"]})");
  for (int i = 0; i < 12; ++i) {
    Completed r = client.generate(prompt_request("rotation " + std::to_string(i)));
    EXPECT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
    EXPECT_NE(deployment_of(r), "gpt-4o-mini#1");
  }
  // The revoked key was tried once, then no more.
  EXPECT_EQ(i64(emu.stats("sk-revoked"), "received"), 1);
  rapidjson::Document m = client.metrics();
  const rapidjson::Value *out = find_deployment(m, "gpt-4o-mini#1");
  ASSERT_NE(out, nullptr);
  EXPECT_FALSE((*out)["in_rotation"].GetBool());
  EXPECT_STREQ((*out)["out_kind"].GetString(), "auth");
  EXPECT_NE(std::string((*out)["out_reason"].GetString()).find("401"), std::string::npos);
  EXPECT_NE(client.prometheus().find(
                "llmsvc_deployment_in_rotation{deployment=\"gpt-4o-mini#1\",group=\"gpt-4o-mini\"} 0"),
            std::string::npos);

  // Put back by a configuration change, it is tried again (and, still revoked, leaves again).
  llmsvc_error *err = nullptr;
  ASSERT_EQ(llmsvc_client_set_deployment(client.get(), R"({"name":"gpt-4o-mini#1","enabled":true})",
                                         &err),
            LLMSVC_OK);
  EXPECT_TRUE((*find_deployment(client.metrics(), "gpt-4o-mini#1"))["in_rotation"].GetBool());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(client.generate(prompt_request("again " + std::to_string(i))).kind, LLMSVC_KIND_NONE);
  EXPECT_EQ(i64(emu.stats("sk-revoked"), "received"), 2);
  EXPECT_EQ(llmsvc_client_set_deployment(client.get(), R"({"name":"nope","enabled":true})", &err),
            LLMSVC_ESCHEMA);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("\"nope\""), std::string::npos);
  llmsvc_error_free(err);
}

TEST(Deployments, WhenEveryDeploymentIsOutTheErrorNamesEach) {
  EmulatorProcess emu({"--invalid-keys", "sk-bad-1", "--quota-keys", "sk-bad-2"});
  Client client("{" + base(emu) + R"(,"model":"gpt-4o-mini","api_keys":["sk-bad-1","sk-bad-2"]})");
  Completed r = client.generate(prompt_request("nobody"));
  EXPECT_TRUE(r.kind == LLMSVC_KIND_AUTH || r.kind == LLMSVC_KIND_INSUFFICIENT_QUOTA) << r.json;
  EXPECT_NE(r.json.find("out of rotation"), std::string::npos) << r.json;
  // Later requests fail at once, before sending, naming both deployments and why.
  Completed later = client.generate(prompt_request("later"));
  std::string msg = later.doc()["error"]["message"].GetString();
  EXPECT_NE(msg.find("gpt-4o-mini#0 (auth"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gpt-4o-mini#1 (insufficient_quota"), std::string::npos) << msg;
  EXPECT_EQ(i64(emu.stats("sk-bad-1"), "received") + i64(emu.stats("sk-bad-2"), "received"), 2);
  EXPECT_EQ(msg.find("sk-bad"), std::string::npos) << "a key in the message: " << msg;
}

TEST(Deployments, AQuotaErrorFallsBackToTheNextModelGroup) {
  EmulatorProcess emu({"--quota-keys", "sk-no-money"});
  Client client("{" + base(emu) +
                R"(,"deployments":[{"name":"big","model":"gpt-4o","api_key":"sk-no-money"},)"
                R"({"name":"small","model":"gpt-4o-mini","api_key":"sk-fine"}],)"
                R"("routing":{"fallbacks":["gpt-4o-mini"]}})");
  Completed r = client.generate(R"({"model":"gpt-4o","prompt":"fall back"})");
  ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  rapidjson::Document d = r.doc();
  EXPECT_STREQ(d["deployment"].GetString(), "small");
  EXPECT_STREQ(d["model"].GetString(), "gpt-4o-mini");
  ASSERT_EQ(d["attempts"].Size(), 2u);
  EXPECT_STREQ(d["attempts"][0]["kind"].GetString(), "insufficient_quota");
  EXPECT_STREQ(d["attempts"][0]["deployment"].GetString(), "big");
  EXPECT_STREQ(d["attempts"][1]["deployment"].GetString(), "small");
  // The default model is the first deployment's; a model nobody serves is refused at once.
  llmsvc_result *res = nullptr;
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_generate(client.get(), prompt_request("x").replace(10, 11, "gpt-9").c_str(),
                                   &res, &err),
            LLMSVC_ESCHEMA);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("no deployment serves \"gpt-9\""),
            std::string::npos)
      << llmsvc_error_message(err);
  llmsvc_error_free(err);
}

TEST(Deployments, SpentRetriesFallBackToAnotherEndpointAndProvider) {
  // The first endpoint answers 500 to everything; after its two attempts the request goes
  // to an Anthropic deployment, with the body rebuilt for that provider.
  EmulatorProcess broken({"--error-rate", "1"});
  EmulatorProcess healthy;
  Client client(R"({"retry":{"max_attempts":2,"base_delay_ms":1,"max_delay_ms":2},"deployments":[)"
                R"({"name":"primary","group":"chat","model":"gpt-4o-mini",)" +
                base(broken) + R"(,"api_key":"sk-p"},)"
                R"({"name":"claude","provider":"anthropic","model":"claude-3-5-haiku-latest",)" +
                base(healthy) + R"(,"api_key":"sk-ant-c"}],)"
                R"("routing":{"fallbacks":{"chat":["claude"]}}})");
  Completed r = client.generate(R"({"model":"chat","messages":[{"role":"system","content":"Be brief."},)"
                                R"({"role":"user","content":"hello"}],"max_tokens":50})");
  ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  rapidjson::Document d = r.doc();
  EXPECT_STREQ(d["deployment"].GetString(), "claude");
  ASSERT_EQ(d["attempts"].Size(), 3u);
  EXPECT_STREQ(d["attempts"][0]["kind"].GetString(), "server_error");
  EXPECT_STREQ(d["attempts"][1]["kind"].GetString(), "server_error");
  EXPECT_STREQ(d["attempts"][2]["deployment"].GetString(), "claude");
  EXPECT_EQ(i64(healthy.stats("sk-ant-c"), "received"), 1);
  EXPECT_EQ(i64(broken.stats("sk-p"), "received"), 2);
}

TEST(Deployments, AnOpenCircuitSendsTheRestToTheOthers) {
  EmulatorProcess broken({"--error-rate", "1"});
  EmulatorProcess healthy;
  Client client(R"({"model":"gpt-4o-mini","retry":{"max_attempts":5,"base_delay_ms":1,"max_delay_ms":2},)"
                R"("circuit_breaker":{"failures":2,"cooldown_ms":60000},"deployments":[)"
                R"({"name":"flaky",)" + base(broken) + R"(,"api_key":"sk-f"},)"
                R"({"name":"steady",)" + base(healthy) + R"(,"api_key":"sk-s"}]})");
  // One at a time: turns alternate, so each of the first two tries "flaky" first, fails
  // and is retried on "steady"; the second failure opens flaky's circuit.
  for (int i = 0; i < 4; ++i) {
    Completed r = client.generate(prompt_request("s" + std::to_string(i)));
    EXPECT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
    EXPECT_EQ(deployment_of(r), "steady");
  }
  Collector col;
  for (int i = 0; i < 20; ++i) client.submit(prompt_request("c" + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(20));
  for (const Completed &c : col.results()) {
    EXPECT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    EXPECT_EQ(deployment_of(c), "steady");
    EXPECT_EQ(c.doc()["attempts"].Size(), 1u) << c.json;
  }
  // Two failures opened its circuit; nothing more went there.
  EXPECT_EQ(i64(broken.stats("sk-f"), "received"), 2);
  rapidjson::Document m = client.metrics();
  EXPECT_STREQ((*find_deployment(m, "flaky"))["circuit_breaker"]["state"].GetString(), "open");
}

TEST(Deployments, WhenEveryCircuitIsOpenRequestsWaitAndTheDeadlineSaysWhy) {
  EmulatorProcess broken({"--error-rate", "1"});
  Client client(R"({"model":"gpt-4o-mini","retry":{"max_attempts":1},)"
                R"("circuit_breaker":{"failures":1,"cooldown_ms":60000},"deployments":[)"
                R"({"name":"a",)" + base(broken) + R"(,"api_key":"sk-a"},)"
                R"({"name":"b",)" + base(broken) + R"(,"api_key":"sk-b"}]})");
  // One failure each opens both circuits.
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(client.generate(prompt_request("open " + std::to_string(i))).kind,
              LLMSVC_KIND_SERVER_ERROR);
  // Now nothing can be sent: the request waits (not a vague failure at once) until its
  // deadline, which names each deployment's open breaker.
  Completed r = client.generate(R"({"model":"gpt-4o-mini","prompt":"wait","timeout_ms":200})");
  EXPECT_EQ(r.kind, LLMSVC_KIND_DEADLINE_EXCEEDED) << r.json;
  std::string msg = r.doc()["error"]["message"].GetString();
  EXPECT_NE(msg.find("deployment a the circuit breaker is open"), std::string::npos) << msg;
  EXPECT_NE(msg.find("deployment b the circuit breaker is open"), std::string::npos) << msg;
  EXPECT_EQ(r.doc()["attempts"].Size(), 0u);
  EXPECT_EQ(i64(broken.stats("sk-a"), "received") + i64(broken.stats("sk-b"), "received"), 2);
}

TEST(Deployments, LowestLatencyPrefersTheFasterEndpoint) {
  EmulatorProcess slow({"--latency-ms", "60"});
  EmulatorProcess fast;
  Client client(R"({"model":"gpt-4o-mini","routing":{"strategy":"lowest_latency"},"deployments":[)"
                R"({"name":"slow",)" + base(slow) + R"(,"api_key":"sk-1"},)"
                R"({"name":"fast",)" + base(fast) + R"(,"api_key":"sk-2"}]})");
  std::map<std::string, int> served;
  for (int i = 0; i < 20; ++i) {
    Completed r = client.generate(prompt_request("l" + std::to_string(i)));
    ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
    ++served[deployment_of(r)];
  }
  // Each is measured once (untried first), then the faster one serves.
  EXPECT_EQ(served["slow"], 1);
  EXPECT_EQ(served["fast"], 19);
}

TEST(Deployments, LowestLatencyDoesNotPreferAnEndpointThatFailsFast) {
  EmulatorProcess broken({"--error-rate", "1"});
  EmulatorProcess healthy({"--latency-ms", "30"});
  Client client(R"({"model":"gpt-4o-mini","routing":{"strategy":"lowest_latency"},)"
                R"("retry":{"max_attempts":3,"base_delay_ms":1,"max_delay_ms":2},"deployments":[)"
                R"({"name":"broken",)" + base(broken) + R"(,"api_key":"sk-b"},)"
                R"({"name":"healthy",)" + base(healthy) + R"(,"api_key":"sk-h"}]})");
  for (int i = 0; i < 10; ++i) {
    Completed r = client.generate(prompt_request("f" + std::to_string(i)));
    ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
    EXPECT_EQ(deployment_of(r), "healthy");
  }
  // Tried once (nothing measured yet), then its 500s count as slow.
  EXPECT_EQ(i64(broken.stats("sk-b"), "received"), 1);
}

TEST(Deployments, WeightsShareTheRequests) {
  EmulatorProcess emu;
  Client client("{" + base(emu) + R"(,"model":"gpt-4o-mini","seed":7,"routing":{"strategy":"weighted"},)"
                R"("deployments":[{"name":"three","api_key":"sk-w3","weight":3},)"
                R"({"name":"one","api_key":"sk-w1","weight":1},{"name":"none","api_key":"sk-w0","weight":0}]})");
  Collector col;
  for (int i = 0; i < 400; ++i) client.submit(prompt_request("w" + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(400));
  int64_t three = i64(emu.stats("sk-w3"), "received"), one = i64(emu.stats("sk-w1"), "received");
  EXPECT_EQ(three + one, 400);
  EXPECT_EQ(i64(emu.stats("sk-w0"), "received"), 0);  // weight 0: only when nothing else admits
  // 3:1 within a generous band (a fixed seed: the same numbers every run).
  EXPECT_GT(three, 260);
  EXPECT_LT(three, 340);
}

TEST(Deployments, DeploymentsWithoutAModelServeAnyModel) {
  EmulatorProcess emu;
  Client client("{" + base(emu) + R"(,"api_keys":["sk-any-1","sk-any-2"]})");
  for (const char *model : {"gpt-4o-mini", "gpt-4o"}) {
    Completed r = client.generate(std::string(R"({"model":")") + model + R"(","prompt":"any"})");
    ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
    EXPECT_STREQ(r.doc()["model"].GetString(), model);
  }
  EXPECT_EQ(i64(emu.stats("sk-any-1"), "ok") + i64(emu.stats("sk-any-2"), "ok"), 2);
}

TEST(Deployments, ConfigurationMistakesAreNamed) {
  auto error_of = [](const std::string &config) {
    llmsvc_client *c = nullptr;
    llmsvc_error *err = nullptr;
    int rc = llmsvc_client_new(&c, config.c_str(), &err);
    std::string msg = err ? llmsvc_error_message(err) : "";
    llmsvc_error_free(err);
    llmsvc_client_destroy(c);
    return rc == LLMSVC_OK ? std::string("accepted") : msg;
  };
  EXPECT_NE(error_of(R"({"api_keys":["a","b"],"models":["m1","m2","m3"]})").find("config.models: 3 entries"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"deployments":[{"name":"x","api_key":"a"},{"name":"x","api_key":"b"}]})")
                .find("\"x\" is already the name"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"deployments":[{"model":"m"}],"routing":{"fallbacks":["nobody"]}})")
                .find("\"nobody\" names no deployment"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"deployments":[{"model":"m"}],"routing":{"strategy":"fastest"}})")
                .find("config.routing.strategy"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"deployments":[{"api_key_env":"LLMSVC_TEST_SURELY_UNSET"}]})")
                .find("LLMSVC_TEST_SURELY_UNSET is not set"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"deployments":[],"model":"m"})").find("config.deployments: expected a non-empty"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"deployments":[{"api_key":"a"}],"api_keys":["b"]})").find("not both"),
            std::string::npos);
}
