// Live per-minute rates for metrics: 60 one-second buckets in a ring, O(1) to record and
// a fixed size however long the client runs.
#pragma once

#include <array>
#include <cstdint>

namespace llmsvc {

class RateWindow {
 public:
  void add(int64_t now_ns, int64_t amount);
  /// The sum over the last 60 seconds (the current partial second included).
  int64_t last_minute(int64_t now_ns) const;

 private:
  struct Bucket {
    int64_t second = -1;
    int64_t amount = 0;
  };
  std::array<Bucket, 60> buckets_{};
};

}  // namespace llmsvc
