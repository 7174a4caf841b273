// A provider batch job (llmsvc_batch_job_*): requests sent through OpenAI's Batch API or
// Anthropic's Message Batches instead of one at a time, at about half the price. The job
// cuts the requests into provider batches that respect the provider's limits (requests and
// bytes per batch, input tokens enqueued per model), uploads and creates them, polls them
// with a growing interval, downloads their results and hands each line over as the same
// result a live request gets (priced at batch prices).
//
// Everything the job has sent is recorded in a state file before and after each step that
// submits work, so a job stopped at any moment (even killed) and opened again with the same
// file resumes: it never creates a second provider batch for a line, it finds a batch whose
// creation it could not record, and it hands over results until they are committed.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "batch/batch_http.h"
#include "engine/engine.h"

struct llmsvc_result;

namespace llmsvc {

struct BatchJobOptions {
  std::string deployment;           // empty: the first deployment of each request's route
  int64_t max_requests = 0;         // per provider batch; 0: the provider's (50,000 / 100,000)
  int64_t max_bytes = 0;            // per provider batch; 0: the provider's (200 MB / 256 MB)
  int64_t max_enqueued_tokens = 0;  // input tokens in unfinished batches per model; 0: no cap
  int64_t poll_ms = 10000;          // the first wait before polling a new batch
  int64_t max_poll_ms = 60000;      // the wait grows by half each poll up to this
  std::string completion_window = "24h";
};

/// Reads the options document of llmsvc_batch_job_open (NULL or "" gives the defaults).
DocError parse_batch_options(const char *json, BatchJobOptions &out);

class BatchJob {
 public:
  /// Opens the job whose state is `state_path`, or starts one there when the file does not
  /// exist. LLMSVC_OK or a status with `message`.
  static int open(Engine &engine, const std::string &state_path, const BatchJobOptions &options,
                  std::unique_ptr<BatchJob> &out, std::string &message);
  ~BatchJob();

  /// Adds a request under the caller's `id` (unique in the job). `known`: the id is already
  /// part of the job (opened from its state), so nothing is added.
  int add(std::string_view id, std::string_view request_json, bool &known, std::string &message);
  /// Does the next piece of work (at most one call to the provider), or waits up to
  /// `timeout_ms` for the next to be due. 1: work remains; 0: every line's result has been
  /// handed over and committed; < 0: a status with `message` (the job stays resumable).
  int step(int timeout_ms, std::string &message);
  /// The next result ready, or NULL. The caller owns it.
  llmsvc_result *next();
  /// Records that every result handed over so far is stored: it is never handed over
  /// again, even after a restart.
  int commit(std::string &message);
  /// Progress as a JSON document.
  std::string status_json() const;

 private:
  enum class Api { kOpenAI, kAnthropic };
  enum class State { kPlanned, kUploaded, kCreating, kRunning, kEnded, kDelivered };
  struct Line {
    std::string id;    // the caller's
    std::string body;  // the wire body; empty when not given in this process
  };
  struct Chunk {
    int64_t n = 0;
    std::string model;
    std::string operation;
    bool embedding = false;
    std::vector<Line> lines;
    int64_t tokens = 0;
    int64_t bytes = 0;
    State state = State::kPlanned;
    std::string file_id;
    std::string batch_id;
    int64_t created_unix_ms = 0;  // when its batch was (being) created
    int64_t ended_unix_ms = 0;
    bool verify = false;        // after a restart: look for its batch / check its lines' ids
    std::vector<std::string> rejected;  // batches found to be someone else's
    int64_t next_poll_ms = 0;   // wall clock
    int64_t poll_interval_ms = 0;
    int64_t untaken = 0;        // results queued, not yet taken
    bool taken = false;         // every result taken; delivered at the next commit
  };
  struct Pending {  // added, not in a chunk yet
    Line line;
    std::string model;
    std::string operation;
    bool embedding = false;
    int64_t tokens = 0;
  };

  BatchJob(Engine &engine, std::string state_path, BatchJobOptions options);
  int load(std::string &message);
  int save(std::string &message);
  void plan();
  int64_t enqueued(const std::string &model) const;
  std::string custom_id(const Chunk &c, size_t i) const;
  bool find_custom_id(std::string_view custom_id, Chunk *&chunk, size_t &index);
  /// A line's request for the wire: OpenAI's batch line or Anthropic's request element.
  void write_line(const Chunk &c, size_t i, std::string &out) const;
  std::string endpoint_path(const Chunk &c) const;

  int upload(Chunk &c, std::string &message);
  int create(Chunk &c, std::string &message);
  int find_created(Chunk &c, std::string &message);
  int poll(Chunk &c, std::string &message);
  /// Reads an ended batch's result lines (`status`: how it ended) and hands them over.
  int download_lines(Chunk &c, std::string_view text, const std::string &status,
                     std::string &message);
  void deliver(Chunk &c, size_t i, int status, std::string_view body, llmsvc_error_kind kind,
               const std::string &why, const std::string &request_id);
  void deliver_rest(Chunk &c, std::vector<bool> &seen, llmsvc_error_kind kind, const std::string &why);
  /// A control call failed: transient → wait and try later (1), else a status (message).
  int failed(const HttpAnswer &a, const std::string &what, std::string &message);

  Engine &engine_;
  const std::string path_;
  BatchJobOptions options_;
  const Deployment *dep_ = nullptr;
  Api api_ = Api::kOpenAI;
  std::unique_ptr<BatchHttp> http_;
  std::string tag_;  // in every custom id of this job
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::vector<Pending> pending_;
  std::unordered_map<std::string, int> ids_;  // every id in the job: 1 in a chunk, 2 pending
  std::deque<std::pair<llmsvc_result *, Chunk *>> ready_;
  int64_t retry_at_ms_ = 0;  // after a transient failure: nothing before then
  int64_t failures_ = 0;
  std::mt19937_64 rng_;
  // Totals for status_json.
  int64_t delivered_ok_ = 0, delivered_failed_ = 0, cost_nano_usd_ = 0, batches_created_ = 0;
};

}  // namespace llmsvc
