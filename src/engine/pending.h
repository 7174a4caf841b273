// One request's whole life inside the engine: queued at a gate, in flight, waiting to
// retry, done. Created on the submitting thread, then owned by the engine thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "common/alloc.h"
#include "common/json.h"
#include "gates/budgets.h"
#include "core/request.h"
#include "llmsvc.h"
#include "providers/provider.h"

namespace llmsvc {

class Transfer;
struct Deployment;
struct Route;

enum class BackoffSource : uint8_t { kNone, kClient, kServer };

inline const char *backoff_source_name(BackoffSource s) {
  switch (s) {
    case BackoffSource::kClient: return "client";
    case BackoffSource::kServer: return "server";
    case BackoffSource::kNone: break;
  }
  return "none";
}

struct Attempt {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  int64_t start_wall_ms = 0;
  int http_status = 0;
  llmsvc_error_kind kind = LLMSVC_KIND_NONE;
  int64_t backoff_ns = 0;  // the wait that followed this attempt
  BackoffSource backoff_source = BackoffSource::kNone;
  std::string request_id;  // the provider's x-request-id
  const Deployment *deployment = nullptr;  // where it was sent
  uint64_t span_id = 0;  // its telemetry span, sent in its traceparent (0: traces off)
  // What this attempt's reply used and cost (a reply that failed its schema was paid too).
  bool has_usage = false;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cost_pico = -1;  // -1: unknown or nothing used
};

/// An attempt's tokens and cost, when its reply had usage (results and events alike).
inline void write_attempt_usage(JsonWriter &w, const Attempt &a) {
  if (!a.has_usage) return;
  w.Key("prompt_tokens");
  w.Int64(a.prompt_tokens);
  w.Key("completion_tokens");
  w.Int64(a.completion_tokens);
  w.Key("cost_nano_usd");
  if (a.cost_pico >= 0) w.Int64(a.cost_pico / 1000);
  else w.Null();
}

struct Pending : HeapObject {
  // kFollower: an identical cacheable request is in flight; this one waits for its reply.
  enum class State : uint8_t { kNew, kQueued, kBackoff, kInFlight, kFollower };

  uint64_t id = 0;
  RequestSpec spec;
  JsonBuffer body;  // the wire body, built once at submit
  const char *body_text = nullptr;
  size_t body_len = 0;
  llmsvc_complete_cb cb = nullptr;
  void *payload = nullptr;

  State state = State::kNew;
  int64_t submit_ns = 0;
  int64_t submit_wall_ms = 0;
  int64_t deadline_ns = INT64_MAX;
  int64_t enqueued_ns = 0;  // entered the admission queue (this round)
  int64_t wake_ns = 0;      // when backing off: when to queue again
  bool wait_counted = false;

  int64_t prompt_estimate = 0;
  Tokens reserved;  // what the gates hold for it while in flight
  int64_t overhead_ns = 0;  // time spent inside llmsvc for this request

  Transfer *transfer = nullptr;
  std::vector<Attempt> attempts;

  // Streaming. The decoder and the reply so far exist only for streamed requests, so a
  // request waiting at a gate stays small.
  struct StreamPart : HeapObject {
    StreamDecoder decoder;
    StreamState reply;    // this attempt's reply so far
    ProviderError error;  // an error event the stream reported
    bool failed = false;
    bool accounted = false;  // its usage (or an estimate) is in the request's totals
  };
  std::unique_ptr<StreamPart> st;
  llmsvc_delta_cb delta_cb = nullptr;
  llmsvc_piece_cb piece_cb = nullptr;
  bool pieces = false;  // tool-call pieces go out too (llmsvc_client_submit_stream_pieces)
  bool delta_sent = false;  // text went to the caller: no retry from here on
  bool pieces_to_queue = false;  // submitted to stream in completion-queue mode
  int64_t first_delta_ns = 0;
  bool usage_estimated = false;
  bool usage_unreadable = false;  // a reply's usage held counts that are not counts

  // What the replies so far used and cost, over every attempt that got one.
  TokenUsage usage;
  bool has_usage = false;
  int64_t cost_pico = 0;
  bool cost_unknown = false;
  int64_t schema_retries_left = 0;

  // The last failure, for the result.
  ProviderError provider_error;
  std::string error_message;
  int64_t retry_after_ns = -1;
  // The last output that failed the request's schema, and where.
  struct SchemaFailure : HeapObject {
    SchemaViolation violation;
    std::string output;
  };
  std::unique_ptr<SchemaFailure> schema_failure;

  // Caching, only for requests the cache applies to.
  struct CacheState : HeapObject {
    CacheKey key;
    CacheSource hit = CacheSource::kNone;
    CachedReply reply;                // the cached reply, on a hit
    Pending *leader = nullptr;        // kFollower: the request whose reply it shares
    uint64_t coalesced_with = 0;      // that request's id, for the result
    std::vector<Pending *> followers;  // a leader: who waits for its reply
    bool stored = false;
  };
  std::unique_ptr<CacheState> cache;

  // A line of a provider batch job (engine_batch.cpp): its batch and the line's own id.
  struct BatchTag {
    std::string batch_id;
    std::string custom_id;
  };
  const BatchTag *batch = nullptr;

  // What it holds of the client's budgets until it completes.
  std::vector<Budgets::Hold> budget_holds;
  bool breaker_probe = false;  // the attempt in flight is the circuit breaker's probe

  // Routing: the deployments it may use, the tier it is on, where its attempt goes.
  Route *route = nullptr;
  uint32_t tier = 0;
  uint32_t tier_first_attempt = 0;  // attempts before this index were on earlier tiers
  Deployment *dep = nullptr;       // the current (or last) attempt's deployment
  const Deployment *body_for = nullptr;  // the deployment whose wire body `body` is

  // Telemetry's trace context, chosen at the first attempt (all 0: traces off).
  uint64_t trace_hi = 0, trace_lo = 0, span_id = 0, parent_span_id = 0;
  bool trace_sampled = true;

  uint64_t queue_key() const { return (uint64_t(spec.priority) << 56) | id; }
};

/// How long attempt `i` waited to be sent once it could have been: from submit (the first)
/// or the end of the backoff after the one before, to its start.
inline int64_t attempt_gate_wait(const Pending &p, size_t i) {
  const Attempt &a = p.attempts[i];
  int64_t ready = p.submit_ns;
  if (i > 0) {
    const Attempt &b = p.attempts[i - 1];
    ready = (b.end_ns ? b.end_ns : b.start_ns) +
            (b.backoff_source != BackoffSource::kNone ? b.backoff_ns : 0);
  }
  return a.start_ns > ready ? a.start_ns - ready : 0;
}

}  // namespace llmsvc
