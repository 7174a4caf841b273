// The engine's side of deployments: routes built from the configuration, the choice of a
// deployment for each attempt (by the routing strategy, among those whose gates and
// circuit breaker admit it), fallback to the next tier, taking a deployment out of
// rotation and back, and what the snapshot says of them. Engine thread only, except the
// routes, which are read-only after construction.
#include <algorithm>

#include "engine/engine.h"
#include "metrics/prometheus.h"
#include "providers/fields.h"

namespace llmsvc {

void Engine::build_routes() {
  std::vector<DeploymentSpec> specs = config_.deployments;
  const bool implicit = specs.empty();
  if (implicit) {
    // No deployments configured: the client's own endpoint is the one, for every model.
    DeploymentSpec d;
    d.name = "default";
    d.config = config_;
    specs.push_back(std::move(d));
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    deps_.push_back(std::make_unique<Deployment>(specs[i], i));
    deps_.back()->gates.set_wake([this] { wake(); });  // a Redis answer came in
  }
  auto tier_of = [&](const std::string &name) {
    std::vector<Deployment *> tier;
    for (auto &d : deps_)
      if (d->group == name) tier.push_back(d.get());
    if (tier.empty())
      for (auto &d : deps_)
        if (d->name == name) tier.push_back(d.get());
    return tier;
  };
  auto add_route = [&](const std::string &name, std::vector<Deployment *> first,
                       const std::string &group) {
    auto r = std::make_unique<Route>();
    r->name = name;
    r->tiers.push_back(std::move(first));
    const std::vector<std::string> *chain = nullptr;
    for (const auto &[g, names] : config_.routing.fallbacks)
      if (g == group || g == name) chain = &names;
    if (!chain)
      for (const auto &[g, names] : config_.routing.fallbacks)
        if (g == "*") chain = &names;
    if (chain)
      for (const std::string &n : *chain) {
        std::vector<Deployment *> t = tier_of(n);
        if (!t.empty() && std::find(r->tiers.begin(), r->tiers.end(), t) == r->tiers.end())
          r->tiers.push_back(std::move(t));
      }
    r->next.assign(r->tiers.size(), 0);
    const Deployment &a = *r->tiers[0][0];
    for (const auto &t : r->tiers)
      for (const Deployment *d : t)
        if (std::string_view(d->provider->name()) != a.provider->name() ||
            d->config.model != a.config.model)
          r->rebuilds = true;
    route_of_.emplace(name, r.get());
    routes_.push_back(std::move(r));
  };
  if (implicit) {
    add_route("*", {deps_[0].get()}, "");
    any_route_ = routes_[0].get();
    return;
  }
  for (auto &d : deps_)
    if (!route_of_.count(d->group)) add_route(d->group, tier_of(d->group), d->group);
  // A deployment named on its own (where its name is not a group's).
  for (auto &d : deps_)
    if (!route_of_.count(d->name)) add_route(d->name, {d.get()}, d->group);
}

Route *Engine::route_for(const std::string &model) const {
  if (any_route_) return any_route_;
  auto it = route_of_.find(model);
  if (it == route_of_.end()) it = route_of_.find("");  // deployments without a model: any
  return it == route_of_.end() ? nullptr : it->second;
}

std::string embeddings_unserved(const Provider &provider) {
  return std::string("request.input: the ") + provider.name() +
         " provider does not serve embeddings (a request with input): use openai_chat (OpenAI "
         "or an OpenAI-compatible server), azure_openai, gemini or ollama";
}

bool Engine::body_for(Pending *p, Deployment &d, std::string &message) {
  const Deployment *had = p->body_for;
  if (had == &d) return true;
  // The deployment's model, or the request's where it has none (or serves any model).
  const std::string &model = any_route_ || d.config.model.empty() ? p->spec.model : d.config.model;
  if (had && std::string_view(had->provider->name()) == d.provider->name() &&
      model == p->spec.model) {
    p->body_for = &d;  // the same bytes
    return true;
  }
  if (p->spec.embedding && !d.provider->embeds()) {
    message = embeddings_unserved(*d.provider);
    return false;
  }
  if (had) {
    // Another provider or model: only routes that may need it kept the conversation.
    if (p->spec.stream && !d.provider->streams()) {
      message = std::string("the ") + d.provider->name() + " provider does not stream";
      return false;
    }
    if (std::string why = d.provider->unsupported(p->spec); !why.empty()) {
      message = why;
      return false;
    }
  }
  if (!model.empty()) p->spec.model = model;
  p->body.Clear();
  d.provider->build_body(p->spec, p->body);
  if (!p->spec.extra_body_json.empty()) merge_extra_body(p->body, p->spec.extra_body_json);
  p->body_text = p->body.GetString();
  p->body_len = p->body.GetSize();
  p->body_for = &d;
  return true;
}

bool Engine::next_tier(Pending *p) {
  const auto &tiers = p->route->tiers;
  for (size_t t = p->tier + 1; t < tiers.size(); ++t)
    for (const Deployment *d : tiers[t])
      if (!d->out) {
        p->tier = uint32_t(t);
        p->tier_first_attempt = uint32_t(p->attempts.size());
        return true;
      }
  return false;
}

bool Engine::take_out(Deployment &d, llmsvc_error_kind kind, const std::string &why) {
  // Without configured deployments the client's one endpoint stays: each request hears
  // the error itself, as before, and nothing could bring it back.
  if (any_route_) return false;
  if (!d.out) {
    d.out = true;
    d.out_kind = kind;
    d.out_reason = redact(why);
    d.out_since_ms = clock_.wall_ms();
  }
  return true;
}

void Engine::recycle(Pending *p, std::unique_ptr<Transfer> x) {
  p->dep->idle.push_back(std::move(x));
}

Engine::Pick Engine::pick(Pending *p, int64_t now, GateDecision &wait) {
  Route &route = *p->route;
  for (;;) {
    const std::vector<Deployment *> &tier = route.tiers[p->tier];
    const size_t n = tier.size();
    // Candidates in the strategy's order; checking stops at the first that admits, so a
    // gate shared through Redis is asked (and reserves) only where the request goes.
    std::vector<Deployment *> &order = pick_scratch_;
    order.clear();
    Deployment *too_large = nullptr;
    std::string unusable;
    const size_t start = route.next[p->tier] % n;
    for (size_t k = 0; k < n; ++k) {
      Deployment *d = tier[(start + k) % n];
      if (d->out) continue;
      if (d->gates.too_large(p->reserved) != GateReason::kNone) {
        too_large = d;
        continue;
      }
      if (route.rebuilds && p->body_for != d) {
        if ((p->spec.stream && !d->provider->streams()) ||
            !d->provider->unsupported(p->spec).empty()) {
          unusable = d->name;
          continue;
        }
      }
      order.push_back(d);
    }
    if (order.empty()) {
      if (next_tier(p)) continue;
      if (too_large) {
        finish(p, LLMSVC_KIND_INVALID_REQUEST, too_large_message(*too_large, p->reserved), now);
      } else {
        // Every deployment it may use is out of rotation: say why, per deployment.
        std::string msg = "every deployment it may use is out of rotation:";
        llmsvc_error_kind kind = LLMSVC_KIND_INVALID_REQUEST;
        for (const auto &t : route.tiers)
          for (const Deployment *d : t)
            if (d->out) {
              msg += " " + d->name + " (" + llmsvc_error_kind_name(d->out_kind) + ": " +
                     d->out_reason + ")";
              if (kind == LLMSVC_KIND_INVALID_REQUEST) kind = d->out_kind;
            }
        if (!unusable.empty()) msg += "; " + unusable + " cannot serve this request";
        finish(p, kind, std::move(msg), now);
      }
      return Pick::kFailed;
    }
    switch (config_.routing.strategy) {
      case RoutingConfig::Strategy::kRoundRobin: break;  // in turn from where it stopped
      case RoutingConfig::Strategy::kLeastLoaded: {
        std::vector<std::pair<double, Deployment *>> &room = room_scratch_;
        room.clear();
        for (Deployment *d : order) room.emplace_back(-d->headroom(now), d);
        std::stable_sort(room.begin(), room.end(),
                         [](const auto &a, const auto &b) { return a.first < b.first; });
        for (size_t i = 0; i < room.size(); ++i) order[i] = room[i].second;
        break;
      }
      case RoutingConfig::Strategy::kLowestLatency:
        // Untried first (-1), so every deployment gets measured.
        std::stable_sort(order.begin(), order.end(), [](const Deployment *a, const Deployment *b) {
          return a->latency_ewma_ns < b->latency_ewma_ns;
        });
        break;
      case RoutingConfig::Strategy::kWeighted: {
        // A weighted draw for the first place, then the next among the rest, and so on.
        for (size_t i = 0; i + 1 < order.size(); ++i) {
          int64_t total = 0;
          for (size_t j = i; j < order.size(); ++j) total += order[j]->weight;
          if (total <= 0) break;
          int64_t x = std::uniform_int_distribution<int64_t>(0, total - 1)(rng_);
          size_t j = i;
          while (x >= order[j]->weight) x -= order[j++]->weight;
          std::swap(order[i], order[j]);
        }
        break;
      }
    }
    wait = {false, kNever, GateReason::kNone};
    bool all_open = true;
    for (Deployment *d : order) {
      int64_t until = kNever;
      if (!d->breaker.would_admit(now, until)) {
        if (wait.reason == GateReason::kNone || until < wait.wait_until)
          wait = {false, until, GateReason::kCircuitOpen};
        continue;
      }
      all_open = false;
      GateDecision g = d->gates.check(now, p->reserved);
      if (!g.admit) {
        if (wait.reason == GateReason::kNone || g.wait_until < wait.wait_until) wait = g;
        continue;
      }
      std::string why;
      if (!body_for(p, *d, why)) {
        // Checked above; a provider that changed its mind is a bug, not a wait.
        finish(p, LLMSVC_KIND_INTERNAL, "deployment " + d->name + ": " + why, now);
        return Pick::kFailed;
      }
      bool probe = false;
      int64_t ignored = kNever;
      d->breaker.admit(now, probe, ignored);
      p->breaker_probe = probe;
      p->dep = d;
      if (config_.routing.strategy == RoutingConfig::Strategy::kRoundRobin)
        route.next[p->tier] = size_t(std::find(tier.begin(), tier.end(), d) - tier.begin()) + 1;
      return Pick::kChosen;
    }
    // Every circuit of the tier open: the next tier, if any, rather than waiting.
    if (all_open && next_tier(p)) continue;
    // The provider paused every deployment it may use for longer than a retry may wait, or
    // past its deadline: rate limited now, with the wait, rather than a hang.
    if (wait.reason == GateReason::kPaused) {
      const int64_t left = wait.wait_until - now;
      const bool too_long = left > config_.retry.max_retry_after_ms * kNsPerMs;
      if (too_long || (p->deadline_ns != kNever && wait.wait_until >= p->deadline_ns)) {
        if (next_tier(p)) continue;
        p->retry_after_ns = left;
        std::string msg = "the provider paused " +
                          (any_route_ ? std::string("the key") : "every deployment it may use") +
                          " for " + std::to_string(left / kNsPerMs) + " ms more (retry-after), ";
        msg += too_long ? "longer than retry.max_retry_after_ms " +
                              std::to_string(config_.retry.max_retry_after_ms)
                        : "past the deadline (timeout_ms " + std::to_string(p->spec.timeout_ms) + ")";
        if (!p->error_message.empty()) msg += "; last error: " + p->error_message;
        finish(p, LLMSVC_KIND_RATE_LIMITED, std::move(msg), now);
        return Pick::kFailed;
      }
    }
    return Pick::kWait;
  }
}

int Engine::set_deployment(std::string_view json, std::string &message) {
  JsonDoc doc;
  DocError err = parse_json(doc, json, "deployment");
  if (!err && !doc.IsObject()) err = {LLMSVC_ESCHEMA, "deployment: expected an object"};
  std::string name;
  bool enabled = true, has_enabled = false;
  int64_t weight = -1;
  const JsonValue *limits = nullptr;
  if (!err) {
    ObjectReader r(doc, "deployment");
    static const char *const known[] = {"name", "enabled", "weight", "limits", nullptr};
    if (r.only(known, err) && r.get_string("name", name, err) &&
        r.get_bool("enabled", enabled, err) && r.get_int("weight", weight, err, 0, 1000000) &&
        r.get_object("limits", limits, err)) {
      has_enabled = r.find("enabled") != nullptr;
      if (!r.find("weight")) weight = -1;
      if (name.empty()) err = {LLMSVC_ESCHEMA, "deployment.name: missing"};
    }
  }
  if (!err) {
    run_on_engine([&] {
      Deployment *d = nullptr;
      for (auto &x : deps_)
        if (x->name == name) d = x.get();
      if (!d) {
        err = {LLMSVC_ESCHEMA, "deployment.name: no deployment is named \"" + name + "\""};
        return;
      }
      Limits l = d->gates.limits();
      if (limits && (err = parse_limits(*limits, "deployment.limits", l))) return;
      if (limits) d->gates.set_limits(l);
      if (weight >= 0) d->weight = weight;
      if (has_enabled && enabled && d->out) {
        d->out = false;
        d->out_kind = LLMSVC_KIND_NONE;
        d->out_reason.clear();
      } else if (has_enabled && !enabled && !d->out) {
        d->out = true;
        d->out_kind = LLMSVC_KIND_PERMISSION;
        d->out_reason = "taken out of rotation by llmsvc_client_set_deployment";
        d->out_since_ms = clock_.wall_ms();
      }
    });
  }
  if (err) message = err.message;
  return err.status;
}

void Engine::write_deployments(JsonWriter &w, int64_t now) {
  if (any_route_) return;
  w.Key("routing");
  w.StartObject();
  w.Key("strategy");
  w.String(routing_strategy_name(config_.routing.strategy));
  w.Key("routes");
  w.StartArray();
  for (const auto &r : routes_) {
    w.StartObject();
    w.Key("name");
    write_str(w, r->name);
    w.Key("tiers");
    w.StartArray();
    for (const auto &t : r->tiers) {
      w.StartArray();
      for (const Deployment *d : t) write_str(w, d->name);
      w.EndArray();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.Key("deployments");
  w.StartArray();
  for (auto &dp : deps_) {
    Deployment &d = *dp;
    w.StartObject();
    w.Key("name");
    write_str(w, d.name);
    w.Key("group");
    write_str(w, d.group);
    w.Key("provider");
    w.String(d.provider->name());
    w.Key("model");
    write_str(w, d.config.model);
    w.Key("base_url");
    write_str(w, d.config.base_url);
    w.Key("weight");
    w.Int64(d.weight);
    w.Key("in_rotation");
    w.Bool(!d.out);
    if (d.out) {
      w.Key("out_kind");
      w.String(llmsvc_error_kind_name(d.out_kind));
      w.Key("out_reason");
      write_str(w, d.out_reason);
      w.Key("out_since_unix_ms");
      w.Int64(d.out_since_ms);
    }
    w.Key("attempts");
    w.Int64(d.attempts);
    w.Key("failed_attempts");
    w.Int64(d.failed_attempts);
    w.Key("served");
    w.Int64(d.served);
    w.Key("in_flight");
    w.Int64(d.in_flight);
    w.Key("latency_ms");
    if (d.latency_ewma_ns >= 0) w.Double(double(d.latency_ewma_ns) / 1e6);
    else w.Null();
    w.Key("headroom");
    w.Double(d.headroom(now));
    w.Key("requests_in_window");
    w.Int64(d.gates.requests_used(now));
    w.Key("tokens_in_window");
    w.Int64(d.gates.tokens_used(now));
    w.Key("paused_ms");
    w.Int64(std::max<int64_t>(d.gates.paused_until() - now, 0) / kNsPerMs);
    if (d.breaker.enabled()) {
      w.Key("circuit_breaker");
      d.breaker.write(w, now);
    }
    w.EndObject();
  }
  w.EndArray();
}

void Engine::write_deployments_prometheus(PromText &t, int64_t now) {
  if (any_route_) return;
  auto each = [&](const char *name, const char *type, const char *help, auto value) {
    t.family(name, type, help);
    for (auto &d : deps_)
      t.sample(name, {{"deployment", d->name}, {"group", d->group}}, value(*d));
  };
  each("llmsvc_deployment_in_rotation", "gauge",
       "1 while the deployment is in rotation, 0 once a reply took it out (auth, quota, region).",
       [](Deployment &d) { return int64_t(d.out ? 0 : 1); });
  each("llmsvc_deployment_attempts_total", "counter", "Attempts sent to the deployment.",
       [](Deployment &d) { return d.attempts; });
  each("llmsvc_deployment_failed_attempts_total", "counter",
       "Attempts of the deployment that ended in an error.",
       [](Deployment &d) { return d.failed_attempts; });
  each("llmsvc_deployment_served_total", "counter", "Requests the deployment served.",
       [](Deployment &d) { return d.served; });
  each("llmsvc_deployment_in_flight", "gauge", "Attempts in flight at the deployment.",
       [](Deployment &d) { return d.in_flight; });
  each("llmsvc_deployment_latency_seconds", "gauge",
       "Recent attempt latency of the deployment (weighted mean), 0 before the first answer.",
       [](Deployment &d) { return d.latency_ewma_ns < 0 ? 0.0 : double(d.latency_ewma_ns) / 1e9; });
  each("llmsvc_deployment_circuit_open", "gauge",
       "1 while the deployment's circuit breaker is open or half-open.",
       [](Deployment &d) { return int64_t(std::string_view(d.breaker.state_name()) != "closed"); });
  each("llmsvc_deployment_headroom_ratio", "gauge",
       "Unused room across the deployment's rate and concurrency gates (0..1).",
       [now](Deployment &d) { return d.headroom(now); });
}

}  // namespace llmsvc
