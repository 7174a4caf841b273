// The Prometheus exposition: escaping, numbers, exact cumulative buckets, and the whole
// metrics snapshot read back by a strict parser and compared with the JSON snapshot.
#include "metrics/prometheus.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "prom_parse.h"

using llmsvc::Histogram;
using llmsvc::PromBuckets;
using llmsvc::PromText;

TEST(Prometheus, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(PromText::escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  PromText t;
  t.family("x_total", "counter", "help with \\ and\nnewline and \"quotes\"");
  t.sample("x_total", {{"model", "we\"ird\\mo\ndel"}, {"op", ""}}, int64_t(3));
  EXPECT_NE(t.text().find("# HELP x_total help with \\\\ and\\nnewline and \"quotes\"\n"),
            std::string::npos)
      << t.text();
  promtest::Exposition e = promtest::parse(t.text());
  ASSERT_EQ(e.error, "") << t.text();
  EXPECT_EQ(e.value("x_total", {{"model", "we\"ird\\mo\ndel"}, {"op", ""}}), 3.0);
}

TEST(Prometheus, Numbers) {
  EXPECT_EQ(PromText::number(1.0), "1");
  EXPECT_EQ(PromText::number(0.25), "0.25");
  EXPECT_EQ(PromText::number(1e-9), "1e-09");
  EXPECT_EQ(PromText::number(std::nan("")), "NaN");
  EXPECT_EQ(PromText::number(HUGE_VAL), "+Inf");
  EXPECT_EQ(PromText::number(-HUGE_VAL), "-Inf");
  PromText t;
  t.family("g", "gauge", "a gauge");
  t.sample("g", {}, int64_t(-42));
  t.sample("g", {{"a", "b"}}, 0.1);
  EXPECT_EQ(t.text(), "# HELP g a gauge\n# TYPE g gauge\ng -42\ng{a=\"b\"} 0.1\n");
}

TEST(Prometheus, BucketEdgesAreHistogramEdgesNearRoundValues) {
  PromBuckets b(100'000, 500'000'000'000);
  ASSERT_EQ(b.size, 21u);  // 1, 2.5, 5 x 10^-4 .. 10^2 seconds
  int64_t target = 100'000;
  for (size_t i = 0; i < b.size; ++i) {
    if (i) {
      EXPECT_GT(b.edges[i], b.edges[i - 1]);
    }
    EXPECT_EQ(Histogram::bucket_high(Histogram::bucket_of(b.edges[i])), b.edges[i]);
    int64_t want = i % 3 == 0 ? target : i % 3 == 1 ? target * 5 / 2 : target * 5;
    EXPECT_LE(std::abs(double(b.edges[i] - want)), double(want) * 0.0625) << i;
    if (i % 3 == 2) target *= 10;
  }
}

TEST(Prometheus, HistogramBucketsAreExactAndCumulative) {
  Histogram h;
  std::vector<int64_t> values;
  for (int64_t v = 1; v < 3'000'000'000; v = v * 3 + 7) values.push_back(v);
  values.push_back(0);
  values.push_back(int64_t(1) << 50);  // beyond every edge: only in +Inf
  for (int64_t v : values) h.record(v);
  PromBuckets b(1'000, 1'000'000'000);
  PromText t;
  t.family("d_seconds", "histogram", "durations");
  t.histogram("d_seconds", {{"k", "v"}}, h, b.edges, b.size);
  promtest::Exposition e = promtest::parse(t.text());
  ASSERT_EQ(e.error, "") << t.text();
  for (size_t i = 0; i < b.size; ++i) {
    size_t want = 0;
    for (int64_t v : values) want += v <= b.edges[i];
    std::string le = PromText::number(double(b.edges[i]) / 1e9);
    EXPECT_EQ(e.value("d_seconds_bucket", {{"k", "v"}, {"le", le}}), double(want)) << le;
  }
  EXPECT_EQ(e.value("d_seconds_bucket", {{"k", "v"}, {"le", "+Inf"}}), double(values.size()));
  EXPECT_EQ(e.value("d_seconds_count", {{"k", "v"}}), double(values.size()));
  EXPECT_DOUBLE_EQ(e.value("d_seconds_sum", {{"k", "v"}}), double(h.sum()) / 1e9);
}

TEST(Prometheus, ParserRejectsMalformedText) {
  for (const char *bad : {
           "x 1\n",                                                    // no HELP/TYPE
           "# HELP x h\n# TYPE x gauge\nx{a=\"b\\q\"} 1\n",           // bad escape
           "# HELP x h\n# TYPE x gauge\nx 1",                          // no final newline
           "# HELP x h\n# TYPE x counter\nx 1\n",                      // counter not *_total
           "# HELP x h\n# TYPE x gauge\nx 1\nx 2\n",                   // duplicate series
           "# HELP x h\n# TYPE x gauge\n# HELP y h\n# TYPE y gauge\ny 1\nx 1\n",  // split
           "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
       }) {
    EXPECT_NE(promtest::parse(bad).error, "") << bad;
  }
}

TEST(Prometheus, MetricsSnapshotMatchesJson) {
  using namespace llmsvc;
  Metrics m;
  Gates gates(Limits{600, 100000, 0, 0, 4, 60000});
  const int64_t now = 1000 * kNsPerMs;
  const std::string model = "gpt-4o-mini", odd = "we\"ird\\model\n", op = "summarize";
  for (int i = 0; i < 5; ++i) m.submitted();
  m.gate_wait_started(GateReason::kTokens);
  m.gate_wait_started(GateReason::kConcurrency);
  m.admitted(3 * kNsPerMs);
  m.admitted(0);
  m.attempt_sent(now, 100);
  m.attempt_done(now, LLMSVC_KIND_SERVER_ERROR, 40 * kNsPerMs, 0);
  m.backoff(500 * kNsPerMs, false);
  m.backoff(1500 * kNsPerMs, true);
  m.attempt_sent(now, 100);
  m.attempt_done(now, LLMSVC_KIND_NONE, 120 * kNsPerMs, 20);
  m.first_token(30 * kNsPerMs);
  CompletedRecord ok;
  ok.model = &model;
  ok.operation = &op;
  ok.has_usage = true;
  ok.usage = {100, 20, 10, 5, 0};
  ok.cost_pico = 27'000'000;  // 27 micro-dollars
  ok.latency_ns = 2200 * kNsPerMs;
  ok.overhead_ns = 40'000;
  m.completed(ok);
  CompletedRecord unpriced = ok;
  unpriced.model = &odd;
  unpriced.cost_pico = -1;
  m.completed(unpriced);
  CompletedRecord failed;
  failed.kind = LLMSVC_KIND_INSUFFICIENT_QUOTA;
  failed.model = &model;
  failed.latency_ns = 5 * kNsPerMs;
  m.completed(failed);
  EngineGauges g;
  g.queued = 2;
  g.queued_by_priority[0] = 1;
  g.queued_by_priority[2] = 1;
  g.in_flight = 1;

  PromText t;
  m.write_prometheus(t, now, g, gates);
  promtest::Exposition e = promtest::parse(t.text());
  ASSERT_EQ(e.error, "") << t.text();

  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  m.write(w, now, g, gates);
  w.EndObject();
  rapidjson::Document j;
  j.Parse(buf.GetString());
  ASSERT_FALSE(j.HasParseError());

  EXPECT_EQ(e.value("llmsvc_requests_submitted_total"), j["requests"]["submitted"].GetDouble());
  EXPECT_EQ(e.value("llmsvc_requests_total", {{"outcome", "succeeded"}}),
            j["requests"]["succeeded"].GetDouble());
  EXPECT_EQ(e.value("llmsvc_requests_total", {{"outcome", "failed"}}),
            j["requests"]["failed"].GetDouble());
  EXPECT_EQ(e.value("llmsvc_failures_total", {{"kind", "insufficient_quota"}}), 1.0);
  EXPECT_EQ(e.value("llmsvc_failures_total", {{"kind", "auth"}}), 0.0);
  EXPECT_EQ(e.sum("llmsvc_requests_queued"), j["requests"]["queued"].GetDouble());
  EXPECT_EQ(e.value("llmsvc_requests_queued", {{"priority", "low"}}), 1.0);
  EXPECT_EQ(e.value("llmsvc_requests_in_flight"), 1.0);
  EXPECT_EQ(e.value("llmsvc_attempts_total"), j["attempts"]["total"].GetDouble());
  EXPECT_EQ(e.value("llmsvc_retries_total"), j["attempts"]["retries"].GetDouble());
  EXPECT_EQ(e.value("llmsvc_attempt_errors_total", {{"kind", "server_error"}}), 1.0);
  EXPECT_DOUBLE_EQ(e.value("llmsvc_backoff_seconds_total", {{"source", "client"}}), 0.5);
  EXPECT_DOUBLE_EQ(e.value("llmsvc_backoff_seconds_total", {{"source", "server"}}), 1.5);
  EXPECT_EQ(e.value("llmsvc_gate_waits_total", {{"gate", "tpm"}}), 1.0);
  EXPECT_EQ(e.value("llmsvc_gate_waits_total", {{"gate", "concurrency"}}), 1.0);
  EXPECT_EQ(e.value("llmsvc_gate_limit", {{"limit", "rpm"}}), 600.0);
  EXPECT_EQ(e.value("llmsvc_gate_limit", {{"limit", "concurrency"}}), 4.0);
  EXPECT_EQ(e.value("llmsvc_gate_window_cap", {{"gate", "rpm"}}),
            j["gates"]["window_requests_cap"].GetDouble());
  EXPECT_EQ(e.value("llmsvc_gate_window_seconds"), 60.0);

  const std::pair<const char *, const rapidjson::Value &> hists[] = {
      {"llmsvc_request_duration_seconds", j["latency_ms"]},
      {"llmsvc_attempt_duration_seconds", j["attempts"]["latency_ms"]},
      {"llmsvc_gate_wait_seconds", j["gates"]["wait_ms"]},
      {"llmsvc_first_token_seconds", j["first_token_ms"]},
      {"llmsvc_overhead_seconds", j["overhead_us"]}};
  for (auto &[name, h] : hists) {
    EXPECT_EQ(e.families.at(name).type, "histogram");
    EXPECT_EQ(e.value(std::string(name) + "_count"), h["count"].GetDouble()) << name;
  }
  EXPECT_DOUBLE_EQ(e.value("llmsvc_request_duration_seconds_sum"), 2.2 + 2.2 + 0.005);
  EXPECT_EQ(e.value("llmsvc_request_duration_seconds_bucket", {{"le", "+Inf"}}), 3.0);

  EXPECT_EQ(e.value("llmsvc_tokens_total", {{"model", model}, {"type", "prompt"}}), 100.0);
  EXPECT_EQ(e.value("llmsvc_tokens_total", {{"model", odd}, {"type", "reasoning"}}), 5.0);
  EXPECT_EQ(e.sum("llmsvc_tokens_total", {{"type", "completion"}}),
            j["usage"]["total"]["completion_tokens"].GetDouble());
  EXPECT_EQ(e.sum("llmsvc_operation_tokens_total", {{"type", "cached"}}),
            j["usage"]["total"]["cached_tokens"].GetDouble());
  EXPECT_EQ(e.value("llmsvc_model_requests_total", {{"model", model}, {"outcome", "failed"}}),
            1.0);
  EXPECT_DOUBLE_EQ(e.value("llmsvc_cost_usd_total", {{"model", model}}), 27e-6);
  EXPECT_FALSE(e.has("llmsvc_cost_usd_total", {{"model", odd}}));  // unknown, not zero
  EXPECT_EQ(e.value("llmsvc_unpriced_requests_total", {{"model", odd}}), 1.0);
  EXPECT_DOUBLE_EQ(e.value("llmsvc_operation_cost_usd_total", {{"operation", op}}), 27e-6);
  EXPECT_EQ(e.value("llmsvc_operation_requests_total", {{"operation", "(none)"},
                                                        {"outcome", "failed"}}),
            1.0);
}
