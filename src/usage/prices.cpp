#include "usage/prices.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "llmsvc.h"

namespace llmsvc {
namespace {

// USD per million tokens: input, cached input, output; cache write (Anthropic) or -1.
struct BuiltinPrice {
  const char *model;
  double input, cached, output, cache_write;
};

// OpenAI's flex and priority tiers where they are priced apart: input, cached, output.
struct BuiltinTier {
  const char *model;
  const char *tier;
  double input, cached, output;
};

constexpr BuiltinTier kTiers[] = {
    {"gpt-5", "flex", 0.625, 0.0625, 5.00},      {"gpt-5", "priority", 2.50, 0.25, 20.00},
    {"gpt-5-mini", "flex", 0.125, 0.0125, 1.00}, {"gpt-5-mini", "priority", 0.45, 0.045, 3.60},
    {"gpt-5-nano", "flex", 0.025, 0.0025, 0.20}, {"gpt-4.1", "priority", 3.50, 0.875, 14.00},
    {"gpt-4.1-mini", "priority", 0.70, 0.175, 2.80}, {"gpt-4o", "priority", 4.25, 2.125, 17.00},
    {"o3", "flex", 1.00, 0.25, 4.00},            {"o3", "priority", 3.50, 0.875, 14.00},
    {"o4-mini", "flex", 0.55, 0.138, 2.20},      {"o4-mini", "priority", 2.00, 0.50, 8.00},
};

// Public list prices (standard tier) of current models.
constexpr BuiltinPrice kBuiltin[] = {
    {"gpt-5", 1.25, 0.125, 10.00, -1},
    {"gpt-5-mini", 0.25, 0.025, 2.00, -1},
    {"gpt-5-nano", 0.05, 0.005, 0.40, -1},
    {"gpt-5-chat-latest", 1.25, 0.125, 10.00, -1},
    {"gpt-4.1", 2.00, 0.50, 8.00, -1},
    {"gpt-4.1-mini", 0.40, 0.10, 1.60, -1},
    {"gpt-4.1-nano", 0.10, 0.025, 0.40, -1},
    {"gpt-4o", 2.50, 1.25, 10.00, -1},
    {"gpt-4o-mini", 0.15, 0.075, 0.60, -1},
    {"gpt-4-turbo", 10.00, -1, 30.00, -1},
    {"gpt-4", 30.00, -1, 60.00, -1},
    {"gpt-3.5-turbo", 0.50, -1, 1.50, -1},
    // Embeddings: input only.
    {"text-embedding-3-small", 0.02, -1, 0.0, -1},
    {"text-embedding-3-large", 0.13, -1, 0.0, -1},
    {"text-embedding-ada-002", 0.10, -1, 0.0, -1},
    {"o1", 15.00, 7.50, 60.00, -1},
    {"o1-mini", 1.10, 0.55, 4.40, -1},
    {"o3", 2.00, 0.50, 8.00, -1},
    {"o3-mini", 1.10, 0.55, 4.40, -1},
    {"o3-pro", 20.00, -1, 80.00, -1},
    {"o4-mini", 1.10, 0.275, 4.40, -1},
    {"claude-opus-4-1", 15.00, 1.50, 75.00, 18.75},
    {"claude-opus-4", 15.00, 1.50, 75.00, 18.75},
    {"claude-sonnet-4-5", 3.00, 0.30, 15.00, 3.75},
    {"claude-sonnet-4", 3.00, 0.30, 15.00, 3.75},
    {"claude-3-7-sonnet", 3.00, 0.30, 15.00, 3.75},
    {"claude-3-5-sonnet", 3.00, 0.30, 15.00, 3.75},
    {"claude-haiku-4-5", 1.00, 0.10, 5.00, 1.25},
    {"claude-3-5-haiku", 0.80, 0.08, 4.00, 1.00},
    {"claude-3-haiku", 0.25, 0.03, 1.25, 0.30},
    // Gemini, prompts up to 200k tokens; thinking is billed as output.
    {"gemini-2.5-pro", 1.25, 0.125, 10.00, -1},
    {"gemini-2.5-flash", 0.30, 0.03, 2.50, -1},
    {"gemini-2.5-flash-lite", 0.10, 0.01, 0.40, -1},
    {"gemini-2.0-flash", 0.10, 0.025, 0.40, -1},
    {"gemini-2.0-flash-lite", 0.075, 0.075, 0.30, -1},
    {"gemini-embedding-001", 0.15, -1, 0.0, -1},
    // Amazon Nova on Bedrock (on-demand, us-east-1).
    {"nova-micro", 0.035, 0.00875, 0.14, -1},
    {"nova-lite", 0.06, 0.015, 0.24, -1},
    {"nova-pro", 0.80, 0.20, 3.20, -1},
};

__extension__ typedef __int128 Wide;  // GCC and clang: exact products of two int64s

// The largest price per token a price entry may give (1e18 pico-USD fits in int64).
constexpr double kMaxUsdPerToken = 1e6;

// USD per token to pico-USD per token, rounded to the nearest (prices have few digits).
int64_t usd_to_pico(double usd) { return std::llround(usd * 1e12); }
int64_t per_million_to_pico(double usd_per_million) { return std::llround(usd_per_million * 1e6); }

}  // namespace

PriceTable PriceTable::builtin() {
  PriceTable t;
  for (const auto &b : kBuiltin) {
    ModelPrice p;
    p.input = per_million_to_pico(b.input);
    p.output = per_million_to_pico(b.output);
    p.cached_input = b.cached < 0 ? -1 : per_million_to_pico(b.cached);
    p.cache_write = b.cache_write < 0 ? -1 : per_million_to_pico(b.cache_write);
    // Anthropic prices an hour-long cache write at twice the input price (5 minutes: 1.25).
    if (b.cache_write >= 0) p.cache_write_1h = per_million_to_pico(2 * b.input);
    t.prices_.emplace(b.model, p);
  }
  for (const auto &b : kTiers) {
    ModelPrice &p = t.prices_[b.model];
    ModelPrice::Tier &tier = std::string_view(b.tier) == "flex" ? p.flex : p.priority;
    tier = {per_million_to_pico(b.input), per_million_to_pico(b.cached), per_million_to_pico(b.output)};
  }
  return t;
}

DocError PriceTable::merge(const JsonValue &doc, const std::string &path) {
  if (!doc.IsObject())
    return {LLMSVC_ESCHEMA, path + ": expected an object of model prices"};
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string name(sv(it->name));
    const JsonValue &v = it->value;
    std::string where = path + "." + name;
    if (!v.IsObject()) return {LLMSVC_ESCHEMA, where + ": expected an object"};
    auto num = [&](const char *field, int64_t &out, bool &seen) -> DocError {
      auto m = v.FindMember(field);
      if (m == v.MemberEnd() || m->value.IsNull()) return {};
      if (!m->value.IsNumber() || m->value.GetDouble() < 0)
        return {LLMSVC_ESCHEMA, where + "." + field + ": expected a non-negative number"};
      if (m->value.GetDouble() > kMaxUsdPerToken)  // pico-USD would not fit in int64
        return {LLMSVC_ESCHEMA, where + "." + field + ": above 1000000 USD per token"};
      out = usd_to_pico(m->value.GetDouble());
      seen = true;
      return {};
    };
    ModelPrice p;
    bool has_in = false, has_out = false, unused = false;
    DocError err;
    if ((err = num("input_cost_per_token", p.input, has_in)) ||
        (err = num("output_cost_per_token", p.output, has_out)) ||
        (err = num("cache_read_input_token_cost", p.cached_input, unused)) ||
        (err = num("output_cost_per_reasoning_token", p.reasoning_output, unused)) ||
        (err = num("cache_creation_input_token_cost", p.cache_write, unused)) ||
        (err = num("cache_creation_input_token_cost_above_1hr", p.cache_write_1h, unused)) ||
        (err = num("input_cost_per_token_flex", p.flex.input, unused)) ||
        (err = num("output_cost_per_token_flex", p.flex.output, unused)) ||
        (err = num("cache_read_input_token_cost_flex", p.flex.cached_input, unused)) ||
        (err = num("input_cost_per_token_priority", p.priority.input, unused)) ||
        (err = num("output_cost_per_token_priority", p.priority.output, unused)) ||
        (err = num("cache_read_input_token_cost_priority", p.priority.cached_input, unused)) ||
        (err = num("input_cost_per_token_batches", p.batch.input, unused)) ||
        (err = num("output_cost_per_token_batches", p.batch.output, unused)))
      return err;
    if (name == "sample_spec" || (!has_in && !has_out)) continue;
    prices_[name] = p;
  }
  return {};
}

DocError PriceTable::merge_file(const std::string &file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {LLMSVC_EINVAL, "prices_file: cannot open \"" + file + "\""};
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  JsonDoc doc;
  DocError err = parse_json(doc, text, ("prices_file \"" + file + "\"").c_str());
  if (err) return err;
  return merge(doc, "prices_file");
}

void PriceTable::set_free(const std::string &model) { prices_[model] = ModelPrice{}; }

const ModelPrice *PriceTable::find(std::string_view model) const {
  if (auto slash = model.find('/'); slash != std::string_view::npos) {
    if (auto it = prices_.find(std::string(model)); it != prices_.end()) return &it->second;
    model = model.substr(slash + 1);
  }
  std::string key(model);
  if (auto it = prices_.find(key); it != prices_.end()) return &it->second;
  // Longest priced prefix that ends where the model name has a '-': dated snapshots.
  for (size_t cut = key.rfind('-'); cut != std::string::npos && cut > 0;
       cut = key.rfind('-', cut - 1)) {
    if (auto it = prices_.find(key.substr(0, cut)); it != prices_.end()) return &it->second;
  }
  // Bedrock's ids put the vendor (and an inference profile's geography) first, with dots:
  // "us.anthropic.claude-3-5-haiku-20241022-v1:0" is priced as "claude-3-5-haiku".
  size_t dot = model.substr(0, model.find('-')).rfind('.');
  if (dot != std::string_view::npos && dot + 1 < model.size()) return find(model.substr(dot + 1));
  return nullptr;
}

int64_t cost_pico(const ModelPrice &p, const TokenUsage &u) {
  int64_t cached = std::min(u.cached, u.prompt);
  int64_t writes = std::min(u.cache_write, u.prompt - cached);
  int64_t writes_1h = std::clamp<int64_t>(u.cache_write_1h, 0, writes);
  writes -= writes_1h;
  int64_t fresh = u.prompt - cached - writes - writes_1h;
  int64_t reasoning = std::min(u.reasoning, u.completion);
  int64_t cached_rate = p.cached_input >= 0 ? p.cached_input : p.input;
  int64_t write_rate = p.cache_write >= 0 ? p.cache_write : p.input;
  int64_t write_1h_rate = p.cache_write_1h >= 0 ? p.cache_write_1h : write_rate;
  int64_t reasoning_rate = p.reasoning_output >= 0 ? p.reasoning_output : p.output;
  // In 128 bits: a price of up to 1e18 times any int64 count cannot overflow there. A
  // cost beyond int64 pico-USD (9.2 million USD) is unknown rather than wrapped.
  Wide cost = Wide(fresh) * p.input + Wide(cached) * cached_rate +
                  Wide(writes) * write_rate + Wide(writes_1h) * write_1h_rate +
                  Wide(u.completion - reasoning) * p.output +
                  Wide(reasoning) * reasoning_rate;
  return cost < 0 || cost > INT64_MAX ? -1 : int64_t(cost);
}

int64_t PriceTable::cost_pico(std::string_view model, const TokenUsage &u) const {
  const ModelPrice *p = find(model);
  return p ? llmsvc::cost_pico(*p, u) : -1;
}

int64_t PriceTable::cost_pico(std::string_view model, const TokenUsage &u,
                              std::string_view tier) const {
  const ModelPrice *p = find(model);
  if (!p) return -1;
  if (tier == "batch") {
    if (p->batch.input < 0 && p->batch.output < 0) {
      // Half of every rate; the built-in rates are even numbers of pico-USD, so exact.
      int64_t full = llmsvc::cost_pico(*p, u);
      return full < 0 ? -1 : full / 2;
    }
    // The rates given; every other one at half the standard.
    auto half = [](int64_t rate) { return rate < 0 ? -1 : rate / 2; };
    ModelPrice at = *p;
    at.input = p->batch.input >= 0 ? p->batch.input : p->input / 2;
    at.output = p->batch.output >= 0 ? p->batch.output : p->output / 2;
    at.cached_input = half(p->cached_input);
    at.cache_write = half(p->cache_write);
    at.cache_write_1h = half(p->cache_write_1h);
    at.reasoning_output = p->batch.output >= 0 ? -1 : half(p->reasoning_output);
    return llmsvc::cost_pico(at, u);
  }
  const ModelPrice::Tier *t = tier == "flex" ? &p->flex : tier == "priority" ? &p->priority : nullptr;
  if (!t || t->input < 0) return llmsvc::cost_pico(*p, u);
  ModelPrice at = *p;  // the tier's rates; what it does not give is the standard one's
  at.input = t->input;
  at.cached_input = t->cached_input;
  if (t->output >= 0) at.output = t->output;
  at.reasoning_output = -1;
  return llmsvc::cost_pico(at, u);
}

}  // namespace llmsvc
