// Spending budgets: tokens and cost per client or per operation, over the client's life or a
// sliding time window (a day, an hour). Unlike a rate gate a budget never makes a request
// wait: a request that would go over it fails before it is sent. Requests in flight hold
// their estimate until their real usage is known, so concurrent requests cannot overrun a
// budget together. Engine thread only; times are arguments.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/json.h"

namespace llmsvc {

class PromText;

struct BudgetSpec {
  std::string name;       // identifies it across set_budgets calls; default from the others
  std::string operation;  // empty: every request of the client
  int64_t window_ms = 0;  // 0: over the client's whole life
  int64_t max_tokens = 0;     // input + output; 0: no token budget
  int64_t max_cost_pico = 0;  // 0: no cost budget
};

/// Parses a "budgets" array (docs/schema.md).
DocError parse_budgets(const JsonValue &v, const std::string &path, std::vector<BudgetSpec> &out);

/// Amounts over a sliding window kept in 64 buckets: an amount counts for at least the
/// window and at most one bucket (1/63 of it) longer, so the sum is never too small.
class BucketWindow {
 public:
  void configure(int64_t window_ns);  // 0: amounts never expire
  void add(int64_t now, int64_t amount);
  int64_t sum(int64_t now) const;

 private:
  static constexpr int64_t kBuckets = 64;
  int64_t width_ns_ = 0;  // 0: one running total
  int64_t total_ = 0;
  std::array<int64_t, kBuckets> amount_{};
  std::array<int64_t, kBuckets> epoch_{};  // which bucket number a slot holds
};

class Budgets {
 public:
  /// What one request holds of one budget until it completes.
  struct Hold {
    uint64_t budget = 0;
    int64_t tokens = 0;
    int64_t cost_pico = 0;
  };

  /// Replaces the budgets; a budget with the name of an existing one keeps its spending.
  void configure(std::vector<BudgetSpec> specs);
  bool empty() const { return trackers_.empty(); }

  /// Takes `tokens` and `cost_pico` (-1: no price known) from every budget that applies to
  /// `operation`, or none of them: on refusal `why` names the budget and the numbers.
  bool admit(int64_t now, const std::string &operation, const std::string &model, int64_t tokens,
             int64_t cost_pico, std::vector<Hold> &holds, std::string &why);
  /// The request completed having used `tokens` and `cost_pico` (-1: unknown, its estimate
  /// is counted instead).
  void settle(int64_t now, const std::vector<Hold> &holds, int64_t tokens, int64_t cost_pico);
  void write(JsonWriter &w, int64_t now) const;
  void write_prometheus(PromText &t, int64_t now) const;

 private:
  struct Tracker {
    BudgetSpec spec;
    uint64_t id = 0;
    BucketWindow tokens;
    BucketWindow cost;
    int64_t held_tokens = 0;
    int64_t held_cost = 0;
    int64_t rejected = 0;
  };
  Tracker *find(uint64_t id);

  std::vector<Tracker> trackers_;
  uint64_t next_id_ = 1;
};

}  // namespace llmsvc
