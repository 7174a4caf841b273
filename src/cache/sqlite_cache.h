// The persistent cache layer: one SQLite file in WAL mode, shared safely by several
// clients and processes. Reads run on the caller's thread (one reading connection); writes
// are queued to a thread of their own with its own connection and applied in batches, so
// a busy file never stalls the engine. Failures are counted and reported, never thrown at
// a request: a cache that stops working turns itself off and says why.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cache/cache.h"

struct sqlite3;
struct sqlite3_stmt;

namespace llmsvc {

class SqliteCache {
 public:
  struct Options {
    std::string path;
    int64_t max_entries = 1000000;
    int64_t max_bytes = int64_t(1) << 30;
    bool set_aside_corrupt = false;
    int64_t busy_timeout_ms = 5000;
  };

  /// Opens (creating when needed) the cache file. NULL with `why` set when the file cannot
  /// be used: unreadable, not a database, another program's database, corrupt (unless
  /// `set_aside_corrupt`: then it is renamed to PATH.corrupt-UNIXMS and a new one started).
  static std::unique_ptr<SqliteCache> open(const Options &o, int64_t now_ms, std::string &why);
  ~SqliteCache();  // applies what is queued, then closes
  SqliteCache(const SqliteCache &) = delete;
  SqliteCache &operator=(const SqliteCache &) = delete;

  bool get(const CacheKey &key, int64_t now_ms, CachedReply &out);
  /// Queues a store (value.created_ms and expires_ms set).
  void put(const CacheKey &key, const CachedReply &value);
  /// Waits until every queued write is applied.
  void flush();
  void write_stats(JsonWriter &w) const;
  /// Why the layer turned itself off; empty while it works.
  std::string disabled_reason() const;

 private:
  struct Op {
    CacheKey key;
    std::string value;  // empty: only mark the entry as used
    int64_t created_ms = 0;
    int64_t expires_ms = 0;
    int64_t used_ms = 0;
  };

  SqliteCache(Options o, sqlite3 *writer, sqlite3 *reader);
  void run();
  void write_batch(std::vector<Op> &batch);
  void evict_over_bounds();
  void failed(int rc, const char *during, sqlite3 *db);
  void enqueue(Op op);

  const Options options_;
  sqlite3 *writer_;
  sqlite3 *reader_;
  std::string set_aside_path_;

  std::mutex read_mu_;
  sqlite3_stmt *select_ = nullptr;  // under read_mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::vector<Op> queue_;
  bool writing_ = false;
  bool stop_ = false;
  std::string disabled_;  // under mu_
  std::string last_error_;
  std::atomic<bool> off_{false};

  std::atomic<int64_t> writes_{0};
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> evictions_{0};
  std::atomic<int64_t> expired_{0};
  std::atomic<int64_t> entries_{0};
  std::atomic<int64_t> bytes_{0};
  int64_t last_purge_ms_ = 0;  // writer thread only

  std::thread thread_;
};

}  // namespace llmsvc
