// Configuration files: YAML, environment references, the llm.yaml and LiteLLM layouts.
#include "core/config_file.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "core/config.h"
#include "llmsvc.h"

using namespace llmsvc;

namespace {

JsonDoc load(const std::string &text, LoadedConfig &out) {
  DocError err = load_config_text(text, "test.yaml", out);
  EXPECT_FALSE(err) << err.message;
  JsonDoc doc;
  doc.Parse(out.json.c_str());
  return doc;
}

std::string refused(const std::string &text) {
  LoadedConfig out;
  DocError err = load_config_text(text, "test.yaml", out);
  EXPECT_TRUE(err) << text;
  return err.message;
}

const char *kSecret = "sk-canary-0f1e2d3c4b5a69788796";

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("LLMSVC_TEST_KEY", kSecret, 1);
    unsetenv("LLMSVC_TEST_MISSING");
  }
  void TearDown() override { unsetenv("LLMSVC_TEST_KEY"); }
};

}  // namespace

TEST_F(ConfigFile, YamlInLlmsvcsOwnLayoutWithEnvironmentReferences) {
  LoadedConfig out;
  JsonDoc d = load(R"(
provider: openai_chat
api_key: ${LLMSVC_TEST_KEY}
base_url: "${LLMSVC_TEST_MISSING:-http://127.0.0.1:9}/v1"
model: gpt-4o-mini
limits: {rpm: 500, tpm: 200000}
retry:
  max_attempts: 3
headers:
  x-team: "$${literal}"
)",
                   out);
  EXPECT_EQ(out.layout, "llmsvc");
  EXPECT_STREQ(d["api_key"].GetString(), kSecret);
  EXPECT_STREQ(d["base_url"].GetString(), "http://127.0.0.1:9/v1");
  EXPECT_EQ(d["limits"]["rpm"].GetInt(), 500);
  EXPECT_STREQ(d["headers"]["x-team"].GetString(), "${literal}");
  // JSON is YAML too.
  LoadedConfig j;
  JsonDoc dj = load(R"({"model": "m", "limits": {"rpm": 5}, "api_key": "os.environ/LLMSVC_TEST_KEY"})", j);
  EXPECT_EQ(dj["limits"]["rpm"].GetInt(), 5);
  EXPECT_STREQ(dj["api_key"].GetString(), kSecret);
}

TEST_F(ConfigFile, TheModulesKeyPoolLayoutPairsTheListsInOrder) {
  LoadedConfig out;
  JsonDoc d = load(R"(
providers:
  openai:
    api_keys: [sk-one, sk-two, "${LLMSVC_TEST_KEY}"]
    models: [gpt-4o-mini, gpt-4o, o3-mini]
    rate_limits:
      - {requests_per_minute: 500, input_tokens_per_minute: 200000, output_tokens_per_minute: 50000}
      - {requests_per_minute: 300, input_tokens_per_minute: 100000, output_tokens_per_minute: 20000}
      - {requests_per_minute: 100, input_tokens_per_minute: 50000, output_tokens_per_minute: 10000}
)",
                   out);
  EXPECT_EQ(out.layout, "llm.yaml");
  EXPECT_TRUE(out.warnings.empty());
  ASSERT_EQ(d["deployments"].Size(), 3u);
  EXPECT_STREQ(d["model"].GetString(), "openai");  // requests without a model use the pool
  const auto &third = d["deployments"][2];
  EXPECT_STREQ(third["name"].GetString(), "openai#3");
  EXPECT_STREQ(third["group"].GetString(), "openai");
  EXPECT_STREQ(third["model"].GetString(), "o3-mini");
  EXPECT_STREQ(third["api_key"].GetString(), kSecret);
  EXPECT_EQ(third["limits"]["rpm"].GetInt(), 100);
  EXPECT_EQ(third["limits"]["itpm"].GetInt(), 50000);
  EXPECT_EQ(third["limits"]["otpm"].GetInt(), 10000);
  // A shorter list starts over: two keys serve three models.
  LoadedConfig two;
  JsonDoc d2 = load("providers:\n  anthropic:\n    api_keys: [k1, k2]\n    models: [a, b, c]\n", two);
  EXPECT_STREQ(d2["deployments"][2]["api_key"].GetString(), "k1");
  EXPECT_STREQ(d2["deployments"][2]["provider"].GetString(), "anthropic");
}

TEST_F(ConfigFile, LiteLLMsModelListRouterAndSettings) {
  LoadedConfig plain;
  JsonDoc p = load(R"(
model_list:
  - model_name: fast
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/LLMSVC_TEST_KEY}
  - model_name: smart
    litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: k}
)",
                   plain);
  EXPECT_EQ(plain.layout, "litellm");
  ASSERT_EQ(p["deployments"].Size(), 2u);
  EXPECT_STREQ(p["model"].GetString(), "fast");
  EXPECT_STREQ(p["deployments"][0]["group"].GetString(), "fast");
  EXPECT_STREQ(p["deployments"][0]["model"].GetString(), "gpt-4o-mini");
  EXPECT_STREQ(p["deployments"][1]["provider"].GetString(), "anthropic");

  // LiteLLM's azure/NAME: NAME is the Azure deployment; api_base and api_version carry over,
  // and the result is a configuration llmsvc accepts.
  LoadedConfig azure;
  JsonDoc az = load(R"(
model_list:
  - model_name: gpt-4o
    litellm_params: {model: azure/gpt-4o-prod, api_base: "https://contoso.openai.azure.com", api_version: "2024-10-21", api_key: k}
)",
                    azure);
  const auto &ad = az["deployments"][0];
  EXPECT_STREQ(ad["provider"].GetString(), "azure_openai");
  EXPECT_STREQ(ad["azure_deployment"].GetString(), "gpt-4o-prod");
  EXPECT_STREQ(ad["api_version"].GetString(), "2024-10-21");
  EXPECT_STREQ(ad["base_url"].GetString(), "https://contoso.openai.azure.com");
  EXPECT_TRUE(azure.warnings.empty());
  Config parsed;
  DocError perr = parse_config(json_text(az).c_str(), parsed);
  EXPECT_FALSE(perr) << perr.message;

  LoadedConfig balanced;
  JsonDoc b = load(R"(
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_key: k1, rpm: 500, tpm: 100000}
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_key: k2, api_base: "http://127.0.0.1:9/v1", rpm: 300, tpm: 60000}
router_settings:
  routing_strategy: simple-shuffle
  redis_host: 127.0.0.1
  redis_port: 6380
)",
                   balanced);
  ASSERT_EQ(b["deployments"].Size(), 2u);
  EXPECT_STREQ(b["deployments"][1]["name"].GetString(), "gpt-4o#2");
  EXPECT_EQ(b["deployments"][1]["limits"]["tpm"].GetInt(), 60000);
  EXPECT_EQ(b["deployments"][1]["weight"].GetInt(), 300);
  EXPECT_STREQ(b["deployments"][1]["base_url"].GetString(), "http://127.0.0.1:9/v1");
  EXPECT_STREQ(b["routing"]["strategy"].GetString(), "weighted");
  EXPECT_STREQ(b["shared_limits"]["host"].GetString(), "127.0.0.1");
  EXPECT_EQ(b["shared_limits"]["port"].GetInt(), 6380);

  LoadedConfig fallbacks;
  JsonDoc f = load(R"(
model_list:
  - {model_name: main, litellm_params: {model: openai/gpt-4o, api_key: k, timeout: 30, max_retries: 2}}
  - {model_name: backup, litellm_params: {model: ollama/llama3.2}}
router_settings:
  fallbacks: [{"main": ["backup"]}]
  allowed_fails: 3
  cooldown_time: 12.5
  num_retries: 4
litellm_settings:
  request_timeout: 20
  set_verbose: true
  cache: true
)",
                   fallbacks);
  EXPECT_STREQ(f["routing"]["fallbacks"]["main"][0].GetString(), "backup");
  EXPECT_EQ(f["circuit_breaker"]["failures"].GetInt(), 3);
  EXPECT_EQ(f["circuit_breaker"]["cooldown_ms"].GetInt(), 12500);
  EXPECT_EQ(f["retry"]["max_attempts"].GetInt(), 5);  // num_retries after max_retries
  EXPECT_EQ(f["timeouts"]["request_ms"].GetInt(), 20000);
  EXPECT_TRUE(f["cache"]["memory"].GetBool());
  EXPECT_STREQ(f["deployments"][1]["provider"].GetString(), "ollama");
  ASSERT_EQ(fallbacks.warnings.size(), 1u);
  EXPECT_EQ(fallbacks.warnings[0], "config.litellm_settings.set_verbose: ignored");
}

TEST_F(ConfigFile, BadFilesSayWhereAndWhatAndNeverAValue) {
  EXPECT_EQ(refused("model: m\nlimits: [1, 2\n"),
            "test.yaml:3:1: not YAML (or JSON): end of sequence flow not found");
  EXPECT_EQ(refused("model: m\napi_key: ${LLMSVC_TEST_MISSING}\n"),
            "test.yaml:2:10: config.api_key: the environment variable LLMSVC_TEST_MISSING is not set");
  EXPECT_EQ(refused("model_list:\n  - model_name: x\n    litellm_params: {model: vertex_ai/gemini}\n"),
            "test.yaml:3:29: config.model_list[0].litellm_params.model: \"vertex_ai/\" is not a "
            "provider llmsvc speaks (openai/, anthropic/, ollama/, ollama_chat/, azure/, gemini/)");
  EXPECT_EQ(refused("model: m\nlimits:\n  rpm: lots\n"),
            "test.yaml:3:8: config.limits.rpm: expected an integer, got a string");
  EXPECT_EQ(refused("model: m\nlimts: {rpm: 5}\n"), "test.yaml:1:1: unknown field config.limts");
  EXPECT_EQ(refused("providers:\n  bedrock:\n    models: [x]\n"),
            "test.yaml:3:5: config.providers.bedrock: \"bedrock\" is not a provider llmsvc speaks "
            "(openai, openai_responses, anthropic, ollama, azure_openai)");
  // A value from the environment is never in a message or a warning.
  for (const std::string &text :
       {std::string("api_key: ${LLMSVC_TEST_KEY}\nlimits: {rpm: ${LLMSVC_TEST_KEY}}\n"),
        std::string("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, "
                    "api_key: os.environ/LLMSVC_TEST_KEY, extra: ${LLMSVC_TEST_KEY}}\n")}) {
    LoadedConfig out;
    DocError err = load_config_text(text, "test.yaml", out);
    EXPECT_EQ(err.message.find(kSecret), std::string::npos) << err.message;
    for (const std::string &w : out.warnings) EXPECT_EQ(w.find(kSecret), std::string::npos) << w;
  }
  // Found by fuzz_config_file: a quoted string left open ran into a reference, and the error
  // quoted the field's value.
  std::string open_quote = refused("provider: \"x\napi_key: ${LLMSVC_TEST_KEY:-d}\n");
  EXPECT_EQ(open_quote.find(kSecret), std::string::npos) << open_quote;
  EXPECT_NE(open_quote.find("[from the environment]"), std::string::npos) << open_quote;
  // Found by fuzz_config_file: seconds beyond int64 milliseconds.
  EXPECT_NE(refused("model_list:\n  - {model_name: a, litellm_params: {model: openai/x}}\n"
                    "router_settings: {cooldown_time: 3.3e75}\n")
                .find("config.circuit_breaker.cooldown_ms"),
            std::string::npos);
  // Aliases cannot expand a small file into a huge document.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'k'; ++c)
    bomb += std::string(1, c) + ": &" + c + " [*" + char(c - 1) + ", *" + char(c - 1) + ", *" +
            char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) +
            ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + "]\n";
  EXPECT_NE(refused(bomb).find("expands to more than 100000 values"), std::string::npos);
}

TEST(ResolveEnv, Forms) {
  setenv("LLMSVC_TEST_A", "alpha", 1);
  unsetenv("LLMSVC_TEST_NONE");
  std::string s = "x-${LLMSVC_TEST_A}-${LLMSVC_TEST_NONE:-dflt}-$${raw}";
  std::string why;
  ASSERT_TRUE(resolve_env(s, why)) << why;
  EXPECT_EQ(s, "x-alpha-dflt-${raw}");
  s = "${LLMSVC_TEST_A";
  EXPECT_FALSE(resolve_env(s, why));
  EXPECT_EQ(why, "an environment reference ${ is not closed with }");
  s = "${not a name}";
  EXPECT_FALSE(resolve_env(s, why));
  s = "os.environ/LLMSVC_TEST_NONE";
  EXPECT_FALSE(resolve_env(s, why));
  EXPECT_EQ(why, "the environment variable LLMSVC_TEST_NONE is not set");
  unsetenv("LLMSVC_TEST_A");
}
