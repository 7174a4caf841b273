#include "metrics/histogram.h"

#include <algorithm>
#include <cmath>

namespace llmsvc {

int Histogram::bucket_of(int64_t v) {
  if (v < kSub) return int(std::max<int64_t>(v, 0));
  int e = 63 - __builtin_clzll(uint64_t(v));  // v in [2^e, 2^(e+1)), e >= 3
  int sub = int((uint64_t(v) >> (e - 3)) & (kSub - 1));
  return (e - 2) * kSub + sub;
}

int64_t Histogram::bucket_low(int b) {
  if (b < kSub) return b;
  int e = b / kSub + 2;
  int sub = b % kSub;
  return (int64_t(kSub + sub)) << (e - 3);
}

int64_t Histogram::bucket_high(int b) {
  if (b + 1 >= kBuckets) return INT64_MAX;
  return bucket_low(b + 1) - 1;
}

void Histogram::record(int64_t v) {
  if (v < 0) v = 0;
  ++buckets_[size_t(bucket_of(v))];
  ++count_;
  sum_ += v;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

int64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = uint64_t(std::ceil(std::clamp(q, 0.0, 1.0) * double(count_)));
  rank = std::max<uint64_t>(rank, 1);
  if (rank >= count_) return max_;
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[size_t(b)];
    if (seen >= rank) {
      int64_t mid = bucket_low(b) + (bucket_high(b) - bucket_low(b)) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

}  // namespace llmsvc
