// Requests end to end against the emulator: wire shapes, usage, cost, metrics, both
// completion modes.
#include <poll.h>

#include "support.h"

namespace {
const std::string kSpec = LLMSVC_SPEC_PATH;
std::vector<std::string> validating() {
  if (access(kSpec.c_str(), R_OK) == 0) return {"--validate-spec", kSpec};
  return {};
}
}  // namespace

TEST(Client, GenerateReturnsTextUsageCostAndAttempts) {
  EmulatorProcess emu(validating());
  Client client(emu.config("sk-one"));
  Completed c = client.generate(
      R"({"model":"gpt-4o-mini","instructions":"answer briefly","prompt":"hello there",
          "max_output_tokens":200,"temperature":0.3,"operation":"greet",
          "metadata":{"row":"17"},"trace_id":"trace-1"})");
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  EXPECT_EQ(c.http_status, 200);
  EXPECT_FALSE(c.text.empty());
  rapidjson::Document d = c.doc();
  EXPECT_TRUE(d["ok"].GetBool());
  EXPECT_STREQ(d["operation"].GetString(), "greet");
  EXPECT_STREQ(d["trace_id"].GetString(), "trace-1");
  EXPECT_STREQ(d["metadata"]["row"].GetString(), "17");
  EXPECT_EQ(std::string(d["response_id"].GetString()).rfind("chatcmpl-", 0), 0u);
  // The emulator counts tokens with the formula the client estimates with:
  // 3 + (4 + ceil(14/4)) + (4 + ceil(11/4)) = 3 + 8 + 7.
  EXPECT_EQ(i64(d["usage"], "prompt_tokens"), 18);
  int64_t completion = i64(d["usage"], "completion_tokens");
  EXPECT_GT(completion, 0);
  // gpt-4o-mini: 150 nano-USD per input token, 600 per output token.
  EXPECT_EQ(i64(d, "cost_nano_usd"), 18 * 150 + completion * 600);
  ASSERT_EQ(d["attempts"].Size(), 1u);
  EXPECT_EQ(d["attempts"][0]["http_status"].GetInt(), 200);
  EXPECT_GT(d["timing"]["overhead_us"].GetDouble(), 0.0);

  rapidjson::Document s = emu.stats("sk-one");
  EXPECT_EQ(i64(s, "ok"), 1);
  EXPECT_EQ(i64(s, "spec_violations"), 0);
  EXPECT_EQ(i64(s, "prompt_tokens"), 18);
  EXPECT_EQ(i64(s, "completion_tokens"), completion);
}

TEST(Client, ImagesAndMultiTurnConformToTheSpec) {
  EmulatorProcess emu(validating());
  Client client(emu.config("sk-img"));
  Completed c = client.generate(R"({"model":"gpt-4o","messages":[
      {"role":"system","content":"you see images"},
      {"role":"user","content":[{"type":"text","text":"what is in it?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}}]},
      {"role":"assistant","content":"a dot"},
      {"role":"user","content":"sure?"}],
      "stop":["END"],"top_p":0.5,"seed":7,"user":"u-1","max_tokens":50})");
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  EXPECT_EQ(i64(emu.stats("sk-img"), "spec_violations"), 0);
}

TEST(Client, ManyConcurrentRequestsCompleteExactlyOnceWithExactTotals) {
  EmulatorProcess emu(validating());
  Client client(emu.config("sk-many", R"("limits":{"concurrency":16})"));
  Collector col;
  const int n = 300;
  for (int i = 0; i < n; ++i) {
    std::string op = i % 3 == 0 ? "summarise" : "classify";
    client.submit(prompt_request("item " + std::to_string(i),
                                 "\"max_output_tokens\":" + std::to_string(8 + i % 40) +
                                     ",\"operation\":\"" + op + "\""),
                  col);
  }
  ASSERT_TRUE(col.wait_for(n));
  EXPECT_TRUE(col.exactly_once());
  int64_t prompt = 0, completion = 0, cost = 0;
  for (const Completed &c : col.results()) {
    ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
    rapidjson::Document d = c.doc();
    prompt += i64(d["usage"], "prompt_tokens");
    completion += i64(d["usage"], "completion_tokens");
    cost += i64(d, "cost_nano_usd");
  }
  rapidjson::Document s = emu.stats("sk-many");
  EXPECT_EQ(i64(s, "ok"), n);
  EXPECT_EQ(i64(s, "received"), n);
  EXPECT_EQ(i64(s, "prompt_tokens"), prompt);
  EXPECT_EQ(i64(s, "completion_tokens"), completion);
  EXPECT_EQ(cost, prompt * 150 + completion * 600);

  rapidjson::Document m = client.metrics();
  const auto &total = m["usage"]["total"];
  EXPECT_EQ(i64(total, "requests"), n);
  EXPECT_EQ(i64(total, "prompt_tokens"), prompt);
  EXPECT_EQ(i64(total, "completion_tokens"), completion);
  EXPECT_EQ(i64(total, "cost_nano_usd"), cost);
  EXPECT_EQ(i64(m["usage"]["by_model"]["gpt-4o-mini"], "requests"), n);
  EXPECT_EQ(i64(m["usage"]["by_operation"]["summarise"], "requests"), 100);
  EXPECT_EQ(i64(m["usage"]["by_operation"]["classify"], "requests"), 200);
  EXPECT_EQ(i64(m["requests"], "succeeded"), n);
  EXPECT_EQ(i64(m["attempts"], "total"), n);
  EXPECT_EQ(m["latency_ms"]["count"].GetInt64(), n);
  EXPECT_GT(m["overhead_us"]["p50"].GetDouble(), 0.0);
  EXPECT_EQ(i64(m["rates"], "requests_sent_per_minute"), n);
}

TEST(Client, UnknownModelCostIsUnknownNotZero) {
  EmulatorProcess emu;
  Client client(emu.config("sk-local"));
  Completed c = client.generate(R"({"model":"house-llama","prompt":"hi"})");
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  rapidjson::Document d = c.doc();
  EXPECT_TRUE(d["cost_nano_usd"].IsNull());
  rapidjson::Document m = client.metrics();
  EXPECT_TRUE(m["usage"]["by_model"]["house-llama"]["cost_nano_usd"].IsNull());
  EXPECT_EQ(i64(m["usage"]["by_model"]["house-llama"], "unpriced_requests"), 1);
}

TEST(Client, PriceOverridesFromConfiguration) {
  EmulatorProcess emu;
  Client client(emu.config(
      "sk-price", R"("prices":{"house-llama":{"input_cost_per_token":1e-6,"output_cost_per_token":2e-6}})"));
  Completed c = client.generate(R"({"model":"house-llama","prompt":"hi"})");
  ASSERT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  rapidjson::Document d = c.doc();
  EXPECT_EQ(i64(d, "cost_nano_usd"),
            i64(d["usage"], "prompt_tokens") * 1000 + i64(d["usage"], "completion_tokens") * 2000);
}

TEST(Client, CompletionQueueWithFileDescriptor) {
  EmulatorProcess emu;
  Client client(emu.config("sk-queue"));
  int fd = -1;
  ASSERT_EQ(llmsvc_client_fd(client.get(), &fd), LLMSVC_OK);
  ASSERT_GE(fd, 0);
  llmsvc_result *r = nullptr;
  EXPECT_EQ(llmsvc_client_poll(client.get(), 0, &r, nullptr), LLMSVC_ETIMEOUT);
  const int n = 20;
  int tags[n];
  for (int i = 0; i < n; ++i) {
    tags[i] = i;
    ASSERT_EQ(llmsvc_client_submit(client.get(), prompt_request("q" + std::to_string(i)).c_str(),
                                   nullptr, &tags[i], nullptr, nullptr),
              LLMSVC_OK);
  }
  std::vector<int> seen(n, 0);
  int got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 30000), 1) << "the fd never became readable";
    void *payload = nullptr;
    while (llmsvc_client_poll(client.get(), 0, &r, &payload) == LLMSVC_OK) {
      EXPECT_EQ(llmsvc_result_kind(r), LLMSVC_KIND_NONE);
      ++seen[size_t(*static_cast<int *>(payload))];
      llmsvc_result_free(r);
      ++got;
    }
  }
  for (int i = 0; i < n; ++i) EXPECT_EQ(seen[size_t(i)], 1);
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "the fd stays readable with an empty queue";
}

// HTTP/2 where libcurl speaks it reliably (8.1+), HTTP/1.1 keep-alive otherwise.
TEST(Client, Http2PriorKnowledgeConfigServes) {
  EmulatorProcess emu;
  Client client(emu.config("sk-h2", R"("http":{"prior_knowledge":true})"));
  Collector col;
  for (int i = 0; i < 50; ++i) client.submit(prompt_request("h2 " + std::to_string(i)), col);
  ASSERT_TRUE(col.wait_for(50));
  for (const Completed &c : col.results()) EXPECT_EQ(c.kind, LLMSVC_KIND_NONE) << c.json;
  EXPECT_EQ(i64(emu.stats("sk-h2"), "ok"), 50);
  EXPECT_EQ(i64(client.metrics()["attempts"], "retries"), 0);
}
