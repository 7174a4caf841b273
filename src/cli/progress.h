// What the user sees on stderr during and after a run: a live status redrawn in place on a
// terminal, a plain progress line at intervals otherwise, messages, and the final summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include <rapidjson/document.h>

namespace llmsvc_cli {

using Clock = std::chrono::steady_clock;

/// The run's own counters (the library's metrics snapshot has the rest).
struct RunTotals {
  uint64_t ok = 0;
  uint64_t failed = 0;   // failed at the provider (or in the library)
  uint64_t invalid = 0;  // input lines never sent
  uint64_t skipped = 0;  // already done in the results file
  uint64_t pending = 0;  // submitted, not completed
  int64_t total_lines = -1;  // non-blank input lines, -1 when unknown (a pipe)
  std::map<std::string, uint64_t> failed_by_kind;
  uint64_t cache_hits = 0;
  int64_t cache_saved_nano_usd = 0;
  uint64_t cache_saved_unknown = 0;  // hits whose saved cost is unknown
  uint64_t processed() const { return ok + failed + invalid + skipped; }
};

/// $1.234567, trailing zeros trimmed; "unknown" for a null cost.
std::string money(const rapidjson::Value *nano_usd);
std::string money(int64_t nano_usd);

class Console {
 public:
  /// `quiet`: only messages. Otherwise a live status when stderr is a terminal, else a
  /// plain line every `interval_s` seconds.
  Console(bool quiet, double interval_s);
  ~Console();
  Console(const Console &) = delete;
  Console &operator=(const Console &) = delete;

  /// Prints a message line (an error, a notice) above the live status.
  void message(const std::string &text);
  /// Whether the status is due (a metrics snapshot should be taken and shown).
  bool due(Clock::time_point now) const;
  /// How long until the status is due; a large value when it never is.
  std::chrono::milliseconds until_due(Clock::time_point now) const;
  /// Shows the status from the totals and a metrics snapshot (may be null).
  void show(const RunTotals &t, const rapidjson::Value *metrics, Clock::time_point now);
  /// Erases the live status and restores the cursor. Idempotent.
  void finish();
  bool live() const { return tty_ && !quiet_; }

 private:
  std::vector<std::string> status_lines(const RunTotals &t, const rapidjson::Value *m,
                                        Clock::time_point now);
  std::string eta(const RunTotals &t, Clock::time_point now);
  void erase();
  void draw();

  bool quiet_;
  bool tty_;
  std::chrono::milliseconds interval_;
  Clock::time_point start_;
  Clock::time_point next_;
  std::vector<std::string> drawn_;  // the live status on screen
  bool cursor_hidden_ = false;
  bool on_screen_ = false;
  std::deque<std::pair<Clock::time_point, uint64_t>> samples_;  // for the ETA
};

/// Everything the final summary reports.
struct SummaryInput {
  const RunTotals *totals = nullptr;
  const rapidjson::Value *metrics = nullptr;  // the final snapshot (may be null)
  double wall_s = 0;
  std::string model;
  bool model_defaulted = false;
  bool emulator = false;
  std::string output;
  bool input_order = true;
  int signal = 0;  // SIGINT or SIGTERM when interrupted
  int exit_code = 0;
  long peak_rss_kib = 0;
  double cpu_s = 0;  // user + system time of the whole process
  const rapidjson::Value *batch = nullptr;  // --batch-api: the job's status document
};

/// The summary as text lines, for stderr.
std::string summary_text(const SummaryInput &s);
/// The summary as a JSON document, the metrics snapshot included.
std::string summary_json(const SummaryInput &s);

}  // namespace llmsvc_cli
