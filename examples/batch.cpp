// The main example: pushes a batch of requests through llmsvc, using only its public C
// ABI, and prints each result, then the metrics, usage and cost summary.
//
//   llmsvc_batch_example PROMPTS.jsonl [--emulator PATH] [--repeat N] [--rpm N]
//
// With --emulator it starts the project's emulator on a free loopback port (with the
// given limits) and talks to it; otherwise it uses OPENAI_API_KEY / OPENAI_BASE_URL.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <condition_variable>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "llmsvc.h"

namespace {

struct Batch {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> results;  // JSON documents, in completion order
  size_t expected = 0;
};

void on_done(llmsvc_result *r, void *payload) {
  auto *b = static_cast<Batch *>(payload);
  size_t len = 0;
  const char *json = llmsvc_result_json(r, &len);
  std::string doc(json, len);
  llmsvc_result_free(r);  // copy out and return at once: callbacks run on the engine thread
  std::lock_guard<std::mutex> lock(b->mu);
  b->results.push_back(std::move(doc));
  b->cv.notify_all();
}

pid_t start_emulator(const std::string &path, const std::string &rpm, int *port) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(path.c_str(), path.c_str(), "--host", "127.0.0.1", "--port", "0", "--rpm", rpm.c_str(),
          "--window-ms", "1000", "--error-rate", "0.1", "--seed", "42", (char *)nullptr);
    _exit(127);
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  char line[128] = {};
  if (!f || !fgets(line, sizeof line, f)) return -1;
  fclose(f);
  const char *colon = std::strrchr(line, ':');
  *port = colon ? std::atoi(colon + 1) : 0;
  return pid;
}

std::string money(int64_t nano) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "$%.6f", double(nano) / 1e9);
  return buf;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PROMPTS.jsonl [--emulator PATH] [--repeat N] [--rpm N]\n",
                 argv[0]);
    return 2;
  }
  std::string prompts = argv[1], emulator, rpm = "600";
  int repeat = 5;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--emulator")) emulator = argv[i + 1];
    else if (!std::strcmp(argv[i], "--repeat")) repeat = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rpm")) rpm = argv[i + 1];
  }
  std::ifstream in(prompts);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", prompts.c_str());
    return 2;
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);

  std::string config = "{\"model\":\"gpt-4o-mini\"";
  pid_t emu = -1;
  if (!emulator.empty()) {
    int port = 0;
    emu = start_emulator(emulator, rpm, &port);
    if (emu <= 0 || port <= 0) {
      std::fprintf(stderr, "could not start the emulator at %s\n", emulator.c_str());
      return 1;
    }
    std::printf("emulator on 127.0.0.1:%d (%s rpm in 1 s windows, 10%% injected 5xx)\n", port,
                rpm.c_str());
    config += ",\"base_url\":\"http://127.0.0.1:" + std::to_string(port) +
              "/v1\",\"api_key\":\"sk-example\",\"limits\":{\"rpm\":" + rpm +
              ",\"window_ms\":1000},\"retry\":{\"base_delay_ms\":50}";
  }
  config += "}";

  llmsvc_client *client = nullptr;
  llmsvc_error *err = nullptr;
  if (llmsvc_client_new(&client, config.c_str(), &err) != LLMSVC_OK) {
    std::fprintf(stderr, "llmsvc_client_new: %s\n", llmsvc_error_message(err));
    llmsvc_error_free(err);
    return 1;
  }
  Batch batch;
  for (int r = 0; r < repeat; ++r) {
    for (const std::string &line : lines) {
      if (llmsvc_client_submit(client, line.c_str(), &on_done, &batch, nullptr, &err) != LLMSVC_OK) {
        std::fprintf(stderr, "rejected %s: %s\n", line.c_str(), llmsvc_error_message(err));
        llmsvc_error_free(err);
        err = nullptr;
        continue;
      }
      ++batch.expected;
    }
  }
  std::printf("submitted %zu requests\n\n", batch.expected);
  {
    std::unique_lock<std::mutex> lock(batch.mu);
    batch.cv.wait(lock, [&] { return batch.results.size() == batch.expected; });
  }
  for (const std::string &json : batch.results) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    int attempts = int(d["attempts"].Size());
    if (d["ok"].GetBool()) {
      std::string text = d["text"].GetString();
      if (text.size() > 48) text = text.substr(0, 45) + "...";
      std::printf("#%-4llu %-10s %3lld+%-3lld tokens  %-12s %d attempt%s  %s\n",
                  (unsigned long long)d["id"].GetUint64(), d["operation"].GetString(),
                  (long long)d["usage"]["prompt_tokens"].GetInt64(),
                  (long long)d["usage"]["completion_tokens"].GetInt64(),
                  d["cost_nano_usd"].IsNull() ? "cost unknown"
                                              : money(d["cost_nano_usd"].GetInt64()).c_str(),
                  attempts, attempts == 1 ? " " : "s", text.c_str());
    } else {
      std::printf("#%-4llu %-10s failed (%s): %s\n", (unsigned long long)d["id"].GetUint64(),
                  d["operation"].GetString(), d["error"]["kind"].GetString(),
                  d["error"]["message"].GetString());
    }
  }

  char *metrics = nullptr;
  llmsvc_client_metrics(client, &metrics, nullptr);
  rapidjson::Document m;
  m.Parse(metrics);
  llmsvc_free(metrics);
  const auto &req = m["requests"];
  const auto &att = m["attempts"];
  const auto &total = m["usage"]["total"];
  std::printf("\nrequests: %lld succeeded, %lld failed; attempts %lld (%lld retries, backoff %lld ms)\n",
              (long long)req["succeeded"].GetInt64(), (long long)req["failed"].GetInt64(),
              (long long)att["total"].GetInt64(), (long long)att["retries"].GetInt64(),
              (long long)(att["backoff_client_ms"].GetInt64() + att["backoff_server_ms"].GetInt64()));
  std::printf("gate waits: rpm %lld, tpm %lld; window now %lld/%lld requests\n",
              (long long)m["gates"]["waits"]["rpm"].GetInt64(),
              (long long)m["gates"]["waits"]["tpm"].GetInt64(),
              (long long)m["gates"]["window_requests_used"].GetInt64(),
              (long long)m["gates"]["window_requests_cap"].GetInt64());
  std::printf("latency p50 %.1f ms, p99 %.1f ms; llmsvc overhead p50 %.1f us per request\n",
              m["latency_ms"]["p50"].GetDouble(), m["latency_ms"]["p99"].GetDouble(),
              m["overhead_us"]["p50"].GetDouble());
  std::printf("tokens: %lld prompt + %lld completion; cost %s\n",
              (long long)total["prompt_tokens"].GetInt64(),
              (long long)total["completion_tokens"].GetInt64(),
              total["cost_nano_usd"].IsNull() ? "unknown"
                                              : money(total["cost_nano_usd"].GetInt64()).c_str());
  std::printf("by operation:\n");
  for (const auto &op : m["usage"]["by_operation"].GetObject())
    std::printf("  %-10s %3lld requests  %5lld tokens  %s\n", op.name.GetString(),
                (long long)op.value["requests"].GetInt64(),
                (long long)op.value["total_tokens"].GetInt64(),
                op.value["cost_nano_usd"].IsNull()
                    ? "unknown"
                    : money(op.value["cost_nano_usd"].GetInt64()).c_str());
  llmsvc_client_destroy(client);
  if (emu > 0) {
    kill(emu, SIGTERM);
    waitpid(emu, nullptr, 0);
  }
  return 0;
}
