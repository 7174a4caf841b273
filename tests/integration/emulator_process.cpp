#include "emulator_process.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

EmulatorProcess::EmulatorProcess(std::vector<std::string> args) {
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Dies with the test process, even one that crashed, so nothing is left holding the
    // test runner's output open.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    std::vector<std::string> argv_s = {LLMSVC_EMULATOR_PATH, "--host", "127.0.0.1", "--port", "0"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto &a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  // The first line is "listening on 127.0.0.1:PORT".
  FILE *f = fdopen(out[0], "r");
  char line[256] = {};
  if (!f || !fgets(line, sizeof line, f)) {
    if (f) fclose(f);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    throw std::runtime_error("the emulator did not start: " + std::string(LLMSVC_EMULATOR_PATH));
  }
  fclose(f);
  const char *colon = strrchr(line, ':');
  port_ = colon ? atoi(colon + 1) : 0;
  if (port_ <= 0) throw std::runtime_error(std::string("unexpected emulator output: ") + line);
}

EmulatorProcess::~EmulatorProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

std::string EmulatorProcess::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/v1";
}

std::string EmulatorProcess::config(const std::string &key, const std::string &extra) const {
  std::string c = "{\"base_url\":\"" + base_url() + "\",\"api_key\":\"" + key + "\"";
  if (!extra.empty()) c += "," + extra;
  return c + "}";
}

namespace {
size_t append(char *data, size_t size, size_t n, void *out) {
  static_cast<std::string *>(out)->append(data, size * n);
  return size * n;
}
}  // namespace

std::string http_get(const std::string &url) {
  std::string body;
  CURL *h = curl_easy_init();
  if (!h) return body;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  if (curl_easy_perform(h) != CURLE_OK) body.clear();
  curl_easy_cleanup(h);
  return body;
}

std::string http_post(const std::string &url, const std::string &body,
                      const std::vector<std::string> &headers) {
  std::string out;
  CURL *h = curl_easy_init();
  if (!h) return out;
  curl_slist *list = curl_slist_append(nullptr, "Content-Type: application/json");
  for (const std::string &line : headers) list = curl_slist_append(list, line.c_str());
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  if (curl_easy_perform(h) != CURLE_OK) out.clear();
  curl_slist_free_all(list);
  curl_easy_cleanup(h);
  return out;
}

rapidjson::Document EmulatorProcess::stats(const std::string &key) const {
  std::string body = http_get("http://127.0.0.1:" + std::to_string(port_) +
                              "/_emulator/stats?key=" + key);
  rapidjson::Document d;
  d.Parse(body.c_str());
  if (d.HasParseError() || !d.IsObject()) throw std::runtime_error("bad stats: " + body);
  return d;
}
