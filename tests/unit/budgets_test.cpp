// Spending budgets: parsing, holds for requests in flight, windows, run-time changes.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "gates/budgets.h"
#include "llmsvc.h"

using namespace llmsvc;

namespace {

std::vector<BudgetSpec> parse(const char *json, DocError *error = nullptr) {
  JsonDoc doc;
  doc.Parse(json);
  std::vector<BudgetSpec> out;
  DocError err = parse_budgets(doc, "config.budgets", out);
  if (error) *error = err;
  else EXPECT_FALSE(err) << err.message;
  return out;
}

constexpr int64_t kSec = kNsPerSec;

}  // namespace

TEST(Budgets, ParseNamesAndRejects) {
  auto b = parse(R"([{"max_tokens":1000},{"operation":"summarise","window_ms":86400000,
                      "max_cost_usd":2.5},{"name":"mine","max_tokens":5}])");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].name, "client");
  EXPECT_EQ(b[1].name, "operation:summarise/86400000ms");
  EXPECT_EQ(b[1].max_cost_pico, 2500000000000);
  EXPECT_EQ(b[2].name, "mine");
  DocError err;
  parse(R"([{"operation":"x"}])", &err);
  EXPECT_EQ(err.message, "config.budgets[0]: give max_tokens, max_cost_usd or both");
  parse(R"([{"max_tokens":1},{"max_tokens":2}])", &err);
  EXPECT_EQ(err.message, "config.budgets[1]: another budget is named \"client\"");
  parse(R"([{"max_tokens":"10"}])", &err);
  EXPECT_NE(err.message.find("config.budgets[0].max_tokens"), std::string::npos) << err.message;
  parse(R"({"max_tokens":1})", &err);
  EXPECT_EQ(err.status, LLMSVC_ESCHEMA);
}

TEST(BucketWindow, CountsForAtLeastTheWindowAndNotMuchLonger) {
  BucketWindow w;
  w.configure(63 * kSec);  // 64 buckets of 1 s
  w.add(10 * kSec, 5);
  w.add(20 * kSec + 1, 7);
  EXPECT_EQ(w.sum(20 * kSec + 2), 12);
  EXPECT_EQ(w.sum(10 * kSec + 63 * kSec), 12);  // a full window later: still counted
  EXPECT_EQ(w.sum(10 * kSec + 64 * kSec), 7);   // one bucket more: gone
  EXPECT_EQ(w.sum(20 * kSec + 64 * kSec), 0);
  BucketWindow life;
  life.configure(0);
  life.add(1, 3);
  life.add(int64_t(1) << 60, 4);
  EXPECT_EQ(life.sum(int64_t(1) << 61), 7);
}

TEST(Budgets, HoldsEstimatesUntilSettledAndRefusesBeyond) {
  Budgets b;
  b.configure(parse(R"([{"max_tokens":1000}])"));
  std::vector<Budgets::Hold> h1, h2, h3;
  std::string why;
  ASSERT_TRUE(b.admit(0, "default", "m", 600, 0, h1, why));
  // Held in flight: a second request that would overrun together is refused.
  EXPECT_FALSE(b.admit(0, "default", "m", 500, 0, h2, why));
  EXPECT_NE(why.find("budget \"client\""), std::string::npos) << why;
  EXPECT_NE(why.find("600 of 1000"), std::string::npos) << why;
  // The first used less than it held: the rest comes back.
  b.settle(1, h1, 200, 0);
  ASSERT_TRUE(b.admit(2, "default", "m", 500, 0, h2, why)) << why;
  b.settle(3, h2, 500, 0);
  EXPECT_FALSE(b.admit(4, "default", "m", 301, 0, h3, why));
  EXPECT_TRUE(b.admit(4, "default", "m", 300, 0, h3, why));
}

TEST(Budgets, ApplyByOperationAndNeedAPriceForCost) {
  Budgets b;
  b.configure(parse(R"([{"operation":"summarise","max_cost_usd":0.000001}])"));
  std::vector<Budgets::Hold> h;
  std::string why;
  EXPECT_TRUE(b.admit(0, "classify", "m", 1 << 20, -1, h, why));  // not its operation
  EXPECT_TRUE(h.empty());
  EXPECT_FALSE(b.admit(0, "summarise", "mystery-model", 10, -1, h, why));
  EXPECT_NE(why.find("no price is known for model \"mystery-model\""), std::string::npos) << why;
  EXPECT_TRUE(b.admit(0, "summarise", "m", 10, 600000, h, why)) << why;  // $0.0000006
  EXPECT_FALSE(b.admit(0, "summarise", "m", 10, 600000, h, why));
  EXPECT_NE(why.find("$0.000001"), std::string::npos) << why;
}

TEST(Budgets, WindowsForgetAndRunTimeChangesKeepSpending) {
  Budgets b;
  b.configure(parse(R"([{"name":"hourly","window_ms":63000,"max_tokens":100}])"));
  std::vector<Budgets::Hold> h;
  std::string why;
  ASSERT_TRUE(b.admit(0, "default", "m", 100, 0, h, why));
  b.settle(kSec, h, 100, 0);
  EXPECT_FALSE(b.admit(2 * kSec, "default", "m", 1, 0, h, why));
  // Raised at run time under the same name: what was spent still counts.
  b.configure(parse(R"([{"name":"hourly","window_ms":63000,"max_tokens":150}])"));
  EXPECT_TRUE(b.admit(3 * kSec, "default", "m", 50, 0, h, why)) << why;
  b.settle(3 * kSec, h, 50, 0);
  EXPECT_FALSE(b.admit(4 * kSec, "default", "m", 1, 0, h, why));
  // The first request's spending leaves the window; the second's not yet.
  EXPECT_TRUE(b.admit(kSec + 64 * kSec, "default", "m", 100, 0, h, why)) << why;
  // A request held across a change settles harmlessly against a removed budget.
  b.configure({});
  EXPECT_TRUE(b.empty());
  b.settle(70 * kSec, h, 100, 0);
}
