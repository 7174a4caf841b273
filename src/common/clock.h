// Time sources. Gates, retry and metrics take times as arguments; the engine reads them
// from a Clock so that tests can drive time instead of sleeping.
#pragma once

#include <cstdint>

namespace llmsvc {

constexpr int64_t kNsPerMs = 1000000;
constexpr int64_t kNsPerSec = 1000000000;
/// A time that never comes (a waiter that waits for an event, not a moment).
constexpr int64_t kNever = INT64_MAX;

class Clock {
 public:
  virtual ~Clock() = default;
  /// Monotonic nanoseconds, for windows, deadlines and durations.
  virtual int64_t steady_ns() const = 0;
  /// Unix time in milliseconds, only for timestamps shown to people.
  virtual int64_t wall_ms() const = 0;
  /// Unix time in nanoseconds, for telemetry's timestamps.
  virtual int64_t wall_ns() const { return wall_ms() * 1000000; }
};

/// The real clocks (CLOCK_MONOTONIC and CLOCK_REALTIME).
class SystemClock final : public Clock {
 public:
  int64_t steady_ns() const override;
  int64_t wall_ms() const override;
  int64_t wall_ns() const override;
  static const SystemClock &instance();
};

/// Monotonic now without the virtual call, for the hot path.
int64_t steady_now_ns();

}  // namespace llmsvc
