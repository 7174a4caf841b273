// The OTLP/HTTP exporter against the emulator's receiver, which checks every export with the
// official OTLP protobuf definitions: the span tree and the metrics of a request that was
// rate-limited once and then succeeded, against the GenAI conventions (docs/telemetry.md);
// the caller's trace joined; nothing sent when off; no key, and no content unless asked.
#include <set>

#include "support.h"

namespace {

const char *const kKey = "sk-canary-otel-0123456789";
const char *const kPrompt = "CANARY-PROMPT-42";
const char *const kCallerTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
const char *const kCallerSpan = "00f067aa0ba902b7";

struct Captured {
  std::string raw;
  rapidjson::Document doc;
};

Captured captured(const EmulatorProcess &emu) {
  Captured c;
  c.raw = http_get(emu.base_url().substr(0, emu.base_url().size() - 3) + "/_emulator/otlp");
  c.doc.Parse(c.raw.c_str());
  return c;
}

std::string str_of(const rapidjson::Value &v, const char *name) {
  auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

// An OTLP attribute list as key → the value's JSON ({"stringValue": ...} etc.).
std::map<std::string, std::string> attrs(const rapidjson::Value &owner) {
  std::map<std::string, std::string> out;
  auto it = owner.FindMember("attributes");
  if (it == owner.MemberEnd()) return out;
  for (const auto &a : it->value.GetArray()) {
    const rapidjson::Value &v = a["value"];
    const auto &m = *v.MemberBegin();
    std::string s = m.value.IsString() ? m.value.GetString() : to_json(m.value);
    out[a["key"].GetString()] = s;
  }
  return out;
}

// The spans sent; gate-wait spans only when `gates` (a busy machine may hold any attempt a
// millisecond before it is sent, and such a wait gets its span).
std::vector<const rapidjson::Value *> spans(const rapidjson::Document &d, bool gates = false) {
  std::vector<const rapidjson::Value *> out;
  for (const auto &t : d["traces"].GetArray())
    for (const auto &rs : t["resourceSpans"].GetArray())
      for (const auto &ss : rs["scopeSpans"].GetArray())
        for (const auto &s : ss["spans"].GetArray())
          if (gates || std::string(s["name"].GetString()) != "llmsvc.gate.wait") out.push_back(&s);
  return out;
}

struct Point {
  std::string unit;
  std::map<std::string, std::string> attrs;
  const rapidjson::Value *v;
};

// The points of metric `name` in the last metrics export (cumulative: the last has all).
std::vector<Point> points(const rapidjson::Document &d, const std::string &name) {
  std::vector<Point> out;
  const auto &all = d["metrics"].GetArray();
  if (all.Empty()) return out;
  const rapidjson::Value &last = all[all.Size() - 1];
  for (const auto &rm : last["resourceMetrics"].GetArray())
    for (const auto &sm : rm["scopeMetrics"].GetArray())
      for (const auto &m : sm["metrics"].GetArray()) {
        if (str_of(m, "name") != name) continue;
        const rapidjson::Value &data = m.HasMember("histogram") ? m["histogram"] : m["sum"];
        EXPECT_EQ(data["aggregationTemporality"].GetInt(), 2) << name;
        for (const auto &p : data["dataPoints"].GetArray())
          out.push_back({str_of(m, "unit"), attrs(p), &p});
      }
  return out;
}

int64_t count_of(const Point &p) { return std::stoll(str_of(*p.v, "count")); }

std::string otlp_config(const EmulatorProcess &emu, const std::string &otlp_extra = "") {
  std::string base = emu.base_url().substr(0, emu.base_url().size() - 3);  // without /v1
  std::string otlp = "\"endpoint\":\"" + base + "\",\"service_name\":\"otlp-test\"";
  if (!otlp_extra.empty()) otlp += "," + otlp_extra;
  return emu.config(kKey, "\"model\":\"gpt-4o-mini\",\"provider\":\"openai_chat\","
                          "\"telemetry\":{\"otlp\":{" + otlp + "}}");
}

std::string caller_request(const std::string &extra = "") {
  std::string r = std::string("{\"messages\":[{\"role\":\"user\",\"content\":\"say ") + kPrompt +
                  "\"}],\"max_tokens\":16,\"temperature\":0.25,\"traceparent\":\"00-" +
                  kCallerTrace + "-" + kCallerSpan + "-01\"";
  if (!extra.empty()) r += "," + extra;
  return r + "}";
}

TEST(Otlp, RateLimitedOnceThenSucceededGivesTheSpanTreeAndMetricsOfTheConventions) {
  EmulatorProcess emu({"--rate-limit-first", "1", "--rate-limit-wait-ms", "20"});
  Completed done;
  {
    Client client(otlp_config(emu));
    done = client.generate(caller_request());
  }  // closed: the exporter flushed
  ASSERT_EQ(done.kind, LLMSVC_KIND_NONE) << done.json;
  rapidjson::Document result = done.doc();
  Captured c = captured(emu);
  ASSERT_TRUE(c.doc.IsObject()) << c.raw;
  ASSERT_EQ(c.doc["rejected"].Size(), 0u) << c.raw;

  // The resource names the service and the SDK.
  const rapidjson::Value &res = c.doc["traces"][0]["resourceSpans"][0]["resource"];
  EXPECT_EQ(attrs(res)["service.name"], "otlp-test");
  EXPECT_EQ(attrs(res)["telemetry.sdk.name"], "llmsvc");

  auto all = spans(c.doc);
  ASSERT_EQ(all.size(), 3u) << c.raw;  // the request and its two attempts
  const rapidjson::Value *request = nullptr;
  std::vector<const rapidjson::Value *> attempts;
  for (const auto *s : all) {
    EXPECT_EQ(str_of(*s, "traceId"), kCallerTrace) << "every span joins the caller's trace";
    if (str_of(*s, "name") == "chat gpt-4o-mini") request = s;
    if (str_of(*s, "name") == "POST") attempts.push_back(s);
  }
  ASSERT_NE(request, nullptr) << c.raw;
  ASSERT_EQ(attempts.size(), 2u) << c.raw;
  EXPECT_EQ(str_of(*request, "parentSpanId"), kCallerSpan);
  EXPECT_EQ((*request)["kind"].GetInt(), 3);  // SPAN_KIND_CLIENT
  EXPECT_FALSE(request->HasMember("status")) << "a success leaves the status unset";
  auto ra = attrs(*request);
  EXPECT_EQ(ra["gen_ai.operation.name"], "chat");
  EXPECT_EQ(ra["gen_ai.provider.name"], "openai");
  EXPECT_EQ(ra["gen_ai.request.model"], "gpt-4o-mini");
  EXPECT_EQ(ra["gen_ai.response.model"], "gpt-4o-mini");
  EXPECT_FALSE(ra["gen_ai.response.id"].empty());
  EXPECT_EQ(ra["gen_ai.response.finish_reasons"],
            "{\"values\":[{\"stringValue\":\"" + str_of(result, "finish_reason") + "\"}]}");
  const rapidjson::Value &usage = result["usage"];
  EXPECT_EQ(ra["gen_ai.usage.input_tokens"], std::to_string(i64(usage, "prompt_tokens")));
  EXPECT_EQ(ra["gen_ai.usage.output_tokens"], std::to_string(i64(usage, "completion_tokens")));
  EXPECT_EQ(ra["gen_ai.request.max_tokens"], "16");
  EXPECT_EQ(ra["gen_ai.request.temperature"], "0.25");
  EXPECT_EQ(ra["gen_ai.request.stream"], "false");
  EXPECT_EQ(ra["server.address"], "127.0.0.1");
  EXPECT_EQ(ra["server.port"], std::to_string(emu.port()));
  EXPECT_EQ(ra["llmsvc.attempts"], "2");
  EXPECT_EQ(ra["llmsvc.cost.nano_usd"], std::to_string(i64(result, "cost_nano_usd")));
  EXPECT_EQ(ra.count("error.type"), 0u);
  EXPECT_EQ(ra.count("gen_ai.input.messages"), 0u) << "content is opt-in";

  // The attempts, in order, under the request.
  std::sort(attempts.begin(), attempts.end(), [](auto *a, auto *b) {
    return std::stoll(str_of(*a, "startTimeUnixNano")) < std::stoll(str_of(*b, "startTimeUnixNano"));
  });
  auto first = attrs(*attempts[0]), second = attrs(*attempts[1]);
  for (const auto *a : attempts) {
    EXPECT_EQ(str_of(*a, "parentSpanId"), str_of(*request, "spanId"));
    EXPECT_EQ((*a)["kind"].GetInt(), 3);
    EXPECT_GE(std::stoll(str_of(*a, "startTimeUnixNano")),
              std::stoll(str_of(*request, "startTimeUnixNano")));
    EXPECT_LE(std::stoll(str_of(*a, "endTimeUnixNano")),
              std::stoll(str_of(*request, "endTimeUnixNano")));
  }
  EXPECT_EQ(first["http.response.status_code"], "429");
  EXPECT_EQ(first["error.type"], "rate_limited");
  EXPECT_EQ(first["llmsvc.backoff.source"], "retry_after");
  EXPECT_EQ(first["llmsvc.backoff"], "0.02");
  EXPECT_EQ(first.count("http.request.resend_count"), 0u);
  EXPECT_EQ((*attempts[0])["status"]["code"].GetInt(), 2);  // STATUS_CODE_ERROR
  EXPECT_EQ(second["http.response.status_code"], "200");
  EXPECT_EQ(second["http.request.resend_count"], "1");
  EXPECT_EQ(second.count("error.type"), 0u);
  EXPECT_EQ(second["gen_ai.usage.input_tokens"], ra["gen_ai.usage.input_tokens"]);

  // The provider received each attempt's own span as its parent.
  rapidjson::Document stats;
  stats.Parse(http_get(emu.base_url().substr(0, emu.base_url().size() - 3) + "/_emulator/stats")
                  .c_str());
  std::set<std::string> sent;
  for (const auto &call : stats["received"].GetArray()) sent.insert(str_of(call, "traceparent"));
  for (const auto *a : attempts)
    EXPECT_EQ(sent.count(std::string("00-") + kCallerTrace + "-" + str_of(*a, "spanId") + "-01"),
              1u)
        << to_json(stats["received"]);

  // Metrics: names, units, attributes and values.
  auto duration = points(c.doc, "gen_ai.client.operation.duration");
  ASSERT_EQ(duration.size(), 1u) << c.raw;
  EXPECT_EQ(duration[0].unit, "s");
  EXPECT_EQ(count_of(duration[0]), 1);
  EXPECT_EQ(duration[0].attrs["gen_ai.operation.name"], "chat");
  EXPECT_EQ(duration[0].attrs["gen_ai.provider.name"], "openai");
  EXPECT_EQ(duration[0].attrs["gen_ai.request.model"], "gpt-4o-mini");
  EXPECT_EQ(duration[0].attrs["server.port"], std::to_string(emu.port()));
  EXPECT_EQ(duration[0].attrs.count("error.type"), 0u);
  EXPECT_EQ((*duration[0].v)["explicitBounds"].Size(), 14u);

  auto tokens = points(c.doc, "gen_ai.client.token.usage");
  ASSERT_EQ(tokens.size(), 2u);
  for (const auto &p : tokens) {
    EXPECT_EQ(p.unit, "{token}");
    EXPECT_EQ(count_of(p), 1);
    const char *field = p.attrs.at("gen_ai.token.type") == "input" ? "prompt_tokens"
                                                                    : "completion_tokens";
    EXPECT_EQ((*p.v)["sum"].GetDouble(), double(i64(usage, field))) << field;
  }

  auto attempt_points = points(c.doc, "llmsvc.client.attempts");
  ASSERT_EQ(attempt_points.size(), 2u);
  for (const auto &p : attempt_points) {
    EXPECT_EQ(p.unit, "{attempt}");
    EXPECT_EQ(str_of(*p.v, "asInt"), "1");
    if (p.attrs.at("http.response.status_code") == "429")
      EXPECT_EQ(p.attrs.at("error.type"), "rate_limited");
    else
      EXPECT_EQ(p.attrs.at("http.response.status_code"), "200");
  }
  auto backoff = points(c.doc, "llmsvc.client.backoff");
  ASSERT_EQ(backoff.size(), 1u);
  EXPECT_EQ(backoff[0].unit, "s");
  EXPECT_EQ(backoff[0].attrs["llmsvc.backoff.source"], "retry_after");
  EXPECT_EQ(count_of(backoff[0]), 1);
  auto gate = points(c.doc, "llmsvc.client.gate.wait");
  ASSERT_EQ(gate.size(), 1u);
  EXPECT_EQ(count_of(gate[0]), 2);  // one per attempt
  auto cost = points(c.doc, "llmsvc.client.cost");
  ASSERT_EQ(cost.size(), 1u);
  EXPECT_EQ(cost[0].unit, "{nano_usd}");
  EXPECT_EQ(str_of(*cost[0].v, "asInt"), std::to_string(i64(result, "cost_nano_usd")));
  EXPECT_TRUE(points(c.doc, "gen_ai.client.operation.time_to_first_chunk").empty());

  // Neither the key nor the prompt anywhere in what was sent.
  EXPECT_EQ(c.raw.find(kKey), std::string::npos);
  EXPECT_EQ(c.raw.find(kPrompt), std::string::npos);
}

TEST(Otlp, AnUnreachableCollectorCostsNoRequestAndIsCounted) {
  EmulatorProcess emu;
  // Port 9 (discard) on loopback: nothing listens; exports fail, requests do not.
  std::string config = emu.config(
      kKey, "\"model\":\"gpt-4o-mini\",\"provider\":\"openai_chat\",\"telemetry\":{\"otlp\":{"
            "\"endpoint\":\"http://127.0.0.1:9\",\"schedule_delay_ms\":1,"
            "\"metric_interval_ms\":1,\"timeout_ms\":300}}");
  Client client(config);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(client.generate(caller_request()).kind, LLMSVC_KIND_NONE);
  ASSERT_TRUE(client.wait_metrics([](const rapidjson::Document &m) {
    return m.HasMember("otlp") && i64(m["otlp"], "exports_failed") >= 1;
  })) << client.metrics_json();
  rapidjson::Document m = client.metrics();
  EXPECT_EQ(i64(m["otlp"], "recorded"), 3);
  EXPECT_EQ(i64(m["otlp"], "requests_sent"), 0);
  std::string prom = client.prometheus();
  EXPECT_NE(prom.find("llmsvc_otlp_recorded_total 3\n"), std::string::npos) << prom;
  EXPECT_NE(prom.find("llmsvc_otlp_requests_sent_total 0\n"), std::string::npos);
  EXPECT_EQ(prom.find("llmsvc_otlp_exports_failed_total 0\n"), std::string::npos)
      << "the failures are counted";
}

// A queue of one: whatever the exporter's thread cannot take in time loses its spans, never
// its numbers — every request is in the metrics, and every one is either sent or counted as
// dropped.
TEST(Otlp, AFullQueueDropsSpansButTheMetricsStayExact) {
  EmulatorProcess emu;
  constexpr int kRequests = 40;
  int64_t sent = 0, dropped = 0;
  {
    Client client(otlp_config(emu, "\"max_queue\":1,\"max_batch\":1"));
    Collector col;
    for (int i = 0; i < kRequests; ++i) client.submit(caller_request("\"seed\":" + std::to_string(i)), col);
    ASSERT_TRUE(col.wait_for(kRequests));
    for (const Completed &c : col.results()) ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    rapidjson::Document m = client.metrics();
    EXPECT_EQ(i64(m["otlp"], "recorded"), kRequests);
    dropped = i64(m["otlp"], "dropped");
  }
  Captured c = captured(emu);
  ASSERT_EQ(c.doc["rejected"].Size(), 0u) << c.raw;
  for (const auto *s : spans(c.doc)) sent += str_of(*s, "name") == "chat gpt-4o-mini";
  EXPECT_EQ(sent + dropped, kRequests) << "each request's spans are sent or counted as dropped";
  auto duration = points(c.doc, "gen_ai.client.operation.duration");
  ASSERT_EQ(duration.size(), 1u);
  EXPECT_EQ(count_of(duration[0]), kRequests) << "the metrics count every request (" << dropped
                                              << " had their spans dropped)";
  auto tokens = points(c.doc, "gen_ai.client.token.usage");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(count_of(tokens[0]), kRequests);
}

TEST(Otlp, AFailedRequestIsAnErrorSpanAndItsDurationCarriesTheErrorType) {
  EmulatorProcess emu({"--invalid-keys", kKey});
  {
    Client client(otlp_config(emu));
    Completed done = client.generate(caller_request());
    ASSERT_EQ(done.kind, LLMSVC_KIND_AUTH);
  }
  Captured c = captured(emu);
  ASSERT_EQ(c.doc["rejected"].Size(), 0u) << c.raw;
  auto all = spans(c.doc);
  ASSERT_EQ(all.size(), 2u) << c.raw;
  const rapidjson::Value &request = str_of(*all[0], "name") == "POST" ? *all[1] : *all[0];
  EXPECT_EQ(request["status"]["code"].GetInt(), 2);
  EXPECT_FALSE(str_of(request["status"], "message").empty());
  EXPECT_EQ(attrs(request)["error.type"], "auth");
  auto duration = points(c.doc, "gen_ai.client.operation.duration");
  ASSERT_EQ(duration.size(), 1u);
  EXPECT_EQ(duration[0].attrs["error.type"], "auth");
  EXPECT_TRUE(points(c.doc, "gen_ai.client.token.usage").empty()) << "no usage, no tokens";
  EXPECT_EQ(c.raw.find(kKey), std::string::npos) << "not even in the error message";
}

TEST(Otlp, ContentIsSentOnlyWhenAskedForAndTheKeyNever) {
  EmulatorProcess emu;
  {
    Client client(otlp_config(emu, "\"capture_content\":true"));
    ASSERT_EQ(client.generate(caller_request()).kind, LLMSVC_KIND_NONE);
  }
  Captured c = captured(emu);
  ASSERT_EQ(c.doc["rejected"].Size(), 0u) << c.raw;
  auto all = spans(c.doc);
  ASSERT_EQ(all.size(), 2u);
  const rapidjson::Value &request = str_of(*all[0], "name") == "POST" ? *all[1] : *all[0];
  auto ra = attrs(request);
  rapidjson::Document input, output;
  input.Parse(ra["gen_ai.input.messages"].c_str());
  output.Parse(ra["gen_ai.output.messages"].c_str());
  ASSERT_TRUE(input.IsArray() && input.Size() == 1) << ra["gen_ai.input.messages"];
  EXPECT_EQ(str_of(input[0], "role"), "user");
  EXPECT_EQ(str_of(input[0]["parts"][0], "type"), "text");
  EXPECT_EQ(str_of(input[0]["parts"][0], "content"), std::string("say ") + kPrompt);
  ASSERT_TRUE(output.IsArray() && output.Size() == 1) << ra["gen_ai.output.messages"];
  EXPECT_EQ(str_of(output[0], "role"), "assistant");
  EXPECT_FALSE(str_of(output[0]["parts"][0], "content").empty());
  EXPECT_FALSE(str_of(output[0], "finish_reason").empty());
  EXPECT_EQ(c.raw.find(kKey), std::string::npos);
}

TEST(Otlp, NothingIsSentWhenTelemetryIsOff) {
  EmulatorProcess emu;
  {
    Client client(emu.config(kKey, "\"model\":\"gpt-4o-mini\",\"provider\":\"openai_chat\","
                                   "\"telemetry\":{\"otlp\":{\"enabled\":false,\"endpoint\":\"" +
                                       emu.base_url() + "\"}}"));
    ASSERT_EQ(client.generate(caller_request()).kind, LLMSVC_KIND_NONE);
    Client plain(emu.config(kKey, "\"model\":\"gpt-4o-mini\",\"provider\":\"openai_chat\""));
    ASSERT_EQ(plain.generate(caller_request()).kind, LLMSVC_KIND_NONE);
  }
  Captured c = captured(emu);
  EXPECT_EQ(c.doc["traces"].Size(), 0u) << c.raw;
  EXPECT_EQ(c.doc["metrics"].Size(), 0u) << c.raw;
  // And the caller's own traceparent went to the provider untouched.
  EXPECT_NE(http_get(emu.base_url().substr(0, emu.base_url().size() - 3) + "/_emulator/stats")
                .find(std::string("00-") + kCallerTrace + "-" + kCallerSpan + "-01"),
            std::string::npos);
}

TEST(Otlp, AnUnsampledCallerIsNotTracedButStillCounted) {
  EmulatorProcess emu;
  {
    Client client(otlp_config(emu));
    std::string r = caller_request();
    r.replace(r.find("-01\""), 4, "-00\"");
    ASSERT_EQ(client.generate(r).kind, LLMSVC_KIND_NONE);
  }
  Captured c = captured(emu);
  ASSERT_EQ(c.doc["rejected"].Size(), 0u) << c.raw;
  EXPECT_TRUE(spans(c.doc).empty()) << c.raw;
  auto duration = points(c.doc, "gen_ai.client.operation.duration");
  ASSERT_EQ(duration.size(), 1u);
  EXPECT_EQ(count_of(duration[0]), 1);
}

TEST(Otlp, AStreamReportsItsTimeToFirstChunk) {
  EmulatorProcess emu;
  {
    Client client(otlp_config(emu));
    std::string r = caller_request("\"stream\":true");
    ASSERT_EQ(client.generate(r).kind, LLMSVC_KIND_NONE);
  }
  Captured c = captured(emu);
  ASSERT_EQ(c.doc["rejected"].Size(), 0u) << c.raw;
  auto all = spans(c.doc);
  ASSERT_EQ(all.size(), 2u);
  const rapidjson::Value &request = str_of(*all[0], "name") == "POST" ? *all[1] : *all[0];
  auto ra = attrs(request);
  EXPECT_EQ(ra["gen_ai.request.stream"], "true");
  EXPECT_GT(std::stod(ra["gen_ai.response.time_to_first_chunk"]), 0);
  auto ttfc = points(c.doc, "gen_ai.client.operation.time_to_first_chunk");
  ASSERT_EQ(ttfc.size(), 1u);
  EXPECT_EQ(ttfc[0].unit, "s");
  EXPECT_EQ(count_of(ttfc[0]), 1);
}

TEST(Otlp, AnAttemptHeldAtAGateGetsAGateWaitSpan) {
  EmulatorProcess emu({"--latency-ms", "60"});
  {
    // One at a time: the second request waits at the concurrency gate for the first.
    Client client(otlp_config(emu).insert(1, "\"limits\":{\"concurrency\":1},"));
    Collector col;
    client.submit(caller_request(), col);
    client.submit(caller_request("\"seed\":7"), col);
    ASSERT_TRUE(col.wait_for(2));
    for (const Completed &done : col.results()) ASSERT_EQ(done.kind, LLMSVC_KIND_NONE) << done.json;
  }
  Captured c = captured(emu);
  ASSERT_EQ(c.doc["rejected"].Size(), 0u) << c.raw;
  const rapidjson::Value *gate = nullptr;
  std::map<std::string, const rapidjson::Value *> by_id;
  for (const auto *s : spans(c.doc, true)) {
    by_id[str_of(*s, "spanId")] = s;
    // The later request's wait: the first may have a short one of its own on a busy machine.
    if (str_of(*s, "name") == "llmsvc.gate.wait" &&
        (!gate || str_of(*s, "endTimeUnixNano") > str_of(*gate, "endTimeUnixNano")))
      gate = s;
  }
  ASSERT_NE(gate, nullptr) << c.raw;
  EXPECT_EQ((*gate)["kind"].GetInt(), 1);  // SPAN_KIND_INTERNAL
  EXPECT_EQ(attrs(*gate)["llmsvc.attempt"], "0");
  int64_t waited = std::stoll(str_of(*gate, "endTimeUnixNano")) -
                   std::stoll(str_of(*gate, "startTimeUnixNano"));
  EXPECT_GE(waited, 50 * 1000000LL) << "it waited for the first reply";
  const rapidjson::Value *parent = by_id[str_of(*gate, "parentSpanId")];
  ASSERT_NE(parent, nullptr);
  EXPECT_EQ(str_of(*parent, "name"), "chat gpt-4o-mini");
  EXPECT_GE(std::stod(attrs(*parent)["llmsvc.gate.wait"]), 0.05);
}

TEST(Otlp, EachAttemptNamesTheServerItWentTo) {
  EmulatorProcess refusing({"--invalid-keys", "sk-refused"});
  EmulatorProcess answering;
  std::string base = answering.base_url().substr(0, answering.base_url().size() - 3);
  std::string config =
      "{\"model\":\"gpt-4o-mini\",\"provider\":\"openai_chat\",\"deployments\":["
      "{\"name\":\"a\",\"base_url\":\"" + refusing.base_url() + "\",\"api_key\":\"sk-refused\"},"
      "{\"name\":\"b\",\"base_url\":\"" + answering.base_url() + "\",\"api_key\":\"" + kKey + "\"}],"
      "\"telemetry\":{\"otlp\":{\"endpoint\":\"" + base + "\"}}}";
  {
    Client client(config);
    Completed done = client.generate(caller_request());
    ASSERT_EQ(done.kind, LLMSVC_KIND_NONE) << done.json;
  }
  Captured c = captured(answering);
  ASSERT_EQ(c.doc["rejected"].Size(), 0u) << c.raw;
  std::map<std::string, std::string> port_of;  // deployment → server.port of its attempt
  for (const auto *s : spans(c.doc))
    if (str_of(*s, "name") == "POST") port_of[attrs(*s)["llmsvc.deployment"]] = attrs(*s)["server.port"];
  ASSERT_EQ(port_of.size(), 2u) << c.raw;
  EXPECT_EQ(port_of["a"], std::to_string(refusing.port()));
  EXPECT_EQ(port_of["b"], std::to_string(answering.port()));
}

TEST(Otlp, TheConfigurationIsCheckedWithClearErrors) {
  struct Case {
    const char *otlp;
    const char *says;
  } cases[] = {
      {"{\"endpoint\":\"ftp://127.0.0.1:4318\"}", "config.telemetry.otlp.endpoint"},
      {"{\"endpoint\":\"http://127.0.0.1:4318\",\"headers\":{\"x-a\":\"b\\nc\"}}",
       "line break"},
      {"{\"endpoint\":\"http://127.0.0.1:4318\",\"max_queue\":0}", "config.telemetry.otlp.max_queue"},
      {"{\"endpont\":\"http://127.0.0.1:4318\"}", "endpont"},
  };
  for (const Case &k : cases) {
    llmsvc_client *c = nullptr;
    llmsvc_error *err = nullptr;
    std::string config = std::string("{\"api_key\":\"") + kKey + "\",\"telemetry\":{\"otlp\":" +
                         k.otlp + "}}";
    EXPECT_NE(llmsvc_client_new(&c, config.c_str(), &err), LLMSVC_OK) << k.otlp;
    std::string message = llmsvc_error_message(err);
    EXPECT_NE(message.find(k.says), std::string::npos) << message;
    EXPECT_EQ(message.find(kKey), std::string::npos);
    llmsvc_error_free(err);
    llmsvc_client_destroy(c);
  }
}

}  // namespace
