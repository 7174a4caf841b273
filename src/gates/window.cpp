#include "gates/window.h"

#include <algorithm>

namespace llmsvc {

void SlidingWindow::configure(int64_t cap, int64_t window_ns) {
  cap_ = cap;
  window_ns_ = window_ns;
}

void SlidingWindow::expire(int64_t now) {
  while (!entries_.empty() && entries_.front().at + window_ns_ <= now) {
    settled_ -= entries_.front().amount;
    entries_.pop_front();
  }
  if (phantom_ && phantom_until_ <= now) phantom_ = 0;
}

int64_t SlidingWindow::used(int64_t now) {
  expire(now);
  return settled_ + inflight_ + phantom_;
}

int64_t SlidingWindow::earliest_fit(int64_t now, int64_t amount, int64_t cap) {
  if (cap <= 0) return now;
  if (amount > cap) return kNever;
  int64_t excess = used(now) + amount - cap;
  if (excess <= 0) return now;
  // Walk the settled entries oldest first, merging in the phantom's expiry.
  bool phantom_pending = phantom_ > 0;
  for (const Entry &e : entries_) {
    int64_t at = e.at + window_ns_;
    if (phantom_pending && phantom_until_ <= at) {
      excess -= phantom_;
      phantom_pending = false;
      if (excess <= 0) return phantom_until_;
    }
    excess -= e.amount;
    if (excess <= 0) return at;
  }
  if (phantom_pending && excess - phantom_ <= 0) return phantom_until_;
  return kNever;
}

void SlidingWindow::settle(int64_t now, int64_t reserved, int64_t actual) {
  inflight_ -= reserved;
  expire(now);  // also when nothing asks: memory stays bounded by the window
  if (actual <= 0) return;
  // Stamps only grow (the clock is monotonic), so the deque stays ordered.
  if (!entries_.empty() && now - entries_.back().start < kCoalesceNs) {
    entries_.back().at = now;
    entries_.back().amount += actual;
  } else {
    entries_.push_back({now, now, actual});
  }
  settled_ += actual;
}

void SlidingWindow::clamp(int64_t now, int64_t remaining, int64_t reset_ns) {
  if (unlimited() || remaining < 0) return;
  expire(now);
  int64_t ours_without_phantom = cap_ - (settled_ + inflight_);
  int64_t gap = ours_without_phantom - remaining;
  if (gap <= 0) return;
  int64_t until = now + std::max<int64_t>(reset_ns, 0);
  if (until <= now) return;
  phantom_ = gap;
  phantom_until_ = until;
}

}  // namespace llmsvc
