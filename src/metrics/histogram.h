// A log-linear histogram of non-negative values (nanoseconds): 8 sub-buckets per power of
// two, so any percentile is within 6.25% of the truth, in a fixed 4 KiB.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace llmsvc {

class Histogram {
 public:
  static constexpr int kSub = 8;
  // Values below 2^63: exponents 3..62 after the first kSub exact buckets.
  static constexpr int kBuckets = 61 * kSub;

  void record(int64_t v);
  uint64_t count() const { return count_; }
  int64_t sum() const { return sum_; }
  int64_t min() const { return count_ ? min_ : 0; }
  int64_t max() const { return max_; }
  /// How many values fell in bucket `b` (0 <= b < kBuckets).
  uint64_t bucket_count(int b) const { return buckets_[std::size_t(b)]; }
  /// The value at quantile q in [0, 1] (the middle of the bucket holding it).
  int64_t quantile(double q) const;

  static int bucket_of(int64_t v);
  static int64_t bucket_low(int b);
  static int64_t bucket_high(int b);

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  int64_t sum_ = 0;
  int64_t min_ = INT64_MAX;
  int64_t max_ = 0;
};

}  // namespace llmsvc
