#include "gates/redis_budget.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/clock.h"
#include "core/config.h"

namespace llmsvc {

namespace {

// The data of one budget (all names share the {key} hash tag, so a cluster keeps them on
// one node). KEYS[1..4] hold the settled amounts of requests, tokens, input and output
// tokens as fields "<bucket index>", plus "sum" (their total) and "lo" (the oldest bucket
// that may still count). KEYS[5] holds what each process may still use or has in flight:
// "<instance>:<dimension>" (its lease, its requests in flight, or the share it may admit
// alone after losing Redis), "total:<dimension>" their sums, "<instance>:f<dimension>" the
// share it asked to be held for it, "<instance>:ph" when what it holds is that share.
// KEYS[6] is a sorted set of instances by the time their holding lapses; KEYS[7] the
// budget's "recovery" time, after a Redis that lost the budget. Times are Redis's own
// (TIME), in microseconds, so machines with skewed clocks agree. A bucket counts until it
// is wholly older than the window: never less than the provider counts a request in it.
//
// One script does everything a process asks (ARGV):
//   1 window, 2 bucket, 3 instance, 4 lease term (until the holding lapses),
//   5 how long a lapsed process's share is held, 6 recovery time after a lost budget,
//   7 "1" when this process used the budget before ("2": and it saw the server restart
//   since its last call), 8 when the server started (0:
//   unknown), 9 the prefix of the instances this one replaces (or ''), 10 "1" to leave,
//   11 poll interval, 12..15 caps (0: not limited), 16..19 the share to hold if it lapses,
//   20..23 what the request to admit needs (all 0: no request), 24..27 the lease wanted,
//   28..31 what it has in flight, 32 the number of settlements handed over, then five
//   values each: age and amounts.
// Returns {admitted, lease granted (4), wait, refusing dimension, processes holding, 1 when
// the wait is only the poll interval (holdings fill the window, none of it ages out), how
// long every process is to admit no more than its share (after Redis lost the budget)}.
constexpr const char *kLeaseLua = R"lua(
local W = tonumber(ARGV[1])
local B = tonumber(ARGV[2])
local inst = ARGV[3]
local term = tonumber(ARGV[4])
local phantom = tonumber(ARGV[5])
local recovery = tonumber(ARGV[6])
local known = ARGV[7] ~= '0'
local restarted = ARGV[7] == '2'
local started = tonumber(ARGV[8])
local old = ARGV[9]
local leave = ARGV[10] == '1'
local poll = tonumber(ARGV[11])
local function arg4(base, n) return tonumber(ARGV[base + 1 + n]) end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local F, L, M = KEYS[5], KEYS[6], KEYS[7]
local dims = {'r', 't', 'i', 'o'}
local ttl = math.floor((W + B + term + phantom) / 1000) + 1000
local function s(x) return string.format('%d', x) end

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

local function held(who, n) return tonumber(redis.call('HGET', F, who .. ':' .. dims[n]) or '0') end
local function hold(who, n, v)
  local was = held(who, n)
  if v == was then return end
  redis.call('HINCRBY', F, 'total:' .. dims[n], s(v - was))
  if v > 0 then redis.call('HSET', F, who .. ':' .. dims[n], s(v))
  else redis.call('HDEL', F, who .. ':' .. dims[n]) end
end
local function forget(who)
  for n = 1, 4 do
    hold(who, n, 0)
    redis.call('HDEL', F, who .. ':f' .. dims[n])
  end
  redis.call('HDEL', F, who .. ':ph')
  redis.call('ZREM', L, who)
end

-- A holding whose process did not come back in time counts as used when it lapsed (what
-- was leased may all have been sent by then). Then the share that process may admit
-- alone is held for it, until that too lapses and counts as used.
local function reap()
  while true do
    local due = redis.call('ZRANGEBYSCORE', L, '-inf', s(now))
    if #due == 0 then return end
    for _, who in ipairs(due) do
      local at = tonumber(redis.call('ZSCORE', L, who))
      for n = 1, 4 do
        local v = held(who, n)
        if v > 0 then
          settled(KEYS[n])
          add(KEYS[n], math.floor(at / B), v)
          hold(who, n, 0)
        end
      end
      local share = false
      if not redis.call('HGET', F, who .. ':ph') then
        for n = 1, 4 do
          local v = tonumber(redis.call('HGET', F, who .. ':f' .. dims[n]) or '0')
          if v > 0 then hold(who, n, v); share = true end
        end
      end
      if share then
        redis.call('HSET', F, who .. ':ph', '1')
        redis.call('ZADD', L, s(at + phantom), who)
      else
        forget(who)
      end
    end
  end
end

reap()
-- A budget this process used before but Redis no longer has (it restarted without
-- persistence): what was admitted against the lost state is unknown, so nothing new is
-- admitted until it has aged out.
local rec = tonumber(redis.call('HGET', M, 'recovery') or '-1')
local created = rec < 0
if created then
  rec = 0
  -- Lost, or new: this process used it before, or the server started too recently to
  -- tell (a new budget on a server that just started waits once).
  if known or (started > 0 and now < started + recovery) then rec = now + recovery end
  redis.call('HSET', M, 'recovery', s(rec))
  redis.call('HSET', M, 'server', s(started))
end
-- Redis may have lost the budget: it has no state for it (made now) on a server whose start
-- is known, or this process used it and finds it missing, or saw the server restart since
-- its last call and the budget was made after that start (not kept through it; the start
-- is known to a second, from INFO's uptime). Processes cut off before the loss may still be
-- admitting their shares alone, and the shares Redis held for them are gone: from the
-- loss (the server's start) until the last of those can have ended, every process admits
-- no more than its own share. A budget new on a server that started that long ago cannot
-- be told from a lost one, and is treated so.
if not redis.call('HGET', M, 'lost') and
   ((created and (known or started > 0)) or
    (restarted and (started <= 0 or
                    math.abs(tonumber(redis.call('HGET', M, 'server') or '0') - started) < 2000000))) then
  redis.call('HSET', M, 'lost', s(started > 0 and started or now))
end
local lost = tonumber(redis.call('HGET', M, 'lost') or '-1')
-- ... and what they admitted alone has left the window.
local share_only = 0
local share_end = lost + term + phantom + W + 2 * B
if lost >= 0 and share_end > now then share_only = share_end - now end
redis.call('PEXPIRE', M, 604800000)
-- Rejoining: every earlier instance of this process goes (a call that failed may have
-- left one); what they held is handed over again below.
if old ~= '' then
  for _, who in ipairs(redis.call('ZRANGEBYSCORE', L, '-inf', '+inf')) do
    if who ~= inst and string.sub(who, 1, #old) == old then forget(who) end
  end
end
-- What it settled since its last call, each at its own age.
for j = 0, tonumber(ARGV[32]) - 1 do
  local at = now - tonumber(ARGV[33 + 5 * j])
  for n = 1, 4 do
    local used = tonumber(ARGV[34 + 5 * j + n - 1])
    if used > 0 then
      -- Older than any bucket yet, but still in the window: it counts (reported late, after
      -- another process's later settlement). Only what left the window is dropped.
      settled(KEYS[n])
      local b = math.floor(at / B)
      if b >= math.floor((now - W) / B) then add(KEYS[n], b, used) end
    end
  end
end
-- Its holding becomes what it has in flight (the rest of its last lease returns), plus
-- what this call grants.
redis.call('HDEL', F, inst .. ':ph')
local capped, wants = false, false
for n = 1, 4 do
  if arg4(10, n) > 0 then capped = true end
  if arg4(18, n) > 0 then wants = true end
  hold(inst, n, arg4(10, n) > 0 and arg4(26, n) or 0)
  redis.call('HSET', F, inst .. ':f' .. dims[n], s(leave and 0 or arg4(14, n)))
end
local admitted, wait, why, polled = 0, 0, 0, 0
-- When holdings fill the window, room comes back when another process next reports (its
-- lease's time ends 2 buckets before its holding lapses): ask again just after the
-- first of those (a bucket at least, should it be late), or after the poll interval.
local function next_report()
  local at = poll
  for _, who in ipairs(redis.call('ZRANGEBYSCORE', L, s(now), '+inf')) do
    if who ~= inst and not redis.call('HGET', F, who .. ':ph') then
      local t = tonumber(redis.call('ZSCORE', L, who)) - 2 * B - now + 1000
      if t < at then at = t end
    end
  end
  return math.max(at, B)
end
local granted = {0, 0, 0, 0}
if wants and not leave then
  if now < rec then
    wait, why = rec - now, 1
  else
    for n = 1, 4 do
      local cap, need = arg4(10, n), arg4(18, n)
      if cap > 0 then
        local lo, sum = settled(KEYS[n])
        local room = cap - sum - tonumber(redis.call('HGET', F, 'total:' .. dims[n]) or '0')
        granted[n] = math.max(math.min(arg4(22, n), room), need)
        local excess = need - room
        if excess > 0 then
          local at = -1
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
          local held_back = at < 0
          if held_back then at = next_report() end
          if at > wait then wait, why, polled = at, n, (held_back and 1 or 0) end
        end
      end
    end
    if why == 0 then
      admitted = 1
      for n = 1, 4 do
        if arg4(10, n) > 0 then hold(inst, n, held(inst, n) + granted[n]) end
      end
    end
  end
end
if admitted == 0 then granted = {0, 0, 0, 0} end
local holding = false
for n = 1, 4 do
  if held(inst, n) > 0 or (not leave and arg4(14, n) > 0 and capped) then holding = true end
end
if holding then
  redis.call('ZADD', L, s(now + term), inst)
  redis.call('PEXPIRE', F, ttl)
  redis.call('PEXPIRE', L, ttl)
else
  forget(inst)
end
return {admitted, granted[1], granted[2], granted[3], granted[4], wait, why,
        redis.call('ZCARD', L), polled, share_only}
)lua";

constexpr const char *kBodies[] = {kLeaseLua};

}  // namespace

const std::string &budget_script(BudgetScript s) {
  static const std::array<std::string, kBudgetScripts> scripts = [] {
    std::array<std::string, kBudgetScripts> a;
    for (int i = 0; i < kBudgetScripts; ++i) a[size_t(i)] = kBodies[i];
    return a;
  }();
  return scripts[size_t(s)];
}

RedisBudget::RedisBudget(std::unique_ptr<ScriptLink> link, bool threaded)
    : link_(std::move(link)), threaded_(threaded) {
  if (threaded_) thread_ = std::thread([this] { worker(); });
}

RedisBudget::~RedisBudget() {
  if (threaded_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  link_->disconnect();
}

void RedisBudget::configure(const std::string &key, int64_t window_ms, const Timing &t) {
  std::string prefix = "llmsvc:{" + key + "}:" + std::to_string(window_ms) + ":";
  keys_ = {prefix + "r",      prefix + "t",     prefix + "i",   prefix + "o",
           prefix + "leases", prefix + "lapse", prefix + "meta"};
  window_us_ = window_ms * 1000;
  // A hundredth of the window: an entry counts at most that much longer than the
  // provider counts it.
  bucket_us_ = std::max<int64_t>(1000, window_us_ / 100);
  timing_ = t;
}

void RedisBudget::set_notify(std::function<void()> notify) {
  std::lock_guard<std::mutex> lock(mu_);
  notify_ = std::move(notify);
}

void RedisBudget::disconnect() {
  connected_ = false;
  if (!threaded_) return link_->disconnect();
  {
    std::lock_guard<std::mutex> lock(mu_);
    drop_ = true;
  }
  cv_.notify_all();
}

void RedisBudget::fail(const std::string &message) {
  ++errors_;
  last_error_ = message;
  connected_ = false;
}

void RedisBudget::start_connect(int64_t now) {
  Job job;
  job.connect = true;
  start(now, std::move(job));
}

void RedisBudget::start(int64_t now, Job job) {
  busy_ = true;
  const int64_t t0 = steady_now_ns();
  struct Timed {  // the engine thread's own time on the call, however it returns
    RedisBudget &b;
    int64_t t0;
    ~Timed() { b.engine_max_ns_ = std::max(b.engine_max_ns_, steady_now_ns() - t0); }
  } timed{*this, t0};
  if (!threaded_) {
    run(job);
    job_ = std::move(job);
    finished_ = true;
    ready_at_ = now + link_->answer_delay_ns();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = std::move(job);
    queued_ = true;
    finished_ = false;
  }
  cv_.notify_all();
}

void RedisBudget::run(Job &job) {
  const int64_t t0 = steady_now_ns();
  if (job.connect) {
    job.ok = link_->connect(job.run_id, job.started_us, job.error);
  } else if (!link_->connected()) {
    job.error = "not connected";
  } else {
    job.ok = link_->eval(kLeaseScript, job.keys, job.args, job.reply, job.error);
  }
  if (!job.ok) link_->disconnect();  // after a timeout the connection's replies are out of step
  job.took_ns = steady_now_ns() - t0;
}

void RedisBudget::worker() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || queued_ || drop_; });
    if (drop_) {  // before any call queued after it
      drop_ = false;
      lock.unlock();
      link_->disconnect();
      lock.lock();
      continue;
    }
    if (!queued_) return;  // stopping with nothing to do
    queued_ = false;
    Job job = std::move(job_);
    lock.unlock();
    run(job);
    lock.lock();
    job_ = std::move(job);
    finished_ = true;
    cv_.notify_all();
    // Under the lock: once set_notify(nullptr) has returned, nobody is woken any more.
    if (notify_) notify_();
  }
}

bool RedisBudget::wait(int64_t timeout_ns) {
  if (!busy_) return true;
  if (!threaded_) {
    ready_at_ = INT64_MIN;  // closing: taken at once
    return finished_;
  }
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::nanoseconds(timeout_ns), [this] { return finished_; });
}

bool RedisBudget::take(int64_t now, bool &ok, LeaseReply &out) {
  if (!busy_ || (!threaded_ && now < ready_at_)) return false;
  const int64_t t0 = steady_now_ns();
  struct Timed {
    RedisBudget &b;
    int64_t t0;
    ~Timed() { b.engine_max_ns_ = std::max(b.engine_max_ns_, steady_now_ns() - t0); }
  } timed{*this, t0};
  Job job;
  if (threaded_) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!finished_) return false;
    finished_ = false;
    job = std::move(job_);
  } else {
    finished_ = false;
    job = std::move(job_);
  }
  busy_ = false;
  ok = job.ok;
  if (job.connect) {
    if (!ok) {
      fail(job.error);
      return true;
    }
    run_id_ = std::move(job.run_id);
    started_us_ = job.started_us;
    connected_ = true;
    return true;
  }
  last_call_ns_ = job.took_ns;
  total_call_ns_ += job.took_ns;
  ++calls_;
  if (!ok) {
    fail(job.error);
    return true;
  }
  const std::vector<int64_t> &r = job.reply;
  if (r.size() != 10) {
    ok = false;
    fail("unexpected reply from the lease script");
    disconnect();
    return true;
  }
  out.admitted = r[0] == 1;
  for (size_t i = 0; i < 4; ++i) out.granted[i] = r[i + 1];
  out.wait_ns = r[5] * 1000;
  out.dimension = int(r[6]);
  out.holders = r[7];
  out.polled = r[8] == 1;
  out.share_only_ns = r[9] * 1000;
  return true;
}

namespace {
void push_amounts(std::vector<std::string> &args, const Amounts &a) {
  for (int64_t v : a) args.push_back(std::to_string(std::max<int64_t>(v, 0)));
}
std::string us(int64_t ns) { return std::to_string(std::max<int64_t>(ns / 1000, 0)); }
}  // namespace

void RedisBudget::start_lease(int64_t now, const std::string &instance, const LeaseCall &c) {
  std::vector<std::string> args = {std::to_string(window_us_),
                                   std::to_string(bucket_us_),
                                   instance,
                                   us(timing_.term_ns),
                                   us(timing_.share_hold_ns),
                                   us(timing_.recovery_ns),
                                   c.restarted ? "2" : c.known ? "1" : "0",
                                   std::to_string(std::max<int64_t>(started_us_, 0)),
                                   c.replaces,
                                   c.leave ? "1" : "0",
                                   std::to_string(std::max<int64_t>(timing_.poll_ns / 1000, 1))};
  args.reserve(32 + 5 * c.past.size());
  push_amounts(args, c.caps);
  push_amounts(args, c.share);
  push_amounts(args, c.need);
  push_amounts(args, c.want);
  push_amounts(args, c.in_flight);
  args.push_back(std::to_string(c.past.size()));
  for (const Past &p : c.past) {
    // Truncated: a shorter age places a settlement later, never earlier, than it was.
    args.push_back(us(p.age_ns));
    push_amounts(args, p.amounts);
  }
  Job job;
  job.keys = keys_;
  job.args = std::move(args);
  start(now, std::move(job));
}

}  // namespace llmsvc
