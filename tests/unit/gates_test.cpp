#include "gates/gates.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

using namespace llmsvc;

namespace {
constexpr int64_t kSec = kNsPerSec;
Tokens T(int64_t total) { return {total, 0}; }
Limits limits(int64_t rpm, int64_t tpm, int64_t conc, int64_t window_ms = 60000) {
  Limits l;
  l.rpm = rpm;
  l.tpm = tpm;
  l.concurrency = conc;
  l.window_ms = window_ms;
  return l;
}
}  // namespace

TEST(Gates, PerMinuteRatesScaleToTheWindow) {
  Gates g(limits(600, 60000, 0, 1000));
  EXPECT_EQ(g.request_cap(), 10);
  EXPECT_EQ(g.token_cap(), 1000);
}

TEST(Gates, RequestLimitHeldAndWakeTimeExact) {
  Gates g(limits(120, 0, 0, 1000));  // 2 per 1 s window
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(g.check(0, T(10)).admit);
    g.acquire(T(10));
  }
  GateDecision d = g.check(0, T(10));
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kRequests);
  EXPECT_EQ(d.wait_until, kNever);  // both still in flight
  g.settle(100 * kNsPerMs, T(10), T(7));
  d = g.check(100 * kNsPerMs, T(10));
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.wait_until, 1100 * kNsPerMs);
  EXPECT_TRUE(g.check(1100 * kNsPerMs, T(10)).admit);
}

TEST(Gates, TokenLimitReservesEstimatePlusMaxOutput) {
  Gates g(limits(0, 1000, 0));
  ASSERT_TRUE(g.check(0, T(600)).admit);
  g.acquire(T(600));
  GateDecision d = g.check(0, T(600));
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kTokens);
  g.settle(kSec, T(600), T(100));  // compensation: real usage was 100
  EXPECT_TRUE(g.check(kSec, T(600)).admit);
}

TEST(Gates, ReleaseReturnsTheReservation) {
  Gates g(limits(1, 100, 1));
  g.acquire(T(100));
  EXPECT_FALSE(g.check(0, T(1)).admit);
  g.release(T(100));
  EXPECT_TRUE(g.check(0, T(100)).admit);
}

TEST(Gates, ConcurrencyLimit) {
  Gates g(limits(0, 0, 2));
  g.acquire(T(0));
  g.acquire(T(0));
  GateDecision d = g.check(0, T(0));
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kConcurrency);
  g.settle(0, T(0), T(0));
  EXPECT_TRUE(g.check(0, T(0)).admit);
}

TEST(Gates, PauseFromRetryAfterStopsEveryone) {
  Gates g(limits(0, 0, 0));
  g.pause_until(5 * kSec);
  GateDecision d = g.check(kSec, T(1));
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kPaused);
  EXPECT_EQ(d.wait_until, 5 * kSec);
  g.pause_until(2 * kSec);  // a shorter pause does not shorten the longer one
  EXPECT_FALSE(g.check(4 * kSec, T(1)).admit);
  EXPECT_TRUE(g.check(5 * kSec, T(1)).admit);
}

TEST(Gates, TooLargeForTheWindowIsReported) {
  Gates g(limits(0, 60, 0, 60000));
  GateDecision d = g.check(0, T(61));
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kTooLarge);
}

TEST(Gates, HeadersTightenTheLocalView) {
  Gates g(limits(100, 10000, 0));
  Gates::Remaining r;
  r.requests = 0;  // provider: no requests left for 3 s
  r.requests_reset_ns = 3 * kSec;
  g.observe(0, r);
  GateDecision d = g.check(0, T(1));
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.wait_until, 3 * kSec);
  EXPECT_TRUE(g.check(3 * kSec, T(1)).admit);
}

TEST(Gates, SetLimitsAtRunTime) {
  Gates g(limits(1, 0, 0));  // one request per minute
  g.acquire(T(0));
  g.settle(0, T(0), T(0));
  EXPECT_FALSE(g.check(0, T(0)).admit);
  g.set_limits(limits(2, 0, 0));
  EXPECT_TRUE(g.check(0, T(0)).admit);
}

TEST(Gates, InputAndOutputTokenWindowsCountSeparately) {
  Limits l = limits(0, 0, 0);
  l.itpm = 1000;
  l.otpm = 100;
  Gates g(l);
  ASSERT_TRUE(g.check(0, {500, 80}).admit);
  g.acquire({500, 80});
  GateDecision d = g.check(0, {100, 80});  // input fits, output does not
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kOutputTokens);
  // The reply used 20 output tokens and read 300 of the 500 input tokens from cache:
  // only 200 input and 20 output count from now on.
  g.settle(kSec, {500, 80}, {200, 20});
  EXPECT_TRUE(g.check(kSec, {800, 80}).admit);
  EXPECT_FALSE(g.check(kSec, {801, 0}).admit);
  EXPECT_EQ(g.too_large({0, 101}), GateReason::kOutputTokens);
  EXPECT_EQ(g.too_large({1001, 0}), GateReason::kInputTokens);
  EXPECT_EQ(g.too_large({1000, 100}), GateReason::kNone);
}

// A day window and a minute window together, driven by an injected clock over three days
// of greedy, bursty arrivals: every admission is logged, and no span of either length ever
// holds more than its allowance, of requests or of tokens (each request settles with usage
// different from its reservation, as real replies do).
TEST(Gates, ADayWindowAndAMinuteWindowTogetherAreNeverExceeded) {
  Limits l = limits(30, 6000, 0);  // per minute: 30 requests, 6000 tokens
  l.windows.push_back({24LL * 3600 * 1000, 400, 150000});  // per day: 400 requests, 150k tokens
  Gates g(l);
  struct Admitted {
    int64_t at;
    int64_t tokens;  // counted from settlement, which comes 2 s after admission
  };
  std::vector<Admitted> log;
  uint64_t rng = 7;
  auto next = [&] {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 33;
  };
  constexpr int64_t kDay = 24LL * 3600 * kSec;
  int64_t now = 0;
  std::vector<std::pair<int64_t, int64_t>> in_flight;  // (settles at, reserved)
  int64_t waited_for_day = 0;
  while (now < 3 * kDay) {
    // Settle what is due.
    for (size_t i = 0; i < in_flight.size();) {
      if (in_flight[i].first <= now) {
        int64_t reserved = in_flight[i].second;
        int64_t actual = reserved / 2 + int64_t(next() % uint64_t(reserved / 2 + 1));
        g.settle(now, T(reserved), T(actual));
        log.push_back({now, actual});
        in_flight.erase(in_flight.begin() + long(i));
      } else {
        ++i;
      }
    }
    int64_t want = 50 + int64_t(next() % 400);
    GateDecision d = g.check(now, T(want));
    if (d.admit) {
      g.acquire(T(want));
      in_flight.push_back({now + 2 * kSec, want});
      now += int64_t(next() % 500) * kNsPerMs;  // the next arrival, soon
    } else {
      ASSERT_GT(d.wait_until, now);
      if (d.wait_until - now > 60 * kSec) ++waited_for_day;
      // Wake when the gate says, or when a settlement may free room.
      int64_t wake = d.wait_until;
      for (auto &f : in_flight) wake = std::min(wake, f.first);
      now = wake;
    }
  }
  ASSERT_GT(log.size(), 1000u);
  EXPECT_GT(waited_for_day, 0) << "the day window bound at some point";
  // Every span of a minute and of a day, starting at each settlement.
  auto check = [&](int64_t span, int64_t max_requests, int64_t max_tokens) {
    size_t j = 0;
    int64_t tokens = 0;
    for (size_t i = 0; i < log.size(); ++i) {
      while (j < log.size() && log[j].at < log[i].at + span) tokens += log[j++].tokens;
      EXPECT_LE(int64_t(j - i), max_requests) << "span " << span << " from " << log[i].at;
      EXPECT_LE(tokens, max_tokens) << "span " << span << " from " << log[i].at;
      tokens -= log[i].tokens;
      if (int64_t(j - i) > max_requests || tokens > max_tokens) return;
    }
  };
  check(60 * kSec, 30, 6000);
  check(kDay, 400, 150000);
  // And the day's allowance was nearly used, each day.
  int64_t first_day = 0;
  for (const Admitted &a : log) first_day += a.at < kDay;
  EXPECT_GE(first_day, 390);
  auto used = g.windows_used(now);
  ASSERT_EQ(used.size(), 1u);
  EXPECT_EQ(used[0].request_cap, 400);
}

TEST(Gates, AnotherWindowsTokenAllowanceBoundsTheLargestRequest) {
  Limits l = limits(0, 0, 0);
  l.windows.push_back({3600 * 1000, 0, 1000});
  Gates g(l);
  EXPECT_EQ(g.check(0, T(1001)).reason, GateReason::kTooLarge);
  EXPECT_TRUE(g.check(0, T(1000)).admit);
}
