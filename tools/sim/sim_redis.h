// A Redis for the deterministic simulator: the hashes and sorted sets the shared-limit
// scripts use, kept in memory, and Lua 5.1 (the Lua that Redis embeds) running the very
// script text the library sends to a real server, with `redis.call` answered here and
// TIME read from the simulation's clock. Faults are the simulation's to decide: the server
// can be down, restart (forgetting everything), or run a call whose reply is then lost.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gates/redis_budget.h"

struct lua_State;

namespace llmsvc::sim {

class SimRedis {
 public:
  SimRedis();
  ~SimRedis();
  SimRedis(const SimRedis &) = delete;
  SimRedis &operator=(const SimRedis &) = delete;

  void set_time_us(int64_t us) { now_us_ = us; }
  /// Forgets every key (a restart without persistence) and takes a new run id.
  void restart();
  const std::string &run_id() const { return run_id_; }
  int64_t started_us() const { return started_us_; }
  /// Back after being down: a server that restarted meanwhile started now.
  void come_up() {
    if (!up && restarted_while_down_) started_us_ = std::max<int64_t>(now_us_, 1);
    up = true;
    restarted_while_down_ = false;
  }
  bool up = true;

  /// Runs one of the budget scripts as EVAL would. False with `error` on a script error.
  bool eval(BudgetScript s, const std::vector<std::string> &keys,
            const std::vector<std::string> &args, std::vector<int64_t> &out, std::string &error);

  /// Sum of a hash field (for checks): 0 when missing.
  int64_t hash_int(const std::string &key, const std::string &field) const;
  int64_t calls() const { return calls_; }

 private:
  static int call(lua_State *L);
  int command(lua_State *L);
  void expire_if_due(const std::string &key);

  lua_State *L_ = nullptr;
  int script_refs_[kBudgetScripts] = {};
  std::map<std::string, std::map<std::string, std::string>> hashes_;
  std::map<std::string, std::map<std::string, double>> zsets_;
  std::map<std::string, int64_t> expire_at_;  // PEXPIRE, in the simulation's microseconds
  int64_t now_us_ = 0;
  int64_t started_us_ = 0;
  bool restarted_while_down_ = false;
  int64_t restarts_ = 0;
  int64_t calls_ = 0;
  std::string run_id_;
};

/// What a client's link asks before each call: whether it fails before reaching the
/// server, and whether its reply is lost after the server ran it.
class LinkFaults {
 public:
  virtual ~LinkFaults() = default;
  virtual bool lose_request() = 0;
  virtual bool lose_reply() = 0;
  /// How long after a call began its answer arrives; `timed_out`: the call is lost and
  /// fails only at the client's timeout.
  virtual int64_t answer_delay_ns(bool timed_out) = 0;
  /// Told of every call a link makes, for traces.
  virtual void called(int client, const char *what, bool ok, const std::vector<int64_t> &out) = 0;
};

/// One client's connection to the simulated Redis.
class SimLink final : public ScriptLink {
 public:
  SimLink(SimRedis &redis, LinkFaults &faults, int client)
      : redis_(redis), faults_(faults), client_(client) {}
  bool connect(std::string &run_id, int64_t &started_us, std::string &error) override;
  void disconnect() override { connected_ = false; }
  bool connected() const override { return connected_; }
  bool eval(BudgetScript s, const std::vector<std::string> &keys,
            const std::vector<std::string> &args, std::vector<int64_t> &out,
            std::string &error) override;
  int64_t answer_delay_ns() const override { return delay_; }

 private:
  SimRedis &redis_;
  LinkFaults &faults_;
  int client_;
  bool connected_ = false;
  int64_t delay_ = 0;   // the last call's answer delay
  std::string run_id_;  // the server this connection was made to
};

}  // namespace llmsvc::sim
