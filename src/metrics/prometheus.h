// The Prometheus text exposition format (version 0.0.4): metric families with HELP and
// TYPE, samples with escaped label values, and histograms as cumulative `le` buckets in
// seconds. Only formatting lives here; what is exposed is decided by its callers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "metrics/histogram.h"

namespace llmsvc {

class PromText {
 public:
  struct Label {
    std::string_view name;
    std::string_view value;
  };
  using Labels = std::initializer_list<Label>;

  /// Starts a family: `# HELP` and `# TYPE` lines. Every sample of a family follows its
  /// header, before the next family starts.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, Labels labels, int64_t value);
  void sample(std::string_view name, Labels labels, double value);
  /// A histogram of nanoseconds as `name_bucket{le}` (cumulative, seconds), `name_sum`
  /// (seconds) and `name_count`. The family header is the caller's.
  void histogram(std::string_view name, Labels labels, const Histogram &h,
                 const int64_t *edges_ns, size_t n_edges);

  std::string take() { return std::move(out_); }
  const std::string &text() const { return out_; }

  /// A label value as the format wants it: backslash, double quote and newline escaped.
  static std::string escape(std::string_view value);
  /// A sample value: integers without a fraction, others in the shortest form that reads
  /// back the same; NaN, +Inf, -Inf spelt as Prometheus spells them.
  static std::string number(double v);

 private:
  void series(std::string_view name, Labels labels, std::string_view extra_name = {},
              std::string_view extra_value = {});
  std::string out_;
};

/// Upper bounds for histogram buckets: the histogram's own bucket edges (inclusive, in
/// ns) nearest to 1, 2.5 and 5 times each power of ten from `from_ns` to `to_ns`, so that
/// every cumulative count is exact. Stable for a given range.
struct PromBuckets {
  static constexpr size_t kMax = 40;
  int64_t edges[kMax];
  size_t size = 0;
  PromBuckets(int64_t from_ns, int64_t to_ns);
};

}  // namespace llmsvc
