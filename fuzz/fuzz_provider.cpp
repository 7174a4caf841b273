// One provider's reply side (FUZZ_PROVIDER names it): the 2xx body parser, the error body
// parser and the stream events, followed by what the engine does with a parsed reply
// (the limiter's count and the cost). The first byte chooses: 'r' (0 mod 3) a reply body,
// 's' (1) a streamed body, 'e' (2) an error body; the rest is the body.
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "http/stream_decoder.h"
#include "usage/prices.h"

#ifndef FUZZ_PROVIDER
#error "FUZZ_PROVIDER must name a provider"
#endif

namespace {

const llmsvc::Provider &the_provider() {
  static const auto p = fuzz::provider(FUZZ_PROVIDER);
  return *p;
}

const llmsvc::PriceTable &prices() {
  static const llmsvc::PriceTable t = llmsvc::PriceTable::builtin();
  return t;
}

// What the engine does once a reply is in: settle the gates and price it.
void account(const llmsvc::Provider &p, const llmsvc::ProviderReply &reply) {
  if (!reply.has_usage) return;
  llmsvc::Tokens t = p.metered(reply.usage);
  (void)t.total();
  (void)prices().cost_pico(reply.model.empty() ? "gpt-4o" : reply.model, reply.usage);
}

// What a provider hands on is UTF-8, whatever bytes the reply held.
bool utf8(const std::string &s) { return llmsvc::to_utf8(s) == s; }

void stream(const llmsvc::Provider &p, std::string_view body) {
  llmsvc::StreamDecoder decoder(p.stream_format());
  std::vector<llmsvc::StreamEvent> events;
  decoder.feed(body, events);
  decoder.finish(events);
  llmsvc::StreamState st;
  for (const llmsvc::StreamEvent &ev : events) {
    std::string delta;
    llmsvc::ProviderError error;
    if (!p.on_stream_event(ev, st, delta, error)) {  // the engine reports `error`
      FUZZ_CHECK(utf8(error.message));
      return;
    }
    FUZZ_CHECK(utf8(delta));
    st.reply.text += delta;
  }
  if (st.done) account(p, st.reply);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const llmsvc::Provider &p = the_provider();
  std::string_view body = fuzz::view(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      llmsvc::ProviderReply reply;
      std::string error;
      if (p.parse_reply(body, reply, error)) {
        FUZZ_CHECK(utf8(reply.text) && utf8(reply.model) && utf8(reply.finish_reason));
        account(p, reply);
      } else {
        FUZZ_CHECK(!error.empty());
      }
      break;
    }
    case 1: stream(p, body); break;
    case 2: {
      llmsvc::ProviderError e = p.parse_error(body);
      FUZZ_CHECK(utf8(e.message) && utf8(e.type) && utf8(e.code) && utf8(e.param));
      break;
    }
  }
  return 0;
}
