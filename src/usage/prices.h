// Model prices, kept in integer pico-dollars per token so that totals are exact; costs
// are reported in nano-dollars. A model without a known price has an unknown cost.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/json.h"

namespace llmsvc {

struct ModelPrice {
  int64_t input = 0;             // pico-USD per prompt token not read from cache
  int64_t output = 0;            // pico-USD per completion token
  int64_t cached_input = -1;     // per cached prompt token; -1: same as input
  int64_t reasoning_output = -1; // per reasoning token; -1: same as output
  int64_t cache_write = -1;      // per cache-creation token; -1: same as input
  int64_t cache_write_1h = -1;   // per token written for an hour; -1: same as cache_write
  /// Prices of a service tier other than the standard one (OpenAI's flex and priority):
  /// input, cached input and output; input -1 when the tier is priced as standard.
  struct Tier {
    int64_t input = -1, cached_input = -1, output = -1;
  };
  Tier flex, priority;
  /// Provider batch jobs (OpenAI's Batch API, Anthropic's Message Batches): input and
  /// output when given (LiteLLM's input_cost_per_token_batches / output_…); otherwise
  /// every rate at half the standard one, as both providers price them.
  Tier batch;
};

struct TokenUsage {
  int64_t prompt = 0;      // all prompt tokens, cached ones included
  int64_t completion = 0;  // all completion tokens, reasoning ones included
  int64_t cached = 0;
  int64_t reasoning = 0;
  int64_t cache_write = 0;
  int64_t cache_write_1h = 0;  // of cache_write, the writes kept for an hour (Anthropic)
};

class PriceTable {
 public:
  /// The built-in table of current OpenAI and Anthropic models.
  static PriceTable builtin();

  /// Adds or replaces entries from a LiteLLM-style document: an object whose keys are model
  /// names and whose values carry input_cost_per_token, output_cost_per_token,
  /// cache_read_input_token_cost, output_cost_per_reasoning_token,
  /// cache_creation_input_token_cost, cache_creation_input_token_cost_above_1hr and the
  /// tiers' input_cost_per_token_flex / _priority, output_…, cache_read_input_token_cost_…
  /// (USD per token). Other fields are ignored, and so
  /// are entries without input and output prices (LiteLLM's "sample_spec").
  DocError merge(const JsonValue &doc, const std::string &path);
  DocError merge_file(const std::string &file);
  /// Marks a model as free (local models): its cost is a known zero.
  void set_free(const std::string &model);

  /// Exact name first, then the longest known name that is a prefix followed by '-'
  /// ("gpt-4o-2024-08-06" is priced as "gpt-4o"), with a "provider/" prefix stripped.
  const ModelPrice *find(std::string_view model) const;

  /// Cost in pico-USD, or -1 when the model has no known price (or the cost is beyond
  /// int64 pico-USD).
  int64_t cost_pico(std::string_view model, const TokenUsage &u) const;
  /// The same at the service tier the provider used ("flex", "priority"; "batch" for a
  /// provider batch job; others standard).
  int64_t cost_pico(std::string_view model, const TokenUsage &u, std::string_view tier) const;

  size_t size() const { return prices_.size(); }

 private:
  std::unordered_map<std::string, ModelPrice> prices_;
};

int64_t cost_pico(const ModelPrice &p, const TokenUsage &u);

}  // namespace llmsvc
