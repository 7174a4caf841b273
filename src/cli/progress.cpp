#include "progress.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cmath>
#include <cstdio>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "json_util.h"

namespace llmsvc_cli {

namespace {

using rapidjson::Value;

std::string fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char *format, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, format);
  std::vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  return buf;
}

std::string duration(double s) {
  if (s < 10) return fmt("%.2fs", s);
  if (s < 60) return fmt("%.1fs", s);
  long total = long(s + 0.5);
  if (total < 3600) return fmt("%ldm%02lds", total / 60, total % 60);
  return fmt("%ldh%02ldm", total / 3600, (total % 3600) / 60);
}

void write_stderr(const std::string &s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(STDERR_FILENO, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += size_t(n);
  }
}

int terminal_width() {
  struct winsize ws {};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col;
  return 80;
}

// "498/min of 500 (window 99%)" for one gate; the cap 0 means unlimited.
std::string gate(const Value *m, const char *rate, int64_t limit, const char *used,
                 const char *cap, const char *unit) {
  const Value *rates = member(m, "rates");
  const Value *gates = member(m, "gates");
  std::string s = fmt("%.0f %s/min", number_member(rates, rate), unit);
  if (limit <= 0) return s + " (no limit)";
  int64_t c = int_member(gates, cap);
  double pct = c > 0 ? 100.0 * double(int_member(gates, used)) / double(c) : 0;
  return s + fmt(" of %" PRId64 " (window %.0f%%)", limit, pct);
}

std::string kinds(const Value *by_kind) {
  std::string s;
  if (!by_kind || !by_kind->IsObject()) return s;
  for (const auto &kv : by_kind->GetObject()) {
    if (!kv.value.IsNumber() || kv.value.GetDouble() == 0) continue;
    s += fmt("%s%s %.0f", s.empty() ? "" : ", ", kv.name.GetString(), kv.value.GetDouble());
  }
  return s;
}

std::string cache_saved(const RunTotals &t) {
  std::string s = money(t.cache_saved_nano_usd);
  if (t.cache_saved_unknown > 0) s += fmt(" (+%" PRIu64 " hits of unknown cost)", t.cache_saved_unknown);
  return s;
}

}  // namespace

std::string money(int64_t nano) {
  bool neg = nano < 0;
  uint64_t n = neg ? uint64_t(-(nano + 1)) + 1 : uint64_t(nano);
  std::string s = fmt("%s$%" PRIu64 ".%09" PRIu64, neg ? "-" : "", n / 1000000000u, n % 1000000000u);
  size_t keep = s.find('.') + 3;  // at least cents
  size_t last = s.find_last_not_of('0');
  s.erase(std::max(keep, last + 1));
  return s;
}

std::string money(const Value *nano) {
  if (!nano || !nano->IsInt64()) return "unknown";
  return money(nano->GetInt64());
}

Console::Console(bool quiet, double interval_s)
    : quiet_(quiet),
      tty_(isatty(STDERR_FILENO) == 1),
      interval_(tty_ ? std::chrono::milliseconds(250)
                     : std::chrono::milliseconds(long(interval_s * 1000))),
      start_(Clock::now()),
      next_(start_ + interval_) {}

Console::~Console() { finish(); }

void Console::message(const std::string &text) {
  erase();
  write_stderr(text + "\n");
  draw();
}

bool Console::due(Clock::time_point now) const { return !quiet_ && now >= next_; }

std::chrono::milliseconds Console::until_due(Clock::time_point now) const {
  if (quiet_) return std::chrono::hours(1);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_ - now);
  return left.count() < 0 ? std::chrono::milliseconds(0) : left;
}

std::string Console::eta(const RunTotals &t, Clock::time_point now) {
  samples_.emplace_back(now, t.processed() - t.skipped);
  while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(30))
    samples_.pop_front();
  if (t.total_lines < 0) return "";
  int64_t left = t.total_lines - int64_t(t.processed());
  if (left <= 0) return "ETA 0s";
  double dt = std::chrono::duration<double>(now - samples_.front().first).count();
  double done = double(samples_.back().second - samples_.front().second);
  if (dt < 1 || done <= 0) return "ETA --";
  return "ETA " + duration(double(left) * dt / done);
}

std::vector<std::string> Console::status_lines(const RunTotals &t, const Value *m,
                                               Clock::time_point now) {
  const Value *req = member(m, "requests");
  const Value *limits = member(member(m, "gates"), "limits");
  double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string of = t.total_lines >= 0 ? fmt("/%" PRId64, t.total_lines) : "";
  std::string done = fmt("%" PRIu64 "%s done: %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64
                         " invalid, %" PRIu64 " skipped",
                         t.processed(), of.c_str(), t.ok, t.failed, t.invalid, t.skipped);
  std::string flight = fmt("%" PRId64 " in flight, %" PRId64 " queued", int_member(req, "in_flight"),
                           int_member(req, "queued") + int_member(req, "backing_off"));
  std::string e = eta(t, now);
  flight += (e.empty() ? "" : ", " + e) + ", elapsed " + duration(elapsed);
  std::string rates =
      "requests " + gate(m, "requests_sent_per_minute", int_member(limits, "rpm"),
                         "window_requests_used", "window_requests_cap", "req") +
      ", tokens " + gate(m, "tokens_sent_per_minute", int_member(limits, "tpm"),
                         "window_tokens_used", "window_tokens_cap", "tok");
  // A 429's retry-after pauses the key: say so, since requests then fail fast or wait.
  if (int64_t paused = int_member(member(m, "gates"), "paused_for_ms"); paused > 0)
    rates += ", paused by the provider for " + duration(double(paused) / 1000) + " (retry-after)";
  std::string cost = "cost " + money(member(member(member(m, "usage"), "total"), "cost_nano_usd")) +
                     fmt(", cache hits %" PRIu64, t.cache_hits);
  return {"llmsvc run: " + done, "  " + flight, "  " + rates, "  " + cost};
}

void Console::show(const RunTotals &t, const Value *metrics, Clock::time_point now) {
  if (quiet_) return;
  next_ = now + interval_;
  std::vector<std::string> lines = status_lines(t, metrics, now);
  if (!tty_) {
    std::string one = lines[0];
    for (size_t i = 1; i < lines.size(); ++i) one += ";" + lines[i].substr(1);
    write_stderr(one + "\n");
    return;
  }
  erase();
  size_t width = size_t(terminal_width() - 1);
  for (std::string &l : lines)
    if (l.size() > width) l.resize(width);
  drawn_ = std::move(lines);
  draw();
}

void Console::erase() {
  if (!on_screen_) return;
  // Back to the first line of the status, then clear it and everything below.
  std::string s = "\r";
  if (drawn_.size() > 1) s += fmt("\x1b[%zuA", drawn_.size() - 1);
  write_stderr(s + "\x1b[2K\x1b[J");
  on_screen_ = false;
}

void Console::draw() {
  if (!tty_ || quiet_ || drawn_.empty() || on_screen_) return;
  std::string s = cursor_hidden_ ? "" : "\x1b[?25l";
  for (size_t i = 0; i < drawn_.size(); ++i) s += (i ? "\n\x1b[2K" : "\x1b[2K") + drawn_[i];
  write_stderr(s);
  cursor_hidden_ = true;
  on_screen_ = true;
}

void Console::finish() {
  erase();
  drawn_.clear();
  if (cursor_hidden_) write_stderr("\x1b[?25h");
  cursor_hidden_ = false;
}

namespace {

std::string by_group(const Value *groups) {
  std::string s;
  if (!groups || !groups->IsObject()) return s;
  for (const auto &kv : groups->GetObject()) {
    const Value &g = kv.value;
    s += fmt("\n    %-24s %6" PRId64 " ok of %6" PRId64 " requests %10" PRId64 " tokens  %s",
             kv.name.GetString(), int_member(&g, "succeeded"), int_member(&g, "requests"),
             int_member(&g, "total_tokens"),
             money(member(&g, "cost_nano_usd")).c_str());
    int64_t unpriced = int_member(&g, "unpriced_requests");
    if (unpriced > 0 && member(&g, "cost_nano_usd") && member(&g, "cost_nano_usd")->IsInt64())
      s += fmt(" (+%" PRId64 " unpriced)", unpriced);
  }
  return s;
}

std::string outcome_line(const SummaryInput &s) {
  const RunTotals &t = *s.totals;
  std::string failed;
  for (const auto &kv : t.failed_by_kind)
    failed += fmt("%s%s %" PRIu64, failed.empty() ? "" : ", ", kv.first.c_str(), kv.second);
  std::string line = fmt("  %" PRIu64 " ok, %" PRIu64 " failed", t.ok, t.failed);
  if (!failed.empty()) line += " (" + failed + ")";
  line += fmt(", %" PRIu64 " invalid lines, %" PRIu64 " skipped (already done)", t.invalid, t.skipped);
  if (t.total_lines >= 0 && int64_t(t.processed()) < t.total_lines)
    line += fmt(", %" PRId64 " not run", t.total_lines - int64_t(t.processed()));
  return line;
}

}  // namespace

std::string summary_text(const SummaryInput &s) {
  const RunTotals &t = *s.totals;
  const Value *m = s.metrics;
  std::string out = fmt("llmsvc run %s in %s (model %s%s%s)\n",
                        s.signal ? (s.signal == SIGINT ? "interrupted" : "terminated") : "finished",
                        duration(s.wall_s).c_str(), s.model.c_str(),
                        s.model_defaulted ? ", the default" : "",
                        s.emulator ? ", local emulator: synthetic answers" : "");
  out += outcome_line(s) + "\n";
  if (s.batch) {
    const Value *b = member(s.batch, "batches");
    const Value *r = member(s.batch, "results");
    out += fmt("  batch API (%s): provider batches created by this run %" PRId64 ", delivered in all %" PRId64
               "; cost of this run's results %s at batch prices\n",
               string_member(s.batch, "provider").c_str(), int_member(b, "created"),
               int_member(b, "delivered"), money(member(r, "cost_nano_usd")).c_str());
    out += fmt("  peak RSS %.1f MiB, CPU %.2f s\n", double(s.peak_rss_kib) / 1024, s.cpu_s);
    out += "  results: " + s.output + (s.input_order ? " (input order)" : " (completion order)");
    if (s.signal) out += "; run again with the same -o to resume";
    return out + "\n";
  }
  const Value *lat = member(m, "latency_ms");
  out += fmt("  latency p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n",
             number_member(lat, "p50"), number_member(lat, "p90"), number_member(lat, "p99"),
             number_member(lat, "max"));
  const Value *att = member(m, "attempts");
  std::string causes = kinds(member(att, "errors_by_kind"));
  out += fmt("  attempts %" PRId64 ", retries %" PRId64 "%s%s; backoff %s client (%" PRId64
             "), %s server (%" PRId64 ")\n",
             int_member(att, "total"), int_member(att, "retries"),
             causes.empty() ? "" : "; failed attempts: ", causes.c_str(),
             duration(double(int_member(att, "backoff_client_ms")) / 1000).c_str(),
             int_member(att, "backoffs_client"),
             duration(double(int_member(att, "backoff_server_ms")) / 1000).c_str(),
             int_member(att, "backoffs_server"));
  const Value *usage = member(m, "usage");
  out += "  cost " + money(member(member(usage, "total"), "cost_nano_usd")) + "; by model:" +
         by_group(member(usage, "by_model")) + "\n  by operation:" +
         by_group(member(usage, "by_operation")) + "\n";
  out += fmt("  cache hits %" PRIu64 ", saved %s; peak RSS %.1f MiB, CPU %.2f s\n", t.cache_hits,
             cache_saved(t).c_str(), double(s.peak_rss_kib) / 1024, s.cpu_s);
  out += "  results: " + s.output + (s.input_order ? " (input order)" : " (completion order)");
  if (s.signal) out += "; run again with the same -o to resume";
  return out + "\n";
}

std::string summary_json(const SummaryInput &s) {
  const RunTotals &t = *s.totals;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("exit_code"); w.Int(s.exit_code);
  w.Key("interrupted"); w.Bool(s.signal != 0);
  w.Key("wall_s"); w.Double(s.wall_s);
  w.Key("model"); w.String(s.model.c_str());
  w.Key("model_defaulted"); w.Bool(s.model_defaulted);
  w.Key("emulator"); w.Bool(s.emulator);
  w.Key("output"); w.String(s.output.c_str());
  w.Key("ok"); w.Uint64(t.ok);
  w.Key("failed"); w.Uint64(t.failed);
  w.Key("failed_by_kind");
  w.StartObject();
  for (const auto &kv : t.failed_by_kind) {
    w.Key(kv.first.c_str());
    w.Uint64(kv.second);
  }
  w.EndObject();
  w.Key("invalid"); w.Uint64(t.invalid);
  w.Key("skipped"); w.Uint64(t.skipped);
  w.Key("input_lines");
  if (t.total_lines >= 0) w.Int64(t.total_lines); else w.Null();
  w.Key("cache_hits"); w.Uint64(t.cache_hits);
  w.Key("cache_saved_nano_usd");
  if (t.cache_saved_unknown == 0) w.Int64(t.cache_saved_nano_usd); else w.Null();
  w.Key("peak_rss_kib"); w.Int64(s.peak_rss_kib);
  w.Key("cpu_s"); w.Double(s.cpu_s);
  w.Key("metrics");
  if (s.metrics) s.metrics->Accept(w); else w.Null();
  if (s.batch) {
    w.Key("batch");
    s.batch->Accept(w);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace llmsvc_cli
