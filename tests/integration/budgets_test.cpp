// Spending budgets end to end: a request that would overrun a budget fails before it is
// sent, spending is the real usage, and budgets change at run time.
#include "support.h"

TEST(Budgets, ARequestThatWouldOverrunFailsBeforeItIsSent) {
  EmulatorProcess emu;
  Client client(emu.config("sk-bud", R"("budgets":[{"name":"daily","window_ms":86400000,
                                                    "max_tokens":150}])"));
  int64_t spent = 0;
  int ok = 0;
  Completed refused;
  for (int i = 0; i < 20; ++i) {
    Completed c = client.generate(prompt_request("item " + std::to_string(i), "\"max_output_tokens\":30"));
    if (c.kind != LLMSVC_KIND_NONE) {
      refused = c;
      break;
    }
    ++ok;
    spent += i64(c.doc()["usage"], "total_tokens");
  }
  ASSERT_GT(ok, 0);
  ASSERT_EQ(refused.kind, LLMSVC_KIND_BUDGET_EXCEEDED) << refused.json;
  rapidjson::Document d = refused.doc();
  EXPECT_NE(std::string(d["error"]["message"].GetString()).find("budget \"daily\""),
            std::string::npos)
      << refused.json;
  EXPECT_EQ(d["attempts"].Size(), 0u);
  EXPECT_EQ(i64(emu.stats("sk-bud"), "received"), ok);  // nothing was sent for it

  rapidjson::Document m = client.metrics();
  const rapidjson::Value &b = m["budgets"][0];
  EXPECT_STREQ(b["name"].GetString(), "daily");
  EXPECT_EQ(i64(b, "used_tokens"), spent);  // the real usage, not the estimates
  EXPECT_EQ(i64(b, "held_tokens"), 0);
  EXPECT_EQ(i64(b, "rejected"), 1);
  EXPECT_EQ(i64(m["failures_by_kind"], "budget_exceeded"), 1);
  std::string prom = client.prometheus();
  EXPECT_NE(prom.find("llmsvc_budget_rejected_total{budget=\"daily\"} 1\n"), std::string::npos)
      << prom;
  EXPECT_NE(prom.find("llmsvc_budget_used{budget=\"daily\",unit=\"tokens\"} " +
                      std::to_string(spent) + "\n"),
            std::string::npos);

  // Raised at run time: the same budget, what was spent still counts.
  llmsvc_error *err = nullptr;
  ASSERT_EQ(llmsvc_client_set_budgets(client.get(),
                                      R"([{"name":"daily","window_ms":86400000,"max_tokens":100000}])",
                                      &err),
            LLMSVC_OK);
  EXPECT_EQ(client.generate(prompt_request("more", "\"max_output_tokens\":30")).kind, LLMSVC_KIND_NONE);
  EXPECT_GT(i64(client.metrics()["budgets"][0], "used_tokens"), spent);
  EXPECT_EQ(llmsvc_client_set_budgets(client.get(), R"([{"max_tokens":"lots"}])", &err),
            LLMSVC_ESCHEMA);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("budgets[0].max_tokens"), std::string::npos);
  llmsvc_error_free(err);
  ASSERT_EQ(llmsvc_client_set_budgets(client.get(), "[]", nullptr), LLMSVC_OK);
  EXPECT_FALSE(client.metrics().HasMember("budgets"));
}

TEST(Budgets, CostBudgetsPerOperationNeedAPrice) {
  EmulatorProcess emu;
  Client client(emu.config("sk-cost", R"("budgets":[{"operation":"summarise","max_cost_usd":0.0001}])"));
  // Not its operation: not limited.
  EXPECT_EQ(client.generate(R"({"model":"house-model","prompt":"hi"})").kind, LLMSVC_KIND_NONE);
  // Its operation, a model without a price: the budget cannot be kept, so it refuses.
  Completed c = client.generate(R"({"model":"house-model","prompt":"hi","operation":"summarise"})");
  EXPECT_EQ(c.kind, LLMSVC_KIND_BUDGET_EXCEEDED);
  EXPECT_NE(c.json.find("no price is known for model"), std::string::npos) << c.json;
  // gpt-4o-mini is priced: a small request fits $0.0001, a huge output bound does not.
  EXPECT_EQ(client.generate(R"({"model":"gpt-4o-mini","prompt":"hi","operation":"summarise",
                                "max_output_tokens":20})").kind,
            LLMSVC_KIND_NONE);
  Completed big = client.generate(R"({"model":"gpt-4o-mini","prompt":"hi","operation":"summarise",
                                      "max_output_tokens":100000})");
  EXPECT_EQ(big.kind, LLMSVC_KIND_BUDGET_EXCEEDED) << big.json;
  EXPECT_EQ(i64(emu.stats("sk-cost"), "received"), 2);
}
