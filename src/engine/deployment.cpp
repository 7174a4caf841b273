#include "engine/deployment.h"

#include <algorithm>

namespace llmsvc {

Deployment::Deployment(const DeploymentSpec &spec, size_t i)
    : index(i),
      name(spec.name),
      group(spec.group),
      config(spec.config),
      provider(make_provider(config)),
      weight(spec.weight),
      gates(config) {
  breaker.configure(config.breaker);
}

double Deployment::headroom(int64_t now) {
  double room = 1;
  auto take = [&](int64_t cap, int64_t used) {
    if (cap > 0) room = std::min(room, double(std::max<int64_t>(cap - used, 0)) / double(cap));
  };
  take(gates.request_cap(), gates.requests_used(now));
  take(gates.token_cap(), gates.tokens_used(now));
  take(gates.input_token_cap(), gates.input_tokens_used(now));
  take(gates.output_token_cap(), gates.output_tokens_used(now));
  take(gates.limits().concurrency, gates.in_flight());
  return room;
}

void Deployment::observe_latency(int64_t ns) {
  // An exponentially weighted mean over about the last ten answers.
  latency_ewma_ns = latency_ewma_ns < 0 ? ns : latency_ewma_ns + (ns - latency_ewma_ns) / 5;
}

bool condemns_deployment(llmsvc_error_kind kind) {
  switch (kind) {
    case LLMSVC_KIND_AUTH:
    case LLMSVC_KIND_PERMISSION:
    case LLMSVC_KIND_INSUFFICIENT_QUOTA:
    case LLMSVC_KIND_UNSUPPORTED_REGION:
      return true;
    default:
      return false;
  }
}

}  // namespace llmsvc
