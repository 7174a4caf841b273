#include "cache/cache.h"

#include <openssl/evp.h>

#include <algorithm>
#include <vector>

#include "cache/sqlite_cache.h"
#include "llmsvc.h"
#include "providers/provider.h"

namespace llmsvc {

std::string CacheKey::hex() const {
  static const char digits[] = "0123456789abcdef";
  std::string s(64, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    s[2 * i] = digits[bytes[i] >> 4];
    s[2 * i + 1] = digits[bytes[i] & 15];
  }
  return s;
}

namespace {

// Top-level members of a wire body that never change the answer.
bool ignored_top_level(std::string_view name) {
  return name == "stream" || name == "stream_options" || name == "user" || name == "metadata" ||
         name == "safety_identifier" || name == "prompt_cache_key";
}

void write_canonical(const JsonValue &v, JsonWriter &w, bool top) {
  if (v.IsObject()) {
    std::vector<const JsonValue::Member *> members;
    members.reserve(v.MemberCount());
    for (const auto &m : v.GetObject()) {
      if (top && ignored_top_level(sv(m.name))) continue;
      members.push_back(&m);
    }
    std::sort(members.begin(), members.end(),
              [](const JsonValue::Member *a, const JsonValue::Member *b) {
                return sv(a->name) < sv(b->name);
              });
    w.StartObject();
    for (const JsonValue::Member *m : members) {
      write_key(w, sv(m->name));
      write_canonical(m->value, w, false);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto &e : v.GetArray()) write_canonical(e, w, false);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

}  // namespace

bool canonical_body(std::string_view body, std::string &out) {
  ScratchDoc scratch;
  JsonDoc &doc = scratch.doc();
  if (parse_json(doc, body, "body")) return false;
  JsonBuffer buf;
  JsonWriter w(buf);
  write_canonical(doc, w, true);
  out.assign(buf.GetString(), buf.GetSize());
  return true;
}

CacheKey make_cache_key(std::string_view provider, std::string_view url, std::string_view body) {
  std::string canonical;
  if (!canonical_body(body, canonical)) canonical.assign(body);
  static constexpr std::string_view kTag = "llmsvc-cache-v1\n";
  // Fetched once: an implicit fetch per digest costs more than hashing a small body.
  static EVP_MD *const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!sha256) throw std::runtime_error("libcrypto has no SHA-256");
  CacheKey key;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) throw std::bad_alloc();
  unsigned int len = 0;
  bool ok = EVP_DigestInit_ex(ctx, sha256, nullptr) == 1 &&
            EVP_DigestUpdate(ctx, kTag.data(), kTag.size()) == 1 &&
            EVP_DigestUpdate(ctx, provider.data(), provider.size()) == 1 &&
            EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
            EVP_DigestUpdate(ctx, url.data(), url.size()) == 1 &&
            EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
            EVP_DigestUpdate(ctx, canonical.data(), canonical.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, key.bytes.data(), &len) == 1 && len == key.bytes.size();
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("SHA-256 failed in libcrypto");
  return key;
}

std::string CachedReply::encode() const {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("text");
  write_str(w, text);
  w.Key("finish_reason");
  write_str(w, finish_reason);
  w.Key("response_id");
  write_str(w, response_id);
  w.Key("model");
  write_str(w, model);
  w.Key("usage");
  w.StartArray();
  w.Int64(usage.prompt);
  w.Int64(usage.completion);
  w.Int64(usage.cached);
  w.Int64(usage.reasoning);
  w.Int64(usage.cache_write);
  w.EndArray();
  w.Key("cost_pico");
  w.Int64(cost_pico);
  if (!extra.empty()) {
    w.Key("extra");
    w.RawValue(extra.data(), extra.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

bool CachedReply::decode(std::string_view data) {
  ScratchDoc scratch;
  JsonDoc &doc = scratch.doc();
  if (parse_json(doc, data, "cache entry") || !doc.IsObject()) return false;
  auto str = [&](const char *name, std::string &out) {
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || !it->value.IsString()) return false;
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return true;
  };
  if (!str("text", text) || !str("finish_reason", finish_reason) ||
      !str("response_id", response_id) || !str("model", model))
    return false;
  auto u = doc.FindMember("usage");
  if (u == doc.MemberEnd() || !u->value.IsArray() || u->value.Size() != 5) return false;
  int64_t *fields[] = {&usage.prompt, &usage.completion, &usage.cached, &usage.reasoning,
                       &usage.cache_write};
  for (rapidjson::SizeType i = 0; i < 5; ++i) {
    if (!u->value[i].IsInt64()) return false;
    *fields[i] = u->value[i].GetInt64();
  }
  auto c = doc.FindMember("cost_pico");
  if (c == doc.MemberEnd() || !c->value.IsInt64()) return false;
  cost_pico = c->value.GetInt64();
  extra.clear();
  if (auto e = doc.FindMember("extra"); e != doc.MemberEnd()) {
    if (!e->value.IsObject()) return false;
    extra = json_text(e->value);
    ProviderReply check;  // what a hit will read back, read once here
    if (!decode_reply_extras(extra, check)) return false;
  }
  return true;
}

size_t CachedReply::footprint() const {
  return sizeof(CachedReply) + text.capacity() + finish_reason.capacity() +
         response_id.capacity() + model.capacity() + extra.capacity();
}

bool MemoryCache::get(const CacheKey &key, int64_t now_ms, CachedReply &out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  if (it->second->value->expires_ms <= now_ms) {
    bytes_ -= int64_t(it->second->bytes);
    lru_.erase(it->second);
    index_.erase(it);
    ++expired_;
    return false;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  out = *it->second->value;
  return true;
}

void MemoryCache::put(const CacheKey &key, const CachedReply &value) {
  auto shared = std::make_shared<const CachedReply>(value);
  size_t bytes = shared->footprint() + sizeof(Entry) + 64;  // list and index nodes
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    bytes_ += int64_t(bytes) - int64_t(it->second->bytes);
    it->second->value = std::move(shared);
    it->second->bytes = bytes;
    lru_.splice(lru_.begin(), lru_, it->second);
  } else {
    lru_.push_front(Entry{key, std::move(shared), bytes});
    index_.emplace(key, lru_.begin());
    bytes_ += int64_t(bytes);
  }
  evict_locked();
}

void MemoryCache::evict_locked() {
  // An entry larger than the whole bound is not kept either.
  while (!lru_.empty() && (int64_t(lru_.size()) > max_entries_ || bytes_ > max_bytes_)) {
    Entry &e = lru_.back();
    bytes_ -= int64_t(e.bytes);
    index_.erase(e.key);
    lru_.pop_back();
    ++evictions_;
  }
}

MemoryCache::Stats MemoryCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {int64_t(lru_.size()), bytes_, evictions_, expired_};
}

const char *cache_source_name(CacheSource s) {
  switch (s) {
    case CacheSource::kMemory: return "memory";
    case CacheSource::kSqlite: return "sqlite";
    case CacheSource::kCoalesced: return "coalesced";
    case CacheSource::kNone: break;
  }
  return "none";
}

DocError ResponseCache::open(const CacheConfig &config, int64_t now_ms,
                             std::unique_ptr<ResponseCache> &out) {
  std::unique_ptr<ResponseCache> c(new ResponseCache(config));
  if (config.memory)
    c->memory_ = std::make_unique<MemoryCache>(config.memory_max_entries, config.memory_max_bytes);
  if (!config.sqlite_path.empty()) {
    SqliteCache::Options o;
    o.path = config.sqlite_path;
    o.max_entries = config.sqlite_max_entries;
    o.max_bytes = config.sqlite_max_bytes;
    o.set_aside_corrupt = config.sqlite_set_aside_corrupt;
    o.busy_timeout_ms = config.sqlite_busy_timeout_ms;
    std::string why;
    c->sqlite_ = SqliteCache::open(o, now_ms, why);
    if (!c->sqlite_) return {LLMSVC_ESYSTEM, "config.cache.sqlite.path: " + why};
  }
  out = std::move(c);
  return {};
}

ResponseCache::ResponseCache(const CacheConfig &config) : config_(config) {}
ResponseCache::~ResponseCache() = default;

CacheSource ResponseCache::get(const CacheKey &key, int64_t now_ms, CachedReply &out) {
  if (memory_ && memory_->get(key, now_ms, out)) return CacheSource::kMemory;
  if (sqlite_ && sqlite_->get(key, now_ms, out)) {
    if (memory_) {
      CachedReply copy = out;
      copy.expires_ms = std::min(out.expires_ms, now_ms + config_.memory_ttl_ms);
      memory_->put(key, copy);
    }
    return CacheSource::kSqlite;
  }
  return CacheSource::kNone;
}

bool ResponseCache::get_memory(const CacheKey &key, int64_t now_ms, CachedReply &out) {
  return memory_ && memory_->get(key, now_ms, out);
}

void ResponseCache::put(const CacheKey &key, CachedReply value, int64_t now_ms) {
  value.created_ms = now_ms;
  if (sqlite_) {
    value.expires_ms = now_ms + config_.sqlite_ttl_ms;
    sqlite_->put(key, value);
  }
  if (memory_) {
    value.expires_ms = now_ms + config_.memory_ttl_ms;
    memory_->put(key, value);
  }
}

void ResponseCache::write_stats(JsonWriter &w) const {
  w.Key("policy");
  w.String(config_.policy == CacheConfig::Policy::kAll ? "all" : "deterministic");
  if (memory_) {
    MemoryCache::Stats s = memory_->stats();
    w.Key("memory");
    w.StartObject();
    w.Key("entries");
    w.Int64(s.entries);
    w.Key("bytes");
    w.Int64(s.bytes);
    w.Key("max_entries");
    w.Int64(config_.memory_max_entries);
    w.Key("max_bytes");
    w.Int64(config_.memory_max_bytes);
    w.Key("evictions");
    w.Int64(s.evictions);
    w.Key("expired");
    w.Int64(s.expired);
    w.EndObject();
  }
  if (sqlite_) {
    w.Key("sqlite");
    sqlite_->write_stats(w);
  }
}

}  // namespace llmsvc
