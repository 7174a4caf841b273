// The circuit breaker end to end: it opens on a failing provider, holds requests back
// (they wait, within their deadlines), probes, and closes when the provider recovers.
#include "support.h"

namespace {
const char *kBreaker = R"("circuit_breaker":{"failures":3,"cooldown_ms":150},
                          "retry":{"max_attempts":10,"base_delay_ms":1,"max_delay_ms":2})";
}

TEST(CircuitBreaker, OpensHoldsRequestsProbesAndCloses) {
  // The first three arrivals of a body fail with 500, the next succeed.
  EmulatorProcess emu({"--fail-first", "3"});
  Client client(emu.config("sk-cb", kBreaker));
  Collector col;
  client.submit(prompt_request("flaky"), col);
  ASSERT_TRUE(client.wait_metrics([](const rapidjson::Document &m) {
    return m.HasMember("circuit_breaker") && i64(m["circuit_breaker"], "opened") == 1;
  }));
  // Sent now, it would be the fourth arrival and succeed: it waits for the breaker instead.
  client.submit(prompt_request("flaky"), col);
  ASSERT_TRUE(col.wait_for(2));
  for (const Completed &c : col.results()) EXPECT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  rapidjson::Document m = client.metrics();
  const rapidjson::Value &cb = m["circuit_breaker"];
  EXPECT_STREQ(cb["state"].GetString(), "closed");
  EXPECT_EQ(i64(cb, "opened"), 1);
  EXPECT_EQ(i64(cb, "half_opened"), 1);
  EXPECT_EQ(i64(cb, "closed"), 1);
  EXPECT_GE(i64(m["gates"]["waits"], "circuit_open"), 1);
  EXPECT_EQ(i64(emu.stats("sk-cb"), "received"), 5);  // 3 failures, the probe, the other
  std::string prom = client.prometheus();
  EXPECT_NE(prom.find("llmsvc_circuit_breaker_state{state=\"closed\"} 1\n"), std::string::npos)
      << prom;
  EXPECT_NE(prom.find("llmsvc_circuit_breaker_transitions_total{to=\"open\"} 1\n"),
            std::string::npos);
  EXPECT_NE(prom.find("llmsvc_gate_waits_total{gate=\"circuit_open\"}"), std::string::npos);
}

TEST(CircuitBreaker, ADeadlinePassedWhileOpenNamesTheBreaker) {
  EmulatorProcess emu({"--error-rate", "1"});
  Client client(emu.config("sk-cb-down", R"("circuit_breaker":{"failures":2,"cooldown_ms":60000},
                                             "retry":{"max_attempts":2,"base_delay_ms":1,"max_delay_ms":2})"));
  Completed first = client.generate(prompt_request("down"));
  EXPECT_EQ(first.kind, LLMSVC_KIND_SERVER_ERROR) << first.json;
  Completed held = client.generate(prompt_request("held", "\"timeout_ms\":100"));
  EXPECT_EQ(held.kind, LLMSVC_KIND_DEADLINE_EXCEEDED) << held.json;
  EXPECT_NE(held.json.find("while the circuit breaker is open"), std::string::npos) << held.json;
  EXPECT_NE(held.json.find("last: server_error"), std::string::npos) << held.json;
  EXPECT_EQ(i64(emu.stats("sk-cb-down"), "received"), 2);  // nothing sent while open
}
