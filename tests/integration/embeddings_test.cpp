// Embeddings against the emulator's /v1/embeddings: vectors in input order read without
// JSON, the same in the result JSON, usage and cost, gates that count input tokens, and
// providers that do not serve embeddings refused at submit.
#include <cmath>
#include <condition_variable>
#include <mutex>

#include "support.h"

namespace {

// A completion's vectors, copied in the callback before the result is freed.
struct Vectors {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<float>> vectors;
  int64_t count = -1;
  int kind = -1;
  std::string json;
  static void done(llmsvc_result *r, void *self) {
    auto *v = static_cast<Vectors *>(self);
    std::lock_guard<std::mutex> lock(v->mu);
    v->kind = llmsvc_result_kind(r);
    v->count = llmsvc_result_number(r, LLMSVC_NUM_EMBEDDINGS);
    for (size_t i = 0;; ++i) {
      size_t dims = 0;
      const float *f = llmsvc_result_embedding(r, i, &dims);
      if (!f) break;
      v->vectors.emplace_back(f, f + dims);
    }
    v->json = llmsvc_result_json(r, nullptr);
    llmsvc_result_free(r);
    v->cv.notify_all();
  }
  bool wait() {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return kind >= 0; });
  }
};

double norm(const std::vector<float> &v) {
  double s = 0;
  for (float f : v) s += double(f) * f;
  return std::sqrt(s);
}

}  // namespace

TEST(EmbeddingsEmulator, VectorsInInputOrderWithUsageAndCost) {
  EmulatorProcess emu;
  Client c(emu.config("sk-embed", R"("model":"text-embedding-3-small")"));
  Vectors v;
  const std::string texts[] = {"the first text", "a second, longer text", "3"};
  ASSERT_EQ(llmsvc_client_submit(c.get(),
                                 R"({"input":["the first text","a second, longer text","3"]})",
                                 Vectors::done, &v, nullptr, nullptr),
            LLMSVC_OK);
  ASSERT_TRUE(v.wait());
  ASSERT_EQ(v.kind, LLMSVC_KIND_NONE) << v.json;
  EXPECT_EQ(v.count, 3);
  ASSERT_EQ(v.vectors.size(), 3u);
  for (const auto &vec : v.vectors) {
    EXPECT_EQ(vec.size(), 1536u);
    EXPECT_NEAR(norm(vec), 1.0, 1e-3);
  }
  EXPECT_NE(v.vectors[0], v.vectors[1]);

  rapidjson::Document d;
  d.Parse(v.json.c_str());
  ASSERT_TRUE(d.IsObject()) << v.json.substr(0, 300);
  ASSERT_TRUE(d["embeddings"].IsArray());
  ASSERT_EQ(d["embeddings"].Size(), 3u);
  // The JSON's numbers read back to the very floats of the typed view.
  for (rapidjson::SizeType i = 0; i < 3; ++i)
    for (rapidjson::SizeType j = 0; j < 1536; j += 97)
      EXPECT_EQ(float(d["embeddings"][i][j].GetDouble()), v.vectors[i][j]) << i << " " << j;
  // Usage as the emulator counted it (ceil(bytes / 4) per input), priced as input.
  int64_t tokens = 0;
  for (const std::string &t : texts) tokens += int64_t(t.size() + 3) / 4;
  EXPECT_EQ(d["usage"]["prompt_tokens"].GetInt64(), tokens);
  EXPECT_EQ(d["usage"]["completion_tokens"].GetInt64(), 0);
  EXPECT_EQ(d["cost_nano_usd"].GetInt64(), tokens * 20);  // $0.02 per million tokens
  EXPECT_EQ(d["response_model"], "text-embedding-3-small");

  // Same input, same vector; dimensions honoured (the emulator shortens as OpenAI does).
  Vectors again;
  ASSERT_EQ(llmsvc_client_submit(c.get(), R"({"input":"the first text","dimensions":256})",
                                 Vectors::done, &again, nullptr, nullptr),
            LLMSVC_OK);
  ASSERT_TRUE(again.wait());
  ASSERT_EQ(again.kind, LLMSVC_KIND_NONE) << again.json;
  ASSERT_EQ(again.vectors.size(), 1u);
  EXPECT_EQ(again.vectors[0].size(), 256u);
  EXPECT_NEAR(norm(again.vectors[0]), 1.0, 1e-3);

  rapidjson::Document s = emu.stats("sk-embed");
  EXPECT_EQ(i64(s, "received"), 2);
  EXPECT_EQ(i64(s, "bad_requests"), 0);
}

TEST(EmbeddingsEmulator, TheGatesCountInputTokensAndNothingCrossesTheLimit) {
  // 400 tokens per 1 s window; 30 requests of about 50 tokens each: the limit binds.
  EmulatorProcess emu({"--tpm", "24000", "--window-ms", "1000"});
  Client c(emu.config("sk-embed-tpm", R"("model":"text-embedding-3-small",)"
                                      R"("limits":{"tpm":24000,"window_ms":1000})"));
  Collector col;
  const std::string text(200, 'e');  // 50 tokens
  for (int i = 0; i < 30; ++i)
    c.submit(R"({"input":[")" + text + std::to_string(i % 10) + R"("]})", col);
  ASSERT_TRUE(col.wait_for(30, std::chrono::seconds(60)));
  for (const Completed &r : col.results()) ASSERT_EQ(r.kind, LLMSVC_KIND_NONE) << r.json;
  rapidjson::Document s = emu.stats("sk-embed-tpm");
  EXPECT_EQ(i64(s, "rate_limited"), 0);
  EXPECT_EQ(i64(s, "received"), 30);
}

TEST(EmbeddingsEmulator, ProvidersWithoutEmbeddingsAreRefusedAtSubmit) {
  EmulatorProcess emu;
  Client c(emu.config("sk-embed-anthropic", R"("provider":"anthropic","model":"claude-3-5-haiku-latest")"));
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_client_submit(c.get(), R"({"input":"x"})", Vectors::done, nullptr, nullptr, &err),
            LLMSVC_ESCHEMA);
  ASSERT_NE(err, nullptr);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("does not serve embeddings"),
            std::string::npos)
      << llmsvc_error_message(err);
  llmsvc_error_free(err);
}

TEST(EmbeddingsEmulator, ARepeatedBatchComesFromTheCacheWithTheSameVectors) {
  // Embeddings are cached by default (the same input gives the same vectors), kept exact.
  EmulatorProcess emu;
  Client c(emu.config("sk-embed-cache",
                      R"("model":"text-embedding-3-small","cache":{"memory":{}})"));
  const char *request = R"({"input":["cached one","cached two"],"dimensions":16})";
  Vectors first, second;
  ASSERT_EQ(llmsvc_client_submit(c.get(), request, Vectors::done, &first, nullptr, nullptr),
            LLMSVC_OK);
  ASSERT_TRUE(first.wait());
  ASSERT_EQ(llmsvc_client_submit(c.get(), request, Vectors::done, &second, nullptr, nullptr),
            LLMSVC_OK);
  ASSERT_TRUE(second.wait());
  ASSERT_EQ(second.kind, LLMSVC_KIND_NONE) << second.json;
  ASSERT_EQ(first.vectors.size(), 2u);
  EXPECT_EQ(second.vectors, first.vectors);
  rapidjson::Document d;
  d.Parse(second.json.c_str());
  EXPECT_TRUE(d["cache"]["hit"].GetBool()) << second.json.substr(0, 400);
  EXPECT_EQ(d["cache"]["source"], "memory");
  EXPECT_EQ(i64(emu.stats("sk-embed-cache"), "received"), 1);
}

TEST(EmbeddingsEmulator, OllamaAndGeminiServeThemTooWithTheirOwnCounts) {
  EmulatorProcess emu;
  std::string host = emu.base_url().substr(0, emu.base_url().size() - 3);
  struct Case {
    std::string config, key;
    size_t dims;
  } cases[] = {
      {R"({"provider":"ollama","base_url":")" + host + R"(","model":"nomic-embed-text"})", "", 768},
      {R"({"provider":"gemini","base_url":")" + host +
           R"(/v1beta","api_key":"gm-embed","model":"gemini-embedding-001"})",
       "gm-embed", 3072},
  };
  for (const Case &k : cases) {
    Client c(k.config);
    Vectors v;
    ASSERT_EQ(llmsvc_client_submit(c.get(), R"({"input":["first text","second, longer text"]})",
                                   Vectors::done, &v, nullptr, nullptr),
              LLMSVC_OK);
    ASSERT_TRUE(v.wait());
    ASSERT_EQ(v.kind, LLMSVC_KIND_NONE) << v.json;
    ASSERT_EQ(v.vectors.size(), 2u) << v.json;
    EXPECT_EQ(v.vectors[0].size(), k.dims) << v.json;
    EXPECT_NEAR(norm(v.vectors[1]), 1.0, 1e-4);
    EXPECT_NE(v.vectors[0], v.vectors[1]);
    rapidjson::Document d;
    d.Parse(v.json.c_str());
    EXPECT_GT(d["usage"]["prompt_tokens"].GetInt64(), 0) << v.json;
    EXPECT_FALSE(d["usage"].HasMember("estimated")) << v.json;  // the provider's own count
    // Shorter vectors where asked.
    Vectors s;
    ASSERT_EQ(llmsvc_client_submit(c.get(), R"({"input":"short","dimensions":64})", Vectors::done,
                                   &s, nullptr, nullptr),
              LLMSVC_OK);
    ASSERT_TRUE(s.wait());
    ASSERT_EQ(s.kind, LLMSVC_KIND_NONE) << s.json;
    ASSERT_EQ(s.vectors.size(), 1u);
    EXPECT_EQ(s.vectors[0].size(), 64u);
  }
}
