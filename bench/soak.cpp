// Soak: N requests through the public C ABI against a server that fails on purpose (5xx,
// resets, stalls, 429s), with at most PENDING submitted at once. Checks that every request
// completes exactly once, and reports outcomes, memory, file descriptors and threads after
// a warm-up and at the end. Exits non-zero on a lost or doubled completion, or a leak.
//
//   llmsvc_soak --base-url http://127.0.0.1:PORT/v1 [--n 200000] [--pending 2000]
//               [--warmup 10000]
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "llmsvc.h"

namespace {

long count_dir(const char *path) {
  DIR *d = opendir(path);
  if (!d) return -1;
  long n = 0;
  while (dirent *e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

long rss_kib() {
  FILE *f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "VmRSS:", 6) == 0) kib = std::atol(line + 6);
  std::fclose(f);
  return kib;
}

struct Snapshot {
  long rss_kib, fds, threads;
};

Snapshot snap() { return {rss_kib(), count_dir("/proc/self/fd"), count_dir("/proc/self/task")}; }

}  // namespace

int main(int argc, char **argv) {
  std::string base_url;
  long n = 200000, pending_max = 2000, warmup = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--base-url") base_url = argv[i + 1];
    else if (a == "--n") n = std::atol(argv[i + 1]);
    else if (a == "--pending") pending_max = std::atol(argv[i + 1]);
    else if (a == "--warmup") warmup = std::atol(argv[i + 1]);
  }
  if (base_url.empty() || n <= 0 || pending_max <= 0 || warmup >= n) {
    std::fprintf(stderr, "usage: %s --base-url URL [--n N] [--pending P] [--warmup W]\n", argv[0]);
    return 2;
  }
  // Quick retries, short attempts (a stall becomes a timeout and is retried), and a
  // deadline that bounds every request.
  std::string config = "{\"base_url\":\"" + base_url +
                       "\",\"api_key\":\"sk-soak\",\"model\":\"gpt-4o-mini\","
                       "\"limits\":{\"concurrency\":64},"
                       "\"retry\":{\"max_attempts\":12,\"base_delay_ms\":5,\"max_delay_ms\":200,"
                       "\"max_retry_after_ms\":5000},\"timeouts\":{\"request_ms\":1000}}";
  llmsvc_client *c = nullptr;
  llmsvc_error *err = nullptr;
  if (llmsvc_client_new(&c, config.c_str(), &err) != LLMSVC_OK) {
    std::fprintf(stderr, "client: %s\n", llmsvc_error_message(err));
    return 1;
  }
  std::vector<uint8_t> completions(size_t(n), 0);
  std::map<std::string, long> outcomes;
  long submitted = 0, done = 0, in_flight = 0;
  Snapshot after_warmup{};
  auto t0 = std::chrono::steady_clock::now();
  char request[160];
  while (done < n) {
    while (submitted < n && in_flight < pending_max) {
      std::snprintf(request, sizeof request,
                    "{\"prompt\":\"soak request %ld\",\"max_output_tokens\":16,"
                    "\"timeout_ms\":120000}",
                    submitted);
      int rc = llmsvc_client_submit(c, request, nullptr, reinterpret_cast<void *>(submitted),
                                    nullptr, &err);
      if (rc != LLMSVC_OK) {
        std::fprintf(stderr, "submit %ld: %s\n", submitted, llmsvc_error_message(err));
        return 1;
      }
      ++submitted;
      ++in_flight;
    }
    llmsvc_result *r = nullptr;
    void *payload = nullptr;
    int rc = llmsvc_client_poll(c, 1000, &r, &payload);
    if (rc == LLMSVC_ETIMEOUT) continue;
    if (rc != LLMSVC_OK) {
      std::fprintf(stderr, "poll: %s\n", llmsvc_strerror(rc));
      return 1;
    }
    long i = long(reinterpret_cast<intptr_t>(payload));
    if (i < 0 || i >= n) {
      std::fprintf(stderr, "a completion with an unknown payload %ld\n", i);
      return 1;
    }
    ++completions[size_t(i)];
    ++outcomes[llmsvc_error_kind_name(llmsvc_result_kind(r))];
    llmsvc_result_free(r);
    --in_flight;
    if (++done == warmup) after_warmup = snap();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Snapshot at_end = snap();
  char *metrics = nullptr;
  llmsvc_client_metrics(c, &metrics, nullptr);
  const char *retries = metrics ? std::strstr(metrics, "\"retries\":") : nullptr;
  long retry_count = retries ? std::atol(retries + 10) : -1;
  const char *errs = metrics ? std::strstr(metrics, "\"errors_by_kind\":") : nullptr;
  std::string attempt_errors = errs ? std::string(errs + 17, std::strcspn(errs + 17, "}") + 1) : "";
  llmsvc_free(metrics);
  llmsvc_client_destroy(c);
  Snapshot destroyed = snap();

  long lost = 0, doubled = 0;
  for (uint8_t k : completions) {
    if (k == 0) ++lost;
    if (k > 1) ++doubled;
  }
  std::printf("requests        %ld in %.1f s (%.0f/s), at most %ld pending\n", n, secs, n / secs,
              pending_max);
  std::printf("completions     lost %ld, doubled %ld\n", lost, doubled);
  std::printf("outcomes       ");
  for (auto &[k, v] : outcomes) std::printf(" %s=%ld", k.c_str(), v);
  std::printf("\nretries         %ld; failed attempts by kind %s\n", retry_count,
              attempt_errors.c_str());
  std::printf("after warm-up    RSS %ld KiB, %ld fds, %ld threads (%ld requests)\n",
              after_warmup.rss_kib, after_warmup.fds, after_warmup.threads, warmup);
  std::printf("at the end      RSS %ld KiB, %ld fds, %ld threads\n", at_end.rss_kib, at_end.fds,
              at_end.threads);
  std::printf("destroyed       RSS %ld KiB, %ld fds, %ld threads\n", destroyed.rss_kib,
              destroyed.fds, destroyed.threads);
  bool leak = destroyed.threads > 1 || at_end.threads > after_warmup.threads ||
              at_end.fds > after_warmup.fds + 64;  // idle connections come and go
  if (lost || doubled || leak) {
    std::printf("FAILED\n");
    return 1;
  }
  std::printf("ok\n");
  return 0;
}
