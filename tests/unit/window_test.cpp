#include "gates/window.h"

#include <gtest/gtest.h>

using llmsvc::kNever;
using llmsvc::SlidingWindow;

namespace {
constexpr int64_t kSec = llmsvc::kNsPerSec;
}

TEST(SlidingWindow, UnlimitedAlwaysFits) {
  SlidingWindow w;
  w.configure(0, 60 * kSec);
  EXPECT_EQ(w.earliest_fit(5, 1000000), 5);
}

TEST(SlidingWindow, FitsUntilCapThenWaitsForOldestSettledEntry) {
  SlidingWindow w;
  w.configure(3, 10 * kSec);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(w.earliest_fit(i * kSec, 1), i * kSec);
    w.reserve(1);
    w.settle(i * kSec, 1, 1);
  }
  EXPECT_EQ(w.used(3 * kSec), 3);
  // Full: room comes when the first entry (stamped at 0) leaves the 10 s window.
  EXPECT_EQ(w.earliest_fit(3 * kSec, 1), 10 * kSec);
  EXPECT_EQ(w.earliest_fit(3 * kSec, 2), 11 * kSec);
  EXPECT_EQ(w.used(10 * kSec), 2);
  EXPECT_EQ(w.earliest_fit(10 * kSec, 1), 10 * kSec);
}

TEST(SlidingWindow, InFlightReservationsNeverExpire) {
  SlidingWindow w;
  w.configure(2, 1 * kSec);
  w.reserve(2);
  // Hours later the reservations still count: only their settlement frees anything.
  EXPECT_EQ(w.used(3600 * kSec), 2);
  EXPECT_EQ(w.earliest_fit(3600 * kSec, 1), kNever);
  // Settled when the reply comes: stamped then, not when sent.
  w.settle(3600 * kSec, 1, 1);
  EXPECT_EQ(w.earliest_fit(3600 * kSec, 1), 3601 * kSec);
}

TEST(SlidingWindow, SettleReconcilesToActualUsage) {
  SlidingWindow w;
  w.configure(1000, 60 * kSec);
  w.reserve(800);  // prompt estimate + max output tokens
  EXPECT_EQ(w.earliest_fit(0, 300), kNever);
  w.settle(kSec, 800, 250);  // the reply used far less
  EXPECT_EQ(w.used(kSec), 250);
  EXPECT_EQ(w.earliest_fit(kSec, 700), kSec);
}

TEST(SlidingWindow, ReleaseGivesEverythingBack) {
  SlidingWindow w;
  w.configure(10, 60 * kSec);
  w.reserve(10);
  w.release(10);
  EXPECT_EQ(w.used(0), 0);
  EXPECT_EQ(w.entries(), 0u);
}

TEST(SlidingWindow, AmountLargerThanCapNeverFits) {
  SlidingWindow w;
  w.configure(100, 60 * kSec);
  EXPECT_EQ(w.earliest_fit(0, 101), kNever);
}

TEST(SlidingWindow, ClampHoldsPhantomReserveUntilReset) {
  SlidingWindow w;
  w.configure(100, 60 * kSec);
  w.reserve(10);
  w.settle(0, 10, 10);
  // We think 90 are left; the provider says 40 (someone else shares the key), whole in 5 s.
  w.clamp(kSec, 40, 5 * kSec);
  EXPECT_EQ(w.used(kSec), 60);
  EXPECT_EQ(w.earliest_fit(kSec, 41), 6 * kSec);
  EXPECT_EQ(w.earliest_fit(kSec, 40), kSec);
  EXPECT_EQ(w.used(6 * kSec), 10);
}

TEST(SlidingWindow, ClampNeverLoosens) {
  SlidingWindow w;
  w.configure(100, 60 * kSec);
  w.reserve(50);
  w.settle(0, 50, 50);
  w.clamp(0, 80, 10 * kSec);  // the provider has not seen all of ours yet: ignore
  EXPECT_EQ(w.used(0), 50);
}

TEST(SlidingWindow, MemoryStaysBoundedByTheWindow) {
  SlidingWindow w;
  w.configure(1000000, 1 * kSec);
  for (int64_t i = 0; i < 100000; ++i) {
    int64_t now = i * (kSec / 1000);  // 1000 per second for 100 s
    w.reserve(1);
    w.settle(now, 1, 1);
    w.used(now);
  }
  EXPECT_LE(w.entries(), 1001u);  // 1 s of 1 ms entries
}

TEST(SlidingWindow, UnlimitedWindowsStayBoundedToo) {
  SlidingWindow w;
  w.configure(0, 60 * kSec);
  for (int64_t i = 0; i < 200000; ++i) {  // 10,000 per second for 20 s, never asked
    w.reserve(1);
    w.settle(i * (kSec / 10000), 1, 1);
  }
  // At most one entry per millisecond of the window.
  EXPECT_LE(w.entries(), 20001u);
  EXPECT_EQ(w.used(20 * kSec), 200000);
}

TEST(SlidingWindow, CoalescedEntriesAgeFromTheirLatestSettlement) {
  SlidingWindow w;
  w.configure(2, 10 * kSec);
  w.reserve(2);
  w.settle(0, 1, 1);
  w.settle(llmsvc::kNsPerMs / 2, 1, 1);  // shares the first entry, which now ages from 0.5 ms
  EXPECT_EQ(w.entries(), 1u);
  EXPECT_EQ(w.earliest_fit(kSec, 1), 10 * kSec + llmsvc::kNsPerMs / 2);
}
