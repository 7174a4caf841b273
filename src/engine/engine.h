// The engine: one thread per client that owns every request's state, the gates, the
// metrics and a libcurl multi handle. Other threads hand it work through a mutex-guarded
// inbox and an eventfd; nothing it owns is touched from outside while it runs.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <functional>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "cache/cache.h"
#include "common/clock.h"
#include "core/config.h"
#include "engine/completion_queue.h"
#include "engine/deployment.h"
#include "engine/pending.h"
#include "gates/breaker.h"
#include "gates/gates.h"
#include "http/transfer.h"
#include "metrics/metrics.h"
#include "providers/provider.h"
#include "retry/policy.h"
#include "telemetry/metrics_server.h"
#include "telemetry/otlp.h"

struct llmsvc_result;

namespace llmsvc {

/// Why a request with input cannot go to `provider`.
std::string embeddings_unserved(const Provider &provider);

/// The name of one LLMSVC_EVENT_* bit, or "unknown".
const char *event_type_name(unsigned type);

class Transfer;

class Engine final : private StreamSink {
 public:
  /// Starts the engine thread. Throws std::bad_alloc / std::system_error. `cache` (may be
  /// NULL) is the response cache opened for `config.cache`.
  Engine(Config config, std::unique_ptr<ResponseCache> cache = nullptr,
         const Clock &clock = SystemClock::instance());
  ~Engine();  // close() then join
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  /// Parses a request on the calling thread and hands it to the engine.
  /// LLMSVC_OK (id set), LLMSVC_EJSON / LLMSVC_ESCHEMA (message set), LLMSVC_ECLOSED.
  /// How a streamed request's typed pieces go out (llmsvc_client_submit_stream_pieces).
  struct Stream {
    llmsvc_piece_cb piece_cb = nullptr;  // NULL: to the completion queue (or nowhere)
    bool pieces = false;                 // tool-call pieces too, not text alone
  };
  int submit(std::string_view request_json, llmsvc_complete_cb cb, void *payload,
             uint64_t *out_id, std::string &message, bool stream = false,
             llmsvc_delta_cb delta_cb = nullptr, const Stream *pieces = nullptr);
  int cancel(uint64_t id);
  /// Posts the cancellation and returns (llmsvc_client_cancel_async).
  int cancel_async(uint64_t id);
  /// Stops (or resumes) admitting requests; what is in flight goes on.
  void pause(bool paused);
  /// Results bound for the completion queue go to `cb` in batches instead (NULL: queue).
  void set_batch_callback(llmsvc_batch_cb cb, void *user);
  /// close() without waiting: `cb` runs once everything has completed.
  void close_async(llmsvc_closed_cb cb, void *payload);
  int set_limits(std::string_view limits_json, std::string &message);

  // Provider batch jobs (engine_batch.cpp), from the job's own thread: they read only
  // what is fixed after construction.
  /// One request as a line of a batch job: checked as submit checks it, its body built
  /// for the deployment named `deployment` (empty: the first of the request's route).
  struct BatchRequest {
    const Deployment *dep = nullptr;
    std::string model;  // the model the body names
    std::string operation;
    bool embedding = false;
    std::string body;
    int64_t prompt_tokens = 0;  // the provider's estimate of its input
  };
  int batch_request(std::string_view request_json, const std::string &deployment,
                    BatchRequest &out, std::string &message);
  /// The result of one line of an ended batch: the provider's reply `body` with its
  /// `http_status`, or, when the line has none (expired, cancelled, lost), `kind` and
  /// `message`. Priced at the deployment's batch prices.
  struct BatchReply {
    const Deployment *dep = nullptr;
    std::string model;
    std::string operation;
    std::string batch_id;
    std::string custom_id;
    int http_status = 0;
    std::string_view body;
    llmsvc_error_kind kind = LLMSVC_KIND_NONE;
    std::string message;
    std::string request_id;
    int64_t created_unix_ms = 0;  // when the batch was created
    int64_t ended_unix_ms = 0;
  };
  llmsvc_result *batch_result(const BatchReply &reply);
  /// A deployment by name, or NULL.
  const Deployment *deployment(const std::string &name) const;
  /// Changes one deployment at run time (llmsvc_client_set_deployment): back into (or out
  /// of) rotation, its weight, its limits.
  int set_deployment(std::string_view json, std::string &message);
  /// Events on (`events` bits), changed or off; `cb` NULL: to the completion queue.
  void set_event_hook(unsigned events, unsigned flags, llmsvc_event_cb cb, void *payload);
  /// Replaces the budgets (a JSON array); spending of budgets kept by name carries over.
  int set_budgets(std::string_view budgets_json, std::string &message);
  std::string metrics_json();
  /// The same snapshot in the Prometheus text format (engine_telemetry.cpp).
  std::string metrics_prometheus();
  /// Refuses new work, completes everything pending with "shut down", stops the thread.
  void close();

  bool on_engine_thread() const { return engine_tid_.load() == std::this_thread::get_id(); }
  CompletionQueue &completion_queue() { return completions_; }
  const Config &config() const { return config_; }

 private:
  using Task = std::function<void()>;

  // The event loop (engine_loop.cpp): libcurl's socket API on epoll, an eventfd for
  // wake-ups from other threads.
  void open_loop();   // throws std::system_error
  void close_loop();  // after curl_multi_cleanup
  void run();
  /// One pass: takes the inbox, fires timers, admits, drives libcurl's due timeout.
  /// False when the engine is stopping.
  bool step();
  /// Waits for sockets, the wake-up or the next timer, and hands ready sockets to libcurl.
  void wait_for_events(int64_t now);
  static int on_socket(CURL *easy, curl_socket_t s, int what, void *shard, void *socketp);
  static int on_curl_timer(CURLM *multi, long timeout_ms, void *shard);
  void drain_inbox();
  /// Runs `task` on the engine thread and waits, or runs it here when the engine is
  /// stopped or this is the engine thread.
  void run_on_engine(const Task &task);
  /// Queues `task` for the engine thread and returns; false once the engine has stopped.
  bool post(Task task);
  void wake();
  void cancel_live(uint64_t id, int *rc);
  void begin_close(llmsvc_closed_cb cb, void *payload);
  /// Hands to_queue_ to the batch callback, or to the completion queue.
  void deliver_to_queue();

  void accept(Pending *p, int64_t now);
  void enqueue(Pending *p, int64_t now);
  void fire_timers(int64_t now);
  void admit(int64_t now);
  void start_attempt(Pending *p, int64_t now);
  std::string too_large_message(Deployment &d, Tokens t) const;
  // Routing (engine_routing.cpp).
  void build_routes();
  /// The route requests naming `model` take; NULL when no deployment serves it.
  Route *route_for(const std::string &model) const;
  enum class Pick : uint8_t { kChosen, kWait, kFailed };
  /// Chooses the deployment for `p`'s next attempt among its tier's, by the strategy, or
  /// says how long to wait (`wait`), or fails it (done here).
  Pick pick(Pending *p, int64_t now, GateDecision &wait);
  /// The wire body for deployment `d` (rebuilt when its provider or model differs).
  bool body_for(Pending *p, Deployment &d, std::string &message);
  /// Takes `d` out of rotation for `why`.
  /// Takes `d` out of rotation for `why`; false when it cannot be (the client's only,
  /// unconfigured, endpoint).
  bool take_out(Deployment &d, llmsvc_error_kind kind, const std::string &why);
  /// Moves `p` on to its next tier that has a deployment in rotation; false when none.
  bool next_tier(Pending *p);
  void recycle(Pending *p, std::unique_ptr<Transfer> x);
  void write_deployments(JsonWriter &w, int64_t now);
  // Events (engine_events.cpp): built where they happen, delivered by flush_completions.
  bool wants(unsigned type) const { return (event_mask_ & type) != 0; }
  void event_queued(const Pending *p, int64_t now);
  void event_admitted(const Pending *p, int64_t now);
  void event_attempt_started(const Pending *p, int64_t now);
  void event_attempt_finished(const Pending *p, int64_t now);
  /// `reason`: why the next attempt follows ("backoff", "fallback", "out_of_rotation", ...).
  void event_retry(const Pending *p, int64_t now, int64_t backoff_ns, const char *reason);
  void event_completed(const Pending *p, int64_t now, llmsvc_error_kind kind,
                       const std::string &message, const ProviderReply *reply, int64_t cost_pico);
  void write_event_head(JsonWriter &w, unsigned type, const Pending *p, int64_t now) const;
  std::unique_ptr<llmsvc_result> new_event(unsigned type, uint64_t id);
  void push_event(std::unique_ptr<llmsvc_result> r, int kind);
  void flush_events();
  void write_deployments_prometheus(PromText &t, int64_t now);
  bool read_done();
  void on_transfer_done(Pending *p, CURLcode code, int64_t now);
  void stream_failed(Pending *p, std::unique_ptr<Transfer> x, int64_t now, int64_t t0);
  void retry_or_fail(Pending *p, const Classification &c, const ResponseHeaders &h,
                     int64_t now);
  void cancel_now(uint64_t id, llmsvc_error_kind kind, const std::string &message);
  void detach(Pending *p, int64_t now);
  /// Adds a reply's usage and cost to what the request has used so far.
  void account(Pending *p, const ProviderReply &reply);
  void finish(Pending *p, llmsvc_error_kind kind, std::string message, int64_t now,
              const ProviderReply *reply = nullptr);
  void flush_completions();
  void flush_deltas_and_done();
  bool on_stream_bytes(void *owner, std::string_view bytes) override;
  /// Hands decoded events to the provider; queues the text deltas for the caller.
  bool take_stream_events(Pending *p);
  void estimate_stream_usage(Pending *p);
  void shutdown_all();
  /// Caching at submit (submitting thread): the key, and a lookup unless refreshing.
  void cache_lookup(Pending *p);
  /// Caching at accept (engine thread): a hit completes at once, an identical request in
  /// flight is joined. Returns true when `p` needs no provider call of its own.
  bool cache_accept(Pending *p, int64_t now);
  void finish_from_cache(Pending *p, int64_t now);
  /// A leader finished (its reply stored when `cached`): complete its followers with the
  /// same outcome, or hand them to the next in line when only the leader itself ended.
  void settle_followers(Pending *p, llmsvc_error_kind kind, const std::string &message,
                        const CachedReply *cached, int64_t now);
  void write_cache_stats(JsonWriter &w) const;
  /// An attempt ended: metrics and the circuit breaker hear of it.
  void attempt_ended(Pending *p, int64_t now, llmsvc_error_kind kind, int64_t duration_ns,
                     int64_t completion_tokens);
  /// Takes the request's estimate from every budget that applies, or fails it at once.
  bool admit_budgets(Pending *p, int64_t now);
  /// Load shedding at submit: a full queue, or a wait expected beyond the class's bound,
  /// fails the request at once. Returns true when it did.
  bool shed(Pending *p, int64_t now);
  /// About how long a request queued now behind `ahead` others would wait at the rate gates.
  int64_t expected_wait_ns(const Pending *p, int64_t ahead, int64_t now);
  int64_t poll_timeout_ms(int64_t now) const;
  std::string redact(std::string s) const;
  void redact(ProviderError &e) const;
  /// The tool-call pieces the provider recorded for `p`'s stream: the structured-output
  /// tool's go out as text, the others as pieces when the caller asked for them.
  void take_tool_pieces(Pending *p);
  /// A reply is in: structured output given as a tool call becomes the text; calls of
  /// strict tools are checked against their schemas. False (with `violation` and the
  /// offending `output`) when a strict call does not match.
  bool settle_tool_calls(Pending *p, ProviderReply &reply, SchemaViolation &violation,
                         std::string &output);
  /// The reply's tool calls (with what is known of each), choices, logprobs, service tier
  /// and thinking, as result members.
  void write_reply_extras(JsonWriter &w, const Pending *p, const ProviderReply &reply) const;
  /// Fails the stream of `p` for an event past http.max_stream_event_bytes; returns false.
  bool event_too_large(Pending *p);
  /// The result's typed view (llmsvc_result_number, _string, _attempt, _choice).
  void fill_typed(llmsvc_result *r, const Pending *p, const ProviderReply *reply,
                  int64_t cost_pico, int64_t now) const;
  llmsvc_result *build_result(Pending *p, llmsvc_error_kind kind, const std::string &message,
                              const ProviderReply *reply, int64_t cost_pico, int64_t now);
  std::string snapshot(int64_t now);
  EngineGauges gauges() const;

  // Telemetry (engine_telemetry.cpp).
  /// Starts the Prometheus endpoint when configured; when it cannot, stops the engine
  /// thread again and throws, for the constructor to fail cleanly.
  void start_telemetry();
  std::string prometheus_snapshot(int64_t now);
  void write_cache_prometheus(PromText &t) const;
  void write_telemetry_stats(JsonWriter &w) const;
  void write_otlp_stats(JsonWriter &w) const;
  // OTLP (engine_telemetry.cpp): trace context for an attempt about to be sent (the
  // traceparent header to send; "" when traces are off), and a completed request's record.
  std::string otlp_attempt_traceparent(Pending *p, Attempt &a);
  void otlp_trace_context(Pending *p);  // the request span's ids, chosen once
  void otlp_record(Pending *p, const llmsvc_result *r, const ProviderReply *reply, int64_t now);

  const Config config_;
  const Clock &clock_;
  const std::unique_ptr<ResponseCache> cache_;
  // Read-only after construction (the submitting threads route with them).
  std::vector<std::unique_ptr<Deployment>> deps_;
  std::vector<std::unique_ptr<Route>> routes_;
  std::unordered_map<std::string, Route *> route_of_;  // by group and by deployment name
  Route *any_route_ = nullptr;  // no deployments configured: every model goes here
  // libcurl multi handles, each with its own connection cache. libcurl 7.88 walks a multi's
  // whole connection cache when a transfer is removed (and its bundle when one starts), so
  // one multi costs O(connections) per request at thousands in flight; transfers are spread
  // over shards of at most kShardTransfers, the lowest with room first, so that a client
  // with few in flight keeps all its connections in one cache (docs/decisions.md).
  struct Shard {
    Engine *engine;
    uint32_t index;
    CURLM *multi;
    int64_t due_ns = kNever;  // libcurl's timeout for this multi (steady_now_ns)
    int64_t transfers = 0;
  };
  static constexpr int64_t kShardTransfers = 256;
  std::vector<std::unique_ptr<Shard>> shards_;
  Shard &add_shard();      // throws std::bad_alloc
  Shard &shard_for_new();  // the lowest shard with room, a new one when all are full
  void close_shards();
  int epoll_fd_ = -1;
  int wake_fd_ = -1;                     // an eventfd: other threads wake the engine
  std::atomic<bool> wake_sent_{false};   // a wake-up is on its way: no need for another

  // Shared with other threads, under inbox_mu_.
  std::mutex inbox_mu_;
  std::vector<Pending *> inbox_;
  std::vector<Task> tasks_;
  bool closing_ = false;  // no new submissions
  std::vector<std::pair<llmsvc_closed_cb, void *>> closed_cbs_;  // close_async's, to call
  std::pair<llmsvc_closed_cb, void *> closed_now_{nullptr, nullptr};
  bool stopped_ = false;  // the engine loop has ended
  std::atomic<uint64_t> next_id_{1};
  std::atomic<std::thread::id> engine_tid_{};

  // Engine thread only.
  std::vector<Pending *> inbox_local_;
  std::vector<Task> tasks_local_;
  bool stopping_ = false;
  bool admission_paused_ = false;
  llmsvc_batch_cb batch_cb_ = nullptr;
  void *batch_user_ = nullptr;
  std::vector<llmsvc_result *> batch_results_;
  std::vector<void *> batch_payloads_;
  Budgets budgets_;
  Metrics metrics_;
  std::unordered_map<uint64_t, Pending *> live_;
  std::map<uint64_t, Pending *> waiting_;  // (priority, id) -> waiting at the gates
  int64_t queued_by_priority_[3] = {0, 0, 0};
  int64_t backing_off_ = 0;
  int64_t in_flight_ = 0;
  // (time, id, kind): kind 0 = backoff ends, 1 = deadline passes, 2 = longest queue wait.
  std::set<std::tuple<int64_t, uint64_t, int>> timers_;
  int64_t gate_wake_ns_ = kNever;
  // Context size (input + output tokens) of recent responses, so that a request continuing
  // one reserves what the provider will count; bounded, oldest forgotten first.
  std::unordered_map<std::string, int64_t> contexts_;
  std::deque<std::string> context_order_;
  static constexpr size_t kMaxContexts = 10000;
  struct Done {
    llmsvc_result *result;
    llmsvc_complete_cb cb;
    void *payload;
  };
  std::vector<Done> done_;
  struct Delta {
    uint64_t id;
    llmsvc_delta_cb cb;  // NULL: to the completion queue (or to piece_cb)
    void *payload;
    std::string text;
    llmsvc_piece_cb piece_cb = nullptr;
    int kind = LLMSVC_PIECE_TEXT;
    uint32_t index = 0;
    std::string call_id;
    std::string name;
  };
  /// Queues a text piece of `p` for its caller (delta or piece callback, or the queue).
  void queue_text(Pending *p, std::string text);
  std::vector<Delta> deltas_;
  std::vector<CompletionQueue::Item> to_queue_;  // for the completion queue, in order
  unsigned event_mask_ = 0;
  unsigned event_flags_ = 0;
  llmsvc_event_cb event_cb_ = nullptr;
  void *event_payload_ = nullptr;
  std::vector<llmsvc_result *> events_;  // built, not yet delivered
  std::vector<StreamEvent> stream_events_;
  // Cacheable requests in flight, by key: identical ones join them instead of sending.
  std::unordered_map<CacheKey, Pending *, CacheKeyHash> leaders_;
  std::vector<Deployment *> pick_scratch_;  // pick()'s candidates, reused
  std::vector<std::pair<double, Deployment *>> room_scratch_;
  struct CacheCounters {
    int64_t lookups = 0;
    int64_t hits_memory = 0;
    int64_t hits_sqlite = 0;
    int64_t coalesced = 0;
    int64_t misses = 0;
    int64_t refreshes = 0;
    int64_t stores = 0;
    int64_t waiting = 0;  // followers waiting for a leader's reply
    int64_t saved_cost_pico = 0;
    int64_t saved_unpriced = 0;  // hits whose original cost is unknown
    int64_t saved_prompt_tokens = 0;
    int64_t saved_completion_tokens = 0;
  } cache_counters_;
  std::mt19937_64 rng_;

  CompletionQueue completions_;
  std::unique_ptr<MetricsServer> telemetry_;  // set before the constructor returns
  // The OTLP exporter: set before the engine thread starts, flushed and gone once it ended.
  std::unique_ptr<OtlpExporter> otlp_;
  uint64_t trace_rng_ = 0;  // trace and span ids (engine thread)
  // Wall clock minus steady clock, read again every 4096 records: a record's end time
  // without reading the wall clock for each.
  int64_t otlp_wall_offset_ = 0;
  uint32_t otlp_records_ = 0;
  std::mutex join_mu_;
  std::thread thread_;
};

}  // namespace llmsvc
