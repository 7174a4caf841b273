// RapidJSON, configured to allocate through common/alloc.h (mimalloc's own API, never a
// process-wide malloc override), plus the small readers our documents share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/alloc.h"

namespace llmsvc {

/// RapidJSON base allocator backed by mem_alloc (mimalloc).
struct MiAllocator {
  static const bool kNeedFree = true;
  void *Malloc(size_t size) { return size ? mem_alloc(size) : nullptr; }
  void *Realloc(void *ptr, size_t, size_t new_size) {
    if (new_size == 0) {
      mem_free(ptr);
      return nullptr;
    }
    return mem_realloc(ptr, new_size);
  }
  static void Free(void *ptr) { mem_free(ptr); }
};

using JsonPool = rapidjson::MemoryPoolAllocator<MiAllocator>;
using JsonDoc = rapidjson::GenericDocument<rapidjson::UTF8<>, JsonPool, MiAllocator>;
using JsonValue = JsonDoc::ValueType;
using JsonBuffer = rapidjson::GenericStringBuffer<rapidjson::UTF8<>, MiAllocator>;
using JsonWriter = rapidjson::Writer<JsonBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>, MiAllocator>;

/// A document for one short-lived parse: its first nodes and strings live in a buffer
/// inside this object (on the stack), larger documents continue in 16 KiB chunks, so a
/// typical request or reply costs no heap allocation for its DOM at all.
class ScratchDoc {
 public:
  ScratchDoc() : pool_(buffer_, sizeof buffer_, 16 * 1024), doc_(&pool_) {}
  ScratchDoc(const ScratchDoc &) = delete;
  ScratchDoc &operator=(const ScratchDoc &) = delete;
  JsonDoc &doc() { return doc_; }

 private:
  alignas(8) char buffer_[4096];
  JsonPool pool_;
  JsonDoc doc_;
};

/// A document error: which status (LLMSVC_EJSON or LLMSVC_ESCHEMA) and what is wrong.
struct DocError {
  int status = 0;
  std::string message;
  explicit operator bool() const { return status != 0; }
};

/// Documents nest at most this deep. RapidJSON's parser, its writer and its schema validator
/// recurse once per level: a reply of a million '[' would overflow the stack.
constexpr size_t kMaxJsonDepth = 512;
/// Whether `text` nests arrays and objects deeper than kMaxJsonDepth (strings skipped).
bool too_deep(std::string_view text);

/// Parses `text` into `doc`; on failure describes the offset and the reason.
DocError parse_json(JsonDoc &doc, std::string_view text, const char *what);

/// Parses a document from outside the caller's control (a provider's reply or stream
/// event): text that is not UTF-8 is not refused but replaced, each bad byte by U+FFFD, so
/// that what the reply says still arrives and every string handed on is UTF-8. False when
/// it is not JSON. The caller checks too_deep() first.
bool parse_foreign_json(JsonDoc &doc, std::string_view text);

/// `s` with each byte that does not start a valid UTF-8 sequence replaced by U+FFFD.
std::string to_utf8(std::string_view s);

/// `v` as compact JSON text.
std::string json_text(const JsonValue &v);

/// "expected a string" style names of JSON types, for messages.
const char *json_type_name(const JsonValue &v);

inline std::string_view sv(const JsonValue &v) { return {v.GetString(), v.GetStringLength()}; }

inline void write_str(JsonWriter &w, std::string_view s) {
  w.String(s.data(), rapidjson::SizeType(s.size()));
}

/// A string member, left out when empty.
inline void write_opt_str(JsonWriter &w, const char *key, std::string_view v) {
  if (v.empty()) return;
  w.Key(key);
  write_str(w, v);
}
inline void write_key(JsonWriter &w, std::string_view s) {
  w.Key(s.data(), rapidjson::SizeType(s.size()));
}

/// Reads typed fields out of a JSON object, naming the path in every error.
/// Unknown members are an error too: a misspelt option must not be silently ignored.
class ObjectReader {
 public:
  ObjectReader(const JsonValue &obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  /// Checks that every member is one of `known` (a NULL-terminated list).
  bool only(const char *const *known, DocError &err) const;

  const JsonValue *find(const char *name) const;
  bool get_string(const char *name, std::string &out, DocError &err) const;
  bool get_int(const char *name, int64_t &out, DocError &err, int64_t min, int64_t max) const;
  bool get_double(const char *name, double &out, bool &present, DocError &err, double min,
                  double max) const;
  bool get_bool(const char *name, bool &out, DocError &err) const;
  bool get_object(const char *name, const JsonValue *&out, DocError &err) const;

  std::string path(const char *name) const { return path_ + "." + name; }
  bool fail(DocError &err, const std::string &message) const;

 private:
  const JsonValue &obj_;
  std::string path_;
};

}  // namespace llmsvc
