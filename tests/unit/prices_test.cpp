#include "usage/prices.h"

#include <gtest/gtest.h>

using namespace llmsvc;

TEST(Prices, BuiltinAndDatedSnapshots) {
  PriceTable t = PriceTable::builtin();
  ASSERT_NE(t.find("gpt-4o-mini"), nullptr);
  EXPECT_EQ(t.find("gpt-4o-mini-2024-07-18"), t.find("gpt-4o-mini"));
  EXPECT_EQ(t.find("gpt-4o-2024-08-06"), t.find("gpt-4o"));
  EXPECT_EQ(t.find("openai/gpt-4o"), t.find("gpt-4o"));
  EXPECT_EQ(t.find("claude-sonnet-4-20250514"), t.find("claude-sonnet-4"));
  EXPECT_EQ(t.find("llama3.2"), nullptr);
  // Bedrock's ids: vendor and geography first.
  EXPECT_EQ(t.find("anthropic.claude-3-5-haiku-20241022-v1:0"), t.find("claude-3-5-haiku"));
  EXPECT_EQ(t.find("us.anthropic.claude-sonnet-4-20250514-v1:0"), t.find("claude-sonnet-4"));
  EXPECT_EQ(t.find("amazon.nova-lite-v1:0"), t.find("nova-lite"));
  EXPECT_EQ(t.find("meta.llama3-1-8b-instruct-v1:0"), nullptr);
}

TEST(Prices, CostIsExactIntegers) {
  PriceTable t = PriceTable::builtin();
  TokenUsage u;
  u.prompt = 1000;
  u.completion = 500;
  // gpt-4o-mini: $0.15 / 1M in, $0.60 / 1M out: 150 and 600 nano-USD per token.
  EXPECT_EQ(t.cost_pico("gpt-4o-mini", u), (1000 * 150 + 500 * 600) * 1000);
  u.cached = 400;  // cached input at $0.075 / 1M
  EXPECT_EQ(t.cost_pico("gpt-4o-mini", u), (600 * 150 + 400 * 75 + 500 * 600) * 1000);
}

TEST(Prices, UnknownModelIsUnknownNotZero) {
  PriceTable t = PriceTable::builtin();
  TokenUsage u;
  u.prompt = 10;
  EXPECT_EQ(t.cost_pico("my-local-model", u), -1);
  t.set_free("my-local-model");
  EXPECT_EQ(t.cost_pico("my-local-model", u), 0);
}

TEST(Prices, LiteLLMFieldNamesOverrideAndExtend) {
  PriceTable t = PriceTable::builtin();
  JsonDoc doc;
  ASSERT_FALSE(parse_json(doc, R"({
    "sample_spec": {"input_cost_per_token": 0, "output_cost_per_token": 0},
    "gpt-4o-mini": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
                    "cache_read_input_token_cost": 5e-7, "litellm_provider": "openai"},
    "house-model": {"input_cost_per_token": 3e-6, "output_cost_per_token": 4e-6,
                    "output_cost_per_reasoning_token": 8e-6}
  })", "prices"));
  ASSERT_FALSE(t.merge(doc, "prices"));
  TokenUsage u;
  u.prompt = 10;
  u.cached = 4;
  u.completion = 10;
  u.reasoning = 6;
  EXPECT_EQ(t.cost_pico("gpt-4o-mini", u), 6 * 1000000 + 4 * 500000 + 10 * 2000000);
  EXPECT_EQ(t.cost_pico("house-model", u), 6 * 3000000 + 4 * 3000000 + 4 * 4000000 + 6 * 8000000);
  EXPECT_EQ(t.find("sample_spec"), nullptr);
}

TEST(Prices, BadPriceIsAClearError) {
  PriceTable t;
  JsonDoc doc;
  ASSERT_FALSE(parse_json(doc, R"({"m": {"input_cost_per_token": "cheap"}})", "prices"));
  DocError err = t.merge(doc, "config.prices");
  ASSERT_TRUE(err);
  EXPECT_NE(err.message.find("config.prices.m.input_cost_per_token"), std::string::npos);
}

TEST(Prices, HugePricesAndCostsDoNotWrap) {
  // Found by fuzz_prices: a price of 2e13 USD per token became a negative pico-USD price,
  // and a large enough cost overflowed int64 (undefined behaviour).
  PriceTable t;
  JsonDoc doc;
  ASSERT_FALSE(parse_json(doc, R"({"m": {"input_cost_per_token": 2.1e13, "output_cost_per_token": 0}})",
                          "prices"));
  DocError err = t.merge(doc, "config.prices");
  ASSERT_TRUE(err);
  EXPECT_NE(err.message.find("config.prices.m.input_cost_per_token"), std::string::npos);
  ASSERT_FALSE(parse_json(doc, R"({"m": {"input_cost_per_token": 1e6, "output_cost_per_token": 1e-6}})",
                          "prices"));
  ASSERT_FALSE(t.merge(doc, "config.prices"));
  TokenUsage u;
  u.prompt = 9;
  EXPECT_EQ(t.cost_pico("m", u), 9 * 1000000000000000000LL);
  u.prompt = 10;  // 1e19 pico-USD does not fit: unknown, not wrapped
  EXPECT_EQ(t.cost_pico("m", u), -1);
}

TEST(Prices, ServiceTiersArePricedApart) {
  PriceTable t = PriceTable::builtin();
  TokenUsage u;
  u.prompt = 1000;
  u.completion = 100;
  u.cached = 200;
  // gpt-5: standard $1.25 / $0.125 cached / $10, flex half of it, priority $2.50 / $0.25 / $20.
  int64_t standard = 800 * 1250000 + 200 * 125000 + 100 * 10000000;
  EXPECT_EQ(t.cost_pico("gpt-5", u), standard);
  EXPECT_EQ(t.cost_pico("gpt-5", u, "default"), standard);
  EXPECT_EQ(t.cost_pico("gpt-5-2025-08-07", u, "flex"), standard / 2);
  EXPECT_EQ(t.cost_pico("gpt-5", u, "priority"), standard * 2);
  EXPECT_EQ(t.cost_pico("gpt-4o-mini", u, "flex"), t.cost_pico("gpt-4o-mini", u));  // no flex price
  JsonDoc doc;
  ASSERT_FALSE(parse_json(doc, R"({"my-model": {"input_cost_per_token": 0.000001,
      "output_cost_per_token": 0.000002, "input_cost_per_token_flex": 0.0000005,
      "output_cost_per_token_flex": 0.000001}})", "prices"));
  ASSERT_FALSE(t.merge(doc, "prices"));
  EXPECT_EQ(t.cost_pico("my-model", u, "flex") * 2, t.cost_pico("my-model", u));
}

TEST(Prices, BatchJobsPayHalfUnlessTheTableSaysOtherwise) {
  PriceTable t = PriceTable::builtin();
  TokenUsage u;
  u.prompt = 1000;
  u.completion = 500;
  u.cached = 400;
  EXPECT_EQ(t.cost_pico("gpt-4o-mini", u, "batch"), t.cost_pico("gpt-4o-mini", u) / 2);
  EXPECT_EQ(t.cost_pico("no-such-model", u, "batch"), -1);
  // LiteLLM's batch fields: input and output as given, the rest (cached input) at half.
  JsonDoc doc;
  doc.Parse(R"({"m":{"input_cost_per_token":1e-6,"output_cost_per_token":4e-6,
                "cache_read_input_token_cost":2e-7,
                "input_cost_per_token_batches":3e-7,"output_cost_per_token_batches":1e-6}})");
  ASSERT_FALSE(t.merge(doc, "prices"));
  // 600 fresh at 0.3 µ$, 400 cached at 0.1 µ$, 500 out at 1 µ$ (in pico-USD).
  EXPECT_EQ(t.cost_pico("m", u, "batch"), 600 * 300000 + 400 * 100000 + 500 * 1000000);
}
