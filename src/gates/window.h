// A sliding window of (time, amount) entries: how much of a per-window allowance is used.
//
// Reservations of requests in flight count until they are settled and never expire: the
// provider stamps a request when it arrives, which is some time after we sent it, so the
// entry is stamped when the reply comes back (never earlier than the provider's stamp) and
// only then starts to age. This is what keeps the client from ever crossing the provider's
// limit while still using all of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "common/clock.h"

namespace llmsvc {

class SlidingWindow {
 public:
  /// cap: allowance per window (0 = unlimited); window_ns: the window's length.
  void configure(int64_t cap, int64_t window_ns);
  int64_t cap() const { return cap_; }
  bool unlimited() const { return cap_ <= 0; }

  /// Amount counted at `now`: settled entries younger than the window, reservations in
  /// flight and the phantom reserve learned from the provider's headers.
  int64_t used(int64_t now);

  /// The earliest time at or after `now` at which `amount` fits: `now` when it fits now,
  /// kNever when only settling a reservation in flight could make room (or never: amount
  /// larger than the cap).
  int64_t earliest_fit(int64_t now, int64_t amount) { return earliest_fit(now, amount, cap_); }
  /// The same against a smaller allowance `cap` (a share of the limit).
  int64_t earliest_fit(int64_t now, int64_t amount, int64_t cap);

  /// Takes `amount` for a request about to be sent.
  void reserve(int64_t amount) { inflight_ += amount; }
  /// Settles a reservation: the request was received by the provider, which counts
  /// `actual` (the real usage) from now on.
  void settle(int64_t now, int64_t reserved, int64_t actual);
  /// Gives a reservation back: the request never reached the provider.
  void release(int64_t reserved) { inflight_ -= reserved; }

  /// The provider says only `remaining` is left and the window is whole again after
  /// `reset_ns`. When that is less than we think is left (another client shares the key),
  /// the difference is held as a phantom reserve until then.
  void clamp(int64_t now, int64_t remaining, int64_t reset_ns);

  size_t entries() const { return entries_.size(); }
  int64_t in_flight() const { return inflight_; }

 private:
  struct Entry {
    int64_t at;     // the latest settlement it holds: it ages from here
    int64_t start;  // the first one: entries hold at most kCoalesceNs of settlements
    int64_t amount;
  };
  // Settlements less than this apart share an entry (stamped with the latest, which is
  // never early), so a window holds at most window / kCoalesceNs entries at any rate.
  static constexpr int64_t kCoalesceNs = kNsPerMs;
  void expire(int64_t now);

  int64_t cap_ = 0;
  int64_t window_ns_ = 60 * kNsPerSec;
  std::deque<Entry> entries_;
  int64_t settled_ = 0;  // sum of entries_
  int64_t inflight_ = 0;
  int64_t phantom_ = 0;
  int64_t phantom_until_ = 0;
};

}  // namespace llmsvc
