#include "gates/redis_budget.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstring>

#include "common/clock.h"

namespace llmsvc {

namespace {

// The data of one budget (all names share the {key} hash tag, so a cluster keeps them on
// one node): KEYS[1..4] hold the settled amounts of requests, tokens, input and output
// tokens as fields "<bucket index>", plus "sum" (their total) and "lo" (the oldest bucket
// that may still count); KEYS[5] the reservations in flight as "<instance>:<dimension>"
// plus "total:<dimension>"; KEYS[6] a sorted set of instances by the time their
// reservations are presumed lost. Times are Redis's own (TIME), in microseconds, so
// machines with skewed clocks agree. A bucket counts until it is wholly older than the
// window: never less than the provider counts a request stamped inside it.
constexpr const char *kPrelude = R"lua(
local W = tonumber(ARGV[1])
local B = tonumber(ARGV[2])
local inst = ARGV[3]
local hold = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local F, D = KEYS[5], KEYS[6]
local dims = {'r', 't', 'i', 'o'}
local ttl = math.floor((W + B + hold) / 1000) + 1000
local function s(x) return string.format('%d', x) end

local function drop(who)
  for _, d in ipairs(dims) do
    local v = tonumber(redis.call('HGET', F, who .. ':' .. d) or '0')
    if v ~= 0 then
      redis.call('HINCRBY', F, 'total:' .. d, s(-v))
      redis.call('HDEL', F, who .. ':' .. d)
    end
  end
  redis.call('ZREM', D, who)
end

local function reap()
  for _, who in ipairs(redis.call('ZRANGEBYSCORE', D, '-inf', s(now))) do drop(who) end
end

local function hold_until(who, t)
  local old = tonumber(redis.call('ZSCORE', D, who) or '0')
  if t > old then redis.call('ZADD', D, s(t), who) end
  redis.call('PEXPIRE', F, ttl)
  redis.call('PEXPIRE', D, ttl)
end

local function add(k, b, v)
  local lo = tonumber(redis.call('HGET', k, 'lo'))
  if not lo or b < lo then redis.call('HSET', k, 'lo', s(b)) end
  redis.call('HINCRBY', k, s(b), s(v))
  redis.call('HINCRBY', k, 'sum', s(v))
  redis.call('PEXPIRE', k, ttl)
end

-- Drops the buckets wholly older than the window; returns the oldest live bucket and the
-- settled total.
local function settled(k)
  local cutoff = math.floor((now - W) / B)
  local lo = tonumber(redis.call('HGET', k, 'lo'))
  if not lo then return cutoff, 0 end
  if lo < cutoff then
    local function expire(field, v)
      redis.call('HINCRBY', k, 'sum', s(-tonumber(v)))
      redis.call('HDEL', k, field)
    end
    if cutoff - lo > 1000 then
      local all = redis.call('HGETALL', k)
      for j = 1, #all, 2 do
        local b = tonumber(all[j])
        if b and b < cutoff then expire(all[j], all[j + 1]) end
      end
    else
      for b = lo, cutoff - 1 do
        local v = redis.call('HGET', k, s(b))
        if v then expire(s(b), v) end
      end
    end
    redis.call('HSET', k, 'lo', s(cutoff))
    lo = cutoff
  end
  return lo, tonumber(redis.call('HGET', k, 'sum') or '0')
end
)lua";

// ARGV[5..8] caps (0: not limited), ARGV[9..12] amounts, ARGV[13] the poll interval.
// Returns {1, 0, 0} after reserving, or {0, wait, dimension}.
constexpr const char *kReserveLua = R"lua(
reap()
local wait, why = 0, 0
for n = 1, 4 do
  local cap, amount = tonumber(ARGV[4 + n]), tonumber(ARGV[8 + n])
  if cap > 0 then
    local lo, sum = settled(KEYS[n])
    local excess = sum + tonumber(redis.call('HGET', F, 'total:' .. dims[n]) or '0')
                   + amount - cap
    if excess > 0 then
      local at = tonumber(ARGV[13])
      for b = lo, math.floor(now / B) do
        local v = redis.call('HGET', KEYS[n], s(b))
        if v then
          excess = excess - tonumber(v)
          if excess <= 0 then
            at = (b + 1) * B + W - now
            break
          end
        end
      end
      if at > wait then wait, why = at, n end
    end
  end
end
if why ~= 0 then return {0, wait, why} end
for n = 1, 4 do
  local amount = tonumber(ARGV[8 + n])
  if amount > 0 then
    redis.call('HINCRBY', F, inst .. ':' .. dims[n], s(amount))
    redis.call('HINCRBY', F, 'total:' .. dims[n], s(amount))
  end
end
hold_until(inst, now + hold)
return {1, 0, 0}
)lua";

// ARGV[5..8] the reservation, ARGV[9..12] what was used (all zero: a release).
constexpr const char *kSettleLua = R"lua(
reap()
local holding = false
for n = 1, 4 do
  local field = inst .. ':' .. dims[n]
  local have = tonumber(redis.call('HGET', F, field) or '0')
  local take = math.min(tonumber(ARGV[4 + n]), have)
  if take > 0 then
    redis.call('HINCRBY', F, 'total:' .. dims[n], s(-take))
    if have > take then redis.call('HINCRBY', F, field, s(-take)) else redis.call('HDEL', F, field) end
  end
  if have > take then holding = true end
  local used = tonumber(ARGV[8 + n])
  if used > 0 then
    settled(KEYS[n])
    add(KEYS[n], math.floor(now / B), used)
  end
end
if not holding then redis.call('ZREM', D, inst) end
return 1
)lua";

// ARGV[5] the instance before the outage (or ''), ARGV[6..9] reservations still in flight,
// ARGV[10] the number of past settlements, then five values each: age, amounts.
constexpr const char *kRejoinLua = R"lua(
reap()
if ARGV[5] ~= '' then drop(ARGV[5]) end
drop(inst)
local any = false
for n = 1, 4 do
  local amount = tonumber(ARGV[5 + n])
  if amount > 0 then
    redis.call('HINCRBY', F, inst .. ':' .. dims[n], s(amount))
    redis.call('HINCRBY', F, 'total:' .. dims[n], s(amount))
    any = true
  end
end
if any then hold_until(inst, now + hold) end
for j = 0, tonumber(ARGV[10]) - 1 do
  local at = now - tonumber(ARGV[11 + 5 * j])
  for n = 1, 4 do
    local used = tonumber(ARGV[12 + 5 * j + n - 1])
    if used > 0 then
      local lo = settled(KEYS[n])
      local b = math.floor(at / B)
      if b >= lo then add(KEYS[n], b, used) end
    end
  end
end
return 1
)lua";

constexpr const char *kBodies[] = {kReserveLua, kSettleLua, kRejoinLua};

timeval to_timeval(int64_t ms) {
  timeval tv;
  tv.tv_sec = time_t(ms / 1000);
  tv.tv_usec = suseconds_t((ms % 1000) * 1000);
  return tv;
}

std::string reply_text(const redisReply *r) {
  return r && r->str ? std::string(r->str, r->len) : std::string();
}

class HiredisLink final : public ScriptLink {
 public:
  HiredisLink(std::string host, int port, int64_t timeout_ms)
      : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}
  ~HiredisLink() override { disconnect(); }

  void disconnect() override {
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
  }
  bool connected() const override { return ctx_ != nullptr; }

  bool connect(std::string &run_id, std::string &error) override {
    disconnect();
    ctx_ = redisConnectWithTimeout(host_.c_str(), port_, to_timeval(timeout_ms_));
    if (!ctx_) return fail(error, "cannot allocate a Redis context");
    if (ctx_->err)
      return fail(error, "connect to " + host_ + ":" + std::to_string(port_) + ": " + ctx_->errstr);
    if (redisSetTimeout(ctx_, to_timeval(timeout_ms_)) != REDIS_OK)
      return fail(error, std::string("set timeout: ") + ctx_->errstr);
    for (int i = 0; i < kBudgetScripts; ++i) {
      const std::string &body = budget_script(BudgetScript(i));
      const char *argv[] = {"SCRIPT", "LOAD", body.c_str()};
      size_t lens[] = {6, 4, body.size()};
      auto *r = static_cast<redisReply *>(redisCommandArgv(ctx_, 3, argv, lens));
      if (!r) return fail(error, std::string("SCRIPT LOAD: ") + ctx_->errstr);
      std::string text = reply_text(r);
      bool ok = r->type == REDIS_REPLY_STRING;
      freeReplyObject(r);
      if (!ok) return fail(error, "SCRIPT LOAD: " + text);
      sha_[size_t(i)] = text;
    }
    const char *argv[] = {"INFO", "server"};
    auto *r = static_cast<redisReply *>(redisCommandArgv(ctx_, 2, argv, nullptr));
    if (!r) return fail(error, std::string("INFO: ") + ctx_->errstr);
    std::string info = reply_text(r);
    freeReplyObject(r);
    size_t at = info.find("run_id:");
    run_id = at == std::string::npos
                 ? std::string()
                 : info.substr(at + 7, info.find_first_of("\r\n", at) - at - 7);
    return true;
  }

  bool eval(BudgetScript s, const std::vector<std::string> &keys,
            const std::vector<std::string> &args, std::vector<int64_t> &out,
            std::string &error) override {
    out.clear();
    if (!ctx_) return fail(error, "not connected");
    // EVALSHA sha N keys... args...; EVAL with the body when Redis lost its script cache.
    std::vector<const char *> argv;
    std::vector<size_t> lens;
    auto push = [&](const std::string &a) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    };
    const std::string evalsha = "EVALSHA", nkeys = std::to_string(keys.size());
    push(evalsha);
    push(sha_[size_t(s)]);
    push(nkeys);
    for (const std::string &k : keys) push(k);
    for (const std::string &a : args) push(a);
    auto call = [&] {
      return static_cast<redisReply *>(
          redisCommandArgv(ctx_, int(argv.size()), argv.data(), lens.data()));
    };
    redisReply *r = call();
    if (r && r->type == REDIS_REPLY_ERROR && std::strncmp(r->str, "NOSCRIPT", 8) == 0) {
      freeReplyObject(r);
      const std::string &body = budget_script(s);
      argv[0] = "EVAL";
      lens[0] = 4;
      argv[1] = body.data();
      lens[1] = body.size();
      r = call();
    }
    if (!r) return fail(error, std::string("script call: ") + ctx_->errstr);
    bool ok = true;
    if (r->type == REDIS_REPLY_ERROR) {
      error = "script error: " + reply_text(r);
      ok = false;
    } else if (r->type == REDIS_REPLY_INTEGER) {
      out.push_back(r->integer);
    } else if (r->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; ok && i < r->elements; ++i) {
        ok = r->element[i]->type == REDIS_REPLY_INTEGER;
        if (ok) out.push_back(r->element[i]->integer);
      }
      if (!ok) error = "unexpected reply from a script";
    } else {
      error = "unexpected reply from a script";
      ok = false;
    }
    freeReplyObject(r);
    if (!ok) disconnect();  // out of step, or a server that is not what it should be
    return ok;
  }

 private:
  bool fail(std::string &error, const std::string &message) {
    error = message;
    disconnect();  // after a timeout the connection's replies are out of step
    return false;
  }

  std::string host_;
  int port_;
  int64_t timeout_ms_;
  redisContext *ctx_ = nullptr;
  std::array<std::string, kBudgetScripts> sha_;
};

}  // namespace

const std::string &budget_script(BudgetScript s) {
  static const std::array<std::string, kBudgetScripts> scripts = [] {
    std::array<std::string, kBudgetScripts> a;
    for (int i = 0; i < kBudgetScripts; ++i) a[size_t(i)] = std::string(kPrelude) + kBodies[i];
    return a;
  }();
  return scripts[size_t(s)];
}

std::unique_ptr<ScriptLink> redis_link(std::string host, int port, int64_t timeout_ms) {
  return std::make_unique<HiredisLink>(std::move(host), port, timeout_ms);
}

RedisBudget::RedisBudget(std::unique_ptr<ScriptLink> link) : link_(std::move(link)) {}

RedisBudget::~RedisBudget() { disconnect(); }

void RedisBudget::configure(const std::string &key, int64_t window_ms, int64_t hold_ms) {
  std::string prefix = "llmsvc:{" + key + "}:" + std::to_string(window_ms) + ":";
  keys_ = {prefix + "r", prefix + "t", prefix + "i", prefix + "o", prefix + "flight",
           prefix + "deadline"};
  window_us_ = window_ms * 1000;
  // A hundredth of the window: an entry counts at most that much longer than the
  // provider counts it.
  bucket_us_ = std::max<int64_t>(1000, window_us_ / 100);
  hold_us_ = hold_ms * 1000;
}

void RedisBudget::disconnect() { link_->disconnect(); }

bool RedisBudget::fail(const std::string &message) {
  ++errors_;
  last_error_ = message;
  link_->disconnect();
  return false;
}

bool RedisBudget::connect() {
  std::string error;
  if (!link_->connect(run_id_, error)) return fail(error);
  return true;
}

bool RedisBudget::eval(BudgetScript s, const std::vector<std::string> &args,
                       std::vector<int64_t> &out) {
  if (!link_->connected()) return fail("not connected");
  int64_t t0 = steady_now_ns();
  std::string error;
  bool ok = link_->eval(s, keys_, args, out, error);
  last_call_ns_ = steady_now_ns() - t0;
  total_call_ns_ += last_call_ns_;
  ++calls_;
  return ok || fail(error);
}

namespace {
void push_amounts(std::vector<std::string> &args, const Amounts &a) {
  for (int64_t v : a) args.push_back(std::to_string(std::max<int64_t>(v, 0)));
}
}  // namespace

bool RedisBudget::reserve(const std::string &instance, const Amounts &caps,
                          const Amounts &amounts, int64_t poll_ns, Admission &out) {
  std::vector<std::string> args = {std::to_string(window_us_), std::to_string(bucket_us_),
                                   instance, std::to_string(hold_us_)};
  push_amounts(args, caps);
  push_amounts(args, amounts);
  args.push_back(std::to_string(std::max<int64_t>(poll_ns / 1000, 1)));
  std::vector<int64_t> r;
  if (!eval(kReserveScript, args, r)) return false;
  if (r.size() != 3) return fail("unexpected reply from the reserve script");
  out.admitted = r[0] == 1;
  out.wait_ns = r[1] * 1000;
  out.dimension = int(r[2]);
  return true;
}

bool RedisBudget::settle(const std::string &instance, const Amounts &reserved,
                         const Amounts &actual) {
  std::vector<std::string> args = {std::to_string(window_us_), std::to_string(bucket_us_),
                                   instance, std::to_string(hold_us_)};
  push_amounts(args, reserved);
  push_amounts(args, actual);
  std::vector<int64_t> r;
  return eval(kSettleScript, args, r);
}

bool RedisBudget::rejoin(const std::string &old_instance, const std::string &instance,
                         const Amounts &in_flight, const std::vector<Past> &past) {
  std::vector<std::string> args = {std::to_string(window_us_), std::to_string(bucket_us_),
                                   instance, std::to_string(hold_us_), old_instance};
  push_amounts(args, in_flight);
  args.push_back(std::to_string(past.size()));
  for (const Past &p : past) {
    // Truncated: a shorter age places a settlement later, never earlier, than it was.
    args.push_back(std::to_string(std::max<int64_t>(p.age_ns / 1000, 0)));
    push_amounts(args, p.amounts);
  }
  std::vector<int64_t> r;
  return eval(kRejoinScript, args, r);
}

}  // namespace llmsvc
