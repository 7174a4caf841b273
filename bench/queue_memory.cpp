// Memory and CPU of requests waiting at a gate: 10,000 requests queued behind a
// concurrency limit of 1 whose single request hangs on a server that never answers.
// Reports resident memory per queued request and the CPU used while they wait.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "llmsvc.h"

namespace {

long rss_kib() {
  FILE *f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

double cpu_us() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

long queued(llmsvc_client *c) {
  char *m = nullptr;
  llmsvc_client_metrics(c, &m, nullptr);
  const char *at = m ? std::strstr(m, "\"queued\":") : nullptr;
  long q = at ? std::atol(at + 9) : -1;
  llmsvc_free(m);
  return q;
}

int completed = 0;
void on_done(llmsvc_result *r, void *) {
  ++completed;  // engine thread only
  llmsvc_result_free(r);
}

}  // namespace

int main(int argc, char **argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  // A listener that never accepts: connections complete in the kernel, replies never come.
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (s < 0 || bind(s, reinterpret_cast<sockaddr *>(&addr), len) != 0 || listen(s, 16) != 0 ||
      getsockname(s, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
    std::perror("listen");
    return 1;
  }
  std::string config = "{\"base_url\":\"http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) +
                       "/v1\",\"api_key\":\"sk-bench\",\"limits\":{\"concurrency\":1}}";
  llmsvc_client *c = nullptr;
  if (llmsvc_client_new(&c, config.c_str(), nullptr) != LLMSVC_OK) return 1;
  const std::string body =
      "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"a queued request "
      "with a typical short prompt of about a hundred bytes\"}],\"max_output_tokens\":64}";
  // Warm the allocator and the engine with one round trip through the queue.
  for (int i = 0; i < 100; ++i)
    llmsvc_client_submit(c, body.c_str(), &on_done, nullptr, nullptr, nullptr);
  while (queued(c) != 99) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  long before = rss_kib();
  for (int i = 0; i < n; ++i)
    llmsvc_client_submit(c, body.c_str(), &on_done, nullptr, nullptr, nullptr);
  while (queued(c) != n + 99) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  long after = rss_kib();

  double cpu0 = cpu_us();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  double waiting_cpu = cpu_us() - cpu0;

  llmsvc_client_destroy(c);  // completes all of them with "shut down"
  close(s);
  std::printf(
      "{\"queued\":%d,\"request_json_bytes\":%zu,\"rss_delta_kib\":%ld,"
      "\"bytes_per_queued_request\":%.0f,\"cpu_us_while_waiting_3s\":%.0f,\"completed_at_destroy\":%d}\n",
      n, body.size(), after - before, (after - before) * 1024.0 / n, waiting_cpu, completed);
  return completed == n + 100 ? 0 : 1;
}
