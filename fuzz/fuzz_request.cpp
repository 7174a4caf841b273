// The request parser (parse_request) and, for a request that parses, what each provider
// does with it at submit: unsupported(), the token estimate, the wire body and its cache
// key. Every wire body must be JSON.
#include <string>

#include "cache/cache.h"
#include "common/json.h"
#include "core/request.h"
#include "fuzz_common.h"
#include "providers/fields.h"

namespace {

const auto &providers() {
  static const auto all = [] {
    std::array<std::unique_ptr<llmsvc::Provider>, fuzz::kProviders.size()> p;
    for (size_t i = 0; i < p.size(); ++i) p[i] = fuzz::provider(fuzz::kProviders[i]);
    return p;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llmsvc::RequestSpec req;
  if (llmsvc::parse_request(fuzz::view(data, size), "default-model", req)) return 0;
  FUZZ_CHECK(!req.model.empty());
  (void)llmsvc::has_audio(req);
  for (const auto &p : providers()) {
    if (!p->unsupported(req).empty()) continue;
    FUZZ_CHECK(p->estimate_prompt_tokens(req) >= 0);
    FUZZ_CHECK(p->output_bound(req) >= 0);
    llmsvc::JsonBuffer buf;
    p->build_body(req, buf);
    if (!req.extra_body_json.empty()) llmsvc::merge_extra_body(buf, req.extra_body_json);
    std::string_view body(buf.GetString(), buf.GetSize());
    llmsvc::JsonDoc doc;
    FUZZ_CHECK(!llmsvc::parse_json(doc, body, "wire body") && doc.IsObject());
    (void)llmsvc::make_cache_key(p->name(), p->url(), body);
  }
  return 0;
}
