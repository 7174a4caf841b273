// The rate-limit and retry header parsers. The first byte chooses (mod 8):
//   0 parse_retry_after_ms   1 parse_retry_after   2 parse_rfc3339_from   3 parse_go_duration
//   4..7 a whole header line ("Name: value") read by openai_chat, openai_responses,
//        anthropic or ollama.
// Transfer::on_header (libcurl's header callback) is private and needs a live transfer: the
// line is split here as it splits it, and handed to the provider's read_header as it is.
#include <string>

#include "fuzz_common.h"
#include "retry/policy.h"

namespace {

constexpr int64_t kNowMs = 1735689600000;  // 2025-01-01T00:00:00Z

const auto &providers() {
  static const auto all = [] {
    std::array<std::unique_ptr<llmsvc::Provider>, fuzz::kProviders.size()> p;
    for (size_t i = 0; i < p.size(); ++i) p[i] = fuzz::provider(fuzz::kProviders[i]);
    return p;
  }();
  return all;
}

void header_line(const llmsvc::Provider &p, std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon > 64) return;
  std::string name(line.substr(0, colon));
  for (char &c : name) c = (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.remove_suffix(1);
  llmsvc::ResponseHeaders h;
  p.read_header(name, value, kNowMs, h);
  for (int64_t v : {h.remaining_requests, h.remaining_tokens, h.remaining_input_tokens,
                    h.remaining_output_tokens, h.reset_requests_ns, h.reset_tokens_ns,
                    h.reset_input_tokens_ns, h.reset_output_tokens_ns, h.retry_after_ns,
                    h.retry_after_ms_ns})
    FUZZ_CHECK(v >= -1);
  FUZZ_CHECK(h.should_retry >= -1 && h.should_retry <= 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  std::string_view v = fuzz::view(data + 1, size - 1);
  switch (data[0] % 8) {
    case 0: FUZZ_CHECK(llmsvc::parse_retry_after_ms(v) >= -1); break;
    case 1: FUZZ_CHECK(llmsvc::parse_retry_after(v, kNowMs / 1000) >= -1); break;
    case 2: FUZZ_CHECK(llmsvc::parse_rfc3339_from(v, kNowMs) >= -1); break;
    case 3: FUZZ_CHECK(llmsvc::parse_go_duration(v) >= -1); break;
    default: header_line(*providers()[data[0] % 8 - 4], v); break;
  }
  return 0;
}
