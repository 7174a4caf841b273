#include "metrics/rate_window.h"

#include <cstddef>

#include "common/clock.h"

namespace llmsvc {

void RateWindow::add(int64_t now_ns, int64_t amount) {
  int64_t s = now_ns / kNsPerSec;
  Bucket &b = buckets_[size_t(s % 60)];
  if (b.second != s) {
    b.second = s;
    b.amount = 0;
  }
  b.amount += amount;
}

int64_t RateWindow::last_minute(int64_t now_ns) const {
  int64_t s = now_ns / kNsPerSec;
  int64_t total = 0;
  for (const Bucket &b : buckets_)
    if (b.second > s - 60 && b.second <= s) total += b.amount;
  return total;
}

}  // namespace llmsvc
