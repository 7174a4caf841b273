// A strict parser of the Prometheus text exposition format 0.0.4, for tests: it accepts
// what Prometheus accepts and also insists on what llmsvc promises (HELP and TYPE for
// every family, counters named *_total, whole histograms with cumulative buckets).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace promtest {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

struct Family {
  std::string type;
  std::string help;
  std::vector<Sample> samples;
};

struct Exposition {
  std::map<std::string, Family> families;
  std::vector<std::string> order;  // family names as they appeared
  std::string error;               // empty when the text is valid

  /// The value of one series; NaN when absent.
  double value(const std::string &name, const Labels &labels = {}) const {
    for (auto &[fname, f] : families)
      for (const Sample &s : f.samples)
        if (s.name == name && s.labels == labels) return s.value;
    return std::nan("");
  }
  /// The sum over every series of `name` whose labels include `match`.
  double sum(const std::string &name, const Labels &match = {}) const {
    double total = 0;
    for (auto &[fname, f] : families)
      for (const Sample &s : f.samples) {
        if (s.name != name) continue;
        bool ok = true;
        for (auto &[k, v] : match) {
          auto it = s.labels.find(k);
          ok = ok && it != s.labels.end() && it->second == v;
        }
        if (ok) total += s.value;
      }
    return total;
  }
  bool has(const std::string &name, const Labels &labels = {}) const {
    return !std::isnan(value(name, labels));
  }
};

namespace detail {

inline bool name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
inline bool name_char(char c, bool colon) {
  return name_start(c, colon) || (c >= '0' && c <= '9');
}

inline bool parse_float(const std::string &s, double &out) {
  if (s == "NaN") return out = std::nan(""), true;
  if (s == "+Inf") return out = HUGE_VAL, true;
  if (s == "-Inf") return out = -HUGE_VAL, true;
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
      return false;
  char *end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// The family a sample belongs to: histogram samples carry a suffix.
inline std::string family_of(const std::string &name, const std::map<std::string, Family> &fs) {
  for (const char *suffix : {"_bucket", "_sum", "_count"}) {
    std::string sfx(suffix);
    if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
      std::string base = name.substr(0, name.size() - sfx.size());
      auto it = fs.find(base);
      if (it != fs.end() && it->second.type == "histogram") return base;
    }
  }
  return name;
}

inline std::string check_histogram(const std::string &name, const Family &f) {
  // Per label set (le aside): buckets ascending by le and cumulative, +Inf == _count.
  std::map<Labels, std::vector<std::pair<double, double>>> buckets;
  std::map<Labels, double> counts, sums;
  for (const Sample &s : f.samples) {
    if (s.name == name + "_bucket") {
      auto le = s.labels.find("le");
      if (le == s.labels.end()) return name + ": a bucket without le";
      double bound;
      if (!parse_float(le->second, bound)) return name + ": bad le " + le->second;
      Labels rest = s.labels;
      rest.erase("le");
      buckets[rest].push_back({bound, s.value});
    } else if (s.name == name + "_count") {
      counts[s.labels] = s.value;
    } else if (s.name == name + "_sum") {
      sums[s.labels] = s.value;
    } else {
      return name + ": unexpected sample " + s.name + " in a histogram";
    }
  }
  for (auto &[labels, bs] : buckets) {
    for (size_t i = 1; i < bs.size(); ++i) {
      if (!(bs[i].first > bs[i - 1].first)) return name + ": le not ascending";
      if (bs[i].second < bs[i - 1].second) return name + ": buckets not cumulative";
    }
    if (bs.empty() || !std::isinf(bs.back().first)) return name + ": no +Inf bucket";
    if (!counts.count(labels) || !sums.count(labels)) return name + ": no _count or _sum";
    if (counts[labels] != bs.back().second) return name + ": +Inf bucket != _count";
  }
  if (counts.size() != buckets.size() || sums.size() != buckets.size())
    return name + ": _count or _sum without buckets";
  return "";
}

}  // namespace detail

inline Exposition parse(const std::string &text) {
  using namespace detail;
  Exposition e;
  auto fail = [&](size_t line_no, const std::string &why) {
    e.error = "line " + std::to_string(line_no) + ": " + why;
    return e;
  };
  if (text.empty() || text.back() != '\n') return fail(0, "the text must end with a newline");
  std::set<std::string> closed;  // families whose samples are over
  std::set<std::pair<std::string, Labels>> seen;
  std::string current;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (line.empty()) return fail(line_no, "empty line");
    auto enter = [&](const std::string &fam) -> bool {
      if (fam == current) return true;
      if (!current.empty()) closed.insert(current);
      if (closed.count(fam)) return false;
      current = fam;
      return true;
    };
    if (line[0] == '#') {
      if (line.rfind("# HELP ", 0) != 0 && line.rfind("# TYPE ", 0) != 0) continue;  // comment
      bool help = line[2] == 'H';
      size_t sp = line.find(' ', 7);
      std::string name = line.substr(7, sp == std::string::npos ? std::string::npos : sp - 7);
      std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
      if (name.empty() || !name_start(name[0], true)) return fail(line_no, "bad name " + name);
      for (char c : name)
        if (!name_char(c, true)) return fail(line_no, "bad name " + name);
      if (!enter(name)) return fail(line_no, name + " appears again after other families");
      Family &f = e.families[name];
      if (f.samples.size()) return fail(line_no, name + ": HELP or TYPE after samples");
      if (help) {
        if (!f.help.empty()) return fail(line_no, name + ": a second HELP");
        for (size_t i = 0; i < rest.size(); ++i)
          if (rest[i] == '\\' && (i + 1 >= rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n')))
            return fail(line_no, name + ": bad escape in HELP");
          else if (rest[i] == '\\')
            ++i;
        f.help = rest;
        if (f.help.empty()) return fail(line_no, name + ": empty HELP");
      } else {
        if (!f.type.empty()) return fail(line_no, name + ": a second TYPE");
        if (rest != "counter" && rest != "gauge" && rest != "histogram" && rest != "summary" &&
            rest != "untyped")
          return fail(line_no, name + ": unknown type " + rest);
        f.type = rest;
        if (rest == "counter" && name.size() < 6) return fail(line_no, name + ": short counter");
        if (rest == "counter" && name.compare(name.size() - 6, 6, "_total") != 0)
          return fail(line_no, name + ": a counter not named *_total");
      }
      if (std::find(e.order.begin(), e.order.end(), name) == e.order.end()) e.order.push_back(name);
      continue;
    }
    // A sample: name [{labels}] value [timestamp]
    Sample s;
    size_t i = 0;
    if (!name_start(line[0], true)) return fail(line_no, "bad metric name");
    while (i < line.size() && name_char(line[i], true)) s.name += line[i++];
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string lname;
        if (!name_start(line[i], false)) return fail(line_no, "bad label name");
        while (i < line.size() && name_char(line[i], false)) lname += line[i++];
        if (lname.rfind("__", 0) == 0) return fail(line_no, "reserved label name " + lname);
        if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"')
          return fail(line_no, "expected =\" after " + lname);
        i += 2;
        std::string value;
        for (;;) {
          if (i >= line.size()) return fail(line_no, "unterminated label value");
          char c = line[i++];
          if (c == '"') break;
          if (c == '\\') {
            if (i >= line.size()) return fail(line_no, "bad escape");
            char n = line[i++];
            if (n == '\\') value += '\\';
            else if (n == '"') value += '"';
            else if (n == 'n') value += '\n';
            else return fail(line_no, "bad escape \\" + std::string(1, n));
          } else {
            value += c;
          }
        }
        if (!s.labels.emplace(lname, value).second)
          return fail(line_no, "label " + lname + " twice");
        if (i < line.size() && line[i] == ',') ++i;
        else if (i >= line.size() || line[i] != '}') return fail(line_no, "expected , or }");
      }
      if (i >= line.size()) return fail(line_no, "unterminated label set");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') return fail(line_no, "expected a space before the value");
    ++i;
    size_t sp = line.find(' ', i);
    std::string value = line.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
    if (!parse_float(value, s.value)) return fail(line_no, "bad value " + value);
    if (sp != std::string::npos) {
      std::string ts = line.substr(sp + 1);
      if (ts.empty() || ts.find_first_not_of("-0123456789") != std::string::npos)
        return fail(line_no, "bad timestamp " + ts);
    }
    std::string fam = family_of(s.name, e.families);
    auto it = e.families.find(fam);
    if (it == e.families.end() || it->second.type.empty() || it->second.help.empty())
      return fail(line_no, s.name + ": a sample without HELP and TYPE");
    if (!enter(fam)) return fail(line_no, fam + " appears again after other families");
    if (!seen.insert({s.name, s.labels}).second) return fail(line_no, s.name + ": a duplicate series");
    if (it->second.type == "counter" && !(s.value >= 0))
      return fail(line_no, s.name + ": a negative counter");
    it->second.samples.push_back(std::move(s));
  }
  for (auto &[name, f] : e.families) {
    if (f.type.empty() || f.help.empty()) return fail(0, name + ": HELP or TYPE missing");
    if (f.type == "histogram")
      if (std::string why = check_histogram(name, f); !why.empty()) return fail(0, why);
  }
  return e;
}

}  // namespace promtest
