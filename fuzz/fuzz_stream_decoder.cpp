// The SSE / NDJSON / AWS event stream decoder, fed the same body whole, in pieces cut where
// the input says, and byte by byte: every cut must give the same events. The first byte
// chooses the format (bit 1: AWS event stream, else bit 0: NDJSON) and seeds the cuts.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "http/stream_decoder.h"

namespace {

using llmsvc::StreamDecoder;
using llmsvc::StreamEvent;

std::vector<StreamEvent> decode(StreamDecoder::Format f, std::string_view body, uint32_t seed,
                                bool bytewise) {
  StreamDecoder d(f);
  std::vector<StreamEvent> out;
  size_t at = 0;
  while (at < body.size()) {
    size_t n = 1;
    if (!bytewise) {
      seed = seed * 1103515245u + 12345u;  // a fixed LCG: the same input cuts the same way
      n = (seed >> 16) % 17;               // empty reads happen too
    }
    n = std::min(n, body.size() - at);
    d.feed(body.substr(at, n), out);
    at += n;
  }
  d.finish(out);
  return out;
}

bool same(const std::vector<StreamEvent> &a, const std::vector<StreamEvent> &b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].data != b[i].data) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  auto f = data[0] & 2   ? StreamDecoder::Format::kAwsEventStream
           : data[0] & 1 ? StreamDecoder::Format::kNdjson
                         : StreamDecoder::Format::kSse;
  std::string_view body = fuzz::view(data + 1, size - 1);
  StreamDecoder whole_decoder(f);
  std::vector<StreamEvent> whole;
  whole_decoder.feed(body, whole);
  whole_decoder.finish(whole);
  FUZZ_CHECK(same(whole, decode(f, body, data[0], false)));
  FUZZ_CHECK(same(whole, decode(f, body, 0, true)));
  // A decoder reset after a partial body decodes the next body as a fresh one does.
  StreamDecoder reused(f);
  std::vector<StreamEvent> scratch;
  reused.feed(body.substr(0, body.size() / 2), scratch);
  reused.reset(f);
  std::vector<StreamEvent> again;
  reused.feed(body, again);
  reused.finish(again);
  FUZZ_CHECK(same(whole, again));
  return 0;
}
