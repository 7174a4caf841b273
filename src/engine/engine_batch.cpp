// The engine's part in provider batch jobs (src/batch): a request checked and built as a
// batch line, and a batch line's reply made into the same result a live request gets.
#include <memory>

#include "capi/result.h"
#include "engine/engine.h"
#include "retry/policy.h"

namespace llmsvc {

const Deployment *Engine::deployment(const std::string &name) const {
  for (const auto &d : deps_)
    if (d->name == name) return d.get();
  return nullptr;
}

int Engine::batch_request(std::string_view request_json, const std::string &deployment,
                          BatchRequest &out, std::string &message) {
  auto p = std::make_unique<Pending>();
  DocError err = parse_request(request_json, config_.model, p->spec);
  if (err) {
    message = std::move(err.message);
    return err.status;
  }
  if (p->spec.stream) {
    message = "request.stream: a batch job's requests are not streamed; leave \"stream\" out";
    return LLMSVC_ESCHEMA;
  }
  Deployment *dep = nullptr;
  if (!deployment.empty()) {
    for (const auto &d : deps_)
      if (d->name == deployment) dep = d.get();
    if (!dep) {
      message = "no deployment is named \"" + deployment + "\"";
      return LLMSVC_EINVAL;
    }
  } else {
    Route *route = route_for(p->spec.model);
    if (!route) {
      message = "request.model: no deployment serves \"" + p->spec.model + "\"";
      return LLMSVC_ESCHEMA;
    }
    dep = route->tiers[0][0];
  }
  const Provider &provider = *dep->provider;
  if (std::string why = provider.unsupported(p->spec); !why.empty()) {
    message = "request: " + why;
    return LLMSVC_ESCHEMA;
  }
  if (!body_for(p.get(), *dep, message)) {
    message = "request: " + message;
    return LLMSVC_ESCHEMA;
  }
  out.dep = dep;
  out.model = p->spec.model;
  out.operation = p->spec.operation;
  out.embedding = p->spec.embedding;
  out.body.assign(p->body_text, p->body_len);
  out.prompt_tokens = provider.estimate_prompt_tokens(p->spec);
  return LLMSVC_OK;
}

llmsvc_result *Engine::batch_result(const BatchReply &b) {
  Pending p;
  p.id = next_id_.fetch_add(1, std::memory_order_relaxed);
  p.spec.model = b.model;
  p.spec.operation = b.operation;
  p.dep = const_cast<Deployment *>(b.dep);  // read only: the result names it
  Pending::BatchTag tag{b.batch_id, b.custom_id};
  p.batch = &tag;
  // Times relative to the batch's creation, the moment the provider took the line.
  p.submit_wall_ms = b.created_unix_ms;
  p.submit_ns = 0;
  const int64_t now = (b.ended_unix_ms - b.created_unix_ms) * kNsPerMs;
  Attempt a;
  a.start_wall_ms = b.created_unix_ms;
  a.end_ns = now;
  a.http_status = b.http_status;
  a.request_id = b.request_id;
  a.deployment = b.dep;
  llmsvc_error_kind kind = b.kind;
  std::string message = b.message;
  ProviderReply reply;
  bool replied = false;
  if (kind == LLMSVC_KIND_NONE && b.http_status >= 200 && b.http_status < 300) {
    std::string why;
    if (b.dep->provider->parse_reply(b.body, reply, why)) {
      replied = true;
    } else {
      kind = LLMSVC_KIND_PROTOCOL;
      message = "the batch's reply for this line is not a valid reply: " + why;
    }
  } else if (kind == LLMSVC_KIND_NONE) {
    p.provider_error = b.dep->provider->parse_error(b.body);
    Classification c = classify_http(b.http_status, p.provider_error.type, p.provider_error.code, -1);
    kind = c.kind == LLMSVC_KIND_NONE ? LLMSVC_KIND_PROTOCOL : c.kind;
    message = "HTTP " + std::to_string(b.http_status) + " for this line of the batch";
    if (!p.provider_error.message.empty()) message += ": " + p.provider_error.message;
  }
  a.kind = kind;
  int64_t cost = -1;
  if (replied) {
    if (reply.usage_unreadable) p.usage_unreadable = true;
    if (reply.has_usage) {
      p.has_usage = true;
      p.usage = reply.usage;
      cost = config_.prices.cost_pico(reply.model.empty() ? b.model : reply.model, reply.usage,
                                      "batch");
      if (cost < 0) cost = config_.prices.cost_pico(b.model, reply.usage, "batch");
      a.has_usage = true;
      a.prompt_tokens = reply.usage.prompt;
      a.completion_tokens = reply.usage.completion;
      a.cost_pico = cost;
    }
  }
  p.attempts.push_back(std::move(a));
  if (kind != LLMSVC_KIND_NONE) message = redact(std::move(message));
  return build_result(&p, kind, message, replied ? &reply : nullptr, cost, now);
}

}  // namespace llmsvc
