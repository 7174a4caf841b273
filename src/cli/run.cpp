#include "run.h"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <unordered_map>
#include <vector>

#include <rapidjson/document.h>

#include "llmsvc.h"

#include "client_start.h"
#include "json_util.h"
#include "input.h"
#include "output.h"
#include "progress.h"
#include "result_line.h"

namespace llmsvc_cli {

namespace {

constexpr int kSubmitBurst = 256;  // lines submitted before completions are looked at again

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

// SIGINT and SIGTERM arrive on a descriptor; blocked before the engine thread exists so
// that no thread takes them asynchronously.
class SignalFd {
 public:
  SignalFd() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
    fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  }
  ~SignalFd() {
    if (fd_ >= 0) close(fd_);
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalFd(const SignalFd &) = delete;
  SignalFd &operator=(const SignalFd &) = delete;
  int fd() const { return fd_; }
  /// The next signal waiting, or 0.
  int take() {
    signalfd_siginfo info;
    ssize_t n = read(fd_, &info, sizeof info);
    return n == ssize_t(sizeof info) ? int(info.ssi_signo) : 0;
  }

 private:
  int fd_ = -1;
  sigset_t old_;
};

class Runner {
 public:
  explicit Runner(const RunOptions &o) : o_(o), console_(o.quiet, o.progress_interval_s) {}
  int run();

 private:
  struct IdState {
    uint64_t line = 0;  // the line of this id in this run's input, 0 when not seen yet
    bool done = false;  // succeeded in an earlier run
    bool written = false;  // has a line in the results file (an earlier run's or this one's)
  };
  struct Slot {  // a submitted request
    std::string id_json;
    uint64_t line = 0;
    uint64_t request_id = 0;
  };
  enum class Phase { running, draining, cancelling };

  int prepare();
  int open_output();
  void loop();
  // --batch-api: the lines through a provider batch job instead.
  void batch_loop();
  bool batch_add_all(llmsvc_batch_job *job);
  void batch_take(llmsvc_batch_job *job);
  void submit_some();
  void submit_line(const InputLine &line);
  void invalid(const std::string &id_json, uint64_t line, const std::string &why, bool write);
  void drain_completions();
  void complete(llmsvc_result *r, void *payload);
  bool write_line(const std::string &line);
  void on_signal(int sig);
  void stop_admission();
  int64_t library_in_flight();
  void check_drained(Clock::time_point now);
  void cancel_all();
  void show_status(Clock::time_point now);
  int timeout_ms(Clock::time_point now) const;
  int finish();
  int exit_code() const;

  const RunOptions &o_;
  Console console_;
  InputReader input_;
  OutputFile output_;
  ClientSetup setup_;
  Emulator emulator_;
  ClientPtr client_;
  std::unique_ptr<SignalFd> signals_;
  std::unordered_map<std::string, IdState> ids_;
  std::vector<Slot> slots_;
  std::vector<size_t> free_slots_;
  RunTotals totals_;
  Phase phase_ = Phase::running;
  bool input_done_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point grace_end_;
  int signal_ = 0;
  int fatal_ = 0;  // kExitIo or kExitConfig when the run had to stop
  std::string batch_status_;  // the batch job's last status document
};

int Runner::open_output() {
  OutputScan scan;
  uint64_t ok = 0, failed = 0;
  std::string err = output_.open(
      o_.output,
      [&](const std::string &id, bool success) {
        IdState &st = ids_[id];
        st.done = success;
        st.written = true;
        success ? ++ok : ++failed;
      },
      &scan);
  if (err.empty() && scan.ignored > 0)
    err = o_.output + ":" + std::to_string(scan.first_ignored) +
          ": not a result line of llmsvc run; refusing to rewrite this file (choose another -o)";
  if (!err.empty()) {
    console_.message("llmsvc: " + err);
    return kExitIo;
  }
  if (scan.repaired)
    console_.message("llmsvc: " + o_.output + ": cut off a truncated last line (its request runs again)");
  if (scan.lines > 0 && !o_.quiet)
    console_.message("llmsvc: resuming " + o_.output + ": " + std::to_string(ok) +
                     " results done (their ids are skipped), " + std::to_string(failed) +
                     " failed (run again)");
  return kExitOk;
}

int Runner::prepare() {
  std::string err = input_.open(o_.input);
  if (!err.empty()) {
    console_.message("llmsvc: cannot read the input: " + err);
    return kExitIo;
  }
  struct stat in_st, out_st;
  if (stat(o_.input.c_str(), &in_st) == 0 && stat(o_.output.c_str(), &out_st) == 0 &&
      in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino) {
    console_.message("llmsvc: the output " + o_.output + " is the input file");
    return kExitUsage;
  }
  totals_.total_lines = input_.count_lines();
  if (totals_.total_lines > 0) ids_.reserve(size_t(totals_.total_lines));
  if (int rc = open_output()) return rc;
  signals_ = std::make_unique<SignalFd>();
  err = start_client(o_.client, &setup_, &emulator_,
                     [this](const std::string &m) { console_.message(m); }, &client_);
  if (!err.empty()) {
    console_.message("llmsvc: " + err);
    return kExitConfig;
  }
  return kExitOk;
}

bool Runner::write_line(const std::string &line) {
  if (fatal_ == kExitIo) return false;
  std::string err = output_.append(line);
  if (err.empty()) return true;
  console_.message("llmsvc: " + err + "; stopping");
  fatal_ = kExitIo;
  cancel_all();
  return false;
}

void Runner::invalid(const std::string &id_json, uint64_t line, const std::string &why,
                     bool write) {
  std::string message = o_.input + ":" + std::to_string(line) + ": " + why;
  console_.message("llmsvc: " + message);
  ++totals_.invalid;
  if (write) write_line(invalid_line(id_json, line, message));
}

void Runner::submit_line(const InputLine &line) {
  ParsedLine p = parse_line(line);
  if (!p.valid) return invalid(p.id_json, line.number, p.error, true);
  IdState &state = ids_[p.id_json];
  if (state.line != 0)
    return invalid(p.id_json, line.number,
                   "request.id: " + p.id_json + " repeats the id of line " +
                       std::to_string(state.line) + " (this line is not run)",
                   false);
  state.line = line.number;
  if (state.done) {
    ++totals_.skipped;
    return;
  }
  size_t slot;
  if (free_slots_.empty()) {
    slot = slots_.size();
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  llmsvc_error *err = nullptr;
  uint64_t rid = 0;
  void *payload = reinterpret_cast<void *>(uintptr_t(slot + 1));
  int rc = llmsvc_client_submit(client_.get(), line.text.c_str(), nullptr, payload, &rid, &err);
  if (rc == LLMSVC_OK) {
    slots_[slot] = Slot{std::move(p.id_json), line.number, rid};
    ++totals_.pending;
    return;
  }
  free_slots_.push_back(slot);
  std::string why = err ? llmsvc_error_message(err) : llmsvc_strerror(rc);
  llmsvc_error_free(err);
  if (rc == LLMSVC_EJSON || rc == LLMSVC_ESCHEMA) return invalid(p.id_json, line.number, why, true);
  console_.message("llmsvc: the client refused a request: " + why + "; stopping");
  fatal_ = kExitConfig;
  cancel_all();
}

void Runner::submit_some() {
  for (int i = 0; i < kSubmitBurst && !fatal_ && phase_ == Phase::running && !input_done_ &&
                  totals_.pending < uint64_t(o_.max_pending);
       ++i) {
    InputLine line;
    int r = input_.next(&line);
    if (r == 1) {
      submit_line(line);
      continue;
    }
    input_done_ = true;
    if (r < 0) {
      console_.message("llmsvc: " + input_.error() + "; stopping");
      fatal_ = kExitIo;
    }
  }
}

void Runner::complete(llmsvc_result *r, void *payload) {
  size_t slot = size_t(reinterpret_cast<uintptr_t>(payload)) - 1;
  if (llmsvc_result_type(r) != LLMSVC_RESULT_COMPLETION || slot >= slots_.size()) {
    llmsvc_result_free(r);
    return;
  }
  Slot s = std::move(slots_[slot]);
  slots_[slot].request_id = 0;
  free_slots_.push_back(slot);
  --totals_.pending;
  size_t len = 0;
  const char *json = llmsvc_result_json(r, &len);
  ResultInfo info;
  std::string line = result_line(s.id_json, s.line, json, len, o_.attempts_full, &info);
  llmsvc_result_free(r);
  // Cancelled or shut down: not written, so that a resume runs it.
  if (!info.keep || !write_line(line)) return;
  if (info.ok) {
    ++totals_.ok;
  } else {
    ++totals_.failed;
    ++totals_.failed_by_kind[info.kind];
  }
  if (info.cache_hit) {
    ++totals_.cache_hits;
    totals_.cache_saved_nano_usd += info.saved_nano_usd;
    totals_.cache_saved_unknown += !info.saved_known;
  }
}

void Runner::drain_completions() {
  llmsvc_result *r = nullptr;
  void *payload = nullptr;
  while (llmsvc_client_poll(client_.get(), 0, &r, &payload) == LLMSVC_OK) complete(r, payload);
}

void Runner::cancel_all() {
  phase_ = Phase::cancelling;
  if (!client_) return;
  for (const Slot &s : slots_)
    if (s.request_id != 0) llmsvc_client_cancel(client_.get(), s.request_id);
}

// The gates admit nothing more (at most one request per minute, the smallest allowance)
// while the requests already sent finish.
void Runner::stop_admission() {
  llmsvc_client_set_limits(client_.get(), "{\"rpm\":1,\"window_ms\":60000}", nullptr);
}

int64_t Runner::library_in_flight() {
  char *json = nullptr;
  rapidjson::Document m;
  if (llmsvc_client_metrics(client_.get(), &json, nullptr) == LLMSVC_OK) m.Parse(json);
  llmsvc_free(json);
  return m.IsObject() ? int_member(member(&m, "requests"), "in_flight", 1) : 1;
}

void Runner::on_signal(int sig) {
  bool second = signal_ != 0;
  signal_ = sig;
  if (second || o_.grace_s <= 0) {
    if (phase_ != Phase::cancelling) {
      if (totals_.pending > 0)
        console_.message("llmsvc: cancelling " + std::to_string(totals_.pending) + " requests");
      cancel_all();
    }
    return;
  }
  if (phase_ != Phase::running) return;
  phase_ = Phase::draining;
  grace_end_ = Clock::now() + std::chrono::milliseconds(int64_t(o_.grace_s * 1000));
  stop_admission();
  console_.message(std::string("llmsvc: ") + (sig == SIGINT ? "interrupted" : "terminated") +
                   ": sending no more requests; waiting up to " + format_seconds(o_.grace_s) +
                   " for those in flight (interrupt again to cancel them)");
}

void Runner::check_drained(Clock::time_point now) {
  if (phase_ != Phase::draining || totals_.pending == 0) return;
  if (now >= grace_end_) {
    console_.message("llmsvc: grace period over: cancelling " + std::to_string(totals_.pending) +
                     " requests");
    cancel_all();
  } else if (library_in_flight() == 0) {
    cancel_all();  // only requests that were never sent are left
  }
}

void Runner::show_status(Clock::time_point now) {
  char *json = nullptr;
  rapidjson::Document m;
  if (llmsvc_client_metrics(client_.get(), &json, nullptr) == LLMSVC_OK) m.Parse(json);
  llmsvc_free(json);
  console_.show(totals_, m.IsObject() ? &m : nullptr, now);
}

int Runner::timeout_ms(Clock::time_point now) const {
  bool can_submit = phase_ == Phase::running && !input_done_ && !fatal_ &&
                    totals_.pending < uint64_t(o_.max_pending);
  if (can_submit) return 0;
  auto wait = console_.until_due(now);
  if (phase_ == Phase::draining) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(grace_end_ - now);
    wait = std::min(wait, std::max(left, std::chrono::milliseconds(0)));
  }
  return int(std::min<int64_t>(wait.count() + 1, 60000));
}

void Runner::loop() {
  int client_fd = -1;
  llmsvc_client_fd(client_.get(), &client_fd);
  for (;;) {
    submit_some();
    drain_completions();
    if ((input_done_ || phase_ != Phase::running || fatal_) && totals_.pending == 0) return;
    auto now = Clock::now();
    check_drained(now);
    if (console_.due(now)) show_status(now);
    pollfd fds[2] = {{signals_->fd(), POLLIN, 0}, {client_fd, POLLIN, 0}};
    if (poll(fds, 2, timeout_ms(now)) < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN)
      while (int sig = signals_->take()) on_signal(sig);
  }
}

// Every line not in the results file yet goes into the job (lines its state holds already
// are known to it and not added twice); a batch job has a result for each line it ever
// took, so a line that failed in an earlier run is not sent again.
bool Runner::batch_add_all(llmsvc_batch_job *job) {
  InputLine line;
  int r;
  while ((r = input_.next(&line)) == 1) {
    ParsedLine p = parse_line(line);
    if (!p.valid) {
      invalid(p.id_json, line.number, p.error, true);
      continue;
    }
    IdState &state = ids_[p.id_json];
    if (state.line != 0) {
      invalid(p.id_json, line.number,
              "request.id: " + p.id_json + " repeats the id of line " +
                  std::to_string(state.line) + " (this line is not run)",
              false);
      continue;
    }
    state.line = line.number;
    if (state.written) {
      ++totals_.skipped;
      continue;
    }
    llmsvc_error *err = nullptr;
    int known = 0;
    int rc = llmsvc_batch_job_add(job, p.id_json.c_str(), line.text.data(), line.text.size(),
                                  &known, &err);
    std::string why = err ? llmsvc_error_message(err) : llmsvc_strerror(rc);
    llmsvc_error_free(err);
    if (rc == LLMSVC_OK) {
      ++totals_.pending;
    } else if (rc == LLMSVC_EJSON || rc == LLMSVC_ESCHEMA) {
      invalid(p.id_json, line.number, why, true);
    } else {
      console_.message("llmsvc: the batch job refused a request: " + why + "; stopping");
      fatal_ = kExitConfig;
      return false;
    }
  }
  if (r < 0) {
    console_.message("llmsvc: " + input_.error() + "; stopping");
    fatal_ = kExitIo;
    return false;
  }
  return true;
}

void Runner::batch_take(llmsvc_batch_job *job) {
  while (llmsvc_result *r = llmsvc_batch_job_next(job)) {
    size_t id_len = 0;
    const char *id = llmsvc_result_string(r, LLMSVC_STR_CUSTOM_ID, &id_len);
    std::string id_json(id ? id : "", id_len);
    IdState &state = ids_[id_json];
    if (state.written) {  // handed over again after a restart: the file has it
      llmsvc_result_free(r);
      continue;
    }
    size_t len = 0;
    const char *json = llmsvc_result_json(r, &len);
    ResultInfo info;
    std::string text = result_line(id_json, state.line, json, len, o_.attempts_full, &info);
    llmsvc_result_free(r);
    if (!write_line(text)) return;
    state.written = true;
    if (totals_.pending > 0) --totals_.pending;
    if (info.ok) {
      ++totals_.ok;
    } else {
      ++totals_.failed;
      ++totals_.failed_by_kind[info.kind];
    }
  }
  llmsvc_error *err = nullptr;
  if (llmsvc_batch_job_commit(job, &err) != LLMSVC_OK) {
    console_.message(std::string("llmsvc: ") + llmsvc_error_message(err) + "; stopping");
    fatal_ = kExitIo;
  }
  llmsvc_error_free(err);
}

void Runner::batch_loop() {
  std::string options = "{";
  auto add = [&](const char *name, int64_t v) {
    if (options.size() > 1) options += ",";
    options += "\"" + std::string(name) + "\":" + std::to_string(v);
  };
  if (o_.batch_max_requests > 0) add("max_requests", o_.batch_max_requests);
  if (o_.batch_enqueued_tokens > 0) add("max_enqueued_tokens", o_.batch_enqueued_tokens);
  if (o_.batch_poll_ms > 0) add("poll_ms", o_.batch_poll_ms);
  else if (setup_.needs_emulator) add("poll_ms", 250);  // the local emulator ends batches in a second
  options += "}";
  const std::string state_path = o_.output + ".batch-job";
  llmsvc_batch_job *job = nullptr;
  llmsvc_error *err = nullptr;
  bool resumed = access(state_path.c_str(), F_OK) == 0;
  if (llmsvc_batch_job_open(client_.get(), state_path.c_str(), options.c_str(), &job, &err) !=
      LLMSVC_OK) {
    console_.message(std::string("llmsvc: ") + llmsvc_error_message(err));
    llmsvc_error_free(err);
    fatal_ = kExitConfig;
    return;
  }
  if (resumed && !o_.quiet)
    console_.message("llmsvc: resuming the batch job in " + state_path);
  std::unique_ptr<llmsvc_batch_job, void (*)(llmsvc_batch_job *)> owned(job,
                                                                        llmsvc_batch_job_close);
  if (!batch_add_all(job)) return;
  input_done_ = true;
  for (;;) {
    int rc = llmsvc_batch_job_step(job, 200, &err);
    batch_take(job);
    if (rc < 0) {
      console_.message(std::string("llmsvc: the batch job stopped: ") + llmsvc_error_message(err) +
                       "; run the same command again to resume it");
      llmsvc_error_free(err);
      err = nullptr;
      fatal_ = kExitConfig;
    }
    if (rc <= 0 || fatal_) break;
    pollfd fds[1] = {{signals_->fd(), POLLIN, 0}};
    if (poll(fds, 1, 0) > 0 && (fds[0].revents & POLLIN)) {
      if (int sig = signals_->take()) {
        signal_ = sig;
        console_.message("llmsvc: stopping; the provider's batches go on: run the same command "
                         "again to take their results");
        break;
      }
    }
    auto now = Clock::now();
    if (console_.due(now)) show_status(now);
  }
  char *status = nullptr;
  if (llmsvc_batch_job_status(job, &status) == LLMSVC_OK) batch_status_ = status;
  llmsvc_free(status);
  // Finished: the state has served its purpose (a later run with this output file starts
  // from the results file alone).
  if (!fatal_ && !signal_ && totals_.pending == 0) std::remove(state_path.c_str());
}

int Runner::exit_code() const {
  if (signal_) return signal_ == SIGTERM ? kExitSigterm : kExitSigint;
  if (fatal_) return fatal_;
  if (totals_.failed > 0) return kExitFailed;
  if (totals_.invalid > 0) return kExitInvalid;
  return kExitOk;
}

int Runner::finish() {
  char *json = nullptr;
  rapidjson::Document metrics;
  if (client_ && llmsvc_client_metrics(client_.get(), &json, nullptr) == LLMSVC_OK)
    metrics.Parse(json);
  llmsvc_free(json);
  client_.reset();
  emulator_.stop();
  console_.finish();
  std::string err = output_.rewrite(!o_.order_completion);
  if (!err.empty()) {
    console_.message("llmsvc: " + err);
    if (!fatal_) fatal_ = kExitIo;
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  SummaryInput s;
  s.totals = &totals_;
  s.metrics = metrics.IsObject() ? &metrics : nullptr;
  s.wall_s = std::chrono::duration<double>(Clock::now() - start_).count();
  s.model = setup_.model;
  s.model_defaulted = setup_.model_defaulted;
  s.emulator = setup_.needs_emulator;
  s.output = o_.output;
  s.input_order = !o_.order_completion;
  s.signal = signal_;
  s.exit_code = exit_code();
  s.peak_rss_kib = ru.ru_maxrss;
  s.cpu_s = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  rapidjson::Document batch;
  if (!batch_status_.empty()) batch.Parse(batch_status_.c_str());
  s.batch = batch.IsObject() ? &batch : nullptr;
  if (!o_.quiet) console_.message(summary_text(s));
  if (!o_.summary_json.empty()) {
    std::ofstream f(o_.summary_json, std::ios::trunc);
    f << summary_json(s);
    if (!f.flush()) {
      console_.message("llmsvc: cannot write " + o_.summary_json);
      if (!fatal_) fatal_ = kExitIo;
    }
  }
  return exit_code();
}

int Runner::run() {
  if (int rc = prepare()) return rc;
  if (o_.batch_api) batch_loop();
  else loop();
  return finish();
}

}  // namespace

int run_batch(const RunOptions &opts) {
  signal(SIGPIPE, SIG_IGN);
  Runner runner(opts);
  return runner.run();
}

}  // namespace llmsvc_cli
