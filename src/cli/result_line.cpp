#include "result_line.h"

#include <cmath>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "json_util.h"

namespace llmsvc_cli {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using rapidjson::Value;

void head(Writer &w, const std::string &id_json, uint64_t line) {
  w.Key("id");
  w.RawValue(id_json.data(), id_json.size(), rapidjson::kStringType);
  w.Key("line");
  w.Uint64(line);
}

// Copies the member `name` of `doc` when present (null included when `keep_null`).
void copy(Writer &w, const Value &doc, const char *name, bool keep_null = false) {
  const Value *v = member(&doc, name);
  if (!v || (v->IsNull() && !keep_null)) return;
  w.Key(name);
  v->Accept(w);
}

void attempts(Writer &w, const Value &doc, bool full) {
  const Value *a = member(&doc, "attempts");
  rapidjson::SizeType n = a && a->IsArray() ? a->Size() : 0;
  w.Key("attempts");
  w.Uint(n);
  if (n > 1) {
    w.Key("retries");  // why each attempt before the last was not the answer
    w.StartArray();
    for (rapidjson::SizeType i = 0; i + 1 < n; ++i) {
      std::string kind = string_member(&(*a)[i], "kind");
      w.String(kind.empty() ? "unknown" : kind.c_str());
    }
    w.EndArray();
  }
  if (full && a) {
    w.Key("attempt_details");
    a->Accept(w);
  }
}

void cache_info(const Value &doc, ResultInfo *info) {
  const Value *c = member(&doc, "cache");
  const Value *hit = member(c, "hit");
  if (!hit || !hit->IsBool() || !hit->GetBool()) return;
  info->cache_hit = true;
  const Value *saved = member(c, "saved_cost_nano_usd");
  info->saved_known = saved && saved->IsInt64();
  info->saved_nano_usd = info->saved_known ? saved->GetInt64() : 0;
}

}  // namespace

std::string result_line(const std::string &id_json, uint64_t line, const char *json, size_t len,
                        bool attempts_full, ResultInfo *info) {
  rapidjson::Document doc;
  doc.Parse(json, len);
  if (doc.HasParseError() || !doc.IsObject()) {
    info->kind = "internal";
    return invalid_line(id_json, line, "the library returned an unreadable result");
  }
  const Value *ok = member(&doc, "ok");
  info->ok = ok && ok->IsBool() && ok->GetBool();
  const Value *error = member(&doc, "error");
  info->kind = info->ok ? "" : string_member(error, "kind");
  if (!info->ok && info->kind.empty()) info->kind = "internal";
  info->keep = info->kind != "cancelled" && info->kind != "shut_down";
  cache_info(doc, info);

  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  head(w, id_json, line);
  w.Key("ok");
  w.Bool(info->ok);
  copy(w, doc, "model");
  copy(w, doc, "deployment");  // which deployment served, when several are configured
  // Structured output and embeddings: the document or the vectors say it all.
  if (!member(&doc, "json") && !member(&doc, "embeddings")) copy(w, doc, "text");
  for (const char *name : {"json", "embeddings", "finish_reason", "tool_calls", "choices",
                           "logprobs", "service_tier", "thinking", "thinking_signature", "error"})
    copy(w, doc, name);
  copy(w, doc, "usage", true);
  copy(w, doc, "cost_nano_usd", true);
  attempts(w, doc, attempts_full);
  const Value *total_ms = member(member(&doc, "timing"), "total_ms");
  if (total_ms && total_ms->IsNumber()) {
    w.Key("latency_ms");
    w.Double(std::round(total_ms->GetDouble() * 100) / 100);
  }
  for (const char *name : {"cache", "metadata", "trace_id"}) copy(w, doc, name);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string invalid_line(const std::string &id_json, uint64_t line, const std::string &message) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  head(w, id_json, line);
  w.Key("ok");
  w.Bool(false);
  w.Key("error");
  w.StartObject();
  w.Key("kind");
  w.String("invalid_request");
  w.Key("message");
  w.String(message.data(), rapidjson::SizeType(message.size()));
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace llmsvc_cli
