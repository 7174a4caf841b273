#include "core/json_schema.h"

#include <rapidjson/error/en.h>
#include <rapidjson/schema.h>

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

}  // namespace

struct JsonSchema::Impl {
  rapidjson::Document source;
  std::unique_ptr<rapidjson::SchemaDocument> schema;
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
  s->impl_->schema = std::make_unique<rapidjson::SchemaDocument>(s->impl_->source);
  return s;
}

bool JsonSchema::validate(std::string_view text, SchemaViolation &out) const {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    out.pointer.clear();
    out.keyword = "json";
    out.message = std::string("the output is not JSON: ") +
                  rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                  std::to_string(doc.GetErrorOffset());
    return false;
  }
  rapidjson::SchemaValidator validator(*impl_->schema);
  if (doc.Accept(validator)) return true;
  rapidjson::StringBuffer where;
  validator.GetInvalidDocumentPointer().StringifyUriFragment(where);
  std::string pointer = where.GetString();
  if (!pointer.empty() && pointer[0] == '#') pointer.erase(0, 1);  // a plain JSON pointer
  out.pointer = pointer;
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
  validator.GetInvalidSchemaPointer().StringifyUriFragment(rule);
  out.message = "the output does not match the schema at \"" + out.pointer + "\" (" +
                out.keyword + ", schema " + rule.GetString() + ")";
  return false;
}

}  // namespace llmsvc
