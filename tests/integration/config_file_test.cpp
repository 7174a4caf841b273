// Configuration files through llmsvc_client_new_from_file, against the emulator: the
// llm.yaml key pool spread as configured, LiteLLM aliases resolved and fallbacks taken.
#include <unistd.h>

#include <fstream>

#include "support.h"

namespace {

// A file in the working directory that is removed when the test ends.
struct TempFile {
  std::string path;
  TempFile(const std::string &name, const std::string &text) : path(name + "." + std::to_string(getpid())) {
    std::ofstream(path) << text;
  }
  ~TempFile() { unlink(path.c_str()); }
};

llmsvc_client *from_file(const std::string &path) {
  llmsvc_client *c = nullptr;
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_new_from_file(&c, path.c_str(), &err), LLMSVC_OK) << llmsvc_error_message(err);
  llmsvc_error_free(err);
  return c;
}

Completed ask(llmsvc_client *c, const std::string &request) {
  llmsvc_result *r = nullptr;
  EXPECT_EQ(llmsvc_client_generate(c, request.c_str(), &r, nullptr), LLMSVC_OK);
  Collector col;
  col.add(r);
  return col.results().front();
}

}  // namespace

TEST(ConfigFiles, TheModulesKeyPoolSpreadsRequestsRoundRobinWithItsLimits) {
  EmulatorProcess emu;
  setenv("LLMSVC_POOL_KEY_2", "sk-pool-2", 1);
  TempFile f("llm.yaml", R"(
providers:
  openai:
    base_url: )" + emu.base_url() + R"(
    api_keys: [sk-pool-1, "${LLMSVC_POOL_KEY_2}", sk-pool-3]
    models: [gpt-4o-mini, gpt-4o, o3-mini]
    rate_limits:
      - {requests_per_minute: 500, input_tokens_per_minute: 200000, output_tokens_per_minute: 50000}
      - {requests_per_minute: 300, input_tokens_per_minute: 100000, output_tokens_per_minute: 20000}
      - {requests_per_minute: 100, input_tokens_per_minute: 50000, output_tokens_per_minute: 10000}
)");
  llmsvc_client *c = from_file(f.path);
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 30; ++i) {
    Completed r = ask(c, "{\"prompt\":\"pool " + std::to_string(i) + "\"}");
    ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  }
  for (const char *key : {"sk-pool-1", "sk-pool-2", "sk-pool-3"})
    EXPECT_EQ(i64(emu.stats(key), "ok"), 10) << key;
  char *metrics = nullptr;
  ASSERT_EQ(llmsvc_client_metrics(c, &metrics, nullptr), LLMSVC_OK);
  std::string m = metrics;
  llmsvc_free(metrics);
  EXPECT_NE(m.find("\"openai#3\""), std::string::npos);
  EXPECT_EQ(m.find("sk-pool-2"), std::string::npos);
  llmsvc_client_destroy(c);
  unsetenv("LLMSVC_POOL_KEY_2");
}

TEST(ConfigFiles, LiteLLMAliasesResolveAndFallbacksAreTaken) {
  EmulatorProcess emu({"--invalid-keys", "sk-revoked"});
  TempFile f("litellm.yaml", R"(
model_list:
  - model_name: main
    litellm_params: {model: openai/gpt-4o, api_base: ")" + emu.base_url() + R"(", api_key: sk-revoked, rpm: 600}
  - model_name: cheap
    litellm_params: {model: openai/gpt-4o-mini, api_base: ")" + emu.base_url() + R"(", api_key: sk-cheap, rpm: 600}
router_settings:
  fallbacks: [{"main": ["cheap"]}]
  num_retries: 1
)");
  llmsvc_client *c = from_file(f.path);
  ASSERT_NE(c, nullptr);
  Completed direct = ask(c, R"({"model":"cheap","prompt":"hi"})");
  ASSERT_EQ(direct.kind, LLMSVC_KIND_NONE) << direct.json;
  EXPECT_STREQ(direct.doc()["deployment"].GetString(), "cheap#1");
  EXPECT_STREQ(direct.doc()["model"].GetString(), "gpt-4o-mini");
  // "main"'s key is revoked: the request falls back to "cheap".
  Completed fell = ask(c, R"({"model":"main","prompt":"hi"})");
  ASSERT_EQ(fell.kind, LLMSVC_KIND_NONE) << fell.json;
  EXPECT_STREQ(fell.doc()["deployment"].GetString(), "cheap#1") << fell.json;
  EXPECT_EQ(i64(emu.stats("sk-revoked"), "received"), 1);
  llmsvc_client_destroy(c);
  // What cannot be read says where.
  TempFile bad("bad.yaml", "model: m\nlimits: {rpm: [1]}\n");
  llmsvc_client *none = nullptr;
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_new_from_file(&none, bad.path.c_str(), &err), LLMSVC_ESCHEMA);
  EXPECT_EQ(std::string(llmsvc_error_message(err)),
            bad.path + ":2:15: config.limits.rpm: expected an integer, got an array");
  llmsvc_error_free(err);
  EXPECT_EQ(llmsvc_client_new_from_file(&none, "/nonexistent.yaml", &err), LLMSVC_EINVAL);
  llmsvc_error_free(err);
}
