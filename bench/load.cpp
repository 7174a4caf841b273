// End-to-end load through the public C ABI: keeps CONCURRENCY requests in flight until N
// are done against an OpenAI-compatible server, and reports requests/s and the client's
// own CPU per request (this process: the engine thread and the caller).
//
//   llmsvc_load --base-url http://127.0.0.1:PORT/v1 --n 5000 --concurrency 32
//               [--model gpt-4o-mini] [--warmup 200] [--http2]
//               [--rpm R --window-ms W]   (client limits, to match a limited server)
//               [--stream]                (streamed replies; reports deltas per second)
//               [--events]                (every lifecycle event to a counting hook)
//               [--keys K]                (a pool of K keys, round robin)
//               [--tools]                 (each request offers a tool the model calls:
//                                          a tool round; with --stream, typed pieces)
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "llmsvc.h"

namespace {

std::atomic<long> g_deltas{0};
std::atomic<long> g_events{0};

void on_event(unsigned, uint64_t, const char *, size_t len, void *) {
  if (len) g_events.fetch_add(1, std::memory_order_relaxed);
}

void on_delta(uint64_t, const char *, size_t, void *) { g_deltas.fetch_add(1, std::memory_order_relaxed); }

void on_piece(uint64_t, int, uint32_t, const char *, const char *, const char *, size_t, void *) {
  g_deltas.fetch_add(1, std::memory_order_relaxed);
}

// A tool the emulator calls when the user text names it.
const char *kTool =
    ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
    "\"required\":[\"city\"]}}}]";

struct Run {
  llmsvc_client *client = nullptr;
  bool stream = false;
  bool tools = false;
  std::string model;
  int total = 0;
  std::atomic<int> submitted{0};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
};

void submit_next(Run *run);

void on_done(llmsvc_result *r, void *payload) {
  auto *run = static_cast<Run *>(payload);
  if (llmsvc_result_kind(r) == LLMSVC_KIND_NONE) {
    run->ok.fetch_add(1);
  } else {
    if (run->failed.fetch_add(1) < 3)
      std::fprintf(stderr, "request failed: %s\n", llmsvc_result_error_message(r));
  }
  llmsvc_result_free(r);
  submit_next(run);  // keep the concurrency constant, from the engine thread
  std::lock_guard<std::mutex> lock(run->mu);
  if (++run->done == run->total) run->cv.notify_all();
}

void submit_next(Run *run) {
  int i = run->submitted.fetch_add(1);
  if (i >= run->total) return;
  std::string req = "{\"model\":\"" + run->model +
                    "\",\"messages\":[{\"role\":\"user\",\"content\":\"benchmark request " +
                    std::to_string(i) + (run->tools ? ": get_weather for Paris" : "") +
                    "\"}],\"max_output_tokens\":16" + (run->tools ? kTool : "") + "}";
  llmsvc_error *err = nullptr;
  int rc = run->stream && run->tools
               ? llmsvc_client_submit_stream_pieces(run->client, req.c_str(), &on_piece, &on_done,
                                                    run, nullptr, &err)
           : run->stream
               ? llmsvc_client_submit_stream(run->client, req.c_str(), &on_delta, &on_done, run,
                                             nullptr, &err)
               : llmsvc_client_submit(run->client, req.c_str(), &on_done, run, nullptr, &err);
  if (rc != LLMSVC_OK) {
    std::fprintf(stderr, "submit: %s\n", llmsvc_error_message(err));
    llmsvc_error_free(err);
    std::exit(1);
  }
}

void run_batch(llmsvc_client *client, const std::string &model, int n, int concurrency,
               bool stream, bool tools) {
  Run run;
  run.client = client;
  run.stream = stream;
  run.tools = tools;
  run.model = model;
  run.total = n;
  for (int i = 0; i < concurrency && i < n; ++i) submit_next(&run);
  std::unique_lock<std::mutex> lock(run.mu);
  run.cv.wait(lock, [&] { return run.done == n; });
  if (run.failed.load()) {
    std::fprintf(stderr, "%d requests failed\n", run.failed.load());
    std::exit(1);
  }
}

double cpu_us() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

double json_number(const char *json, const char *path_key, const char *key) {
  const char *at = std::strstr(json, path_key);
  if (!at) return -1;
  at = std::strstr(at, key);
  return at ? std::atof(at + std::strlen(key)) : -1;
}

}  // namespace

int main(int argc, char **argv) {
  std::string base_url, model = "gpt-4o-mini";
  int n = 5000, concurrency = 32, warmup = 200;
  bool http2 = false, stream = false, events = false, tools = false;
  int keys = 0;
  long rpm = 0, window_ms = 60000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char * {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--base-url") base_url = next();
    else if (a == "--n") n = std::atoi(next());
    else if (a == "--concurrency") concurrency = std::atoi(next());
    else if (a == "--model") model = next();
    else if (a == "--warmup") warmup = std::atoi(next());
    else if (a == "--http2") http2 = true;
    else if (a == "--stream") stream = true;
    else if (a == "--events") events = true;
    else if (a == "--tools") tools = true;
    else if (a == "--keys") keys = std::atoi(next());
    else if (a == "--rpm") rpm = std::atol(next());
    else if (a == "--window-ms") window_ms = std::atol(next());
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (base_url.empty() || n <= 0 || concurrency <= 0) {
    std::fprintf(stderr, "usage: %s --base-url URL [--n N] [--concurrency C] [--model M]\n", argv[0]);
    return 2;
  }
  std::string pool;
  for (int k = 0; k < keys; ++k) pool += std::string(k ? "," : "") + "\"sk-bench-" + std::to_string(k) + "\"";
  std::string config = "{\"base_url\":\"" + base_url + "\",\"model\":\"" + model + "\"," +
                       (keys > 0 ? "\"api_keys\":[" + pool + "]" : "\"api_key\":\"sk-bench\"") +
                       ",\"retry\":{\"max_attempts\":3}" +
                       (http2 ? ",\"http\":{\"prior_knowledge\":true}" : "") +
                       (rpm ? ",\"limits\":{\"rpm\":" + std::to_string(rpm) +
                                  ",\"window_ms\":" + std::to_string(window_ms) + "}"
                            : "") +
                       "}";
  llmsvc_client *client = nullptr;
  llmsvc_error *err = nullptr;
  if (llmsvc_client_new(&client, config.c_str(), &err) != LLMSVC_OK) {
    std::fprintf(stderr, "client: %s\n", llmsvc_error_message(err));
    return 1;
  }
  if (events &&
      llmsvc_client_set_event_hook(client, LLMSVC_EVENT_ALL, 0, &on_event, nullptr, &err) != LLMSVC_OK) {
    std::fprintf(stderr, "events: %s\n", llmsvc_error_message(err));
    return 1;
  }
  if (warmup > 0) run_batch(client, model, warmup, concurrency, stream, tools);
  g_events = 0;
  g_deltas = 0;
  double cpu0 = cpu_us();
  auto t0 = std::chrono::steady_clock::now();
  run_batch(client, model, n, concurrency, stream, tools);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = cpu_us() - cpu0;
  char *metrics = nullptr;
  llmsvc_client_metrics(client, &metrics, nullptr);
  double overhead_p50 = json_number(metrics, "\"overhead_us\"", "\"p50\":");
  double overhead_p99 = json_number(metrics, "\"overhead_us\"", "\"p99\":");
  llmsvc_free(metrics);
  llmsvc_client_destroy(client);
  // With a request limit, the fastest schedule the provider allows sends one window's
  // allowance at once, the next a window later, and so on (each key of a pool has its own).
  double ideal = -1;
  if (rpm) {
    long cap = std::max(1L, rpm * window_ms / 60000) * std::max(keys, 1);  // per key
    ideal = double((n + cap - 1) / cap - 1) * double(window_ms) / 1000.0;
  }
  std::printf(
      "{\"client\":\"llmsvc\",\"version\":\"%s\",\"requests\":%d,\"ok\":%d,\"errors\":0,"
      "\"concurrency\":%d,\"wall_s\":%.3f,\"requests_per_s\":%.1f,\"cpu_us_per_request\":%.2f,"
      "\"overhead_us_p50\":%.2f,\"overhead_us_p99\":%.2f,\"limit_ideal_s\":%.3f,"
      "\"deltas\":%ld,\"deltas_per_s\":%.0f,\"events\":%ld,\"keys\":%d}\n",
      llmsvc_version(), n, n, concurrency, wall, n / wall, cpu / n, overhead_p50, overhead_p99,
      ideal, g_deltas.load(), g_deltas.load() / wall, g_events.load(), keys);
  return 0;
}
