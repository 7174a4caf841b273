#include "metrics/prometheus.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace llmsvc {

void PromText::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  // HELP text escapes backslash and newline (not quotes).
  for (char c : help) {
    if (c == '\\') out_ += "\\\\";
    else if (c == '\n') out_ += "\\n";
    else out_ += c;
  }
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

std::string PromText::escape(std::string_view value) {
  std::string s;
  s.reserve(value.size());
  for (char c : value) {
    if (c == '\\') s += "\\\\";
    else if (c == '"') s += "\\\"";
    else if (c == '\n') s += "\\n";
    else s += c;
  }
  return s;
}

std::string PromText::number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void PromText::series(std::string_view name, Labels labels, std::string_view extra_name,
                      std::string_view extra_value) {
  out_ += name;
  if (labels.size() == 0 && extra_name.empty()) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  auto add = [&](std::string_view n, std::string_view v) {
    if (!first) out_ += ',';
    first = false;
    out_ += n;
    out_ += "=\"";
    out_ += escape(v);
    out_ += '"';
  };
  for (const Label &l : labels) add(l.name, l.value);
  if (!extra_name.empty()) add(extra_name, extra_value);
  out_ += "} ";
}

void PromText::sample(std::string_view name, Labels labels, int64_t value) {
  series(name, labels);
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  out_.append(buf, r.ptr);
  out_ += '\n';
}

void PromText::sample(std::string_view name, Labels labels, double value) {
  series(name, labels);
  out_ += number(value);
  out_ += '\n';
}

void PromText::histogram(std::string_view name, Labels labels, const Histogram &h,
                         const int64_t *edges_ns, size_t n_edges) {
  std::string base(name);
  const std::string bucket = base + "_bucket";
  uint64_t cumulative = 0;
  int b = 0;
  for (size_t i = 0; i < n_edges; ++i) {
    // Every value of buckets up to the one ending at this edge is at most the edge.
    while (b < Histogram::kBuckets && Histogram::bucket_high(b) <= edges_ns[i])
      cumulative += h.bucket_count(b++);
    series(bucket, labels, "le", number(double(edges_ns[i]) / 1e9));
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  series(bucket, labels, "le", "+Inf");
  out_ += std::to_string(h.count());
  out_ += '\n';
  sample(base + "_sum", labels, double(h.sum()) / 1e9);
  series(base + "_count", labels);
  out_ += std::to_string(h.count());
  out_ += '\n';
}

PromBuckets::PromBuckets(int64_t from_ns, int64_t to_ns) {
  for (int64_t decade = from_ns; decade <= to_ns && size < kMax; decade *= 10) {
    for (int64_t target : {decade, decade * 5 / 2, decade * 5}) {
      if (target > to_ns || size == kMax) break;
      // The bucket edge (an inclusive upper bound) nearest to the target.
      int b = Histogram::bucket_of(target);
      int64_t below = b > 0 ? Histogram::bucket_high(b - 1) : Histogram::bucket_high(0);
      int64_t above = Histogram::bucket_high(b);
      int64_t edge = std::llabs(target - below) <= std::llabs(above - target) ? below : above;
      if (size == 0 || edge > edges[size - 1]) edges[size++] = edge;
    }
  }
}

}  // namespace llmsvc
