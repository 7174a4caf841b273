#include "core/json_schema.h"

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

// RapidJSON's regex copies a repeated operand once per count: "a{1000}" is a thousand
// states, "(a{1000}){1000}" a million, and a few nested counts exhaust memory. This bounds
// the states a pattern would build, without building them.
double pattern_states(std::string_view p) {
  std::vector<double> open{0};  // states of each open group
  double last = 0;              // states of the operand just read
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '(') {
      open.push_back(0);
      last = 0;
      continue;
    }
    if (c == ')' && open.size() > 1) {
      last = open.back();
      open.pop_back();
      open.back() += last;
      continue;
    }
    if (c == '{') {
      double n = 0, m = -1;
      size_t j = i + 1;
      for (; j < p.size() && p[j] >= '0' && p[j] <= '9'; ++j) n = n * 10 + (p[j] - '0');
      if (j < p.size() && p[j] == ',') {
        m = n + 1;  // "{n,}": n copies and a loop
        if (j + 1 < p.size() && p[j + 1] >= '0' && p[j + 1] <= '9') m = 0;
        for (++j; j < p.size() && p[j] >= '0' && p[j] <= '9'; ++j) m = m * 10 + (p[j] - '0');
      }
      if (j > i + 1) {  // the copies are made before the closing '}' is even looked for
        double copies = std::max(n, m);
        open.back() += last * (copies - 1);
        last *= copies;
        i = j < p.size() && p[j] == '}' ? j : j - 1;
        continue;
      }
    }
    if (c == '\\') ++i;
    if (c == '[') {
      while (i + 1 < p.size() && p[i + 1] != ']') i += p[i + 1] == '\\' ? 2 : 1;
      ++i;
    }
    last = 1;
    open.back() += 1;
  }
  double total = 0;
  for (double s : open) total += s;
  return total;
}

constexpr double kMaxPatternStates = 100000;

// RapidJSON's regex reads past its operand stack on an empty operand: an empty group
// "()", an empty alternative ("a|", "(|b)") or a repetition of nothing ("(*a)"). Such
// patterns are refused before they reach it.
bool has_empty_operand(std::string_view p) {
  bool operand_expected = true;  // at the start, after '(' and after '|'
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (operand_expected && (c == ')' || c == '|' || c == '*' || c == '+' || c == '?' || c == '{'))
      return true;
    if (c == '(' || c == '|') {
      operand_expected = true;
      continue;
    }
    if (c == '^') continue;  // an anchor, not an operand
    if (c == '\\') ++i;
    if (c == '[')
      while (i + 1 < p.size() && p[i + 1] != ']') i += p[i + 1] == '\\' ? 2 : 1;
    operand_expected = false;
  }
  return operand_expected && !p.empty() && p.back() == '|';
}

// RapidJSON's regex follows the states a repetition may skip to by recursion, without
// marking the ones it passed: an unbounded repetition (*, + or {n,}) of something that can
// match nothing — a?+, (a*)*, (|a)+, (x?){2,} — is a loop of such states, and the recursion
// never ends (a stack overflow, found by fuzzing). A small parser over RapidJSON's syntax
// (alternation, groups, classes, escapes, ?, *, +, {m,n}) finds one.
class NullableRepeat {
 public:
  explicit NullableRepeat(std::string_view p) : p_(p) {}
  bool found() {
    while (i_ < p_.size() && !found_) {
      alternation();
      if (i_ < p_.size()) ++i_;  // an unbalanced ')': go on after it
    }
    return found_;
  }

 private:
  // Whether what was parsed can match the empty string.
  bool alternation() {
    bool nullable = sequence();
    while (i_ < p_.size() && p_[i_] == '|') {
      ++i_;
      nullable = sequence() || nullable;
    }
    return nullable;
  }
  bool sequence() {
    bool nullable = true;
    while (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') {
      bool atom_nullable = atom();
      while (i_ < p_.size() && (p_[i_] == '?' || p_[i_] == '*' || p_[i_] == '+' || p_[i_] == '{')) {
        char q = p_[i_++];
        bool unbounded = q == '*' || q == '+';
        bool may_skip = q == '?' || q == '*';
        if (q == '{') {
          size_t close = p_.find('}', i_);
          std::string_view body = p_.substr(i_, close == std::string_view::npos ? 0 : close - i_);
          i_ = close == std::string_view::npos ? p_.size() : close + 1;
          size_t comma = body.find(',');
          unbounded = comma != std::string_view::npos && comma + 1 == body.size();
          may_skip = body.empty() || body[0] == '0';
        }
        if (unbounded && atom_nullable) found_ = true;
        atom_nullable = atom_nullable || may_skip;
      }
      nullable = nullable && atom_nullable;
    }
    return nullable;
  }
  bool atom() {
    char c = p_[i_++];
    switch (c) {
      case '(': {
        bool nullable = alternation();
        if (i_ < p_.size() && p_[i_] == ')') ++i_;
        return nullable;
      }
      case '[':
        while (i_ < p_.size() && p_[i_] != ']') i_ += p_[i_] == '\\' ? 2 : 1;
        if (i_ < p_.size()) ++i_;
        return false;
      case '\\':
        if (i_ < p_.size()) ++i_;
        return false;
      case '^':
      case '$':
        return true;  // anchors match no character
      default:
        return false;
    }
  }

  std::string_view p_;
  size_t i_ = 0;
  bool found_ = false;
};

// Why a pattern cannot be used ("" when it can).
std::string pattern_problem(std::string_view p) {
  if (pattern_states(p) > kMaxPatternStates)
    return "repeats too much (at most " + std::to_string(int64_t(kMaxPatternStates)) +
           " regex states)";
  if (has_empty_operand(p))
    return "has an empty group, an empty alternative or a repetition of nothing, which the "
           "validator cannot check";
  if (NullableRepeat(p).found())
    return "repeats without limit something that can match nothing (as in a?+ or (a*)*), "
           "which the validator cannot check";
  return "";
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
      why = pattern_problem({s.GetString(), s.GetStringLength()});
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
