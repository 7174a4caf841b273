#include "metrics/histogram.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "metrics/rate_window.h"

using llmsvc::Histogram;

TEST(Histogram, BucketsCoverEveryValueInOrder) {
  for (int64_t v : {int64_t(0), int64_t(1), int64_t(7), int64_t(8), int64_t(9), int64_t(1000),
                    int64_t(123456789), int64_t(1) << 40}) {
    int b = Histogram::bucket_of(v);
    EXPECT_LE(Histogram::bucket_low(b), v) << v;
    EXPECT_GE(Histogram::bucket_high(b), v) << v;
  }
  for (int b = 0; b + 1 < Histogram::kBuckets - 8; ++b)
    EXPECT_EQ(Histogram::bucket_high(b) + 1, Histogram::bucket_low(b + 1)) << b;
}

TEST(Histogram, QuantilesWithinBucketPrecision) {
  Histogram h;
  for (int64_t i = 1; i <= 10000; ++i) h.record(i * 1000);  // 1 us .. 10 ms
  EXPECT_EQ(h.count(), 10000u);
  EXPECT_EQ(h.min(), 1000);
  EXPECT_EQ(h.max(), 10000000);
  auto near = [](int64_t got, double want) {
    return std::abs(double(got) - want) <= want * 0.0625;
  };
  EXPECT_TRUE(near(h.quantile(0.5), 5e6)) << h.quantile(0.5);
  EXPECT_TRUE(near(h.quantile(0.99), 9.9e6)) << h.quantile(0.99);
  EXPECT_EQ(h.quantile(1.0), 10000000);
}

TEST(Histogram, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.quantile(0.5), 0);
  EXPECT_EQ(h.min(), 0);
}

TEST(RateWindow, CountsTheLastMinuteOnly) {
  llmsvc::RateWindow w;
  const int64_t s = llmsvc::kNsPerSec;
  w.add(0, 5);
  w.add(30 * s, 7);
  EXPECT_EQ(w.last_minute(59 * s), 12);
  EXPECT_EQ(w.last_minute(60 * s), 7);  // the second-0 bucket has left
  w.add(125 * s, 1);                    // reuses a ring slot; stale amounts never leak
  EXPECT_EQ(w.last_minute(125 * s), 1);
}
