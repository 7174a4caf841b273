#include "sim_redis.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace llmsvc::sim {

namespace {

std::string arg(lua_State *L, int i) {
  size_t len = 0;
  const char *s = lua_tolstring(L, i, &len);  // numbers become their text, as Redis does
  if (!s) luaL_error(L, "redis.call: argument %d is neither a string nor a number", i);
  return std::string(s, len);
}

int64_t to_int(lua_State *L, const std::string &s) {
  char *end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end) luaL_error(L, "ERR value is not an integer or out of range");
  return v;
}

double to_score(lua_State *L, const std::string &s) {
  if (s == "-inf") return -HUGE_VAL;
  if (s == "+inf" || s == "inf") return HUGE_VAL;
  char *end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end) luaL_error(L, "ERR min or max is not a float");
  return v;
}

std::string score_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

SimRedis::SimRedis() {
  L_ = luaL_newstate();
  if (!L_) throw std::bad_alloc();
  luaL_openlibs(L_);
  lua_newtable(L_);
  lua_pushlightuserdata(L_, this);
  lua_pushcclosure(L_, &SimRedis::call, 1);
  lua_setfield(L_, -2, "call");
  lua_setglobal(L_, "redis");
  for (int i = 0; i < kBudgetScripts; ++i) {
    const std::string &body = budget_script(BudgetScript(i));
    if (luaL_loadbuffer(L_, body.data(), body.size(), "budget script") != 0)
      throw std::runtime_error(std::string("a budget script does not compile: ") +
                               lua_tostring(L_, -1));
    script_refs_[i] = luaL_ref(L_, LUA_REGISTRYINDEX);
  }
  restart();
  started_us_ = -(int64_t(1) << 50);  // long before the simulation: not a recent start
}

SimRedis::~SimRedis() { lua_close(L_); }

void SimRedis::restart() {
  hashes_.clear();
  zsets_.clear();
  expire_at_.clear();
  run_id_ = "sim-redis-" + std::to_string(++restarts_);
  started_us_ = std::max<int64_t>(now_us_, 1);
  restarted_while_down_ = !up;
}

int64_t SimRedis::hash_int(const std::string &key, const std::string &field) const {
  auto h = hashes_.find(key);
  if (h == hashes_.end()) return 0;
  auto f = h->second.find(field);
  return f == h->second.end() ? 0 : std::strtoll(f->second.c_str(), nullptr, 10);
}

void SimRedis::expire_if_due(const std::string &key) {
  auto e = expire_at_.find(key);
  if (e == expire_at_.end() || now_us_ < e->second) return;
  hashes_.erase(key);
  zsets_.erase(key);
  expire_at_.erase(e);
}

bool SimRedis::eval(BudgetScript s, const std::vector<std::string> &keys,
                    const std::vector<std::string> &args, std::vector<int64_t> &out,
                    std::string &error) {
  ++calls_;
  out.clear();
  auto set_table = [&](const char *name, const std::vector<std::string> &v) {
    lua_createtable(L_, int(v.size()), 0);
    for (size_t i = 0; i < v.size(); ++i) {
      lua_pushlstring(L_, v[i].data(), v[i].size());
      lua_rawseti(L_, -2, int(i + 1));
    }
    lua_setglobal(L_, name);
  };
  set_table("KEYS", keys);
  set_table("ARGV", args);
  lua_rawgeti(L_, LUA_REGISTRYINDEX, script_refs_[s]);
  if (lua_pcall(L_, 0, 1, 0) != 0) {
    error = std::string("script error: ") + (lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "?");
    lua_pop(L_, 1);
    return false;
  }
  // Redis's conversion: a number becomes an integer (truncated), a table an array that
  // ends at the first nil.
  if (lua_isnumber(L_, -1)) {
    out.push_back(int64_t(lua_tonumber(L_, -1)));
  } else if (lua_istable(L_, -1)) {
    for (int i = 1;; ++i) {
      lua_rawgeti(L_, -1, i);
      bool more = lua_isnumber(L_, -1);
      if (more) out.push_back(int64_t(lua_tonumber(L_, -1)));
      lua_pop(L_, 1);
      if (!more) break;
    }
  }
  lua_pop(L_, 1);
  return true;
}

int SimRedis::call(lua_State *L) {
  auto *self = static_cast<SimRedis *>(lua_touserdata(L, lua_upvalueindex(1)));
  return self->command(L);
}

int SimRedis::command(lua_State *L) {
  const int n = lua_gettop(L);
  if (n < 1) return luaL_error(L, "redis.call: no command");
  const std::string cmd = arg(L, 1);
  if (cmd == "TIME") {
    lua_createtable(L, 2, 0);
    lua_pushstring(L, std::to_string(now_us_ / 1000000).c_str());
    lua_rawseti(L, -2, 1);
    lua_pushstring(L, std::to_string(now_us_ % 1000000).c_str());
    lua_rawseti(L, -2, 2);
    return 1;
  }
  if (n < 2) return luaL_error(L, "ERR wrong number of arguments for '%s'", cmd.c_str());
  const std::string key = arg(L, 2);
  expire_if_due(key);
  if (cmd == "HGET") {
    auto h = hashes_.find(key);
    const std::string field = arg(L, 3);
    if (h == hashes_.end() || !h->second.count(field)) {
      lua_pushboolean(L, 0);  // a nil reply is false in Lua
    } else {
      const std::string &v = h->second[field];
      lua_pushlstring(L, v.data(), v.size());
    }
    return 1;
  }
  if (cmd == "HSET") {
    auto &h = hashes_[key];
    const std::string field = arg(L, 3);
    bool added = !h.count(field);
    h[field] = arg(L, 4);
    lua_pushinteger(L, added);
    return 1;
  }
  if (cmd == "HDEL") {
    int removed = 0;
    auto h = hashes_.find(key);
    for (int i = 3; h != hashes_.end() && i <= n; ++i) removed += int(h->second.erase(arg(L, i)));
    if (h != hashes_.end() && h->second.empty()) hashes_.erase(h), expire_at_.erase(key);
    lua_pushinteger(L, removed);
    return 1;
  }
  if (cmd == "HINCRBY") {
    auto &h = hashes_[key];
    const std::string field = arg(L, 3);
    int64_t by = to_int(L, arg(L, 4));
    int64_t v = h.count(field) ? to_int(L, h[field]) : 0;
    v += by;
    h[field] = std::to_string(v);
    lua_pushnumber(L, lua_Number(v));
    return 1;
  }
  if (cmd == "HGETALL") {
    lua_newtable(L);
    int i = 0;
    auto h = hashes_.find(key);
    if (h != hashes_.end())
      for (auto &[f, v] : h->second) {
        lua_pushlstring(L, f.data(), f.size());
        lua_rawseti(L, -2, ++i);
        lua_pushlstring(L, v.data(), v.size());
        lua_rawseti(L, -2, ++i);
      }
    return 1;
  }
  if (cmd == "ZADD") {
    auto &z = zsets_[key];
    double score = to_score(L, arg(L, 3));
    const std::string member = arg(L, 4);
    bool added = !z.count(member);
    z[member] = score;
    lua_pushinteger(L, added);
    return 1;
  }
  if (cmd == "ZREM") {
    int removed = 0;
    auto z = zsets_.find(key);
    for (int i = 3; z != zsets_.end() && i <= n; ++i) removed += int(z->second.erase(arg(L, i)));
    if (z != zsets_.end() && z->second.empty()) zsets_.erase(z), expire_at_.erase(key);
    lua_pushinteger(L, removed);
    return 1;
  }
  if (cmd == "ZCARD") {
    auto z = zsets_.find(key);
    lua_pushinteger(L, z == zsets_.end() ? 0 : lua_Integer(z->second.size()));
    return 1;
  }
  if (cmd == "ZSCORE") {
    auto z = zsets_.find(key);
    const std::string member = arg(L, 3);
    if (z == zsets_.end() || !z->second.count(member)) lua_pushboolean(L, 0);
    else lua_pushstring(L, score_text(z->second[member]).c_str());
    return 1;
  }
  if (cmd == "ZRANGEBYSCORE") {
    double lo = to_score(L, arg(L, 3)), hi = to_score(L, arg(L, 4));
    std::vector<std::pair<double, std::string>> hits;
    auto z = zsets_.find(key);
    if (z != zsets_.end())
      for (auto &[m, sc] : z->second)
        if (sc >= lo && sc <= hi) hits.emplace_back(sc, m);
    std::sort(hits.begin(), hits.end());
    lua_newtable(L);
    for (size_t i = 0; i < hits.size(); ++i) {
      lua_pushlstring(L, hits[i].second.data(), hits[i].second.size());
      lua_rawseti(L, -2, int(i + 1));
    }
    return 1;
  }
  if (cmd == "PEXPIRE") {
    bool exists = hashes_.count(key) || zsets_.count(key);
    if (exists) expire_at_[key] = now_us_ + to_int(L, arg(L, 3)) * 1000;
    lua_pushinteger(L, exists);
    return 1;
  }
  return luaL_error(L, "ERR unknown command '%s' in the simulated Redis", cmd.c_str());
}

bool SimLink::connect(std::string &run_id, int64_t &started_us, std::string &error) {
  connected_ = false;
  delay_ = faults_.answer_delay_ns(false);
  if (!redis_.up || faults_.lose_request()) {
    error = "connect to the simulated Redis: connection refused";
    faults_.called(client_, "connect", false, {});
    return false;
  }
  connected_ = true;
  run_id_ = redis_.run_id();
  run_id = run_id_;
  started_us = redis_.started_us();
  faults_.called(client_, "connect", true, {});
  return true;
}

bool SimLink::eval(BudgetScript s, const std::vector<std::string> &keys,
                   const std::vector<std::string> &args, std::vector<int64_t> &out,
                   std::string &error) {
  out.clear();
  static const char *kNames[] = {"reserve", "settle", "rejoin"};
  // A connection does not survive a restart of the server.
  delay_ = faults_.answer_delay_ns(false);
  if (!connected_ || !redis_.up || run_id_ != redis_.run_id()) {
    connected_ = false;
    error = "script call: connection lost";
    faults_.called(client_, kNames[s], false, {});
    return false;
  }
  if (faults_.lose_request()) {  // it never arrives; the caller times out
    delay_ = faults_.answer_delay_ns(true);
    connected_ = false;
    error = "script call: connection lost";
    faults_.called(client_, kNames[s], false, {});
    return false;
  }
  if (!redis_.eval(s, keys, args, out, error)) return false;
  if (faults_.lose_reply()) {  // it ran; the caller never hears of it
    delay_ = faults_.answer_delay_ns(true);
    connected_ = false;
    out.clear();
    error = "script call: timed out";
    faults_.called(client_, kNames[s], false, {});
    return false;
  }
  faults_.called(client_, kNames[s], true, out);
  return true;
}

}  // namespace llmsvc::sim
