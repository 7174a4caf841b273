#include "gates/gates.h"

#include <gtest/gtest.h>

using namespace llmsvc;

namespace {
constexpr int64_t kSec = kNsPerSec;
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
    ASSERT_TRUE(g.check(0, 10).admit);
    g.acquire(10);
  }
  GateDecision d = g.check(0, 10);
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kRequests);
  EXPECT_EQ(d.wait_until, kNever);  // both still in flight
  g.settle(100 * kNsPerMs, 10, 7);
  d = g.check(100 * kNsPerMs, 10);
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.wait_until, 1100 * kNsPerMs);
  EXPECT_TRUE(g.check(1100 * kNsPerMs, 10).admit);
}

TEST(Gates, TokenLimitReservesEstimatePlusMaxOutput) {
  Gates g(limits(0, 1000, 0));
  ASSERT_TRUE(g.check(0, 600).admit);
  g.acquire(600);
  GateDecision d = g.check(0, 600);
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kTokens);
  g.settle(kSec, 600, 100);  // compensation: real usage was 100
  EXPECT_TRUE(g.check(kSec, 600).admit);
}

TEST(Gates, ReleaseReturnsTheReservation) {
  Gates g(limits(1, 100, 1));
  g.acquire(100);
  EXPECT_FALSE(g.check(0, 1).admit);
  g.release(100);
  EXPECT_TRUE(g.check(0, 100).admit);
}

TEST(Gates, ConcurrencyLimit) {
  Gates g(limits(0, 0, 2));
  g.acquire(0);
  g.acquire(0);
  GateDecision d = g.check(0, 0);
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kConcurrency);
  g.settle(0, 0, 0);
  EXPECT_TRUE(g.check(0, 0).admit);
}

TEST(Gates, PauseFromRetryAfterStopsEveryone) {
  Gates g(limits(0, 0, 0));
  g.pause_until(5 * kSec);
  GateDecision d = g.check(kSec, 1);
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kPaused);
  EXPECT_EQ(d.wait_until, 5 * kSec);
  g.pause_until(2 * kSec);  // a shorter pause does not shorten the longer one
  EXPECT_FALSE(g.check(4 * kSec, 1).admit);
  EXPECT_TRUE(g.check(5 * kSec, 1).admit);
}

TEST(Gates, TooLargeForTheWindowIsReported) {
  Gates g(limits(0, 60, 0, 60000));
  GateDecision d = g.check(0, 61);
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.reason, GateReason::kTooLarge);
}

TEST(Gates, HeadersTightenTheLocalView) {
  Gates g(limits(100, 10000, 0));
  g.observe(0, 0, 3 * kSec, -1, -1);  // provider: no requests left for 3 s
  GateDecision d = g.check(0, 1);
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.wait_until, 3 * kSec);
  EXPECT_TRUE(g.check(3 * kSec, 1).admit);
}

TEST(Gates, SetLimitsAtRunTime) {
  Gates g(limits(1, 0, 0));  // one request per minute
  g.acquire(0);
  g.settle(0, 0, 0);
  EXPECT_FALSE(g.check(0, 0).admit);
  g.set_limits(limits(2, 0, 0));
  EXPECT_TRUE(g.check(0, 0).admit);
}
