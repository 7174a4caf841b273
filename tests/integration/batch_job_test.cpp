// Provider batch jobs against the emulator's OpenAI Batch API and Anthropic Message
// Batches: results equal to live answers at batch prices, batches within the limits given,
// and a job stopped at any point resumed from its state file without sending a line twice.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "support.h"

namespace {

struct Line {
  int kind = -1;
  int64_t prompt = 0, completion = 0, cost = 0;
  std::string batch_id;
  std::string json;
};

std::string temp_state(const char *name) {
  return testing::TempDir() + "llmsvc-" + name + "-" + std::to_string(getpid()) + ".batch-job";
}

class Job {
 public:
  Job(llmsvc_client *c, const std::string &state, const std::string &options) {
    llmsvc_error *err = nullptr;
    if (llmsvc_batch_job_open(c, state.c_str(), options.c_str(), &job_, &err) != LLMSVC_OK) {
      ADD_FAILURE() << "llmsvc_batch_job_open: " << llmsvc_error_message(err);
      llmsvc_error_free(err);
    }
  }
  ~Job() { llmsvc_batch_job_close(job_); }
  llmsvc_batch_job *get() const { return job_; }

  /// Adds `n` chat requests "r0".."r(n-1)"; returns how many the job knew already.
  int add_chats(int n, const std::string &model) {
    int known_total = 0;
    for (int i = 0; i < n; ++i) {
      std::string req = R"({"model":")" + model + R"(","prompt":"batch line )" +
                        std::to_string(i) + R"(","max_output_tokens":20})";
      int known = 0;
      llmsvc_error *err = nullptr;
      int rc = llmsvc_batch_job_add(job_, ("r" + std::to_string(i)).c_str(), req.c_str(),
                                    req.size(), &known, &err);
      EXPECT_EQ(rc, LLMSVC_OK) << (err ? llmsvc_error_message(err) : "");
      llmsvc_error_free(err);
      known_total += known;
    }
    return known_total;
  }

  /// Steps until `stop` says so or the job is done (bounded), taking and committing results.
  int run(std::map<std::string, std::vector<Line>> &out,
          const std::function<bool()> &stop = nullptr) {
    auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      llmsvc_error *err = nullptr;
      int rc = llmsvc_batch_job_step(job_, 50, &err);
      if (rc < 0) {
        ADD_FAILURE() << "step: " << llmsvc_error_message(err);
        llmsvc_error_free(err);
        return rc;
      }
      while (llmsvc_result *r = llmsvc_batch_job_next(job_)) {
        Line l;
        l.kind = llmsvc_result_kind(r);
        l.prompt = llmsvc_result_number(r, LLMSVC_NUM_PROMPT_TOKENS);
        l.completion = llmsvc_result_number(r, LLMSVC_NUM_COMPLETION_TOKENS);
        l.cost = llmsvc_result_number(r, LLMSVC_NUM_COST_NANO_USD);
        l.batch_id = llmsvc_result_string(r, LLMSVC_STR_BATCH_ID, nullptr);
        l.json = llmsvc_result_json(r, nullptr);
        out[llmsvc_result_string(r, LLMSVC_STR_CUSTOM_ID, nullptr)].push_back(l);
        llmsvc_result_free(r);
      }
      EXPECT_EQ(llmsvc_batch_job_commit(job_, nullptr), LLMSVC_OK);
      if (rc == 0 || (stop && stop())) return rc;
      if (std::chrono::steady_clock::now() > limit) {
        ADD_FAILURE() << "the job did not finish within 60 s";
        return -1;
      }
    }
  }

 private:
  llmsvc_batch_job *job_ = nullptr;
};

std::string read_file(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// gpt-4o-mini: $0.15 and $0.60 per million tokens, half in a batch (pico-USD per token).
int64_t mini_batch_nano(int64_t prompt, int64_t completion) {
  return (prompt * 150000 + completion * 600000) / 2 / 1000;
}

}  // namespace

TEST(BatchJob, OpenAIBatchesGiveEveryLineItsResultAtBatchPrices) {
  EmulatorProcess emu({"--batch-latency-ms", "100"});
  Client c(emu.config("sk-batch", R"("model":"gpt-4o-mini")"));
  std::string state = temp_state("openai");
  std::remove(state.c_str());
  std::map<std::string, std::vector<Line>> got;
  {
    Job job(c.get(), state, R"({"max_requests":20,"poll_ms":20,"max_poll_ms":100})");
    EXPECT_EQ(job.add_chats(50, "gpt-4o-mini"), 0);
    EXPECT_EQ(job.run(got), 0);
    char *status = nullptr;
    ASSERT_EQ(llmsvc_batch_job_status(job.get(), &status), LLMSVC_OK);
    rapidjson::Document s;
    s.Parse(status);
    llmsvc_free(status);
    EXPECT_EQ(s["batches"]["delivered"].GetInt(), 3);  // 20 + 20 + 10
    EXPECT_EQ(s["requests"].GetInt(), 50);
  }
  ASSERT_EQ(got.size(), 50u);
  std::set<std::string> batches;
  for (auto &[id, lines] : got) {
    ASSERT_EQ(lines.size(), 1u) << id;
    const Line &l = lines[0];
    ASSERT_EQ(l.kind, LLMSVC_KIND_NONE) << l.json;
    EXPECT_GT(l.prompt, 0);
    EXPECT_GT(l.completion, 0);
    EXPECT_EQ(l.cost, mini_batch_nano(l.prompt, l.completion)) << l.json;
    batches.insert(l.batch_id);
    rapidjson::Document d;
    d.Parse(l.json.c_str());
    EXPECT_EQ(std::string(d["batch"]["custom_id"].GetString()), id);
    EXPECT_FALSE(std::string(d["text"].GetString()).empty());
  }
  EXPECT_EQ(batches.size(), 3u);
  rapidjson::Document st = emu.stats("sk-batch");
  EXPECT_EQ(st["batches"]["duplicate_custom_ids"].GetInt(), 0);
  EXPECT_EQ(st["batches"]["lines_received"].GetInt(), 50);
  std::remove(state.c_str());
}

TEST(BatchJob, EnqueuedTokensStayWithinTheLimitGiven) {
  // Each line is about 10 input tokens by the emulator's count: 60 lines need several
  // batches one after another under a 200-token cap, and the emulator fails any batch that
  // would take the model over it.
  EmulatorProcess emu({"--batch-latency-ms", "50", "--batch-enqueued-tokens", "200"});
  Client c(emu.config("sk-enq", R"("model":"gpt-4o-mini")"));
  std::string state = temp_state("enqueued");
  std::remove(state.c_str());
  std::map<std::string, std::vector<Line>> got;
  {
    Job job(c.get(), state, R"({"max_enqueued_tokens":200,"poll_ms":20,"max_poll_ms":50})");
    job.add_chats(60, "gpt-4o-mini");
    EXPECT_EQ(job.run(got), 0);
  }
  EXPECT_EQ(got.size(), 60u);
  for (auto &[id, lines] : got) EXPECT_EQ(lines.at(0).kind, LLMSVC_KIND_NONE) << lines[0].json;
  rapidjson::Document st = emu.stats("sk-enq");
  EXPECT_EQ(st["batches"]["token_limit_failures"].GetInt(), 0);
  EXPECT_GE(st["batches"]["openai_batches_created"].GetInt(), 3);
  std::remove(state.c_str());
}

TEST(BatchJob, AJobStoppedAtEveryStepResumesWithoutSendingALineTwice) {
  EmulatorProcess emu({"--batch-latency-ms", "3600000"});
  Client c(emu.config("sk-resume", R"("model":"gpt-4o-mini")"));
  const std::string host = emu.base_url().substr(0, emu.base_url().size() - 3);
  std::string state = temp_state("resume");
  std::remove(state.c_str());
  std::map<std::string, std::vector<Line>> got;
  // Closed after every step (as if killed there), opened again and given every line again.
  int opens = 0;
  for (int rc = 1; rc != 0 && opens < 400; ++opens) {
    Job job(c.get(), state, R"({"max_requests":10,"poll_ms":20,"max_poll_ms":40})");
    int known = job.add_chats(40, "gpt-4o-mini");
    if (opens > 0) {
      EXPECT_GT(known, 0);
    }
    bool stepped = false;
    rc = job.run(got, [&] { return std::exchange(stepped, true); });
    // Batches end when the test says, not when a clock does: every few opens.
    if (opens % 3 == 2) http_post(host + "/_emulator/batches/complete", "");
  }
  EXPECT_GT(opens, 8);
  ASSERT_EQ(got.size(), 40u);
  for (auto &[id, lines] : got) {
    EXPECT_EQ(lines.size(), 1u) << id << " handed over " << lines.size() << " times";
    EXPECT_EQ(lines[0].kind, LLMSVC_KIND_NONE) << lines[0].json;
  }
  rapidjson::Document st = emu.stats("sk-resume");
  EXPECT_EQ(st["batches"]["duplicate_custom_ids"].GetInt(), 0);
  EXPECT_EQ(st["batches"]["lines_received"].GetInt(), 40);
  std::remove(state.c_str());
}

TEST(BatchJob, ABatchCreatedButNotRecordedIsFoundInsteadOfCreatedAgain) {
  EmulatorProcess emu({"--batch-latency-ms", "50"});
  Client c(emu.config("sk-lost", R"("model":"gpt-4o-mini")"));
  std::string state = temp_state("lost");
  std::remove(state.c_str());
  std::map<std::string, std::vector<Line>> got;
  std::string file_id;
  {
    Job job(c.get(), state, R"({"poll_ms":20})");
    job.add_chats(5, "gpt-4o-mini");
    EXPECT_EQ(llmsvc_batch_job_step(job.get(), 0, nullptr), 1);  // the upload
    rapidjson::Document s;
    s.Parse(read_file(state).c_str());
    ASSERT_TRUE(s.IsObject());
    ASSERT_EQ(std::string(s["chunks"][0]["state"].GetString()), "uploaded");
    file_id = s["chunks"][0]["file_id"].GetString();
  }
  // The creation went through, but the job stopped before it could record it.
  std::string created = http_post(emu.base_url() + "/batches",
                                  R"({"input_file_id":")" + file_id +
                                      R"(","endpoint":"/v1/chat/completions","completion_window":"24h"})",
                                  {"Authorization: Bearer sk-lost"});
  ASSERT_NE(created.find("batch_"), std::string::npos) << created;
  {
    Job job(c.get(), state, R"({"poll_ms":20})");
    EXPECT_EQ(job.add_chats(5, "gpt-4o-mini"), 5);
    EXPECT_EQ(job.run(got), 0);
  }
  EXPECT_EQ(got.size(), 5u);
  rapidjson::Document st = emu.stats("sk-lost");
  EXPECT_EQ(st["batches"]["openai_batches_created"].GetInt(), 1);
  EXPECT_EQ(st["batches"]["duplicate_custom_ids"].GetInt(), 0);
  std::remove(state.c_str());
}

TEST(BatchJob, AnthropicMessageBatchesAtBatchPrices) {
  EmulatorProcess emu({"--batch-latency-ms", "50"});
  Client c(emu.config("sk-ant-batch", R"("provider":"anthropic","model":"claude-sonnet-4-5")"));
  std::string state = temp_state("anthropic");
  std::remove(state.c_str());
  std::map<std::string, std::vector<Line>> got;
  {
    Job job(c.get(), state, R"({"max_requests":8,"poll_ms":20,"max_poll_ms":50})");
    job.add_chats(20, "claude-sonnet-4-5");
    EXPECT_EQ(job.run(got), 0);
  }
  ASSERT_EQ(got.size(), 20u);
  for (auto &[id, lines] : got) {
    ASSERT_EQ(lines.size(), 1u);
    const Line &l = lines[0];
    ASSERT_EQ(l.kind, LLMSVC_KIND_NONE) << l.json;
    // $3 and $15 per million, half in a batch.
    EXPECT_EQ(l.cost, (l.prompt * 3000000 + l.completion * 15000000) / 2 / 1000) << l.json;
    EXPECT_EQ(l.batch_id.rfind("msgbatch_", 0), 0u);
  }
  rapidjson::Document st = emu.stats("sk-ant-batch");
  EXPECT_EQ(st["batches"]["duplicate_custom_ids"].GetInt(), 0);
  std::remove(state.c_str());
}

TEST(BatchJob, MistakesAreNamed) {
  EmulatorProcess emu;
  Client c(emu.config("sk-bad", R"("model":"gpt-4o-mini")"));
  std::string state = temp_state("bad");
  std::remove(state.c_str());
  llmsvc_batch_job *job = nullptr;
  llmsvc_error *err = nullptr;
  EXPECT_EQ(llmsvc_batch_job_open(c.get(), state.c_str(), R"({"poll":1})", &job, &err),
            LLMSVC_ESCHEMA);
  EXPECT_NE(std::string(llmsvc_error_message(err)).find("poll"), std::string::npos);
  llmsvc_error_free(err);
  EXPECT_EQ(llmsvc_batch_job_open(nullptr, state.c_str(), nullptr, &job, nullptr), LLMSVC_EINVAL);
  {
    Job j(c.get(), state, "");
    const char stream[] = R"({"prompt":"x","stream":true})";
    EXPECT_EQ(llmsvc_batch_job_add(j.get(), "a", stream, sizeof stream - 1, nullptr, &err),
              LLMSVC_ESCHEMA);
    EXPECT_NE(std::string(llmsvc_error_message(err)).find("stream"), std::string::npos);
    llmsvc_error_free(err);
    const char ok[] = R"({"prompt":"x"})";
    EXPECT_EQ(llmsvc_batch_job_add(j.get(), "a", ok, sizeof ok - 1, nullptr, nullptr), LLMSVC_OK);
    EXPECT_EQ(llmsvc_batch_job_add(j.get(), "a", ok, sizeof ok - 1, nullptr, &err), LLMSVC_EINVAL);
    EXPECT_NE(std::string(llmsvc_error_message(err)).find("already"), std::string::npos);
    llmsvc_error_free(err);
  }
  {
    Client ollama(emu.config("sk-bad", R"("provider":"ollama","model":"llama3")"));
    std::string s2 = state + "2";
    std::remove(s2.c_str());
    Job j(ollama.get(), s2, "");
    const char ok[] = R"({"prompt":"x"})";
    EXPECT_EQ(llmsvc_batch_job_add(j.get(), "a", ok, sizeof ok - 1, nullptr, &err), LLMSVC_EINVAL);
    EXPECT_NE(std::string(llmsvc_error_message(err)).find("no batch API"), std::string::npos);
    llmsvc_error_free(err);
    std::remove(s2.c_str());
  }
  EXPECT_EQ(llmsvc_batch_job_step(nullptr, 0, nullptr), LLMSVC_EINVAL);
  EXPECT_EQ(llmsvc_batch_job_next(nullptr), nullptr);
  llmsvc_batch_job_close(nullptr);
  std::remove(state.c_str());
}
