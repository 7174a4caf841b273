#include "cache/sqlite_cache.h"

#include <pthread.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>

namespace llmsvc {

namespace {

// "llms" in PRAGMA application_id marks a file as ours; user_version is the layout.
constexpr int kApplicationId = 0x6c6c6d73;
constexpr int kLayoutVersion = 1;
constexpr size_t kMaxQueued = 65536;
constexpr int64_t kPurgeEveryMs = 1000;

const char kSchema[] =
    "CREATE TABLE IF NOT EXISTS llmsvc_cache("
    "  key BLOB PRIMARY KEY, value BLOB NOT NULL, created_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL, used_ms INTEGER NOT NULL, size INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS llmsvc_cache_used ON llmsvc_cache(used_ms);"
    "CREATE INDEX IF NOT EXISTS llmsvc_cache_expires ON llmsvc_cache(expires_ms);"
    // Totals kept exact by triggers, so every process sees the same size without a scan.
    "CREATE TABLE IF NOT EXISTS llmsvc_cache_stats("
    "  id INTEGER PRIMARY KEY CHECK (id = 0), entries INTEGER NOT NULL, bytes INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO llmsvc_cache_stats VALUES (0, 0, 0);"
    "CREATE TRIGGER IF NOT EXISTS llmsvc_cache_ins AFTER INSERT ON llmsvc_cache BEGIN"
    "  UPDATE llmsvc_cache_stats SET entries = entries + 1, bytes = bytes + new.size"
    "  WHERE id = 0; END;"
    "CREATE TRIGGER IF NOT EXISTS llmsvc_cache_del AFTER DELETE ON llmsvc_cache BEGIN"
    "  UPDATE llmsvc_cache_stats SET entries = entries - 1, bytes = bytes - old.size"
    "  WHERE id = 0; END;"
    "CREATE TRIGGER IF NOT EXISTS llmsvc_cache_upd AFTER UPDATE OF size ON llmsvc_cache BEGIN"
    "  UPDATE llmsvc_cache_stats SET bytes = bytes - old.size + new.size WHERE id = 0; END;";

const char kUpsert[] =
    "INSERT INTO llmsvc_cache(key, value, created_ms, expires_ms, used_ms, size)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(key) DO UPDATE SET"
    " value = excluded.value, created_ms = excluded.created_ms,"
    " expires_ms = excluded.expires_ms, used_ms = excluded.used_ms, size = excluded.size";
const char kTouch[] = "UPDATE llmsvc_cache SET used_ms = ?2 WHERE key = ?1 AND used_ms < ?2";
const char kSelect[] = "SELECT value, created_ms, expires_ms FROM llmsvc_cache WHERE key = ?1";

bool is_corrupt(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

struct Stmt {
  sqlite3_stmt *s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

int exec(sqlite3 *db, const char *sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

int pragma_int(sqlite3 *db, const char *sql, int64_t &out) {
  Stmt st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st.s, nullptr);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st.s);
  if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
  out = sqlite3_column_int64(st.s, 0);
  return SQLITE_OK;
}

std::string describe(sqlite3 *db, int rc) {
  std::string s = sqlite3_errstr(rc);
  const char *m = db ? sqlite3_errmsg(db) : nullptr;
  if (m && s != m) s += std::string(" (") + m + ")";
  return s;
}

void close_db(sqlite3 *&db) {
  if (db) sqlite3_close_v2(db);
  db = nullptr;
}

// Opens the file and makes sure it is our cache (creating the layout in a new file).
// Returns an SQLite code; `why` says what was wrong.
int open_file(const std::string &path, int64_t busy_ms, sqlite3 *&db, std::string &why) {
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    why = describe(db, rc);
    return rc;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, int(busy_ms));
  {
    Stmt wal;
    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &wal.s, nullptr);
    if (rc == SQLITE_OK) rc = sqlite3_step(wal.s);
    if (rc != SQLITE_ROW) {
      why = describe(db, rc);
      return rc;
    }
  }
  // Everything from here under the write lock: several processes may create the file at
  // once, and what is read (whose file, which layout, any tables) must be one state, not
  // one process's half-done creation seen between two reads.
  if ((rc = exec(db, "BEGIN IMMEDIATE")) != SQLITE_OK) {
    why = describe(db, rc);
    return rc;
  }
  auto fail = [&](int code, std::string reason) {
    why = std::move(reason);
    exec(db, "ROLLBACK");
    return code;
  };
  int64_t app = 0, version = 0, tables = 0;
  if ((rc = pragma_int(db, "PRAGMA application_id", app)) != SQLITE_OK ||
      (rc = pragma_int(db, "PRAGMA user_version", version)) != SQLITE_OK ||
      (rc = pragma_int(db, "SELECT count(*) FROM sqlite_master", tables)) != SQLITE_OK)
    return fail(rc, describe(db, rc));
  if (tables > 0 && app != kApplicationId)
    return fail(SQLITE_MISMATCH, "it is a SQLite database of another program, not an llmsvc cache");
  if (version > kLayoutVersion)
    return fail(SQLITE_MISMATCH, "it was written by a newer llmsvc (cache layout " +
                                     std::to_string(version) + ")");
  // Every statement of the layout is idempotent.
  std::string setup = std::string(kSchema) + "PRAGMA application_id=" +
                      std::to_string(kApplicationId) + ";PRAGMA user_version=" +
                      std::to_string(kLayoutVersion) + ";";
  rc = exec(db, setup.c_str());
  if (rc == SQLITE_OK) rc = exec(db, "COMMIT");
  if (rc != SQLITE_OK) return fail(rc, describe(db, rc));
  int64_t entries = 0;
  if ((rc = pragma_int(db, "SELECT entries FROM llmsvc_cache_stats WHERE id = 0", entries)) !=
      SQLITE_OK) {
    why = describe(db, rc);
    return rc;
  }
  return SQLITE_OK;
}

// SQLite answers SQLITE_BUSY without calling the busy handler where waiting could
// deadlock: a read that must become a write, another process recovering the WAL, the
// switch to WAL mode. Several processes opening one new cache file at once meet exactly
// there (seen as "database is locked" within milliseconds despite a 5 s busy timeout), so
// a busy open is tried again from the start until the busy timeout has passed.
int open_file_waiting(const std::string &path, int64_t busy_ms, sqlite3 *&db, std::string &why) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_ms);
  int64_t pause_ms = 1;
  for (;;) {
    int rc = open_file(path, busy_ms, db, why);
    const int primary = rc & 0xff;
    if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) ||
        std::chrono::steady_clock::now() >= until)
      return rc;
    close_db(db);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    pause_ms = std::min<int64_t>(pause_ms * 2, 50);
  }
}

}  // namespace

std::unique_ptr<SqliteCache> SqliteCache::open(const Options &o, int64_t now_ms,
                                               std::string &why) {
  sqlite3 *writer = nullptr;
  std::string reason;
  std::string set_aside;
  int rc = open_file_waiting(o.path, o.busy_timeout_ms, writer, reason);
  if (rc != SQLITE_OK && is_corrupt(rc) && o.set_aside_corrupt) {
    close_db(writer);
    set_aside = o.path + ".corrupt-" + std::to_string(now_ms);
    if (std::rename(o.path.c_str(), set_aside.c_str()) != 0) {
      why = o.path + " is not a usable cache (" + reason + ") and could not be moved aside";
      return nullptr;
    }
    for (const char *suffix : {"-wal", "-shm"})
      std::rename((o.path + suffix).c_str(), (set_aside + suffix).c_str());
    rc = open_file_waiting(o.path, o.busy_timeout_ms, writer, reason);
  }
  if (rc != SQLITE_OK) {
    close_db(writer);
    why = o.path + " cannot be used as a cache: " + reason;
    if (is_corrupt(rc))
      why += " (set cache.sqlite.on_corrupt to \"set_aside\" to move it aside and start afresh)";
    return nullptr;
  }
  sqlite3 *reader = nullptr;
  rc = sqlite3_open_v2(o.path.c_str(), &reader, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                       nullptr);
  if (rc != SQLITE_OK) {
    why = o.path + " cannot be opened for reading: " + describe(reader, rc);
    close_db(reader);
    close_db(writer);
    return nullptr;
  }
  sqlite3_extended_result_codes(reader, 1);
  // A reader of a WAL file rarely waits; never hold a submitting thread long.
  sqlite3_busy_timeout(reader, int(std::min<int64_t>(o.busy_timeout_ms, 1000)));
  std::unique_ptr<SqliteCache> c(new SqliteCache(o, writer, reader));
  c->set_aside_path_ = std::move(set_aside);
  rc = sqlite3_prepare_v3(reader, kSelect, -1, SQLITE_PREPARE_PERSISTENT, &c->select_, nullptr);
  if (rc != SQLITE_OK) {
    why = o.path + " cannot be read: " + describe(reader, rc);
    return nullptr;
  }
  int64_t entries = 0, bytes = 0;
  pragma_int(writer, "SELECT entries FROM llmsvc_cache_stats WHERE id = 0", entries);
  pragma_int(writer, "SELECT bytes FROM llmsvc_cache_stats WHERE id = 0", bytes);
  c->entries_ = entries;
  c->bytes_ = bytes;
  c->thread_ = std::thread(&SqliteCache::run, c.get());
  return c;
}

SqliteCache::SqliteCache(Options o, sqlite3 *writer, sqlite3 *reader)
    : options_(std::move(o)), writer_(writer), reader_(reader) {}

SqliteCache::~SqliteCache() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  sqlite3_finalize(select_);
  close_db(reader_);
  close_db(writer_);
}

bool SqliteCache::get(const CacheKey &key, int64_t now_ms, CachedReply &out) {
  if (off_.load(std::memory_order_relaxed)) return false;
  bool hit = false;
  int rc;
  {
    std::lock_guard<std::mutex> lock(read_mu_);
    sqlite3_bind_blob(select_, 1, key.bytes.data(), int(key.bytes.size()), SQLITE_STATIC);
    rc = sqlite3_step(select_);
    if (rc == SQLITE_ROW) {
      int64_t expires = sqlite3_column_int64(select_, 2);
      const void *data = sqlite3_column_blob(select_, 0);
      int len = sqlite3_column_bytes(select_, 0);
      if (expires > now_ms &&
          out.decode(std::string_view(static_cast<const char *>(data), size_t(len)))) {
        out.created_ms = sqlite3_column_int64(select_, 1);
        out.expires_ms = expires;
        hit = true;
      }
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
    }
    sqlite3_reset(select_);
    sqlite3_clear_bindings(select_);
    if (rc != SQLITE_OK) failed(rc, "reading", reader_);  // the message lives on reader_
  }
  if (hit) enqueue(Op{key, std::string(), 0, 0, now_ms});  // least recently used goes first
  return hit;
}

void SqliteCache::put(const CacheKey &key, const CachedReply &value) {
  if (off_.load(std::memory_order_relaxed)) return;
  enqueue(Op{key, value.encode(), value.created_ms, value.expires_ms, value.created_ms});
}

void SqliteCache::enqueue(Op op) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || queue_.size() >= kMaxQueued) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(op));
  }
  cv_.notify_one();
}

void SqliteCache::flush() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] { return queue_.empty() && !writing_; });
}

void SqliteCache::run() {
  pthread_setname_np(pthread_self(), "llmsvc-cache");
  std::vector<Op> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping with nothing left to write
      batch.swap(queue_);
      writing_ = true;
    }
    try {
      if (!off_.load(std::memory_order_relaxed)) write_batch(batch);
    } catch (...) {
      errors_.fetch_add(1, std::memory_order_relaxed);
    }
    batch.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
    }
    idle_cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mu_);
  idle_cv_.notify_all();
}

void SqliteCache::write_batch(std::vector<Op> &batch) {
  int rc = exec(writer_, "BEGIN IMMEDIATE");
  if (rc != SQLITE_OK) {
    failed(rc, "starting a write", writer_);
    return;
  }
  Stmt upsert, touch;
  rc = sqlite3_prepare_v2(writer_, kUpsert, -1, &upsert.s, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(writer_, kTouch, -1, &touch.s, nullptr);
  int64_t now_ms = 0;
  for (size_t i = 0; rc == SQLITE_OK && i < batch.size(); ++i) {
    const Op &op = batch[i];
    now_ms = std::max(now_ms, op.used_ms);
    sqlite3_stmt *s = op.value.empty() ? touch.s : upsert.s;
    sqlite3_bind_blob(s, 1, op.key.bytes.data(), int(op.key.bytes.size()), SQLITE_STATIC);
    if (op.value.empty()) {
      sqlite3_bind_int64(s, 2, op.used_ms);
    } else {
      sqlite3_bind_blob(s, 2, op.value.data(), int(op.value.size()), SQLITE_STATIC);
      sqlite3_bind_int64(s, 3, op.created_ms);
      sqlite3_bind_int64(s, 4, op.expires_ms);
      sqlite3_bind_int64(s, 5, op.used_ms);
      sqlite3_bind_int64(s, 6, int64_t(op.value.size() + op.key.bytes.size()));
    }
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    sqlite3_reset(s);
    if (rc == SQLITE_OK && !op.value.empty()) writes_.fetch_add(1, std::memory_order_relaxed);
  }
  if (rc == SQLITE_OK && now_ms - last_purge_ms_ >= kPurgeEveryMs) {
    Stmt purge;
    rc = sqlite3_prepare_v2(writer_, "DELETE FROM llmsvc_cache WHERE expires_ms <= ?1", -1,
                            &purge.s, nullptr);
    if (rc == SQLITE_OK) {
      sqlite3_bind_int64(purge.s, 1, now_ms);
      rc = sqlite3_step(purge.s);
      if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
        expired_.fetch_add(sqlite3_changes(writer_), std::memory_order_relaxed);
        last_purge_ms_ = now_ms;
      }
    }
  }
  if (rc == SQLITE_OK) evict_over_bounds();
  if (rc == SQLITE_OK) rc = exec(writer_, "COMMIT");
  if (rc != SQLITE_OK) {
    failed(rc, "writing", writer_);
    exec(writer_, "ROLLBACK");
  }
  int64_t entries = 0, bytes = 0;
  if (pragma_int(writer_, "SELECT entries FROM llmsvc_cache_stats WHERE id = 0", entries) ==
          SQLITE_OK &&
      pragma_int(writer_, "SELECT bytes FROM llmsvc_cache_stats WHERE id = 0", bytes) ==
          SQLITE_OK) {
    entries_ = entries;
    bytes_ = bytes;
  }
}

void SqliteCache::evict_over_bounds() {
  for (int round = 0; round < 16; ++round) {
    int64_t entries = 0, bytes = 0;
    if (pragma_int(writer_, "SELECT entries FROM llmsvc_cache_stats WHERE id = 0", entries) !=
            SQLITE_OK ||
        pragma_int(writer_, "SELECT bytes FROM llmsvc_cache_stats WHERE id = 0", bytes) !=
            SQLITE_OK)
      return;
    if (entries <= options_.max_entries && bytes <= options_.max_bytes) return;
    int64_t n = std::max<int64_t>(entries - options_.max_entries, 0);
    if (bytes > options_.max_bytes && entries > 0) {
      int64_t avg = std::max<int64_t>(bytes / entries, 1);
      n = std::max(n, (bytes - options_.max_bytes + avg - 1) / avg);
    }
    n = std::max<int64_t>(n, 1);
    Stmt del;
    if (sqlite3_prepare_v2(writer_,
                           "DELETE FROM llmsvc_cache WHERE key IN (SELECT key FROM llmsvc_cache"
                           " ORDER BY used_ms LIMIT ?1)",
                           -1, &del.s, nullptr) != SQLITE_OK)
      return;
    sqlite3_bind_int64(del.s, 1, n);
    if (sqlite3_step(del.s) != SQLITE_DONE) return;
    evictions_.fetch_add(sqlite3_changes(writer_), std::memory_order_relaxed);
  }
}

void SqliteCache::failed(int rc, const char *during, sqlite3 *db) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  std::string what = std::string(during) + " " + options_.path + ": " + describe(db, rc);
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = what;
  if (is_corrupt(rc) && disabled_.empty()) {
    // Corruption found while running: stop using the file rather than guess.
    disabled_ = what;
    off_.store(true);
  }
}

std::string SqliteCache::disabled_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return disabled_;
}

void SqliteCache::write_stats(JsonWriter &w) const {
  std::string disabled, last_error;
  size_t queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    disabled = disabled_;
    last_error = last_error_;
    queued = queue_.size();
  }
  w.StartObject();
  w.Key("path");
  write_str(w, options_.path);
  w.Key("ok");
  w.Bool(disabled.empty());
  if (!disabled.empty()) {
    w.Key("disabled");
    write_str(w, disabled);
  }
  if (!set_aside_path_.empty()) {
    w.Key("set_aside");  // an unusable file found at open was moved here
    write_str(w, set_aside_path_);
  }
  w.Key("entries");
  w.Int64(entries_.load());
  w.Key("bytes");
  w.Int64(bytes_.load());
  w.Key("max_entries");
  w.Int64(options_.max_entries);
  w.Key("max_bytes");
  w.Int64(options_.max_bytes);
  w.Key("writes");
  w.Int64(writes_.load());
  w.Key("queued_writes");
  w.Int64(int64_t(queued));
  w.Key("dropped_writes");
  w.Int64(dropped_.load());
  w.Key("evictions");
  w.Int64(evictions_.load());
  w.Key("expired");
  w.Int64(expired_.load());
  w.Key("errors");
  w.Int64(errors_.load());
  if (!last_error.empty()) {
    w.Key("last_error");
    write_str(w, last_error);
  }
  w.EndObject();
}

}  // namespace llmsvc
