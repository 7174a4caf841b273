#include "gates/budgets.h"

#include <cmath>

#include "common/clock.h"
#include "metrics/prometheus.h"
#include "llmsvc.h"

namespace llmsvc {

DocError parse_budgets(const JsonValue &v, const std::string &path, std::vector<BudgetSpec> &out) {
  if (!v.IsArray()) return {LLMSVC_ESCHEMA, path + ": expected an array of budgets"};
  out.clear();
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    std::string at = path + "[" + std::to_string(i) + "]";
    if (!v[i].IsObject()) return {LLMSVC_ESCHEMA, at + ": expected an object"};
    ObjectReader r(v[i], at);
    static const char *const known[] = {"name",       "operation",    "window_ms",
                                        "max_tokens", "max_cost_usd", nullptr};
    BudgetSpec b;
    DocError err;
    double usd = 0;
    bool has_usd = false;
    if (!r.only(known, err) || !r.get_string("name", b.name, err) ||
        !r.get_string("operation", b.operation, err) ||
        !r.get_int("window_ms", b.window_ms, err, 0, int64_t(366) * 24 * 3600 * 1000) ||
        !r.get_int("max_tokens", b.max_tokens, err, 1, int64_t(1) << 50) ||
        !r.get_double("max_cost_usd", usd, has_usd, err, 0.0, 1e6))
      return err;
    if (has_usd) {
      b.max_cost_pico = std::llround(usd * 1e12);
      if (b.max_cost_pico <= 0) return {LLMSVC_ESCHEMA, at + ".max_cost_usd: must be above 0"};
    }
    if (!b.max_tokens && !b.max_cost_pico)
      return {LLMSVC_ESCHEMA, at + ": give max_tokens, max_cost_usd or both"};
    if (b.name.empty()) {
      b.name = b.operation.empty() ? "client" : "operation:" + b.operation;
      if (b.window_ms) b.name += "/" + std::to_string(b.window_ms) + "ms";
    }
    for (const BudgetSpec &o : out)
      if (o.name == b.name)
        return {LLMSVC_ESCHEMA, at + ": another budget is named \"" + b.name + "\""};
    out.push_back(std::move(b));
  }
  return {};
}

void BucketWindow::configure(int64_t window_ns) {
  width_ns_ = window_ns > 0 ? (window_ns + kBuckets - 2) / (kBuckets - 1) : 0;
  total_ = 0;
  amount_.fill(0);
  epoch_.fill(-1);
}

void BucketWindow::add(int64_t now, int64_t amount) {
  if (!width_ns_) {
    total_ += amount;
    return;
  }
  int64_t b = now / width_ns_;
  size_t slot = size_t(b % kBuckets);
  if (epoch_[slot] != b) {
    epoch_[slot] = b;
    amount_[slot] = 0;
  }
  amount_[slot] += amount;
}

int64_t BucketWindow::sum(int64_t now) const {
  if (!width_ns_) return total_;
  int64_t b = now / width_ns_;
  int64_t s = 0;
  for (int64_t i = 0; i < kBuckets; ++i)
    if (epoch_[i] > b - kBuckets && epoch_[i] <= b) s += amount_[i];
  return s;
}

void Budgets::configure(std::vector<BudgetSpec> specs) {
  std::vector<Tracker> next;
  next.reserve(specs.size());
  for (BudgetSpec &s : specs) {
    Tracker *old = nullptr;
    for (Tracker &t : trackers_)
      if (t.spec.name == s.name) old = &t;
    if (old && old->spec.window_ms == s.window_ms && old->spec.operation == s.operation) {
      next.push_back(std::move(*old));  // same budget, new bounds: spending carries over
      next.back().spec = std::move(s);
      continue;
    }
    Tracker t;
    t.spec = std::move(s);
    t.id = next_id_++;
    t.tokens.configure(t.spec.window_ms * kNsPerMs);
    t.cost.configure(t.spec.window_ms * kNsPerMs);
    next.push_back(std::move(t));
  }
  trackers_ = std::move(next);
}

Budgets::Tracker *Budgets::find(uint64_t id) {
  for (Tracker &t : trackers_)
    if (t.id == id) return &t;
  return nullptr;
}

namespace {

std::string usd(int64_t pico) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "$%.6f", double(pico) / 1e12);
  return buf;
}

}  // namespace

bool Budgets::admit(int64_t now, const std::string &operation, const std::string &model,
                    int64_t tokens, int64_t cost_pico, std::vector<Hold> &holds,
                    std::string &why) {
  holds.clear();
  for (Tracker &t : trackers_) {
    if (!t.spec.operation.empty() && t.spec.operation != operation) continue;
    std::string name = "budget \"" + t.spec.name + "\"";
    if (t.spec.max_tokens) {
      int64_t used = t.tokens.sum(now) + t.held_tokens;
      if (used + tokens > t.spec.max_tokens) {
        ++t.rejected;
        why = name + ": the request may use up to " + std::to_string(tokens) + " tokens and " +
              std::to_string(used) + " of " + std::to_string(t.spec.max_tokens) +
              " are spent or held";
        return false;
      }
    }
    if (t.spec.max_cost_pico) {
      if (cost_pico < 0) {
        ++t.rejected;
        why = name + " limits cost, but no price is known for model \"" + model +
              "\" (add it to prices, or to free_models when it costs nothing)";
        return false;
      }
      int64_t used = t.cost.sum(now) + t.held_cost;
      if (used + cost_pico > t.spec.max_cost_pico) {
        ++t.rejected;
        why = name + ": the request may cost up to " + usd(cost_pico) + " and " + usd(used) +
              " of " + usd(t.spec.max_cost_pico) + " is spent or held";
        return false;
      }
    }
    holds.push_back({t.id, tokens, cost_pico < 0 ? 0 : cost_pico});
  }
  for (const Hold &h : holds) {
    Tracker *t = find(h.budget);
    t->held_tokens += h.tokens;
    t->held_cost += h.cost_pico;
  }
  return true;
}

void Budgets::settle(int64_t now, const std::vector<Hold> &holds, int64_t tokens,
                     int64_t cost_pico) {
  for (const Hold &h : holds) {
    Tracker *t = find(h.budget);
    if (!t) continue;  // replaced since: nothing left to give back
    t->held_tokens -= h.tokens;
    t->held_cost -= h.cost_pico;
    t->tokens.add(now, tokens);
    t->cost.add(now, cost_pico >= 0 ? cost_pico : h.cost_pico);
  }
}

void Budgets::write(JsonWriter &w, int64_t now) const {
  w.StartArray();
  for (const Tracker &t : trackers_) {
    w.StartObject();
    w.Key("name");
    write_str(w, t.spec.name);
    if (!t.spec.operation.empty()) {
      w.Key("operation");
      write_str(w, t.spec.operation);
    }
    w.Key("window_ms");
    w.Int64(t.spec.window_ms);
    if (t.spec.max_tokens) {
      w.Key("max_tokens");
      w.Int64(t.spec.max_tokens);
      w.Key("used_tokens");
      w.Int64(t.tokens.sum(now));
      w.Key("held_tokens");
      w.Int64(t.held_tokens);
    }
    if (t.spec.max_cost_pico) {
      w.Key("max_cost_nano_usd");
      w.Int64(t.spec.max_cost_pico / 1000);
      w.Key("used_cost_nano_usd");
      w.Int64(t.cost.sum(now) / 1000);
      w.Key("held_cost_nano_usd");
      w.Int64(t.held_cost / 1000);
    }
    w.Key("rejected");
    w.Int64(t.rejected);
    w.EndObject();
  }
  w.EndArray();
}

void Budgets::write_prometheus(PromText &t, int64_t now) const {
  t.family("llmsvc_budget_limit", "gauge", "Each budget's bound, tokens or USD.");
  for (const Tracker &k : trackers_) {
    if (k.spec.max_tokens)
      t.sample("llmsvc_budget_limit", {{"budget", k.spec.name}, {"unit", "tokens"}},
               k.spec.max_tokens);
    if (k.spec.max_cost_pico)
      t.sample("llmsvc_budget_limit", {{"budget", k.spec.name}, {"unit", "usd"}},
               double(k.spec.max_cost_pico) / 1e12);
  }
  t.family("llmsvc_budget_used", "gauge",
           "What each budget's window (or life) has spent, tokens or USD; held estimates excluded.");
  for (const Tracker &k : trackers_) {
    t.sample("llmsvc_budget_used", {{"budget", k.spec.name}, {"unit", "tokens"}},
             k.tokens.sum(now));
    t.sample("llmsvc_budget_used", {{"budget", k.spec.name}, {"unit", "usd"}},
             double(k.cost.sum(now)) / 1e12);
  }
  t.family("llmsvc_budget_rejected_total", "counter", "Requests a budget refused.");
  for (const Tracker &k : trackers_)
    t.sample("llmsvc_budget_rejected_total", {{"budget", k.spec.name}}, k.rejected);
}

}  // namespace llmsvc
