// Costs of the engine's hot-path pieces, one operation each.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <string>

#include "cache/cache.h"
#include "cache/sqlite_cache.h"
#include "core/request.h"
#include "gates/gates.h"
#include "metrics/metrics.h"
#include "providers/anthropic.h"
#include "providers/openai_chat.h"

using namespace llmsvc;

static void BM_GateAdmitSettle(benchmark::State &state) {
  Limits l;
  l.rpm = 10000;
  l.tpm = 2000000;
  l.concurrency = 64;
  Gates g(l);
  int64_t now = 0;
  for (auto _ : state) {
    now += 10 * kNsPerMs;  // 100 requests/s: the windows hold ~6000 live entries
    GateDecision d = g.check(now, {100, 20});
    benchmark::DoNotOptimize(d);
    g.acquire({100, 20});
    g.settle(now, {100, 20}, {70, 10});
  }
}
BENCHMARK(BM_GateAdmitSettle);

static void BM_GateCheckBlocked(benchmark::State &state) {
  Limits l;
  l.rpm = 60;
  Gates g(l);
  for (int i = 0; i < 60; ++i) {
    g.acquire({});
    g.settle(i, {}, {});
  }
  for (auto _ : state) {
    GateDecision d = g.check(100, {});  // full: computes when it will have room
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_GateCheckBlocked);

static void BM_MetricsRecordRequest(benchmark::State &state) {
  Metrics m;
  std::string model = "gpt-4o-mini", op = "classify";
  CompletedRecord r;
  r.model = &model;
  r.operation = &op;
  r.has_usage = true;
  r.usage.prompt = 120;
  r.usage.completion = 40;
  r.cost_pico = 12345;
  int64_t now = 0;
  for (auto _ : state) {
    now += 1000000;
    m.attempt_sent(now, 120);
    m.attempt_done(now, LLMSVC_KIND_NONE, 2500000, 40);
    r.latency_ns = 2600000;
    r.overhead_ns = 3000;
    m.completed(r);
  }
}
BENCHMARK(BM_MetricsRecordRequest);

static void BM_HistogramRecord(benchmark::State &state) {
  Histogram h;
  int64_t v = 1;
  for (auto _ : state) {
    v = (v * 6364136223846793005LL + 1442695040888963407LL);
    h.record((v >> 20) & 0xffffffff);
  }
  benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_HistogramRecord);

static void BM_ParseRequestAndBuildBody(benchmark::State &state) {
  Config c;
  OpenAIChatProvider p(c);
  const char *json =
      R"({"model":"gpt-4o-mini","instructions":"You are a classifier.","messages":[{"role":"user","content":"Classify the sentiment of: the film was long but worth every minute."}],"max_output_tokens":16,"temperature":0,"operation":"classify","metadata":{"row":"17"}})";
  for (auto _ : state) {
    RequestSpec r;
    DocError err = parse_request(json, "", r);
    JsonBuffer body;
    p.build_body(r, body);
    benchmark::DoNotOptimize(body.GetSize());
    benchmark::DoNotOptimize(err.status);
  }
}
BENCHMARK(BM_ParseRequestAndBuildBody);

static void BM_ParseReply(benchmark::State &state) {
  Config c;
  OpenAIChatProvider p(c);
  std::string body =
      R"({"id":"chatcmpl-abc","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"positive","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":31,"completion_tokens":2,"total_tokens":33,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_x"})";
  for (auto _ : state) {
    ProviderReply r;
    std::string err;
    benchmark::DoNotOptimize(p.parse_reply(body, r, err));
  }
}
BENCHMARK(BM_ParseReply);

// One streamed chat chunk: split out of the body and read by the provider.
static void BM_StreamChatEvent(benchmark::State &state) {
  Config c;
  OpenAIChatProvider p(c);
  const std::string chunk =
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
      "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},"
      "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n";
  StreamDecoder d(StreamDecoder::Format::kSse);
  std::vector<StreamEvent> events;
  StreamState st;
  for (auto _ : state) {
    events.clear();
    d.feed(chunk, events);
    std::string delta;
    ProviderError err;
    p.on_stream_event(events.front(), st, delta, err);
    benchmark::DoNotOptimize(delta.size());
  }
}
BENCHMARK(BM_StreamChatEvent);

// One Anthropic text delta event.
static void BM_StreamAnthropicEvent(benchmark::State &state) {
  Config c;
  AnthropicProvider p(c);
  const std::string chunk =
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\" world\"}}\n\n";
  StreamDecoder d(StreamDecoder::Format::kSse);
  std::vector<StreamEvent> events;
  StreamState st;
  for (auto _ : state) {
    events.clear();
    d.feed(chunk, events);
    std::string delta;
    ProviderError err;
    p.on_stream_event(events.front(), st, delta, err);
    benchmark::DoNotOptimize(delta.size());
  }
}
BENCHMARK(BM_StreamAnthropicEvent);

namespace {

const char kCacheableBody[] =
    R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You classify support tickets."},)"
    R"({"role":"user","content":"My order arrived broken, what can I do?"}],"temperature":0,)"
    R"("max_completion_tokens":200})";

llmsvc::CachedReply bench_reply(int64_t expires_ms) {
  llmsvc::CachedReply r;
  r.text = "Sorry to hear that. Reply with your order number and a photo and we will send a new one.";
  r.finish_reason = "stop";
  r.response_id = "chatcmpl-0123456789";
  r.model = "gpt-4o-mini-2024-07-18";
  r.usage = {31, 24, 0, 0, 0};
  r.cost_pico = 19050000;
  r.expires_ms = expires_ms;
  return r;
}

llmsvc::CacheKey nth_key(int64_t i) {
  std::string body = kCacheableBody;
  body += std::to_string(i);
  return llmsvc::make_cache_key("openai_chat", "http://x", body);
}

}  // namespace

// The key of a cacheable request: canonical form of its wire body and SHA-256.
static void BM_CacheKey(benchmark::State &state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(
        llmsvc::make_cache_key("openai_chat", "https://api.openai.com/v1/chat/completions",
                               kCacheableBody));
}
BENCHMARK(BM_CacheKey);

static void BM_MemoryCacheHit(benchmark::State &state) {
  llmsvc::MemoryCache m(100000, int64_t(1) << 30);
  for (int i = 0; i < 10000; ++i) m.put(nth_key(i), bench_reply(INT64_MAX));
  llmsvc::CacheKey k = nth_key(5000);
  llmsvc::CachedReply out;
  for (auto _ : state) benchmark::DoNotOptimize(m.get(k, 0, out));
}
BENCHMARK(BM_MemoryCacheHit);

// A hit read from a SQLite file of 10,000 entries (in the OS page cache).
static void BM_SqliteCacheHit(benchmark::State &state) {
  std::string path = "/tmp/llmsvc-bench-cache-" + std::to_string(getpid()) + ".db";
  {
    llmsvc::SqliteCache::Options o;
    o.path = path;
    std::string why;
    auto c = llmsvc::SqliteCache::open(o, 0, why);
    if (!c) {
      state.SkipWithError(why.c_str());
      return;
    }
    for (int i = 0; i < 10000; ++i) c->put(nth_key(i), bench_reply(INT64_MAX));
    c->flush();
    llmsvc::CachedReply out;
    int64_t i = 0;
    for (auto _ : state) {
      benchmark::DoNotOptimize(c->get(nth_key(i % 10000), 1, out));
      ++i;
    }
  }
  for (const char *suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
}
BENCHMARK(BM_SqliteCacheHit);

BENCHMARK_MAIN();
