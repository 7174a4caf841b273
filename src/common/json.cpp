#include "common/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>

#include <cmath>

#include "llmsvc.h"

namespace llmsvc {

bool too_deep(std::string_view text) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

namespace {

struct NoOutput {
  void Put(char) {}
};

bool is_utf8(const JsonValue &s) {
  rapidjson::MemoryStream in(s.GetString(), s.GetStringLength());
  NoOutput out;
  while (in.Tell() < s.GetStringLength())
    if (!rapidjson::UTF8<>::Validate(in, out)) return false;
  return true;
}

// RapidJSON 1.1 checks the bytes of a string but decodes an escaped low surrogate without
// its high half ("\udc00" to "\udfff") into bytes that are not UTF-8 (found by fuzzing).
// Whether `text` has an escape that may be one (a pair's low half too: then the walk
// finds nothing).
bool may_escape_a_lone_surrogate(std::string_view text) {
  for (size_t i = text.find("\\u"); i != std::string_view::npos; i = text.find("\\u", i + 2)) {
    if (i + 3 < text.size() && (text[i + 2] | 0x20) == 'd') {
      char c = char(text[i + 3] | 0x20);
      if (c >= 'c' && c <= 'f') return true;
    }
  }
  return false;
}

// `s` with each byte that does not start a valid UTF-8 sequence replaced by U+FFFD.
std::string repaired_utf8(const char *s, size_t n) {
  std::string out;
  out.reserve(n + 8);
  NoOutput ignore;
  for (size_t i = 0; i < n;) {
    rapidjson::MemoryStream in(s + i, n - i);
    if (rapidjson::UTF8<>::Validate(in, ignore)) {
      out.append(s + i, in.Tell());
      i += in.Tell();
    } else {
      out.append("\xef\xbf\xbd");
      ++i;
    }
  }
  return out;
}

void repair_strings(JsonValue &v, JsonPool &pool) {
  if (v.IsString()) {
    if (!is_utf8(v)) {
      std::string fixed = repaired_utf8(v.GetString(), v.GetStringLength());
      v.SetString(fixed.data(), rapidjson::SizeType(fixed.size()), pool);
    }
  } else if (v.IsArray()) {
    for (auto &x : v.GetArray()) repair_strings(x, pool);
  } else if (v.IsObject()) {
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      repair_strings(m->name, pool);
      repair_strings(m->value, pool);
    }
  }
}

enum class Bad { kNone, kNumber, kText };

// The first value a parse let through that no reader may see, with its path in `at`
// ("request.messages[0].content"): a number beyond a double (RapidJSON 1.1 turns a literal
// such as 722320323580e0303, whose digits carry it past the range, into infinity without
// an error) or, when `text` is asked, a string or a name that is not UTF-8.
Bad find_bad(const JsonValue &v, std::string &at, bool text) {
  if (v.IsDouble()) return std::isfinite(v.GetDouble()) ? Bad::kNone : Bad::kNumber;
  if (v.IsString()) return text && !is_utf8(v) ? Bad::kText : Bad::kNone;
  size_t len = at.size();
  if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      at += "[" + std::to_string(i) + "]";
      if (Bad b = find_bad(v[i], at, text); b != Bad::kNone) return b;
      at.resize(len);
    }
  } else if (v.IsObject()) {
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      bool name_ok = !text || is_utf8(m->name);
      at += '.';
      // A name that is not UTF-8 is shown up to its first bad byte.
      std::string_view name = sv(m->name);
      if (!name_ok) {
        size_t good = 0;
        while (good < name.size() && static_cast<unsigned char>(name[good]) < 0x80) ++good;
        at.append(name.substr(0, good)).append("...");
        return Bad::kText;
      }
      at.append(name);
      if (Bad b = find_bad(m->value, at, text); b != Bad::kNone) return b;
      at.resize(len);
    }
  }
  return Bad::kNone;
}

}  // namespace

DocError parse_json(JsonDoc &doc, std::string_view text, const char *what) {
  if (too_deep(text))
    return {LLMSVC_EJSON, std::string(what) + " is not valid JSON: nested deeper than " +
                              std::to_string(kMaxJsonDepth) + " levels"};
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  bool bad_text = doc.GetParseError() == rapidjson::kParseErrorStringInvalidEncoding;
  // Parsed again without the check, to name the field that holds the bad bytes.
  if (bad_text) doc.Parse(text.data(), text.size());
  if (doc.HasParseError())
    return {LLMSVC_EJSON, std::string(what) + " is not valid JSON: " +
                              rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                              std::to_string(doc.GetErrorOffset())};
  std::string at = what;
  switch (find_bad(doc, at, bad_text || may_escape_a_lone_surrogate(text))) {
    case Bad::kNone:
      if (!bad_text) return {};
      // The parser saw bytes that are not UTF-8 that the walk did not place: name no field.
      return {LLMSVC_EJSON, std::string(what) + " is not valid JSON: text that is not UTF-8"};
    case Bad::kNumber:
      return {LLMSVC_EJSON, at + ": a number beyond the range of a double"};
    case Bad::kText:
      return {LLMSVC_EJSON, at + ": text that is not UTF-8 (JSON documents are UTF-8)"};
  }
  return {};
}

bool parse_foreign_json(JsonDoc &doc, std::string_view text) {
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  const bool repair = doc.GetParseError() == rapidjson::kParseErrorStringInvalidEncoding;
  if (repair) doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) return false;
  if (repair || may_escape_a_lone_surrogate(text)) repair_strings(doc, doc.GetAllocator());
  return true;
}

std::string to_utf8(std::string_view s) { return repaired_utf8(s.data(), s.size()); }

std::string json_text(const JsonValue &v) {
  JsonBuffer buf;
  JsonWriter w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

const char *json_type_name(const JsonValue &v) {
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

bool ObjectReader::fail(DocError &err, const std::string &message) const {
  err = {LLMSVC_ESCHEMA, message};
  return false;
}

bool ObjectReader::only(const char *const *known, DocError &err) const {
  for (auto it = obj_.MemberBegin(); it != obj_.MemberEnd(); ++it) {
    bool ok = false;
    for (const char *const *k = known; *k; ++k) {
      if (sv(it->name) == *k) {
        ok = true;
        break;
      }
    }
    if (!ok) return fail(err, "unknown field " + path_ + "." + std::string(sv(it->name)));
  }
  return true;
}

const JsonValue *ObjectReader::find(const char *name) const {
  auto it = obj_.FindMember(name);
  if (it == obj_.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

bool ObjectReader::get_string(const char *name, std::string &out, DocError &err) const {
  const JsonValue *v = find(name);
  if (!v) return true;
  if (!v->IsString())
    return fail(err, path(name) + ": expected a string, got " + json_type_name(*v));
  out.assign(v->GetString(), v->GetStringLength());
  return true;
}

bool ObjectReader::get_int(const char *name, int64_t &out, DocError &err, int64_t min,
                           int64_t max) const {
  const JsonValue *v = find(name);
  if (!v) return true;
  int64_t x;
  if (v->IsInt64()) {
    x = v->GetInt64();
  } else if (constexpr double kTwo63 = 9223372036854775808.0;  // converting beyond is undefined
             v->IsDouble() && v->GetDouble() >= -kTwo63 && v->GetDouble() < kTwo63 &&
             v->GetDouble() == double(int64_t(v->GetDouble()))) {
    x = int64_t(v->GetDouble());
  } else {
    return fail(err, path(name) + ": expected an integer, got " + json_type_name(*v));
  }
  if (x < min || x > max)
    return fail(err, path(name) + ": " + std::to_string(x) + " is out of range [" +
                         std::to_string(min) + ", " + std::to_string(max) + "]");
  out = x;
  return true;
}

bool ObjectReader::get_double(const char *name, double &out, bool &present, DocError &err,
                              double min, double max) const {
  const JsonValue *v = find(name);
  if (!v) return true;
  if (!v->IsNumber())
    return fail(err, path(name) + ": expected a number, got " + json_type_name(*v));
  double x = v->GetDouble();
  if (!(x >= min && x <= max))
    return fail(err, path(name) + ": " + std::to_string(x) + " is out of range [" +
                         std::to_string(min) + ", " + std::to_string(max) + "]");
  out = x;
  present = true;
  return true;
}

bool ObjectReader::get_bool(const char *name, bool &out, DocError &err) const {
  const JsonValue *v = find(name);
  if (!v) return true;
  if (!v->IsBool())
    return fail(err, path(name) + ": expected a boolean, got " + json_type_name(*v));
  out = v->GetBool();
  return true;
}

bool ObjectReader::get_object(const char *name, const JsonValue *&out, DocError &err) const {
  const JsonValue *v = find(name);
  out = nullptr;
  if (!v) return true;
  if (!v->IsObject())
    return fail(err, path(name) + ": expected an object, got " + json_type_name(*v));
  out = v;
  return true;
}

}  // namespace llmsvc
