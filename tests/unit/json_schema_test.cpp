#include "core/json_schema.h"

#include <gtest/gtest.h>

#include "core/request.h"
#include "llmsvc.h"

using namespace llmsvc;

namespace {
std::shared_ptr<const JsonSchema> compile(const char *schema) {
  JsonDoc doc;
  EXPECT_FALSE(parse_json(doc, schema, "schema"));
  std::string err;
  auto s = JsonSchema::compile(doc, err);
  EXPECT_TRUE(s) << err;
  return s;
}

// Every keyword the validator must honour, in one schema.
const char *kSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 2, "maxLength": 5},
    "kind": {"enum": ["cat", "dog"]},
    "version": {"const": 2},
    "score": {"type": "number", "minimum": 0, "maximum": 10, "exclusiveMaximum": 10},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
    "owner": {"$ref": "#/$defs/person"},
    "id": {"anyOf": [{"type": "integer"}, {"type": "string"}]}
  },
  "required": ["name", "kind", "version"],
  "additionalProperties": false,
  "$defs": {"person": {"type": "object", "properties": {"age": {"type": "integer"}},
                        "required": ["age"]}}
})";
}  // namespace

TEST(JsonSchema, AcceptsAConformingDocument) {
  auto s = compile(kSchema);
  SchemaViolation v;
  EXPECT_TRUE(s->validate(R"({"name":"Tom","kind":"cat","version":2,"score":9.5,"tags":["a"],
                             "owner":{"age":3},"id":"x"})",
                          v))
      << v.message;
}

TEST(JsonSchema, FirstViolationWithItsPointer) {
  auto s = compile(kSchema);
  struct Case {
    const char *doc;
    const char *pointer;
    const char *keyword;
  } cases[] = {
      {R"({"kind":"cat","version":2})", "/name", "required"},
      {R"({"name":"T","kind":"cat","version":2})", "/name", "minLength"},
      {R"({"name":"Tommy!","kind":"cat","version":2})", "/name", "maxLength"},
      {R"({"name":"Tom","kind":"cow","version":2})", "/kind", "enum"},
      {R"({"name":"Tom","kind":"cat","version":3})", "/version", "enum"},  // const
      {R"({"name":"Tom","kind":"cat","version":2,"score":10})", "/score", "maximum"},
      {R"({"name":"Tom","kind":"cat","version":2,"score":-1})", "/score", "minimum"},
      {R"({"name":"Tom","kind":"cat","version":2,"tags":[]})", "/tags", "minItems"},
      {R"({"name":"Tom","kind":"cat","version":2,"tags":["a","b","c"]})", "/tags", "maxItems"},
      {R"({"name":"Tom","kind":"cat","version":2,"tags":[1]})", "/tags/0", "type"},
      {R"({"name":"Tom","kind":"cat","version":2,"owner":{}})", "/owner/age", "required"},
      {R"({"name":"Tom","kind":"cat","version":2,"id":1.5})", "/id", "anyOf"},
      {R"({"name":"Tom","kind":"cat","version":2,"extra":1})", "/extra", "additionalProperties"},
      {R"([1])", "", "type"},
  };
  for (const Case &c : cases) {
    SchemaViolation v;
    EXPECT_FALSE(s->validate(c.doc, v)) << c.doc;
    EXPECT_EQ(v.pointer, c.pointer) << c.doc << ": " << v.message;
    EXPECT_EQ(v.keyword, c.keyword) << c.doc << ": " << v.message;
  }
}

TEST(JsonSchema, NotJsonAtAll) {
  auto s = compile(R"({"type":"object"})");
  SchemaViolation v;
  EXPECT_FALSE(s->validate("Sure! Here is the JSON: {", v));
  EXPECT_EQ(v.keyword, "json");
  EXPECT_NE(v.message.find("not JSON"), std::string::npos);
}

TEST(JsonSchema, RequestFieldValidatedAtSubmit) {
  RequestSpec r;
  EXPECT_FALSE(parse_request(R"({"model":"m","prompt":"x","json_schema":{"name":"pet","schema":{"type":"object"}}})",
                             "", r));
  EXPECT_EQ(r.schema_name, "pet");
  EXPECT_TRUE(r.schema_strict);
  EXPECT_EQ(r.schema_json, R"({"type":"object"})");
  RequestSpec bad;
  DocError err = parse_request(R"({"model":"m","prompt":"x","json_schema":{"name":"a b","schema":{}}})", "", bad);
  EXPECT_EQ(err.status, LLMSVC_ESCHEMA);
  EXPECT_NE(err.message.find("request.json_schema.name"), std::string::npos);
  err = parse_request(R"({"model":"m","prompt":"x","json_schema":{"schema":5}})", "", bad);
  EXPECT_NE(err.message.find("request.json_schema.schema: expected an object"), std::string::npos);
}

namespace {
// A string schema with `pattern`, compiled; `why` says why not when it is refused.
std::shared_ptr<const JsonSchema> with_pattern(const std::string &pattern, std::string &why) {
  JsonDoc doc;
  JsonValue schema(rapidjson::kObjectType);
  schema.AddMember("type", "string", doc.GetAllocator());
  schema.AddMember("pattern",
                   JsonValue(pattern.data(), rapidjson::SizeType(pattern.size()), doc.GetAllocator()),
                   doc.GetAllocator());
  return JsonSchema::compile(schema, why);
}
}  // namespace

TEST(JsonSchema, PatternsAreMatchedAnywhereInTheString) {
  // Patterns earlier engines could not take (empty groups and alternatives, unbounded
  // repetitions of what can match nothing) are ordinary regular expressions for RE2.
  struct Case {
    const char *pattern, *match, *miss;
  } cases[] = {{"^(ab?)+$", "abaab", "b"},
               {"(a*)*", "", nullptr},
               {"^(|b)x$", "x", "ax"},
               {"^[a-z]+@[a-z]+\\.[a-z]{2,3}$", "me@example.org", "me@example.organic"},
               {"\\d{3}", "call 555 now", "55"},
               {"^(ab{2,3}){3}[x{]{2}$", "abbabbbabbx{", "abbx{"},
               {"^\\p{L}+$", "h\xc3\xa9llo", "h3llo"}};
  for (const Case &c : cases) {
    std::string why;
    auto s = with_pattern(c.pattern, why);
    ASSERT_NE(s, nullptr) << c.pattern << ": " << why;
    SchemaViolation v;
    EXPECT_TRUE(s->validate("\"" + std::string(c.match) + "\"", v)) << c.pattern << ": " << v.message;
    if (c.miss) {
      EXPECT_FALSE(s->validate("\"" + std::string(c.miss) + "\"", v)) << c.pattern;
      EXPECT_EQ(v.keyword, "pattern");
    }
  }
}

TEST(JsonSchema, HostilePatternsAreRefusedWithTheReasonAndNeverHurtTheProcess) {
  // Found by fuzzing against the regex engine RapidJSON brings (stack overflows in
  // GenericRegex::AddState, reads past its operand stack, gigabytes for a counted
  // repetition). Each of these is refused with a reason, or compiles and matches in linear
  // time: none may stop the process.
  std::vector<std::string> refused = {
      "a{66666566}",                 // a counted repetition beyond RE2's limit
      "((a{100}){100}){100}",        // nested counts
      "(?P<n>a)(?P=n)",              // a back-reference: not a regular language
      "a(?=b)",                      // look-ahead
      "(abc",                        // unbalanced
      "a?+",                         // a repetition of a repetition
      std::string(100000, '(') + "a" + std::string(100000, ')'),  // 100k nested groups
      std::string(20000, 'a'),                                    // longer than the bound
      "a\xff\xfe" "b",                                            // not UTF-8
  };
  for (const std::string &p : refused) {
    std::string why;
    EXPECT_EQ(with_pattern(p, why), nullptr) << p.substr(0, 40);
    EXPECT_NE(why.find("the pattern"), std::string::npos) << why;
  }
  // Nested quantifiers and a long alternation compile and match in linear time.
  std::vector<std::pair<std::string, std::string>> accepted = {
      {"^(a+)+$", std::string(50000, 'a') + "!"},
      {"^(a|aa)*$", std::string(50000, 'a') + "b"},
      {"((((a*)*)*)*)*b", std::string(50000, 'a')},
      {std::string(500, '(') + "a" + std::string(500, ')') + "+x", std::string(10000, 'a')},
  };
  for (const auto &[p, subject] : accepted) {
    std::string why;
    auto s = with_pattern(p, why);
    ASSERT_NE(s, nullptr) << p.substr(0, 40) << ": " << why;
    SchemaViolation v;
    EXPECT_FALSE(s->validate("\"" + subject + "\"", v)) << p.substr(0, 40);
  }
  // The two inputs of fuzz/corpus/json_schema that crashed the process: refused or
  // validated, never a crash.
  for (const char *input :
       {"{\"q(t\":\"string\",\"pattern\":\"a*^(\xbf""\xd2""\xd2""\xce""-000te3162247>efinlul)\xad""z]\xd5""\xe1""\xff""\"}",
        "{\"q(t\":\"sing\",\"pattern\":\"a*^(\xd8""-)--000te3162(((((((((((((((((((((((((((((((((((((494>efina*^(A000telul)6\xf9""\xbf""\xb3""\xe1""\"}"}) {
    JsonDoc doc;
    DocError err = parse_json(doc, input, "schema");
    EXPECT_TRUE(err) << "a pattern that is not UTF-8 is refused with the document";
    EXPECT_NE(err.message.find("schema.pattern: text that is not UTF-8"), std::string::npos)
        << err.message;
  }
}

TEST(JsonSchema, SomethingElseWhereASchemaBelongsIsRefused) {
  // Found by fuzz_json_schema: {"not": "string"} made RapidJSON's validator run through
  // uninitialised memory (a string where a schema belongs).
  std::string why;
  const std::pair<const char *, const char *> cases[] = {
      {R"({"not":"string","pattern":"a"})", "/not is not a schema object"},
      {R"({"allOf":[{"type":"string"},3]})", "/allOf/1 is not a schema object"},
      {R"({"anyOf":[]})", "/anyOf is not a non-empty array of schemas"},
      {R"({"properties":{"a":{"items":[{},"x"]}}})", "/properties/a/items/1 is not a schema object"},
      {R"({"properties":{"a":true}})", "/properties/a is not a schema object"},
      {R"({"dependencies":{"a":[1]}})", "/dependencies lists a property name that is not a string"},
      {R"({"definitions":{"d":{"not":null}}})", "/definitions/d/not is not a schema object"},
  };
  for (const auto &[schema, expected] : cases) {
    JsonDoc doc;
    ASSERT_FALSE(parse_json(doc, schema, "schema"));
    EXPECT_EQ(JsonSchema::compile(doc, why), nullptr) << schema;
    EXPECT_EQ(why, expected) << schema;
  }
  // Booleans stand where draft-04 allows them, and dependencies may list names.
  EXPECT_NE(compile(R"({"type":"object","additionalProperties":false,
                        "dependencies":{"a":["b"],"c":{"required":["d"]}},
                        "items":{"not":{"type":"null"}}})"),
            nullptr);
}

TEST(JsonSchema, PointerToANameThatIsNotUtf8) {
  // Found by fuzz_json_schema: the pointer to a violation was written in URI-fragment
  // form, whose UTF-8 decoder read past the end of a member name that is not UTF-8.
  auto s = compile(R"({"type":"object","properties":{"a b":{"type":"string"}},"additionalProperties":false})");
  SchemaViolation v;
  EXPECT_FALSE(s->validate("{\"x\xf1\":1}", v));
  EXPECT_EQ(v.pointer, "/x\xf1");
  EXPECT_EQ(v.keyword, "additionalProperties");
  EXPECT_FALSE(s->validate(R"({"a b":1})", v));
  EXPECT_EQ(v.pointer, "/a b");  // a JSON pointer, not percent-encoded
  EXPECT_NE(v.message.find("schema #/properties/a b"), std::string::npos) << v.message;
}

TEST(JsonSchema, OutputNestedTooDeeplyIsAMismatchNotAStackOverflow) {
  auto s = compile(R"({"type":"array"})");
  SchemaViolation v;
  EXPECT_FALSE(s->validate(std::string(300000, '[') + std::string(300000, ']'), v));
  EXPECT_EQ(v.keyword, "json");
}

TEST(JsonSchema, NumbersBeyond64BitsNeverReachTheHasher) {
  // The validator converts the values it compares for enum and uniqueItems to 64-bit
  // integers: a schema listing such a number is refused, output carrying one is a mismatch.
  JsonDoc doc;
  ASSERT_FALSE(parse_json(doc, R"({"enum": [1, 1e30]})", "schema"));
  std::string err;
  EXPECT_FALSE(JsonSchema::compile(doc, err));
  EXPECT_NE(err.find("beyond the 64-bit range (/enum/1)"), std::string::npos) << err;

  auto s = compile(R"({"type":"object","properties":{"n":{"enum":[1,2]},
                       "xs":{"type":"array","uniqueItems":true}}})");
  SchemaViolation v;
  EXPECT_FALSE(s->validate(R"({"n": 1, "xs": [1e300, -1e19]})", v));
  EXPECT_EQ(v.pointer, "/xs/0");
  EXPECT_EQ(v.keyword, "number");
  EXPECT_FALSE(s->validate(R"({"n": -9.3e18})", v));
  EXPECT_EQ(v.pointer, "/n");
  EXPECT_TRUE(s->validate(R"({"n": 2, "xs": [18446744073709551615, -9223372036854775808, 1.5]})", v))
      << v.message;
  // Without enum or uniqueItems nothing is hashed: any number is fine.
  auto plain = compile(R"({"type":"object","properties":{"x":{"type":"number"}}})");
  EXPECT_TRUE(plain->validate(R"({"x": 1e300})", v)) << v.message;
}
