// Response caching: the key of a request, what a cached reply holds, a bounded in-memory
// LRU, and the front that puts the memory and SQLite layers together. Times are arguments
// (Unix milliseconds), so tests drive expiry without sleeping.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/json.h"
#include "core/config.h"
#include "usage/prices.h"

namespace llmsvc {

/// SHA-256 of a request's canonical form.
struct CacheKey {
  std::array<uint8_t, 32> bytes{};
  bool operator==(const CacheKey &o) const { return bytes == o.bytes; }
  bool operator!=(const CacheKey &o) const { return bytes != o.bytes; }
  std::string hex() const;
};

struct CacheKeyHash {
  size_t operator()(const CacheKey &k) const {
    size_t h;
    std::memcpy(&h, k.bytes.data(), sizeof h);  // already a uniform hash
    return h;
  }
};

/// The canonical form of a wire body: objects with their members sorted by name, no
/// whitespace, and the members that do not change the answer left out (stream, stream
/// options, end-user ids, metadata). Returns false when `body` is not JSON.
bool canonical_body(std::string_view body, std::string &out);

/// The key of a request: SHA-256 over a version tag, the provider's wire format, its
/// endpoint (or the cache's namespace) and the canonical body. Trace ids, metadata, operation, priority and timeouts
/// never reach the body, so they never change the key.
CacheKey make_cache_key(std::string_view provider, std::string_view url, std::string_view body);

/// What a cache entry keeps of a successful reply.
struct CachedReply {
  std::string text;
  std::string finish_reason;
  std::string response_id;
  std::string model;  // as the provider reported it
  TokenUsage usage;
  std::string extra;  // the reply's tool calls, choices and the rest (encode_reply_extras); "" none
  int64_t cost_pico = -1;  // what the reply cost when it was fetched; -1 unknown
  int64_t created_ms = 0;  // Unix ms when it was stored
  int64_t expires_ms = 0;  // Unix ms after which it is stale

  /// The stored form (a small JSON document).
  std::string encode() const;
  bool decode(std::string_view data);
  /// Bytes it holds, for the memory bound.
  size_t footprint() const;
};

/// A bounded LRU map in memory: at most `max_entries` entries and `max_bytes` bytes; an
/// entry older than its expiry is a miss (and is dropped). Thread-safe.
class MemoryCache {
 public:
  MemoryCache(int64_t max_entries, int64_t max_bytes)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}
  bool get(const CacheKey &key, int64_t now_ms, CachedReply &out);
  void put(const CacheKey &key, const CachedReply &value);
  struct Stats {
    int64_t entries = 0;
    int64_t bytes = 0;
    int64_t evictions = 0;
    int64_t expired = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    CacheKey key;
    std::shared_ptr<const CachedReply> value;
    size_t bytes;
  };
  void evict_locked();

  const int64_t max_entries_;
  const int64_t max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<CacheKey, std::list<Entry>::iterator, CacheKeyHash> index_;
  int64_t bytes_ = 0;
  int64_t evictions_ = 0;
  int64_t expired_ = 0;
};

class SqliteCache;

/// Where a hit came from.
enum class CacheSource : uint8_t { kNone, kMemory, kSqlite, kCoalesced };
const char *cache_source_name(CacheSource s);

/// The memory and SQLite layers of one client, memory in front. Lookups run on the
/// submitting threads, stores on the engine thread; SQLite writes go to its own thread.
class ResponseCache {
 public:
  /// Opens the layers `config` asks for. On failure (a cache file that cannot be used)
  /// returns an error naming the file and the reason.
  static DocError open(const CacheConfig &config, int64_t now_ms,
                       std::unique_ptr<ResponseCache> &out);
  ~ResponseCache();

  const CacheConfig &config() const { return config_; }
  /// Memory first, then SQLite (a SQLite hit is copied into memory).
  CacheSource get(const CacheKey &key, int64_t now_ms, CachedReply &out);
  /// Memory only: cheap enough for the engine thread.
  bool get_memory(const CacheKey &key, int64_t now_ms, CachedReply &out);
  /// Stores a reply in every layer with each layer's time to live.
  void put(const CacheKey &key, CachedReply value, int64_t now_ms);
  void write_stats(JsonWriter &w) const;

 private:
  explicit ResponseCache(const CacheConfig &config);
  CacheConfig config_;
  std::unique_ptr<MemoryCache> memory_;
  std::unique_ptr<SqliteCache> sqlite_;
};

}  // namespace llmsvc
