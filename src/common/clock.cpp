#include "common/clock.h"

#include <ctime>

namespace llmsvc {

int64_t steady_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

int64_t SystemClock::steady_ns() const { return steady_now_ns(); }

int64_t SystemClock::wall_ms() const {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / kNsPerMs;
}

int64_t SystemClock::wall_ns() const {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

const SystemClock &SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace llmsvc
