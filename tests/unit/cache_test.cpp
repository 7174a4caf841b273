// The response cache's parts: keys, entries, the memory LRU and the SQLite layer. Times
// are arguments, so expiry is tested without waiting.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "cache/cache.h"
#include "cache/sqlite_cache.h"
#include "common/alloc.h"
#include "core/config.h"
#include "core/request.h"
#include "providers/provider.h"

using namespace llmsvc;

namespace {

CacheKey request_key(const std::string &json, const std::string &provider = "openai_chat") {
  Config cfg;
  cfg.provider = provider;
  cfg.base_url = "http://127.0.0.1:9";
  auto p = make_provider(cfg);
  RequestSpec spec;
  DocError err = parse_request(json, "", spec);
  EXPECT_FALSE(err) << err.message;
  JsonBuffer body;
  p->build_body(spec, body);
  return make_cache_key(p->name(), p->url(), {body.GetString(), body.GetSize()});
}

CachedReply reply(const std::string &text, int64_t expires_ms, int64_t cost = 1000) {
  CachedReply r;
  r.text = text;
  r.finish_reason = "stop";
  r.response_id = "chatcmpl-1";
  r.model = "gpt-4o-mini-2024-07-18";
  r.usage = {12, 3, 4, 0, 0};
  r.cost_pico = cost;
  r.created_ms = 1000;
  r.expires_ms = expires_ms;
  return r;
}

CacheKey key_of(int i) {
  CacheKey k;
  k.bytes[0] = uint8_t(i);
  k.bytes[1] = uint8_t(i >> 8);
  k.bytes[31] = 7;
  return k;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/llmsvc-cache-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace

TEST(CacheKey, IgnoresMemberOrderWhitespaceAndBookkeeping) {
  CacheKey a = request_key(R"({"model":"gpt-4o-mini","prompt":"hi","temperature":0})");
  CacheKey b = request_key(
      "{ \"temperature\" : 0,\n \"prompt\": \"hi\", \"model\": \"gpt-4o-mini\",\n"
      " \"trace_id\": \"t-9\", \"metadata\": {\"row\": 4}, \"operation\": \"x\","
      " \"priority\": \"high\", \"timeout_ms\": 5000, \"id\": 17, \"user\": \"u-1\","
      " \"cache\": \"use\", \"stream\": true }");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.hex().size(), 64u);
  // The same conversation written out as messages is the same request.
  EXPECT_EQ(a, request_key(R"({"model":"gpt-4o-mini","temperature":0,
                              "messages":[{"role":"user","content":"hi"}]})"));
}

TEST(CacheKey, ChangesWithWhatChangesTheAnswer) {
  CacheKey base = request_key(R"({"model":"gpt-4o-mini","prompt":"hi","temperature":0})");
  EXPECT_NE(base, request_key(R"({"model":"gpt-4o","prompt":"hi","temperature":0})"));
  EXPECT_NE(base, request_key(R"({"model":"gpt-4o-mini","prompt":"hi!","temperature":0})"));
  EXPECT_NE(base, request_key(R"({"model":"gpt-4o-mini","prompt":"hi","temperature":0.5})"));
  EXPECT_NE(base, request_key(R"({"model":"gpt-4o-mini","prompt":"hi","temperature":0,
                                 "max_output_tokens":5})"));
  EXPECT_NE(base, request_key(R"({"model":"gpt-4o-mini","prompt":"hi","temperature":0,
                                 "instructions":"be brief"})"));
  EXPECT_NE(base, request_key(R"({"model":"gpt-4o-mini","prompt":"hi","temperature":0})",
                              "openai_responses"));
  // Schema member order does not matter; the schema itself does.
  CacheKey s1 = request_key(R"({"model":"m","prompt":"p","json_schema":{"name":"x",
      "schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}}})");
  CacheKey s2 = request_key(R"({"model":"m","prompt":"p","json_schema":{"name":"x",
      "schema":{"required":["a"],"properties":{"a":{"type":"string"}},"type":"object"}}})");
  CacheKey s3 = request_key(R"({"model":"m","prompt":"p","json_schema":{"name":"x",
      "schema":{"type":"object","properties":{"a":{"type":"number"}},"required":["a"]}}})");
  EXPECT_EQ(s1, s2);
  EXPECT_NE(s1, s3);
}

TEST(CacheKey, CanonicalBodySortsNestedObjects) {
  std::string out;
  ASSERT_TRUE(canonical_body(R"({"b":{"z":1,"a":[{"y":2,"x":1}]},"a":"s","stream":true})", out));
  EXPECT_EQ(out, R"({"a":"s","b":{"a":[{"x":1,"y":2}],"z":1}})");
  EXPECT_FALSE(canonical_body("{not json", out));
}

TEST(CachedReply, EncodesAndDecodes) {
  CachedReply r = reply("caf\xc3\xa9 \"quoted\"\n", 5000, -1);
  r.usage = {1, 2, 3, 4, 5};
  CachedReply back;
  ASSERT_TRUE(back.decode(r.encode()));
  EXPECT_EQ(back.text, r.text);
  EXPECT_EQ(back.finish_reason, "stop");
  EXPECT_EQ(back.response_id, "chatcmpl-1");
  EXPECT_EQ(back.model, r.model);
  EXPECT_EQ(back.usage.prompt, 1);
  EXPECT_EQ(back.usage.cache_write, 5);
  EXPECT_EQ(back.cost_pico, -1);
  EXPECT_FALSE(back.decode("{}"));
  EXPECT_FALSE(back.decode("garbage"));
  EXPECT_FALSE(back.decode(R"({"text":"a","finish_reason":"","response_id":"","model":"",
                               "usage":[1,2],"cost_pico":0})"));
}

TEST(MemoryCache, HitsMissesAndExpires) {
  MemoryCache m(100, 1 << 20);
  CachedReply out;
  EXPECT_FALSE(m.get(key_of(1), 0, out));
  m.put(key_of(1), reply("one", 2000));
  ASSERT_TRUE(m.get(key_of(1), 1999, out));
  EXPECT_EQ(out.text, "one");
  EXPECT_FALSE(m.get(key_of(1), 2000, out));  // expired, and dropped
  EXPECT_EQ(m.stats().entries, 0);
  EXPECT_EQ(m.stats().expired, 1);
  m.put(key_of(2), reply("two", 9000));
  m.put(key_of(2), reply("two again", 9000));  // replaces
  ASSERT_TRUE(m.get(key_of(2), 0, out));
  EXPECT_EQ(out.text, "two again");
  EXPECT_EQ(m.stats().entries, 1);
}

TEST(MemoryCache, EvictsLeastRecentlyUsedByCountAndBytes) {
  MemoryCache m(3, 1 << 20);
  CachedReply out;
  for (int i = 1; i <= 3; ++i) m.put(key_of(i), reply("v", 9000));
  ASSERT_TRUE(m.get(key_of(1), 0, out));  // 1 is now the most recent; 2 the least
  m.put(key_of(4), reply("v", 9000));
  EXPECT_FALSE(m.get(key_of(2), 0, out));
  EXPECT_TRUE(m.get(key_of(1), 0, out));
  EXPECT_TRUE(m.get(key_of(3), 0, out));
  EXPECT_TRUE(m.get(key_of(4), 0, out));
  EXPECT_EQ(m.stats().evictions, 1);

  MemoryCache small(1000, 4096);
  for (int i = 0; i < 20; ++i) small.put(key_of(i), reply(std::string(500, 'x'), 9000));
  MemoryCache::Stats s = small.stats();
  EXPECT_LE(s.bytes, 4096);
  EXPECT_GT(s.entries, 0);
  EXPECT_TRUE(small.get(key_of(19), 0, out));  // the newest stays
  small.put(key_of(99), reply(std::string(10000, 'x'), 9000));  // larger than the bound
  EXPECT_FALSE(small.get(key_of(99), 0, out));
}

TEST(SqliteCache, StoresPersistsAndExpires) {
  TempDir dir;
  SqliteCache::Options o;
  o.path = dir.file("c.db");
  std::string why;
  {
    auto c = SqliteCache::open(o, 1000, why);
    ASSERT_TRUE(c) << why;
    CachedReply out;
    EXPECT_FALSE(c->get(key_of(1), 1000, out));
    c->put(key_of(1), reply("persisted", 50000));
    c->flush();
    ASSERT_TRUE(c->get(key_of(1), 1000, out));
    EXPECT_EQ(out.text, "persisted");
    EXPECT_EQ(out.created_ms, 1000);
    EXPECT_EQ(out.usage.cached, 4);
  }
  auto c = SqliteCache::open(o, 2000, why);  // a new connection to the same file
  ASSERT_TRUE(c) << why;
  CachedReply out;
  ASSERT_TRUE(c->get(key_of(1), 49999, out));
  EXPECT_EQ(out.text, "persisted");
  EXPECT_FALSE(c->get(key_of(1), 50000, out));  // past its expiry
  // The next write purges what has expired.
  c->put(key_of(2), reply("later", 90000));
  c->flush();
  JsonBuffer buf;
  JsonWriter w(buf);
  c->write_stats(w);
  std::string stats(buf.GetString(), buf.GetSize());
  EXPECT_NE(stats.find("\"ok\":true"), std::string::npos) << stats;
}

TEST(SqliteCache, TwoConnectionsShareOneFile) {
  TempDir dir;
  SqliteCache::Options o;
  o.path = dir.file("shared.db");
  std::string why;
  auto a = SqliteCache::open(o, 0, why);
  auto b = SqliteCache::open(o, 0, why);
  ASSERT_TRUE(a && b) << why;
  for (int i = 0; i < 50; ++i) (i % 2 ? a : b)->put(key_of(i), reply("v" + std::to_string(i), 1 << 30));
  a->flush();
  b->flush();
  CachedReply out;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE((i % 2 ? b : a)->get(key_of(i), 0, out)) << i;
    EXPECT_EQ(out.text, "v" + std::to_string(i));
  }
}

TEST(SqliteCache, StaysWithinItsBoundsEvictingLeastRecentlyUsed) {
  TempDir dir;
  SqliteCache::Options o;
  o.path = dir.file("bounded.db");
  o.max_entries = 10;
  std::string why;
  auto c = SqliteCache::open(o, 0, why);
  ASSERT_TRUE(c) << why;
  for (int i = 0; i < 10; ++i) {
    CachedReply r = reply("v", 1 << 30);
    r.created_ms = i;  // used in this order
    c->put(key_of(i), r);
  }
  c->flush();
  CachedReply out;
  ASSERT_TRUE(c->get(key_of(0), 100, out));  // 0 becomes the most recently used
  c->flush();
  for (int i = 10; i < 15; ++i) {
    CachedReply r = reply("v", 1 << 30);
    r.created_ms = 200 + i;
    c->put(key_of(i), r);
  }
  c->flush();
  int kept = 0;
  for (int i = 0; i < 15; ++i) kept += c->get(key_of(i), 300, out) ? 1 : 0;
  EXPECT_EQ(kept, 10);
  EXPECT_TRUE(c->get(key_of(0), 300, out));   // touched: kept
  EXPECT_FALSE(c->get(key_of(1), 300, out));  // oldest untouched: evicted
  EXPECT_TRUE(c->get(key_of(14), 300, out));

  SqliteCache::Options ob = o;
  ob.path = dir.file("bytes.db");
  ob.max_entries = 1000;
  ob.max_bytes = 20000;
  auto cb = SqliteCache::open(ob, 0, why);
  ASSERT_TRUE(cb) << why;
  for (int i = 0; i < 100; ++i) cb->put(key_of(i), reply(std::string(1000, 'y'), 1 << 30));
  cb->flush();
  JsonBuffer buf;
  JsonWriter w(buf);
  cb->write_stats(w);
  rapidjson::Document d;
  d.Parse(buf.GetString());
  EXPECT_LE(d["bytes"].GetInt64(), 20000);
  EXPECT_GT(d["entries"].GetInt64(), 5);
  EXPECT_GT(d["evictions"].GetInt64(), 0);
}

TEST(SqliteCache, RefusesACorruptFileClearly) {
  TempDir dir;
  std::string path = dir.file("corrupt.db");
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 512; ++i) f << "this is not a database ";
  }
  SqliteCache::Options o;
  o.path = path;
  std::string why;
  EXPECT_FALSE(SqliteCache::open(o, 0, why));
  EXPECT_NE(why.find(path), std::string::npos) << why;
  EXPECT_NE(why.find("not a database"), std::string::npos) << why;
  EXPECT_NE(why.find("set_aside"), std::string::npos) << why;

  o.set_aside_corrupt = true;
  auto c = SqliteCache::open(o, 1234, why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(access((path + ".corrupt-1234").c_str(), F_OK), 0);  // kept for a look
  c->put(key_of(1), reply("fresh", 1 << 30));
  c->flush();
  CachedReply out;
  EXPECT_TRUE(c->get(key_of(1), 0, out));
}

TEST(SqliteCache, RefusesAnotherProgramsDatabaseAndAnUnwritablePath) {
  TempDir dir;
  std::string path = dir.file("other.db");
  sqlite3 *db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE notes(x TEXT)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  SqliteCache::Options o;
  o.path = path;
  o.set_aside_corrupt = true;  // never moves a sound database of someone else's
  std::string why;
  EXPECT_FALSE(SqliteCache::open(o, 0, why));
  EXPECT_NE(why.find("another program"), std::string::npos) << why;
  EXPECT_EQ(access(path.c_str(), F_OK), 0);

  o.path = dir.file("no/such/dir/c.db");
  EXPECT_FALSE(SqliteCache::open(o, 0, why));
  EXPECT_NE(why.find("no/such/dir/c.db"), std::string::npos) << why;
}

TEST(CacheConfig, ParsesAndRejectsWithThePath) {
  Config c;
  ASSERT_FALSE(parse_config(R"({"cache":{"policy":"all","memory":{"max_entries":5,"ttl_ms":10},
                                 "sqlite":{"path":"/tmp/x.db","on_corrupt":"set_aside"}}})", c));
  EXPECT_TRUE(c.cache.memory);
  EXPECT_EQ(c.cache.memory_max_entries, 5);
  EXPECT_EQ(c.cache.memory_ttl_ms, 10);
  EXPECT_EQ(c.cache.sqlite_path, "/tmp/x.db");
  EXPECT_TRUE(c.cache.sqlite_set_aside_corrupt);
  EXPECT_EQ(c.cache.policy, CacheConfig::Policy::kAll);
  Config d;
  ASSERT_FALSE(parse_config(R"({"cache":{"memory":true,"sqlite":"c.db"}})", d));
  EXPECT_TRUE(d.cache.memory);
  EXPECT_EQ(d.cache.sqlite_path, "c.db");
  EXPECT_EQ(d.cache.policy, CacheConfig::Policy::kDeterministic);
  Config e;
  EXPECT_EQ(parse_config(R"({"cache":{"policy":"sometimes"}})", e).message,
            "config.cache.policy: \"sometimes\" is not one of deterministic, all");
  EXPECT_NE(parse_config(R"({"cache":{"memory":{"max_entris":5}}})", e).message.find(
                "config.cache.memory"),
            std::string::npos);
  EXPECT_NE(parse_config(R"({"cache":{"sqlite":{}}})", e).message.find("path"), std::string::npos);
  RequestSpec spec;
  EXPECT_EQ(parse_request(R"({"model":"m","prompt":"p","cache":"always"})", "", spec).message,
            "request.cache: \"always\" is not one of default, use, refresh, bypass");
  ASSERT_FALSE(parse_request(R"({"model":"m","prompt":"p","cache":"refresh"})", "", spec));
  EXPECT_EQ(spec.cache, CacheMode::kRefresh);
}
