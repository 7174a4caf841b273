#include "core/json_schema.h"

// Before RapidJSON's schema header: patterns are matched by RE2 (core/schema_regex.h).
#include "core/schema_regex.h"

#include <rapidjson/error/en.h>
#include <rapidjson/schema.h>

#include <algorithm>
#include <string>
#include <vector>

namespace llmsvc {

namespace {

// Rewrites keywords newer than draft-04 in place, recursively.
void to_draft4(rapidjson::Value &v, rapidjson::Document::AllocatorType &a) {
  if (v.IsArray()) {
    for (auto &x : v.GetArray()) to_draft4(x, a);
    return;
  }
  if (!v.IsObject()) return;
  // Draft-04 knows "definitions", not "$defs": move them, and point the references there.
  if (auto d = v.FindMember("$defs"); d != v.MemberEnd() && !v.HasMember("definitions")) {
    d->name.SetString("definitions", a);
  }
  if (auto r = v.FindMember("$ref"); r != v.MemberEnd() && r->value.IsString()) {
    std::string ref(r->value.GetString(), r->value.GetStringLength());
    for (size_t at = ref.find("/$defs/"); at != std::string::npos; at = ref.find("/$defs/", at))
      ref.replace(at, 7, "/definitions/");
    r->value.SetString(ref.c_str(), rapidjson::SizeType(ref.size()), a);
  }
  if (auto c = v.FindMember("const"); c != v.MemberEnd()) {
    rapidjson::Value one(rapidjson::kArrayType);
    one.PushBack(rapidjson::Value(c->value, a), a);
    v.RemoveMember("const");
    v.RemoveMember("enum");
    v.AddMember("enum", one, a);
  }
  for (auto [exclusive, bound] : {std::pair{"exclusiveMinimum", "minimum"},
                                  std::pair{"exclusiveMaximum", "maximum"}}) {
    auto e = v.FindMember(exclusive);
    if (e == v.MemberEnd() || !e->value.IsNumber()) continue;
    rapidjson::Value limit(e->value, a);
    e->value.SetBool(true);
    v.RemoveMember(bound);
    v.AddMember(rapidjson::StringRef(bound), limit, a);
  }
  for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
    // Enum values and defaults are data, not schemas.
    if (m->name == "enum" || m->name == "default" || m->name == "examples") continue;
    to_draft4(m->value, a);
  }
}

// The first pattern (a "pattern" value or a "patternProperties" name) that cannot be used,
// with why; null when every one can.
const rapidjson::Value *unusable_pattern(const rapidjson::Value &v, std::string &why) {
  if (v.IsArray()) {
    for (const auto &x : v.GetArray())
      if (const rapidjson::Value *p = unusable_pattern(x, why)) return p;
    return nullptr;
  }
  if (!v.IsObject()) return nullptr;
  for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
    if (m->name == "enum" || m->name == "default" || m->name == "examples") continue;
    auto bad = [&why](const rapidjson::Value &s) {
      why = schema_pattern_problem({s.GetString(), s.GetStringLength()});
      return !why.empty();
    };
    if (m->name == "pattern" && m->value.IsString() && bad(m->value)) return &m->value;
    if (m->name == "patternProperties" && m->value.IsObject()) {
      for (auto k = m->value.MemberBegin(); k != m->value.MemberEnd(); ++k)
        if (bad(k->name)) return &k->name;
    }
    if (const rapidjson::Value *p = unusable_pattern(m->value, why)) return p;
  }
  return nullptr;
}

// RapidJSON's draft-04 validator takes for a schema whatever stands where one belongs: a
// string under "not" or in "allOf" made it validate through garbage (found by fuzzing).
// This walks every place a schema belongs and names the first that is not one.
std::string misplaced_schema(const rapidjson::Value &v, const std::string &at) {
  if (!v.IsObject()) return at.empty() ? "the schema is not an object" : at + " is not a schema object";
  auto sub = [&](const rapidjson::Value &x, const std::string &where, bool may_be_bool) {
    if (may_be_bool && x.IsBool()) return std::string();
    return misplaced_schema(x, where);
  };
  for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
    std::string key(m->name.GetString(), m->name.GetStringLength());
    const rapidjson::Value &x = m->value;
    std::string where = at + "/" + key;
    std::string why;
    if (key == "not") {
      why = sub(x, where, false);
    } else if (key == "additionalProperties" || key == "additionalItems") {
      why = sub(x, where, true);
    } else if (key == "items") {
      if (x.IsArray()) {
        for (rapidjson::SizeType i = 0; why.empty() && i < x.Size(); ++i)
          why = sub(x[i], where + "/" + std::to_string(i), false);
      } else {
        why = sub(x, where, false);
      }
    } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
      if (!x.IsArray() || x.Empty()) return where + " is not a non-empty array of schemas";
      for (rapidjson::SizeType i = 0; why.empty() && i < x.Size(); ++i)
        why = sub(x[i], where + "/" + std::to_string(i), false);
    } else if (key == "properties" || key == "patternProperties" || key == "definitions") {
      if (!x.IsObject()) return where + " is not an object of schemas";
      for (auto k = x.MemberBegin(); why.empty() && k != x.MemberEnd(); ++k)
        why = sub(k->value, where + "/" + std::string(k->name.GetString(), k->name.GetStringLength()),
                  false);
    } else if (key == "type") {
      // A type name RapidJSON does not know was taken as no type at all: anything passed.
      auto known = [](const rapidjson::Value &t) {
        if (!t.IsString()) return false;
        for (const char *name : {"null", "boolean", "object", "array", "number", "string", "integer"})
          if (t == name) return true;
        return false;
      };
      bool ok = known(x);
      if (x.IsArray()) {
        ok = !x.Empty();
        for (const auto &t : x.GetArray()) ok = ok && known(t);
      }
      if (!ok)
        return where + " is not a JSON type name (null, boolean, object, array, number, string, "
                       "integer) or a list of them";
    } else if (key == "required") {
      if (!x.IsArray()) return where + " is not an array of property names";
      for (const auto &name : x.GetArray())
        if (!name.IsString()) return where + " lists a property name that is not a string";
    } else if (key == "dependencies") {
      if (!x.IsObject()) return where + " is not an object";
      for (auto k = x.MemberBegin(); why.empty() && k != x.MemberEnd(); ++k) {
        if (k->value.IsArray()) {
          for (const auto &name : k->value.GetArray())
            if (!name.IsString()) return where + " lists a property name that is not a string";
        } else {
          why = sub(k->value, where + "/" + std::string(k->name.GetString(), k->name.GetStringLength()),
                    false);
        }
      }
    }
    if (!why.empty()) return why;
  }
  return "";
}

// RapidJSON's validator hashes the values it compares for "enum" and "uniqueItems" and
// converts each number to a 64-bit integer on the way, which is undefined for a number
// beyond that range (found by fuzzing). Such numbers are refused in schemas and make
// output a mismatch, before the validator sees them.
bool beyond_64_bits(const rapidjson::Value &v) {
  if (!v.IsDouble()) return false;  // integers were parsed as int64 / uint64 already
  double d = v.GetDouble();
  return !(d >= -9223372036854775808.0 && d < 18446744073709551616.0);
}

// The JSON pointer of the first such number under `v`, in `at`; false when there is none.
bool find_beyond_64_bits(const rapidjson::Value &v, std::string &at) {
  if (beyond_64_bits(v)) return true;
  size_t len = at.size();
  if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      at += "/" + std::to_string(i);
      if (find_beyond_64_bits(v[i], at)) return true;
      at.resize(len);
    }
  } else if (v.IsObject()) {
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      at += "/" + std::string(m->name.GetString(), m->name.GetStringLength());
      if (find_beyond_64_bits(m->value, at)) return true;
      at.resize(len);
    }
  }
  return false;
}

// Whether the schema compares values by hash anywhere ("enum", "uniqueItems"); in `at`,
// an "enum" value the hasher cannot take, if any.
bool hashes_values(const rapidjson::Value &v, std::string &at, std::string &bad_enum) {
  bool any = false;
  if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
      any |= hashes_values(v[i], at, bad_enum);
    return any;
  }
  if (!v.IsObject()) return false;
  for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
    if (m->name == "enum" || m->name == "uniqueItems") any = true;
    if (m->name == "enum") {
      std::string where = "/enum";
      if (bad_enum.empty() && find_beyond_64_bits(m->value, where)) bad_enum = where;
      continue;
    }
    if (m->name == "default" || m->name == "examples") continue;
    any |= hashes_values(m->value, at, bad_enum);
  }
  return any;
}

}  // namespace

struct JsonSchema::Impl {
  rapidjson::Document source;
  std::unique_ptr<rapidjson::SchemaDocument> schema;
  bool hashes = false;  // has "enum" or "uniqueItems"
};

JsonSchema::JsonSchema() : impl_(std::make_unique<Impl>()) {}
JsonSchema::~JsonSchema() = default;

std::shared_ptr<const JsonSchema> JsonSchema::compile(const JsonValue &schema,
                                                      std::string &error) {
  if (!schema.IsObject()) {
    error = "expected a JSON Schema object";
    return nullptr;
  }
  std::shared_ptr<JsonSchema> s(new JsonSchema());
  s->impl_->source.CopyFrom(schema, s->impl_->source.GetAllocator());
  to_draft4(s->impl_->source, s->impl_->source.GetAllocator());
  if (std::string why = misplaced_schema(s->impl_->source, ""); !why.empty()) {
    error = why;
    return nullptr;
  }
  std::string why;
  if (const rapidjson::Value *p = unusable_pattern(s->impl_->source, why)) {
    error = "the pattern \"" + std::string(p->GetString(), std::min<size_t>(p->GetStringLength(), 40)) +
            "\" " + why;
    return nullptr;
  }
  std::string at, bad_enum;
  s->impl_->hashes = hashes_values(s->impl_->source, at, bad_enum);
  if (!bad_enum.empty()) {
    error = "an enum lists a number beyond the 64-bit range (" + bad_enum +
            "), which the validator cannot compare";
    return nullptr;
  }
  s->impl_->schema = std::make_unique<rapidjson::SchemaDocument>(s->impl_->source);
  return s;
}

bool JsonSchema::validate(std::string_view text, SchemaViolation &out) const {
  rapidjson::Document doc;
  if (too_deep(text)) {
    out.pointer.clear();
    out.keyword = "json";
    out.message = "the output is not JSON this library reads: nested deeper than " +
                  std::to_string(kMaxJsonDepth) + " levels";
    return false;
  }
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    out.pointer.clear();
    out.keyword = "json";
    out.message = std::string("the output is not JSON: ") +
                  rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                  std::to_string(doc.GetErrorOffset());
    return false;
  }
  if (std::string at; impl_->hashes && find_beyond_64_bits(doc, at)) {
    out.pointer = at;
    out.keyword = "number";
    out.message = "the output has a number beyond the 64-bit range at \"" + at +
                  "\", which cannot be compared against the schema's enum or uniqueItems";
    return false;
  }
  rapidjson::SchemaValidator validator(*impl_->schema);
  if (doc.Accept(validator)) return true;
  // Plain JSON pointers: the URI-fragment form percent-encodes through a UTF-8 decoder that
  // reads past the end of a name that is not UTF-8 (the output may carry any bytes).
  rapidjson::StringBuffer where;
  validator.GetInvalidDocumentPointer().Stringify(where);
  out.pointer = where.GetString();
  out.keyword = validator.GetInvalidSchemaKeyword();
  if (out.keyword == "required") {
    // Name the first missing property: that is where the document falls short.
    const rapidjson::Value *rule_at = validator.GetInvalidSchemaPointer().Get(impl_->source);
    const rapidjson::Value *doc_at = validator.GetInvalidDocumentPointer().Get(doc);
    if (rule_at && doc_at && doc_at->IsObject()) {
      auto req = rule_at->FindMember("required");
      if (req != rule_at->MemberEnd() && req->value.IsArray()) {
        for (const auto &name : req->value.GetArray()) {
          if (name.IsString() && !doc_at->HasMember(name)) {
            out.pointer += "/" + std::string(name.GetString(), name.GetStringLength());
            break;
          }
        }
      }
    }
  }
  rapidjson::StringBuffer rule;
  validator.GetInvalidSchemaPointer().Stringify(rule);
  out.message = "the output does not match the schema at \"" + out.pointer + "\" (" +
                out.keyword + ", schema #" + rule.GetString() + ")";
  return false;
}

}  // namespace llmsvc
