// The OTLP exporter's settings: the standard environment variables, what the configuration
// overrides, and trace context parsing.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "telemetry/otlp.h"
#include "telemetry/otlp_config.h"

namespace {

using namespace llmsvc;

std::map<std::string, std::string> *g_env = nullptr;

const char *fake_env(const char *name) {
  auto it = g_env->find(name);
  return it == g_env->end() || it->second.empty() ? nullptr : it->second.c_str();
}

DocError resolve(OtlpConfig &c, std::map<std::string, std::string> env) {
  g_env = &env;
  DocError e = resolve_otlp(c, fake_env);
  g_env = nullptr;
  return e;
}

OtlpConfig from_json(const char *json) {
  JsonDoc d;
  d.Parse(json);
  OtlpConfig c;
  DocError e = parse_otlp(d, "config.telemetry.otlp", c);
  EXPECT_FALSE(e) << e.message;
  return c;
}

TEST(OtlpConfig, TheEndpointWithHttpJsonIsEnoughToTurnItOn) {
  OtlpConfig c;
  ASSERT_FALSE(resolve(c, {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/"},
                           {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
                           {"OTEL_SERVICE_NAME", "batch"},
                           {"OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=a%20b, authorization=Bearer%20t"},
                           {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod"}}));
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.traces_url, "http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(c.metrics_url, "http://127.0.0.1:4318/v1/metrics");
  EXPECT_EQ(c.service_name, "batch");
  ASSERT_EQ(c.traces_headers.size(), 2u);
  EXPECT_EQ(c.traces_headers[0], (std::pair<std::string, std::string>{"x-tenant", "a b"}));
  EXPECT_EQ(c.traces_headers[1].second, "Bearer t");
  ASSERT_EQ(c.resource.size(), 1u);
  EXPECT_EQ(c.resource[0].first, "deployment.environment");
  EXPECT_FALSE(c.capture_content);
}

TEST(OtlpConfig, OtherProtocolsAndNoEndpointLeaveItOff) {
  for (const char *protocol : {"", "http/protobuf", "grpc"}) {
    OtlpConfig c;
    ASSERT_FALSE(resolve(c, {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"},
                             {"OTEL_EXPORTER_OTLP_PROTOCOL", protocol}}));
    EXPECT_FALSE(c.enabled) << protocol;
  }
  OtlpConfig none;
  ASSERT_FALSE(resolve(none, {{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}}));
  EXPECT_FALSE(none.enabled);
  OtlpConfig disabled;
  ASSERT_FALSE(resolve(disabled, {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"},
                                  {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
                                  {"OTEL_SDK_DISABLED", "true"}}));
  EXPECT_FALSE(disabled.enabled);
}

TEST(OtlpConfig, PerSignalVariablesAndExportersNone) {
  OtlpConfig c;
  ASSERT_FALSE(resolve(c, {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/t"},
                           {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"},
                           {"OTEL_METRICS_EXPORTER", "none"},
                           {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"},
                           {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
                           {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "True"},
                           {"OTEL_BSP_SCHEDULE_DELAY", "250"}}));
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.traces_url, "http://collector:4318/t");  // as given, no path added
  EXPECT_EQ(c.metrics_url, "");
  EXPECT_TRUE(c.capture_content);
  EXPECT_EQ(c.schedule_delay_ms, 250);
}

TEST(OtlpConfig, TheConfigurationWinsOverTheEnvironment) {
  OtlpConfig c = from_json(
      R"({"endpoint": "http://127.0.0.1:9999", "service_name": "mine", "capture_content": false,
          "headers": {"x-a": "1"}})");
  ASSERT_FALSE(resolve(c, {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"},
                           {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"},
                           {"OTEL_SERVICE_NAME", "theirs"},
                           {"OTEL_EXPORTER_OTLP_HEADERS", "x-b=2"},
                           {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true"}}));
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.traces_url, "http://127.0.0.1:9999/v1/traces");
  EXPECT_EQ(c.service_name, "mine");
  EXPECT_FALSE(c.capture_content);
  ASSERT_EQ(c.traces_headers.size(), 1u);
  EXPECT_EQ(c.traces_headers[0].first, "x-a");

  OtlpConfig off = from_json(R"({"enabled": false})");
  ASSERT_FALSE(resolve(off, {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"},
                             {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}}));
  EXPECT_FALSE(off.enabled);

  // {"otlp": {}}: on, at the specification's default endpoint unless the environment says.
  OtlpConfig empty = from_json("{}");
  ASSERT_FALSE(resolve(empty, {}));
  EXPECT_TRUE(empty.enabled);
  EXPECT_EQ(empty.traces_url, "http://localhost:4318/v1/traces");
  EXPECT_EQ(empty.service_name, "unknown_service");
}

TEST(OtlpConfig, BadValuesAreRefusedNamingTheVariable) {
  struct Case {
    std::map<std::string, std::string> env;
    const char *says;
  } cases[] = {
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318"}, {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}},
       "OTEL_EXPORTER_OTLP_ENDPOINT"},
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
        {"OTEL_EXPORTER_OTLP_HEADERS", "novalue"}},
       "OTEL_EXPORTER_OTLP_HEADERS"},
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
        {"OTEL_EXPORTER_OTLP_HEADERS", "x-a=b%0d%0aevil: 1"}},
       "line break"},
      {{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
        {"OTEL_BSP_SCHEDULE_DELAY", "soon"}},
       "OTEL_BSP_SCHEDULE_DELAY"},
  };
  for (const Case &k : cases) {
    OtlpConfig c;
    DocError e = resolve(c, k.env);
    EXPECT_TRUE(e) << k.says;
    EXPECT_NE(e.message.find(k.says), std::string::npos) << e.message;
  }
}

TEST(OtlpConfig, TraceparentsRoundTrip) {
  uint64_t hi = 0, lo = 0, span = 0;
  bool sampled = false;
  ASSERT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", hi, lo,
                                span, sampled));
  EXPECT_EQ(hi, 0x4bf92f3577b34da6ULL);
  EXPECT_EQ(lo, 0xa3ce929d0e0e4736ULL);
  EXPECT_EQ(span, 0x00f067aa0ba902b7ULL);
  EXPECT_TRUE(sampled);
  EXPECT_EQ(format_traceparent(hi, lo, span, true),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", hi, lo,
                                span, sampled));
  EXPECT_FALSE(sampled);
  EXPECT_FALSE(parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", hi,
                                 lo, span, sampled));
}

}  // namespace
