// JSON Schema validation of structured output, with RapidJSON's validator (draft-04, with
// `$ref` into `$defs` or `definitions`). Newer keywords it lacks are rewritten into their
// draft-04 equivalents first: `$defs` into `definitions`, `const` into a one-value `enum`, numeric
// `exclusiveMinimum`/`exclusiveMaximum` into `minimum`/`maximum` with the boolean flag.
// `pattern` and `patternProperties` are matched by RE2 (core/schema_regex.h): a pattern RE2
// cannot take is refused at compile with the reason.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/json.h"

namespace llmsvc {

struct SchemaViolation {
  std::string pointer;  // JSON pointer into the document ("" is the root)
  std::string keyword;  // the schema keyword that failed ("required", "type", ...)
  std::string message;
};

class JsonSchema {
 public:
  /// Compiles `schema` (a JSON object); on failure `error` says why.
  static std::shared_ptr<const JsonSchema> compile(const JsonValue &schema, std::string &error);
  ~JsonSchema();

  /// Parses `text` and validates it. True when valid; else `out` describes the first
  /// violation (or that the text is not JSON at all).
  bool validate(std::string_view text, SchemaViolation &out) const;

 private:
  JsonSchema();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmsvc
