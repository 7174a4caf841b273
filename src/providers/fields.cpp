#include "providers/fields.h"

#include <curl/curl.h>

#include <new>

#include "providers/provider.h"
#include "retry/policy.h"

namespace llmsvc {

bool parse_object(ScratchDoc &scratch, std::string_view body, const char *what,
                  std::string &error) {
  JsonDoc &doc = scratch.doc();
  if (too_deep(body)) {
    error = std::string(what) + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return false;
  }
  if (!parse_foreign_json(doc, body) || !doc.IsObject()) {
    error = std::string(what) + " is not a JSON object";
    return false;
  }
  return true;
}

void write_schema_members(JsonWriter &w, const RequestSpec &req) {
  w.Key("name");
  write_str(w, req.schema_name);
  if (!req.schema_description.empty()) {
    w.Key("description");
    write_str(w, req.schema_description);
  }
  w.Key("schema");
  w.RawValue(req.schema_json.data(), req.schema_json.size(), rapidjson::kObjectType);
  w.Key("strict");
  w.Bool(req.schema_strict);
}

void write_sampling(JsonWriter &w, const RequestSpec &req) {
  if (req.temperature) {
    w.Key("temperature");
    w.Double(*req.temperature);
  }
  if (req.top_p) {
    w.Key("top_p");
    w.Double(*req.top_p);
  }
}

void parse_error_object(std::string_view body, ProviderError &e) {
  ScratchDoc scratch;
  JsonDoc &doc = scratch.doc();
  if (too_deep(body) || !parse_foreign_json(doc, body) || !doc.IsObject()) return;
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
