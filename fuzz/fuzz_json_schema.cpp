// Structured output: a JSON Schema compiled from the input (JsonSchema::compile, with its
// rewrite of newer keywords into draft-04) and a document validated against it. The input
// is the schema, a NUL byte, then the document.
#include <string>

#include "common/json.h"
#include "core/json_schema.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view in = fuzz::view(data, size);
  size_t nul = in.find('\0');
  std::string_view schema_text = in.substr(0, nul);
  std::string_view document = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  llmsvc::JsonDoc schema_doc;
  if (llmsvc::parse_json(schema_doc, schema_text, "schema")) return 0;
  std::string why;
  auto schema = llmsvc::JsonSchema::compile(schema_doc, why);
  if (!schema) {
    FUZZ_CHECK(!why.empty());
    return 0;
  }
  llmsvc::SchemaViolation violation;
  if (!schema->validate(document, violation)) FUZZ_CHECK(!violation.keyword.empty());
  return 0;
}
