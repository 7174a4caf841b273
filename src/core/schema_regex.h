// JSON Schema "pattern" and "patternProperties" matched by RE2 instead of RapidJSON's own
// regex engine. RapidJSON 1.1's engine recurses per state and per nesting level, so a
// pattern from a request could overflow the stack of the host process (found by fuzzing,
// repeatedly); RE2 runs in linear time, keeps no recursion proportional to the input, and
// bounds its memory. docs/decisions.md weighs the two.
//
// RapidJSON's schema validator names its regex type as internal::GenericRegex<Encoding>
// and uses only a constructor from a NUL-terminated pattern, IsValid() and Search(). This
// header provides that type, and takes the include guard of RapidJSON's own regex header
// so that one is never compiled. Include it before <rapidjson/schema.h>, in the one file
// that includes that header (core/json_schema.cpp).
#pragma once

#ifdef RAPIDJSON_INTERNAL_REGEX_H_
#error "core/schema_regex.h must be included before any RapidJSON regex or schema header"
#endif
#define RAPIDJSON_INTERNAL_REGEX_H_
// RapidJSON 1.1 picks its internal regex type only while RAPIDJSON_SCHEMA_USE_INTERNALREGEX
// is left undefined (defining it, even to 1, selects std::regex, which recurses per
// character matched): it must stay undefined.
#ifdef RAPIDJSON_SCHEMA_USE_INTERNALREGEX
#error "RAPIDJSON_SCHEMA_USE_INTERNALREGEX must be left undefined"
#endif

#include <re2/re2.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include <rapidjson/allocators.h>
#include <rapidjson/rapidjson.h>

namespace llmsvc {

/// RE2's options for schema patterns: UTF-8, no logging, bounded memory.
inline RE2::Options schema_regex_options() {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_encoding(RE2::Options::EncodingUTF8);
  o.set_max_mem(8 << 20);
  return o;
}

/// Patterns longer than this are refused before RE2 parses them.
constexpr size_t kMaxPatternBytes = 16 * 1024;

/// Why `pattern` cannot be used as a schema pattern ("" when it can).
inline std::string schema_pattern_problem(std::string_view pattern) {
  if (pattern.size() > kMaxPatternBytes)
    return "is longer than " + std::to_string(kMaxPatternBytes) + " bytes";
  if (pattern.find('\0') != std::string_view::npos) return "holds a NUL character";
  RE2 re(re2::StringPiece(pattern.data(), pattern.size()), schema_regex_options());
  if (!re.ok()) return "is not a regular expression this library can match: " + re.error();
  return "";
}

}  // namespace llmsvc

RAPIDJSON_NAMESPACE_BEGIN
namespace internal {

template <typename Encoding, typename Allocator = CrtAllocator>
class GenericRegex {
 public:
  typedef typename Encoding::Ch Ch;

  explicit GenericRegex(const Ch *source, Allocator * = 0)
      : re_(std::make_unique<RE2>(
            re2::StringPiece(source, std::strlen(reinterpret_cast<const char *>(source))),
            llmsvc::schema_regex_options())) {}

  bool IsValid() const { return re_->ok(); }

  /// Whether the pattern matches anywhere in `s` (JSON Schema patterns are not anchored).
  bool Search(const Ch *s) const {
    const char *text = reinterpret_cast<const char *>(s);
    return RE2::PartialMatch(re2::StringPiece(text, std::strlen(text)), *re_);
  }

 private:
  std::unique_ptr<RE2> re_;
};

}  // namespace internal
RAPIDJSON_NAMESPACE_END
