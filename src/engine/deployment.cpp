#include "engine/deployment.h"

#include <algorithm>
#include <cstdlib>

#include <curl/curl.h>

namespace llmsvc {

Deployment::Deployment(const DeploymentSpec &spec, size_t i)
    : index(i),
      name(spec.name),
      group(spec.group),
      config(spec.config),
      provider(make_provider(config)),
      weight(spec.weight),
      genai_provider(genai_provider_name(provider->name())),
      gates(config) {
  breaker.configure(config.breaker);
  url_host_port(config.base_url, server_address, server_port);
}

const char *genai_provider_name(std::string_view provider) {
  if (provider == "anthropic") return "anthropic";
  if (provider == "azure_openai") return "azure.ai.openai";
  if (provider == "ollama") return "ollama";
  if (provider == "gemini") return "gcp.gemini";
  if (provider == "bedrock") return "aws.bedrock";
  return "openai";  // Chat Completions and Responses, at OpenAI or a compatible server
}

void url_host_port(const std::string &url, std::string &host, int &port) {
  CURLU *u = curl_url();
  if (!u) return;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char *h = nullptr, *p = nullptr;
    if (curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) host = h;
    if (curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK) port = atoi(p);
    curl_free(h);
    curl_free(p);
  }
  curl_url_cleanup(u);
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
