// The response cache's two readers of outside bytes: canonical_body (the key is taken
// over it) and CachedReply::decode (a stored entry, perhaps from a damaged SQLite file).
// The canonical form is deterministic, is JSON, and has none of the top-level members
// that do not change the answer; a decoded entry encodes and decodes to itself. (It is not
// a fixed point for every number: RapidJSON's default parsing can land a long literal one
// unit in the last place away on each pass. Keys stay deterministic, which is what counts.)
#include <string>

#include "cache/cache.h"
#include "common/json.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view in = fuzz::view(data, size);
  std::string canonical;
  if (llmsvc::canonical_body(in, canonical)) {
    std::string same;
    FUZZ_CHECK(llmsvc::canonical_body(in, same) && same == canonical);
    llmsvc::JsonDoc doc;
    FUZZ_CHECK(!llmsvc::parse_json(doc, canonical, "canonical body"));
    if (doc.IsObject()) {
      for (const char *ignored : {"stream", "stream_options", "user", "metadata",
                                  "safety_identifier", "prompt_cache_key"})
        FUZZ_CHECK(!doc.HasMember(ignored));
    }
    FUZZ_CHECK(llmsvc::make_cache_key("p", "u", in) == llmsvc::make_cache_key("p", "u", in));
  }
  llmsvc::CachedReply entry;
  if (entry.decode(in)) {
    std::string stored = entry.encode();
    llmsvc::CachedReply back;
    FUZZ_CHECK(back.decode(stored));
    FUZZ_CHECK(back.text == entry.text && back.finish_reason == entry.finish_reason &&
               back.response_id == entry.response_id && back.model == entry.model &&
               back.usage.prompt == entry.usage.prompt &&
               back.usage.completion == entry.usage.completion &&
               back.usage.cached == entry.usage.cached &&
               back.usage.reasoning == entry.usage.reasoning &&
               back.usage.cache_write == entry.usage.cache_write && back.extra == entry.extra &&
               back.cost_pico == entry.cost_pico);
    FUZZ_CHECK(back.encode() == stored);
  }
  return 0;
}
