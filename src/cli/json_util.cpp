#include "json_util.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace llmsvc_cli {

const rapidjson::Value *member(const rapidjson::Value *v, const char *name) {
  if (!v || !v->IsObject()) return nullptr;
  auto it = v->FindMember(name);
  return it == v->MemberEnd() ? nullptr : &it->value;
}

int64_t int_member(const rapidjson::Value *v, const char *name, int64_t fallback) {
  const rapidjson::Value *m = member(v, name);
  if (m && m->IsInt64()) return m->GetInt64();
  if (m && m->IsUint64()) return int64_t(m->GetUint64() > uint64_t(INT64_MAX) ? INT64_MAX : m->GetUint64());
  if (m && m->IsNumber()) return int64_t(m->GetDouble());
  return fallback;
}

double number_member(const rapidjson::Value *v, const char *name, double fallback) {
  const rapidjson::Value *m = member(v, name);
  return m && m->IsNumber() ? m->GetDouble() : fallback;
}

std::string string_member(const rapidjson::Value *v, const char *name) {
  const rapidjson::Value *m = member(v, name);
  return m && m->IsString() ? std::string(m->GetString(), m->GetStringLength()) : std::string();
}

std::string to_json(const rapidjson::Value &v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string quote(const std::string &s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), rapidjson::SizeType(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

const char *type_name(const rapidjson::Value &v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "a boolean";
    case rapidjson::kObjectType: return "an object";
    case rapidjson::kArrayType: return "an array";
    case rapidjson::kStringType: return "a string";
    case rapidjson::kNumberType: return "a number";
  }
  return "a value";
}

}  // namespace llmsvc_cli
