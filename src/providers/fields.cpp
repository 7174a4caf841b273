#include "providers/fields.h"

#include <curl/curl.h>

#include <new>

#include "providers/provider.h"
#include "retry/policy.h"

namespace llmsvc {

void parse_error_object(std::string_view body, ProviderError &e) {
  ScratchDoc scratch;
  JsonDoc &doc = scratch.doc();
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return;
  auto err = doc.FindMember("error");
  if (err == doc.MemberEnd()) return;
  if (err->value.IsString()) {
    e.message = std::string(sv(err->value));
    return;
  }
  e.type = str_member(err->value, "type");
  e.code = str_member(err->value, "code");
  e.message = str_member(err->value, "message");
  e.param = str_member(err->value, "param");
}

bool read_retry_header(std::string_view name, std::string_view value, int64_t wall_now_ms,
                       ResponseHeaders &out) {
  if (name == "retry-after-ms") {
    out.retry_after_ms_ns = parse_retry_after_ms(value);
  } else if (name == "retry-after") {
    out.retry_after_ns = parse_retry_after(value, wall_now_ms / 1000);
  } else if (name == "x-should-retry") {
    std::string_view v = value.substr(0, value.find_first_of("\r\n "));
    out.should_retry = v == "true" ? 1 : v == "false" ? 0 : -1;
  } else {
    return false;
  }
  return true;
}

void append_header(curl_slist *&list, const std::string &line) {
  curl_slist *n = curl_slist_append(list, line.c_str());
  if (!n) throw std::bad_alloc();
  list = n;
}

}  // namespace llmsvc
