// Deployments and routes: the endpoints (provider, base URL, key, model, limits) a client
// sends through, and for each model group the ordered tiers of deployments a request may
// use (its own group first, then its fallbacks). Owned and touched by the engine thread;
// the routes and each deployment's provider are read-only after construction, so the
// submitting threads may read them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "gates/breaker.h"
#include "gates/gates.h"
#include "http/transfer.h"
#include "llmsvc.h"
#include "providers/provider.h"

namespace llmsvc {

struct Deployment {
  Deployment(const DeploymentSpec &spec, size_t index);

  const size_t index;
  const std::string name;
  const std::string group;
  const Config config;  // the client's configuration with this deployment's fields
  const std::unique_ptr<Provider> provider;
  int64_t weight;
  // For telemetry: the provider as the OpenTelemetry GenAI conventions name it, and the
  // host and port of its base URL.
  const char *const genai_provider;
  std::string server_address;
  int server_port = 0;

  // Engine thread only.
  Gates gates;
  CircuitBreaker breaker;
  // Out of rotation: a reply that condemns the deployment, not the request (401, 403,
  // insufficient_quota, unsupported region). Back on llmsvc_client_set_deployment.
  bool out = false;
  llmsvc_error_kind out_kind = LLMSVC_KIND_NONE;
  std::string out_reason;
  int64_t out_since_ms = 0;
  // Recent attempt latency (answers as they took, endpoint failures as at least 1 s);
  // -1: nothing yet.
  int64_t latency_ewma_ns = -1;
  int64_t attempts = 0;
  int64_t served = 0;  // requests it completed successfully
  int64_t failed_attempts = 0;
  int64_t in_flight = 0;
  std::vector<std::unique_ptr<Transfer>> idle;  // easy handles set up for it

  /// Unused room across its rate and concurrency gates, 0..1 (1: unlimited or idle).
  double headroom(int64_t now);
  void observe_latency(int64_t ns);
};

/// The deployments a request of one model group may use, tier by tier.
struct Route {
  std::string name;  // the group (or deployment) requests name
  std::vector<std::vector<Deployment *>> tiers;
  std::vector<size_t> next;  // round-robin position per tier
  bool rebuilds = false;     // its tiers differ in provider or model: bodies are rebuilt
};

/// gen_ai.provider.name for one of our provider names.
const char *genai_provider_name(std::string_view provider);
/// The host and port (the scheme's default when none is given) of a URL; unchanged when
/// the URL does not parse.
void url_host_port(const std::string &url, std::string &host, int &port);

/// Whether an error condemns the deployment that answered it rather than the request.
bool condemns_deployment(llmsvc_error_kind kind);

}  // namespace llmsvc
