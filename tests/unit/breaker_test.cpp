// The circuit breaker's states: closed, open after a run of failures, half-open with one
// probe, closed again on the probe's success or open for longer on its failure.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "gates/breaker.h"

using namespace llmsvc;

namespace {

CircuitBreaker make(int64_t failures, int64_t cooldown_ms, int64_t max_ms) {
  CircuitBreaker b;
  b.configure({failures, cooldown_ms, max_ms});
  return b;
}

constexpr int64_t kMs = kNsPerMs;

}  // namespace

TEST(CircuitBreaker, OpensAfterConsecutiveHealthFailuresOnly) {
  CircuitBreaker b = make(3, 100, 1000);
  bool probe = false;
  int64_t until = 0;
  b.record(0, LLMSVC_KIND_SERVER_ERROR, false);
  b.record(0, LLMSVC_KIND_TIMEOUT, false);
  b.record(0, LLMSVC_KIND_NONE, false);  // an answer resets the run
  b.record(0, LLMSVC_KIND_CONNECTION, false);
  b.record(0, LLMSVC_KIND_BAD_REQUEST, false);  // the provider answered: it is well
  b.record(0, LLMSVC_KIND_RATE_LIMITED, false);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  EXPECT_TRUE(b.admit(0, probe, until));
  EXPECT_FALSE(probe);
  b.record(10 * kMs, LLMSVC_KIND_SERVER_ERROR, false);
  b.record(10 * kMs, LLMSVC_KIND_SERVER_ERROR, false);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(b.admit(50 * kMs, probe, until));
  EXPECT_EQ(until, 110 * kMs);
  EXPECT_NE(b.why_open(50 * kMs).find("open for 60 ms more"), std::string::npos)
      << b.why_open(50 * kMs);
  EXPECT_NE(b.why_open(50 * kMs).find("last: server_error"), std::string::npos);
}

TEST(CircuitBreaker, OneProbeAtATimeThenClosedOrLongerOpen) {
  CircuitBreaker b = make(1, 100, 250);
  bool probe = false;
  int64_t until = 0;
  b.record(0, LLMSVC_KIND_SERVER_ERROR, false);
  ASSERT_TRUE(b.admit(100 * kMs, probe, until));
  EXPECT_TRUE(probe);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kHalfOpen);
  bool second = false;
  EXPECT_FALSE(b.admit(100 * kMs, second, until));  // waits for the probe
  EXPECT_EQ(until, kNever);
  // The probe fails: open for twice as long.
  b.record(120 * kMs, LLMSVC_KIND_TIMEOUT, true);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(b.admit(300 * kMs, probe, until));
  EXPECT_EQ(until, 320 * kMs);
  ASSERT_TRUE(b.admit(320 * kMs, probe, until));
  b.record(330 * kMs, LLMSVC_KIND_TIMEOUT, true);  // again: capped at 250 ms
  EXPECT_FALSE(b.admit(330 * kMs, probe, until));
  EXPECT_EQ(until, 580 * kMs);
  // A probe abandoned (cancelled) lets another go; a successful one closes.
  ASSERT_TRUE(b.admit(600 * kMs, probe, until));
  b.probe_abandoned();
  ASSERT_TRUE(b.admit(600 * kMs, probe, until));
  EXPECT_TRUE(probe);
  b.record(610 * kMs, LLMSVC_KIND_NONE, true);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  EXPECT_TRUE(b.admit(610 * kMs, probe, until));
  EXPECT_FALSE(probe);
  EXPECT_EQ(b.why_open(610 * kMs), "");
}

TEST(CircuitBreaker, OffWhenNotConfigured) {
  CircuitBreaker b;
  bool probe = false;
  int64_t until = 0;
  for (int i = 0; i < 100; ++i) b.record(0, LLMSVC_KIND_SERVER_ERROR, false);
  EXPECT_TRUE(b.admit(0, probe, until));
  EXPECT_FALSE(b.enabled());
}
