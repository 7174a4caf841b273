// Prometheus exposition against the emulator: the text agrees with the JSON snapshot, and
// the optional loopback endpoint serves it, refuses everything else and stops with the
// client.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "prom_parse.h"
#include "support.h"

namespace {

std::string prometheus(llmsvc_client *c) {
  char *text = nullptr;
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_metrics_prometheus(c, &text, &err), LLMSVC_OK)
      << llmsvc_error_message(err);
  llmsvc_error_free(err);
  std::string s = text ? text : "";
  llmsvc_free(text);
  return s;
}

struct Reply {
  long status = 0;
  std::string content_type;
  std::string body;
  CURLcode code = CURLE_OK;
};

size_t append(char *data, size_t size, size_t n, void *out) {
  static_cast<std::string *>(out)->append(data, size * n);
  return size * n;
}

Reply scrape(int port, const std::string &path = "/metrics") {
  Reply r;
  CURL *h = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  r.code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
  char *ct = nullptr;
  curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
  if (ct) r.content_type = ct;
  curl_easy_cleanup(h);
  return r;
}

// Sends `request` as is on a plain socket and returns whatever comes back.
std::string raw_exchange(int port, const std::string &request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0) {
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) >= 0) {
      char buf[4096];
      for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, size_t(n));
    }
  }
  close(fd);
  return out;
}

int bound_port(Client &client) {
  rapidjson::Document m = client.metrics();
  if (!m.HasMember("telemetry")) return -1;
  return int(i64(m["telemetry"], "prometheus_port"));
}

double num(const rapidjson::Value &v, const char *name) {
  auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsNumber() ? it->value.GetDouble() : -1;
}

}  // namespace

TEST(Telemetry, PrometheusAgreesWithTheJsonSnapshot) {
  // Every body fails twice before it succeeds; with two attempts per request, the first
  // request of each body fails (server_error) and the second succeeds.
  EmulatorProcess emu({"--fail-first", "2"});
  Client client(emu.config(
      "sk-telemetry",
      R"("retry":{"max_attempts":2,"base_delay_ms":5,"max_delay_ms":10},"limits":{"rpm":6000})"));
  const std::string op = R"("operation":"sum\"ma\\ry")";
  for (const char *prompt : {"alpha", "beta"}) {
    EXPECT_EQ(client.generate(prompt_request(prompt, op)).kind, LLMSVC_KIND_SERVER_ERROR);
    EXPECT_EQ(client.generate(prompt_request(prompt, op)).kind, LLMSVC_KIND_NONE);
  }
  // Nothing runs between the two snapshots, so they describe the same state.
  rapidjson::Document j = client.metrics();
  std::string text = prometheus(client.get());
  promtest::Exposition e = promtest::parse(text);
  ASSERT_EQ(e.error, "") << text;

  EXPECT_EQ(e.value("llmsvc_requests_total", {{"outcome", "succeeded"}}), 2.0);
  EXPECT_EQ(e.value("llmsvc_requests_total", {{"outcome", "failed"}}), 2.0);
  EXPECT_EQ(e.value("llmsvc_requests_total", {{"outcome", "failed"}}),
            num(j["requests"], "failed"));
  EXPECT_EQ(e.value("llmsvc_failures_total", {{"kind", "server_error"}}),
            num(j["failures_by_kind"], "server_error"));
  EXPECT_EQ(e.value("llmsvc_attempts_total"), 6.0);
  EXPECT_EQ(e.value("llmsvc_attempts_total"), num(j["attempts"], "total"));
  EXPECT_EQ(e.value("llmsvc_retries_total"), num(j["attempts"], "retries"));
  EXPECT_EQ(e.value("llmsvc_attempt_errors_total", {{"kind", "server_error"}}),
            num(j["attempts"]["errors_by_kind"], "server_error"));
  EXPECT_EQ(e.sum("llmsvc_backoffs_total"),
            num(j["attempts"], "backoffs_client") + num(j["attempts"], "backoffs_server"));
  EXPECT_EQ(e.value("llmsvc_requests_in_flight"), 0.0);
  EXPECT_EQ(e.value("llmsvc_gate_limit", {{"limit", "rpm"}}), 6000.0);
  EXPECT_EQ(e.value("llmsvc_gate_window_used", {{"gate", "rpm"}}),
            num(j["gates"], "window_requests_used"));
  EXPECT_EQ(e.value("llmsvc_request_duration_seconds_count"), num(j["latency_ms"], "count"));
  EXPECT_EQ(e.value("llmsvc_attempt_duration_seconds_count"),
            num(j["attempts"]["latency_ms"], "count"));
  EXPECT_EQ(e.value("llmsvc_gate_wait_seconds_count"), num(j["gates"]["wait_ms"], "count"));
  EXPECT_EQ(e.value("llmsvc_overhead_seconds_count"), num(j["overhead_us"], "count"));
  EXPECT_EQ(e.value("llmsvc_first_token_seconds_count"), num(j["first_token_ms"], "count"));
  EXPECT_GT(e.value("llmsvc_request_duration_seconds_sum"), 0.0);

  const rapidjson::Value &total = j["usage"]["total"];
  EXPECT_EQ(e.sum("llmsvc_tokens_total", {{"type", "prompt"}}), num(total, "prompt_tokens"));
  EXPECT_EQ(e.sum("llmsvc_tokens_total", {{"type", "completion"}}),
            num(total, "completion_tokens"));
  EXPECT_GT(e.value("llmsvc_tokens_total", {{"model", "gpt-4o-mini"}, {"type", "prompt"}}), 0.0);
  EXPECT_EQ(e.value("llmsvc_operation_requests_total",
                    {{"operation", "sum\"ma\\ry"}, {"outcome", "succeeded"}}),
            2.0);
  const rapidjson::Value &priced = j["usage"]["by_model"]["gpt-4o-mini"];
  EXPECT_NEAR(e.value("llmsvc_cost_usd_total", {{"model", "gpt-4o-mini"}}),
              num(priced, "cost_nano_usd") / 1e9, 1e-9);
  EXPECT_EQ(e.value("llmsvc_info", {{"version", llmsvc_version()},
                                    {"provider", j["provider"].GetString()},
                                    {"allocator", j["allocator"].GetString()}}),
            1.0);
  EXPECT_FALSE(j.HasMember("telemetry"));  // no endpoint configured
  EXPECT_FALSE(e.families.count("llmsvc_cache_hits_total"));
}

TEST(Telemetry, CacheCountersWhenACacheIsConfigured) {
  EmulatorProcess emu;
  Client client(emu.config("sk-telemetry-cache", R"("cache":{"memory":true})"));
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(client.generate(prompt_request("same", R"("temperature":0)")).kind,
              LLMSVC_KIND_NONE);
  rapidjson::Document j = client.metrics();
  promtest::Exposition e = promtest::parse(prometheus(client.get()));
  ASSERT_EQ(e.error, "");
  EXPECT_EQ(e.value("llmsvc_cache_hits_total", {{"source", "memory"}}), 2.0);
  EXPECT_EQ(e.sum("llmsvc_cache_hits_total"), num(j["cache"], "hits"));
  EXPECT_EQ(e.value("llmsvc_cache_misses_total"), num(j["cache"], "misses"));
  EXPECT_EQ(e.value("llmsvc_cache_lookups_total"), num(j["cache"], "lookups"));
  EXPECT_NEAR(e.value("llmsvc_cache_saved_cost_usd_total"),
              num(j["cache"], "saved_cost_nano_usd") / 1e9, 1e-9);
  EXPECT_GT(e.value("llmsvc_cache_saved_tokens_total", {{"type", "prompt"}}), 0.0);
}

TEST(Telemetry, EndpointServesMetricsOnLoopback) {
  EmulatorProcess emu;
  Client client(emu.config("sk-telemetry-http", R"("telemetry":{"prometheus_port":"auto"})"));
  int port = bound_port(client);
  ASSERT_GT(port, 0);
  EXPECT_EQ(client.generate(prompt_request("scraped")).kind, LLMSVC_KIND_NONE);

  Reply r = scrape(port);
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  promtest::Exposition e = promtest::parse(r.body);
  ASSERT_EQ(e.error, "") << r.body;
  EXPECT_EQ(e.value("llmsvc_requests_total", {{"outcome", "succeeded"}}), 1.0);
  EXPECT_EQ(scrape(port, "/metrics?x=1").status, 200);

  EXPECT_EQ(scrape(port, "/").status, 404);
  EXPECT_EQ(scrape(port, "/metricsx").status, 404);
  EXPECT_EQ(raw_exchange(port, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 404", 0),
            0u);
  EXPECT_EQ(raw_exchange(port, "nonsense\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  std::string huge = "GET /metrics HTTP/1.1\r\nX-Pad: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_EQ(raw_exchange(port, huge).rfind("HTTP/1.1 431", 0), 0u);
  // A peer that connects and says nothing does not stop the others for long.
  int idle = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(idle, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
  EXPECT_EQ(scrape(port).status, 200);
  close(idle);

  rapidjson::Document m = client.metrics();
  EXPECT_EQ(i64(m["telemetry"], "scrapes"), 3);
  EXPECT_STREQ(m["telemetry"]["prometheus_host"].GetString(), "127.0.0.1");

  ASSERT_EQ(llmsvc_client_close(client.get()), LLMSVC_OK);
  EXPECT_EQ(scrape(port).code, CURLE_COULDNT_CONNECT);  // closed with the client
}

TEST(Telemetry, ConfigurationIsCheckedAndAPortInUseFails) {
  EmulatorProcess emu;
  auto refused = [&](const std::string &telemetry, int status, const char *needle) {
    llmsvc_client *c = nullptr;
    llmsvc_error *err = nullptr;
    int rc = llmsvc_client_new(&c, emu.config("sk-x", "\"telemetry\":" + telemetry).c_str(), &err);
    EXPECT_EQ(rc, status) << telemetry;
    EXPECT_NE(std::string(llmsvc_error_message(err)).find(needle), std::string::npos)
        << llmsvc_error_message(err);
    llmsvc_error_free(err);
    llmsvc_client_destroy(c);
  };
  refused(R"({"prometheus_port":"soon"})", LLMSVC_ESCHEMA, "config.telemetry.prometheus_port");
  refused(R"({"prometheus_port":70000})", LLMSVC_ESCHEMA, "config.telemetry.prometheus_port");
  refused(R"({"prometheus_port":9464,"prometheus_host":"0.0.0.0"})", LLMSVC_ESCHEMA,
          "not a loopback address");
  refused(R"({"prometheus_port":9464,"prometheus_host":"example.com"})", LLMSVC_ESCHEMA,
          "not an IP address");
  refused(R"({"prometheus_portt":1})", LLMSVC_ESCHEMA, "prometheus_portt");

  Client first(emu.config("sk-a", R"("telemetry":{"prometheus_port":"auto"})"));
  int port = bound_port(first);
  ASSERT_GT(port, 0);
  refused("{\"prometheus_port\":" + std::to_string(port) + "}", LLMSVC_ESYSTEM,
          ("127.0.0.1:" + std::to_string(port)).c_str());
  // Off, explicitly.
  Client off(emu.config("sk-b", R"("telemetry":{"prometheus_port":0})"));
  EXPECT_FALSE(off.metrics().HasMember("telemetry"));
  // IPv6 loopback.
  Client v6(emu.config("sk-c", R"("telemetry":{"prometheus_port":"auto","prometheus_host":"::1"})"));
  EXPECT_GT(bound_port(v6), 0);
}

TEST(Telemetry, PrometheusFromACompletionCallback) {
  EmulatorProcess emu;
  Client client(emu.config("sk-telemetry-cb"));
  struct State {
    llmsvc_client *c;
    std::string text;
    Collector col;
  } st{client.get(), "", {}};
  uint64_t id = 0;
  ASSERT_EQ(llmsvc_client_submit(
                client.get(), prompt_request("cb").c_str(),
                [](llmsvc_result *r, void *p) {
                  auto *s = static_cast<State *>(p);
                  char *text = nullptr;
                  if (llmsvc_client_metrics_prometheus(s->c, &text, nullptr) == LLMSVC_OK)
                    s->text = text;
                  llmsvc_free(text);
                  s->col.add(r);
                },
                &st, &id, nullptr),
            LLMSVC_OK);
  ASSERT_TRUE(st.col.wait_for(1));
  EXPECT_EQ(promtest::parse(st.text).error, "");
  char *text = nullptr;
  EXPECT_EQ(llmsvc_client_metrics_prometheus(nullptr, &text, nullptr), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_client_metrics_prometheus(client.get(), nullptr, nullptr), LLMSVC_EINVAL);
}
