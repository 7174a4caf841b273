// Streamed replies: bytes from libcurl become events, pieces for the caller and usage.
#include "engine/engine.h"

#include <algorithm>
#include <new>
#include <system_error>

#include "capi/result.h"
#include "common/alloc.h"
#include "http/transfer.h"
#include "retry/policy.h"

namespace llmsvc {

bool Engine::on_stream_bytes(void *owner, std::string_view bytes) {
  auto *p = static_cast<Pending *>(owner);
  int64_t t0 = steady_now_ns();
  stream_events_.clear();
  p->st->decoder.feed(bytes, stream_events_);
  bool ok = take_stream_events(p);
  if (ok && int64_t(p->st->decoder.pending_bytes()) > config_.max_stream_event_bytes)
    ok = event_too_large(p);
  p->overhead_ns += steady_now_ns() - t0;
  return ok;
}

bool Engine::event_too_large(Pending *p) {
  p->st->failed = true;
  p->st->error = ProviderError{};
  p->st->error.message = "a stream event is longer than http.max_stream_event_bytes (" +
                         std::to_string(config_.max_stream_event_bytes) + " bytes)";
  return false;  // aborts the transfer; stream_failed reports it as a protocol error
}

bool Engine::take_stream_events(Pending *p) {
  for (const StreamEvent &ev : stream_events_) {
    if (int64_t(ev.data.size()) > config_.max_stream_event_bytes) return event_too_large(p);
    std::string delta;
    if (!p->dep->provider->on_stream_event(ev, p->st->reply, delta, p->st->error)) {
      p->st->failed = true;
      return false;  // aborts the transfer; on_transfer_done reports the error event
    }
    if (!p->st->reply.tool_pieces.empty()) take_tool_pieces(p);
    if (delta.empty()) continue;
    p->st->reply.reply.text += delta;
    queue_text(p, std::move(delta));
  }
  return true;
}

void Engine::queue_text(Pending *p, std::string text) {
  if (!p->first_delta_ns) {
    p->first_delta_ns = clock_.steady_ns();
    metrics_.first_token(p->first_delta_ns - p->attempts.back().start_ns);
  }
  p->delta_sent = true;
  if (p->delta_cb || p->piece_cb || p->pieces_to_queue) {
    Delta d{p->id, p->delta_cb, p->payload, std::move(text)};
    d.piece_cb = p->piece_cb;
    deltas_.push_back(std::move(d));
  }
}

void Engine::estimate_stream_usage(Pending *p) {
  ProviderReply est = p->st->reply.reply;
  if (est.usage.prompt <= 0) est.usage.prompt = p->prompt_estimate;
  // What came, but never more than the request allowed: a reply that broke its own bound
  // is not billed past it.
  est.usage.completion = text_tokens(p->st->reply.reply.text.size());
  if (p->reserved.output > 0) est.usage.completion = std::min(est.usage.completion, p->reserved.output);
  est.has_usage = true;
  p->usage_estimated = true;
  p->st->accounted = true;
  account(p, est);
}

}  // namespace llmsvc
