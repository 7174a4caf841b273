// End-to-end tests of the llmsvc tool: the real binary against the real emulator.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "../integration/emulator_process.h"
#include "cli_process.h"

using namespace cli_test;
using namespace std::chrono_literals;

namespace {

rapidjson::Document parse(const std::string &line) {
  rapidjson::Document d;
  d.Parse(line.c_str());
  return d;
}

// The ids of a results file in file order; fails the test on a line that is not JSON.
std::vector<std::string> ids_of(const std::string &path) {
  std::vector<std::string> ids;
  for (const std::string &line : read_lines(path)) {
    rapidjson::Document d = parse(line);
    EXPECT_FALSE(d.HasParseError()) << line;
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("id")) continue;
    ids.push_back(d["id"].IsString() ? d["id"].GetString() : std::to_string(d["id"].GetInt64()));
  }
  return ids;
}

// N requests with ids r1..rN.
std::string batch(int n, const std::string &extra = "") {
  std::string s;
  for (int i = 1; i <= n; ++i)
    s += "{\"id\": \"r" + std::to_string(i) + "\", \"prompt\": \"request " + std::to_string(i) +
         "\", \"max_output_tokens\": 16" + extra + "}\n";
  return s;
}

std::vector<std::string> expected_ids(int n) {
  std::vector<std::string> ids;
  for (int i = 1; i <= n; ++i) ids.push_back("r" + std::to_string(i));
  return ids;
}

std::vector<std::string> env_for(const std::string &key) {
  return clean_env({{"OPENAI_API_KEY", key}});
}

size_t count_of(const std::string &text, const std::string &needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

int64_t stat_of(const EmulatorProcess &emu, const std::string &key, const char *name) {
  rapidjson::Document s = emu.stats(key);
  return s.HasMember(name) ? s[name].GetInt64() : -1;
}

// Ten requests; with concurrency 1 and a slow emulator the first is sent alone, then the
// high-priority ones (4..10), then 2 and 3: completion order 4,5,...,10,2,3 with 1 first
// or among the high-priority ones (it may be admitted before the others are queued).
std::string priority_batch() {
  std::string s;
  for (int i = 1; i <= 10; ++i)
    s += "{\"id\": \"r" + std::to_string(i) + "\", \"prompt\": \"p" + std::to_string(i) +
         "\", \"priority\": \"" + (i <= 3 ? "low" : "high") + "\"}\n";
  return s;
}

}  // namespace

TEST(CliRun, SmallBatchEndToEndInInputOrder) {
  EmulatorProcess emu({"--latency-ms", "100"});
  TempDir dir;
  write_text(dir.path("in.jsonl"), priority_batch());
  Ran r = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("out.jsonl"), "--base-url",
                    emu.base_url(), "--concurrency", "1"},
                   env_for("k-small"), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ids_of(dir.path("out.jsonl")), expected_ids(10));
  for (const std::string &line : read_lines(dir.path("out.jsonl"))) {
    rapidjson::Document d = parse(line);
    EXPECT_TRUE(d["ok"].GetBool()) << line;
    EXPECT_TRUE(d["text"].IsString()) << line;
    EXPECT_TRUE(d["usage"]["total_tokens"].GetInt64() > 0) << line;
    EXPECT_TRUE(d["cost_nano_usd"].IsInt64()) << line;  // gpt-4o-mini has a price
    EXPECT_EQ(d["attempts"].GetInt(), 1) << line;
    EXPECT_TRUE(d["line"].IsUint64()) << line;
  }
  EXPECT_NE(r.err.find("10 ok, 0 failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gpt-4o-mini, the default"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("latency p50"), std::string::npos) << r.err;
  EXPECT_EQ(stat_of(emu, "k-small", "ok"), 10);
}

// A JSONL file of embeddings requests becomes a results file of vectors, in input order.
TEST(CliRun, EmbeddingsBatchWritesTheVectors) {
  EmulatorProcess emu;
  TempDir dir;
  write_text(dir.path("in.jsonl"),
             "{\"id\": \"e1\", \"input\": [\"alpha\", \"beta\"], \"dimensions\": 8}\n"
             "{\"id\": \"e2\", \"input\": \"gamma\", \"dimensions\": 8}\n");
  Ran r = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("out.jsonl"), "--base-url",
                    emu.base_url(), "--model", "text-embedding-3-small"},
                   env_for("k-embed"), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines = read_lines(dir.path("out.jsonl"));
  ASSERT_EQ(lines.size(), 2u);
  size_t vectors[] = {2, 1};
  for (size_t i = 0; i < 2; ++i) {
    rapidjson::Document d = parse(lines[i]);
    ASSERT_TRUE(d["ok"].GetBool()) << lines[i];
    ASSERT_TRUE(d["embeddings"].IsArray()) << lines[i];
    ASSERT_EQ(d["embeddings"].Size(), vectors[i]) << lines[i];
    for (const auto &v : d["embeddings"].GetArray()) EXPECT_EQ(v.Size(), 8u) << lines[i];
    EXPECT_FALSE(d.HasMember("text")) << lines[i];
    EXPECT_GT(d["usage"]["prompt_tokens"].GetInt64(), 0) << lines[i];
    EXPECT_TRUE(d["cost_nano_usd"].IsInt64()) << lines[i];
  }
  EXPECT_EQ(stat_of(emu, "k-embed", "ok"), 2);
}

// The standard OpenTelemetry variables alone turn on the OTLP exporter (docs/telemetry.md);
// the emulator's receiver checks what arrives against the OTLP definitions.
TEST(CliRun, OtelEnvironmentVariablesAloneTurnTheExporterOn) {
  EmulatorProcess emu;
  TempDir dir;
  write_text(dir.path("in.jsonl"), priority_batch());
  std::string base = emu.base_url().substr(0, emu.base_url().size() - 3);
  std::vector<std::string> env = clean_env({{"OPENAI_API_KEY", "k-otel"},
                                            {"OTEL_EXPORTER_OTLP_ENDPOINT", base},
                                            {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
                                            {"OTEL_SERVICE_NAME", "cli-batch"}});
  Ran r = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("out.jsonl"), "--base-url",
                    emu.base_url()},
                   env, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  rapidjson::Document d = parse(http_get(base + "/_emulator/otlp"));
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["rejected"].Size(), 0u);
  size_t requests = 0, attempts = 0;
  for (const auto &t : d["traces"].GetArray())
    for (const auto &ss : t["resourceSpans"][0]["scopeSpans"].GetArray())
      for (const auto &s : ss["spans"].GetArray()) {
        requests += std::string(s["name"].GetString()) == "chat gpt-4o-mini";
        attempts += std::string(s["name"].GetString()) == "POST";
      }
  EXPECT_EQ(requests, 10u);
  EXPECT_EQ(attempts, 10u);
  ASSERT_GE(d["metrics"].Size(), 1u);
  EXPECT_NE(http_get(base + "/_emulator/otlp").find("cli-batch"), std::string::npos);
  EXPECT_EQ(http_get(base + "/_emulator/otlp").find("k-otel"), std::string::npos);
}

TEST(CliRun, CompletionOrder) {
  EmulatorProcess emu({"--latency-ms", "100"});
  TempDir dir;
  write_text(dir.path("in.jsonl"), priority_batch());
  Ran r = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("out.jsonl"), "--base-url",
                    emu.base_url(), "--concurrency", "1", "--order", "completion", "--quiet"},
                   env_for("k-order"), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // --quiet
  // r1 may be sent before the others arrive; then the high-priority ones, then r2, r3.
  std::vector<std::string> got = ids_of(dir.path("out.jsonl"));
  got.erase(std::remove(got.begin(), got.end(), "r1"), got.end());
  std::vector<std::string> want = {"r4", "r5", "r6", "r7", "r8", "r9", "r10", "r2", "r3"};
  EXPECT_EQ(got, want);
}

TEST(CliRun, PlainProgressLinesWhenStderrIsNoTerminal) {
  EmulatorProcess emu({"--rpm", "1200", "--window-ms", "250"});
  TempDir dir;
  write_text(dir.path("in.jsonl"), batch(20));  // 5 per 250 ms window: about 0.75 s
  Ran r = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("out.jsonl"), "--base-url",
                    emu.base_url(), "--rpm", "1200", "--window-ms", "250",
                    "--progress-interval", "0.1", "--summary-json", dir.path("summary.json")},
                   env_for("k-progress"), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GE(count_of(r.err, "llmsvc run: "), 3u) << r.err;
  EXPECT_NE(r.err.find("of 1200 (window"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("\x1b["), std::string::npos) << "no escape sequences off a terminal";
  rapidjson::Document s = parse(read_text(dir.path("summary.json")));
  ASSERT_TRUE(s.IsObject());
  EXPECT_EQ(s["ok"].GetInt(), 20);
  EXPECT_EQ(s["exit_code"].GetInt(), 0);
  EXPECT_TRUE(s["metrics"]["latency_ms"].IsObject());
  EXPECT_EQ(stat_of(emu, "k-progress", "rate_limited"), 0);
}

TEST(CliRun, InvalidLinesAreReportedAndTheRestCompletes) {
  EmulatorProcess emu;
  TempDir dir;
  std::string in = dir.path("in.jsonl");
  write_text(in,
             "{\"id\": \"a\", \"prompt\": \"one\"}\n"
             "{\"id\": \"b\", \"prompt\": \"two\"\n"
             "{\"id\": \"c\", \"prompt\": 3}\n"
             "\n"
             "{\"id\": \"a\", \"prompt\": \"again\"}\n"
             "{\"prompt\": \"four\", \"max_output_tokens\": \"ten\"}\n"
             "{\"id\": 7, \"prompt\": \"seven\"}\n");
  Ran r = run_tool({"run", in, "-o", dir.path("out.jsonl"), "--base-url", emu.base_url()},
                   env_for("k-bad"), dir);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find(in + ":2: invalid JSON at column"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(in + ":3: request.prompt: expected a string"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(in + ":5: request.id: \"a\" repeats the id of line 1"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(in + ":6: request.max_output_tokens: expected an integer"),
            std::string::npos)
      << r.err;
  std::map<std::string, std::string> kinds;  // id -> "ok" or the error kind
  for (const std::string &line : read_lines(dir.path("out.jsonl"))) {
    rapidjson::Document d = parse(line);
    ASSERT_FALSE(d.HasParseError()) << line;
    std::string id = d["id"].IsString() ? d["id"].GetString() : std::to_string(d["id"].GetInt());
    kinds[id] = d["ok"].GetBool() ? "ok" : d["error"]["kind"].GetString();
    if (!d["ok"].GetBool()) {
      EXPECT_NE(std::string(d["error"]["message"].GetString()).find(in + ":"), std::string::npos);
    }
  }
  std::map<std::string, std::string> want = {{"a", "ok"},
                                             {"2", "invalid_request"},
                                             {"c", "invalid_request"},
                                             {"6", "invalid_request"},
                                             {"7", "ok"}};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(read_lines(dir.path("out.jsonl")).size(), 5u);
}

TEST(CliRun, MissingInputAndUnwritableOutputAreIoErrors) {
  TempDir dir;
  std::vector<std::string> env = env_for("k-io");
  Ran missing = run_tool({"run", dir.path("nope.jsonl"), "-o", dir.path("out.jsonl"),
                          "--base-url", "http://127.0.0.1:9/v1"}, env, dir);
  EXPECT_EQ(missing.code, 4) << missing.err;
  EXPECT_NE(missing.err.find("nope.jsonl: No such file or directory"), std::string::npos)
      << missing.err;
  write_text(dir.path("in.jsonl"), batch(1));
  Ran unwritable = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("no/such/dir/out.jsonl"),
                             "--base-url", "http://127.0.0.1:9/v1"}, env, dir);
  EXPECT_EQ(unwritable.code, 4) << unwritable.err;
  EXPECT_NE(unwritable.err.find("out.jsonl"), std::string::npos) << unwritable.err;
  write_text(dir.path("foreign.txt"), "not a results file\n");
  Ran foreign = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("foreign.txt"),
                          "--base-url", "http://127.0.0.1:9/v1"}, env, dir);
  EXPECT_EQ(foreign.code, 4) << foreign.err;
  EXPECT_EQ(read_text(dir.path("foreign.txt")), "not a results file\n");
}

TEST(CliRun, UsageAndConfigurationErrors) {
  TempDir dir;
  std::vector<std::string> env = env_for("k-usage");
  write_text(dir.path("in.jsonl"), batch(1));
  Ran bad_flag = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("o"), "--rmp", "5"}, env, dir);
  EXPECT_EQ(bad_flag.code, 2);
  EXPECT_NE(bad_flag.err.find("unknown option --rmp"), std::string::npos) << bad_flag.err;
  Ran bad_value = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("o"), "--rpm", "x"}, env, dir);
  EXPECT_EQ(bad_value.code, 2);
  EXPECT_NE(bad_value.err.find("--rpm: expected an integer"), std::string::npos) << bad_value.err;
  Ran no_output = run_tool({"run", dir.path("in.jsonl")}, env, dir);
  EXPECT_EQ(no_output.code, 2);
  write_text(dir.path("config.json"), "{\"limits\": {\"rpm\": 10}");
  Ran bad_config = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("o"), "--config",
                             dir.path("config.json")}, env, dir);
  EXPECT_EQ(bad_config.code, 5);
  EXPECT_NE(bad_config.err.find("config.json:1:"), std::string::npos) << bad_config.err;
  EXPECT_NE(bad_config.err.find("not YAML (or JSON)"), std::string::npos) << bad_config.err;
  write_text(dir.path("config.json"), "{\"limits\": {\"rpm\": 10}, \"retyr\": {}}");
  Ran unknown_member = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("o"), "--config",
                                 dir.path("config.json"), "--base-url", "http://127.0.0.1:9/v1"},
                                env, dir);
  EXPECT_EQ(unknown_member.code, 5);
  EXPECT_NE(unknown_member.err.find("retyr"), std::string::npos) << unknown_member.err;
  Ran help = run_tool({"run", "--help"}, env, dir);
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("exit status"), std::string::npos);
  Ran version = run_tool({"--version"}, env, dir);
  EXPECT_EQ(version.code, 0);
  EXPECT_EQ(version.out.rfind("llmsvc 0.", 0), 0u) << version.out;
}

TEST(CliRun, ResumeAfterSigkillSendsNothingTwice) {
  const int n = 40, concurrency = 4;
  // 5 requests per 250 ms window: the batch takes about 2 s.
  std::vector<std::string> limits = {"--rpm", "1200", "--window-ms", "250"};
  EmulatorProcess emu(limits);
  TempDir dir;
  std::string in = dir.path("in.jsonl"), out = dir.path("out.jsonl");
  write_text(in, batch(n));
  std::vector<std::string> args = {"run", in, "-o", out, "--base-url", emu.base_url(),
                                   "--concurrency", std::to_string(concurrency)};
  args.insert(args.end(), limits.begin(), limits.end());
  {
    Process first(args, env_for("k-kill"), dir);
    ASSERT_TRUE(wait_until([&] { return read_lines(out).size() >= 10; }, 60s));
    first.signal(SIGKILL);
    EXPECT_EQ(first.wait(), 128 + SIGKILL);
  }
  size_t done = ids_of(out).size();
  ASSERT_GE(done, 10u);
  ASSERT_LT(done, size_t(n)) << "the batch finished before it was killed";
  {
    std::ofstream f(out, std::ios::app);
    f << "{\"id\":\"r9";  // a line cut short by a crash
  }
  Ran second = run_tool(args, env_for("k-kill"), dir);
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_NE(second.err.find("cut off a truncated last line"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find(std::to_string(done) + " skipped"), std::string::npos) << second.err;
  EXPECT_EQ(ids_of(out), expected_ids(n));
  // Finished requests were not sent again: at most the ones in flight at the kill were.
  EXPECT_LE(stat_of(emu, "k-kill", "ok"), n + concurrency);
}

TEST(CliRun, SigintLetsInFlightWorkFinishThenResumes) {
  const int n = 30;
  EmulatorProcess emu({"--latency-ms", "300"});
  TempDir dir;
  std::string in = dir.path("in.jsonl"), out = dir.path("out.jsonl");
  write_text(in, batch(n));
  std::vector<std::string> args = {"run", in, "-o", out, "--base-url", emu.base_url(),
                                   "--concurrency", "4"};
  Process first(args, env_for("k-int"), dir);
  ASSERT_TRUE(wait_until([&] { return read_lines(out).size() >= 4; }, 60s));
  first.signal(SIGINT);
  EXPECT_EQ(first.wait(), 130) << first.err();
  EXPECT_NE(first.err().find("interrupted"), std::string::npos) << first.err();
  std::vector<std::string> lines = read_lines(out);
  ASSERT_GE(lines.size(), 4u);
  ASSERT_LT(lines.size(), size_t(n));
  for (const std::string &line : lines) {
    rapidjson::Document d = parse(line);
    ASSERT_FALSE(d.HasParseError()) << line;
    EXPECT_TRUE(d["ok"].GetBool()) << "a cancelled request must not be written: " << line;
  }
  // The requests in flight at the interrupt finished: every answered one was written.
  EXPECT_EQ(stat_of(emu, "k-int", "ok"), int64_t(lines.size()));
  Ran second = run_tool(args, env_for("k-int"), dir);
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(ids_of(out), expected_ids(n));
}

TEST(CliRun, SecondSigintCancelsAtOnce) {
  EmulatorProcess emu({"--latency-ms", "20000"});
  TempDir dir;
  std::string in = dir.path("in.jsonl"), out = dir.path("out.jsonl");
  write_text(in, batch(3));
  Process p({"run", in, "-o", out, "--base-url", emu.base_url(), "--progress-interval", "0.05"},
            env_for("k-cancel"), dir);
  ASSERT_TRUE(wait_until([&] { return stat_of(emu, "k-cancel", "received") == 3; }, 60s));
  p.signal(SIGINT);
  ASSERT_TRUE(wait_until([&] { return p.err().find("interrupted:") != std::string::npos; }, 30s));
  p.signal(SIGINT);
  EXPECT_EQ(p.wait(std::chrono::seconds(15)), 130) << p.err();
  EXPECT_EQ(read_lines(out).size(), 0u);
}

TEST(CliRun, EmbeddedEmulatorWhenNoKeyIsConfigured) {
  TempDir dir;
  write_text(dir.path("in.jsonl"), batch(3));
  Ran r = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("out.jsonl"), "--rpm", "600"},
                   clean_env({{"LLMSVC_EMULATOR", LLMSVC_EMULATOR_PATH}}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("no API key configured: running against the local emulator at "
                       "http://127.0.0.1:"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("(responses are synthetic)"), std::string::npos) << r.err;
  EXPECT_EQ(ids_of(dir.path("out.jsonl")), expected_ids(3));
}

TEST(CliChat, PrintsTheAnswer) {
  TempDir dir;
  std::vector<std::string> env = clean_env({{"LLMSVC_EMULATOR", LLMSVC_EMULATOR_PATH}});
  Ran r = run_tool({"chat", "Say hello", "--max-output-tokens", "12"}, env, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(r.out.size(), 5u);
  EXPECT_NE(r.err.find("local emulator"), std::string::npos) << r.err;
  Ran streamed = run_tool({"chat", "Say hello", "--stream", "--model", "gpt-4o"}, env, dir);
  ASSERT_EQ(streamed.code, 0) << streamed.err;
  EXPECT_GT(streamed.out.size(), 5u);
  EXPECT_EQ(streamed.out.back(), '\n');
}

TEST(CliRun, LiveProgressOnATerminal) {
  EmulatorProcess emu({"--rpm", "1200", "--window-ms", "250"});
  TempDir dir;
  std::string in = dir.path("in.jsonl"), out = dir.path("out.jsonl");
  write_text(in, batch(20));
  std::vector<std::string> env = env_for("k-tty");
  std::vector<std::string> argv_s = {LLMSVC_CLI_PATH, "run", in, "-o", out, "--base-url",
                                     emu.base_url(), "--rpm", "1200", "--window-ms", "250"};
  std::vector<char *> argv, envp;
  for (auto &a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto &e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  struct winsize ws = {24, 100, 0, 0};
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  std::string screen;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    pollfd p{master, POLLIN, 0};
    if (std::chrono::steady_clock::now() > deadline || poll(&p, 1, 1000) < 0) break;
    char buf[4096];
    ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) screen.append(buf, size_t(n));
    if (n <= 0 && (p.revents & (POLLHUP | POLLERR | POLLIN))) break;  // EIO: the child is gone
  }
  int st = 0;
  if (waitpid(pid, &st, WNOHANG) != pid) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
  }
  close(master);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << screen;
  EXPECT_NE(screen.find("\x1b[?25l"), std::string::npos) << "cursor hidden";
  EXPECT_NE(screen.find("\x1b[2K"), std::string::npos) << "lines erased";
  EXPECT_NE(screen.find("A\x1b[2K\x1b[J"), std::string::npos) << "redrawn in place";
  EXPECT_NE(screen.find("\x1b[?25h"), std::string::npos) << "cursor restored";
  EXPECT_NE(screen.find("llmsvc run: "), std::string::npos);
  EXPECT_NE(screen.find("llmsvc run finished"), std::string::npos) << screen;
  EXPECT_NE(screen.find("20 ok, 0 failed"), std::string::npos) << screen;
  EXPECT_EQ(ids_of(out), expected_ids(20));
}

TEST(CliCache, ASecondRunIsServedFromTheCacheFile) {
  EmulatorProcess emu;
  TempDir dir;
  write_text(dir.path("in.jsonl"), batch(12, ", \"temperature\": 0"));
  std::vector<std::string> common = {"--base-url", emu.base_url(), "--cache-db",
                                     dir.path("cache.db"), "--quiet"};
  auto args = [&](const std::string &out) {
    std::vector<std::string> a = {"run", dir.path("in.jsonl"), "-o", dir.path(out)};
    a.insert(a.end(), common.begin(), common.end());
    return a;
  };
  Ran first = run_tool(args("first.jsonl"), env_for("k-cache"), dir);
  ASSERT_EQ(first.code, 0) << first.err;
  Ran second = run_tool(args("second.jsonl"), env_for("k-cache"), dir);
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(stat_of(emu, "k-cache", "received"), 12);  // the second run sent nothing
  std::vector<std::string> a = read_lines(dir.path("first.jsonl")),
                           b = read_lines(dir.path("second.jsonl"));
  ASSERT_EQ(a.size(), 12u);
  ASSERT_EQ(b.size(), 12u);
  for (size_t i = 0; i < a.size(); ++i) {
    rapidjson::Document da = parse(a[i]), db = parse(b[i]);
    EXPECT_FALSE(da["cache"]["hit"].GetBool()) << a[i];
    EXPECT_TRUE(db["cache"]["hit"].GetBool()) << b[i];
    EXPECT_STREQ(db["cache"]["source"].GetString(), "sqlite") << b[i];
    EXPECT_STREQ(da["text"].GetString(), db["text"].GetString());
    EXPECT_EQ(db["cost_nano_usd"].GetInt64(), 0);
    EXPECT_EQ(db["cache"]["saved_cost_nano_usd"].GetInt64(), da["cost_nano_usd"].GetInt64());
  }
}

TEST(CliCache, TwoRunsAtOnceShareOneCacheFile) {
  EmulatorProcess emu;
  TempDir dir;
  write_text(dir.path("in.jsonl"), batch(40, ", \"temperature\": 0"));
  auto args = [&](const std::string &out) {
    return std::vector<std::string>{"run", dir.path("in.jsonl"), "-o", dir.path(out),
                                    "--base-url", emu.base_url(), "--cache-db",
                                    dir.path("shared.db"), "--quiet"};
  };
  {
    Process one(args("one.jsonl"), env_for("k-two"), dir);
    Process two(args("two.jsonl"), env_for("k-two"), dir);
    EXPECT_EQ(one.wait(), 0) << one.err();
    EXPECT_EQ(two.wait(), 0) << two.err();
  }
  EXPECT_EQ(ids_of(dir.path("one.jsonl")), expected_ids(40));
  EXPECT_EQ(ids_of(dir.path("two.jsonl")), expected_ids(40));
  int64_t sent = stat_of(emu, "k-two", "received");
  EXPECT_GE(sent, 40);
  EXPECT_LE(sent, 80);
  Ran third = run_tool(args("three.jsonl"), env_for("k-two"), dir);
  ASSERT_EQ(third.code, 0) << third.err;
  EXPECT_EQ(stat_of(emu, "k-two", "received"), sent);  // every answer was in the file
  EXPECT_EQ(count_of(read_text(dir.path("three.jsonl")), "\"hit\":true"), 40u);
}

TEST(CliRun, AKeyPoolFromTheConfigurationFile) {
  // A configuration with two keys: no embedded emulator (deployments bring their own
  // endpoints), the batch spread over both, each output line naming its deployment.
  EmulatorProcess emu;
  TempDir dir;
  std::string in;
  for (int i = 0; i < 8; ++i) in += "{\"id\": \"r" + std::to_string(i + 1) + "\", \"prompt\": \"p\"}\n";
  write_text(dir.path("in.jsonl"), in);
  write_text(dir.path("pool.json"), "{\"base_url\": \"" + emu.base_url() +
                                        "\", \"model\": \"gpt-4o-mini\", \"api_keys\": [\"k-pool-1\", "
                                        "\"k-pool-2\"], \"limits\": [{\"rpm\": 600}]}");
  Ran r = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("out.jsonl"), "--config",
                    dir.path("pool.json"), "--quiet"},
                   clean_env({}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  std::map<std::string, int> by;
  for (const std::string &line : read_lines(dir.path("out.jsonl"))) ++by[parse(line)["deployment"].GetString()];
  EXPECT_EQ(by["gpt-4o-mini#0"], 4);
  EXPECT_EQ(by["gpt-4o-mini#1"], 4);
  EXPECT_EQ(stat_of(emu, "k-pool-1", "ok"), 4);
  EXPECT_EQ(stat_of(emu, "k-pool-2", "ok"), 4);
  // Flags cannot change a list of limits: said, not guessed.
  Ran flags = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("o2.jsonl"), "--config",
                        dir.path("pool.json"), "--rpm", "10"},
                       clean_env({}), dir);
  EXPECT_EQ(flags.code, 5) << flags.err;
  EXPECT_NE(flags.err.find("one per deployment"), std::string::npos) << flags.err;
}

TEST(CliRun, AKeyEchoedByTheServerIsInNoOutput) {
  // The emulator's hostile endpoint echoes the whole key in its 401 body, param and a header.
  EmulatorProcess emu;
  TempDir dir;
  const std::string canary = "sk-canary-7a6b5c4d3e2f1a0b";
  std::string base = emu.base_url();
  base.insert(base.size() - 3, "/hostile/echo-key");
  write_text(dir.path("cfg.json"), R"({"provider":"openai_chat","base_url":")" + base +
                                       R"(","api_key":")" + canary + R"(","retry":{"max_attempts":2}})");
  write_text(dir.path("in.jsonl"), batch(3));
  Ran r = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("out.jsonl"), "--config",
                    dir.path("cfg.json"), "--summary-json", dir.path("summary.json"),
                    "--progress-interval", "0.05"},
                   clean_env(), dir);
  EXPECT_EQ(r.code, 1) << r.err;
  std::string results = read_text(dir.path("out.jsonl"));
  EXPECT_EQ(count_of(results, "\"kind\":\"auth\""), 3u) << results;
  EXPECT_GT(count_of(results, "[redacted]"), 0u) << results;  // the echo was there
  for (const std::string &text : {results, read_text(dir.path("summary.json")), r.out, r.err})
    EXPECT_EQ(text.find(canary), std::string::npos) << text;
  Ran chat = run_tool({"chat", "hi", "--config", dir.path("cfg.json"), "--json"}, clean_env(), dir);
  EXPECT_EQ(chat.code, 1);
  EXPECT_EQ(chat.out.find(canary), std::string::npos) << chat.out;
  EXPECT_EQ(chat.err.find(canary), std::string::npos) << chat.err;
}

TEST(CliRun, ToolRoundsGoThroughAndTheirCallsAreInTheResults) {
  EmulatorProcess emu;
  TempDir dir;
  const std::string tools = R"([{"type":"function","function":{"name":"get_weather",)"
                            R"("parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}])";
  write_text(dir.path("in.jsonl"),
             R"({"id":"ask","prompt":"Use get_weather for Paris.","tools":)" + tools + "}\n" +
                 R"({"id":"answer","tools":)" + tools +
                 R"(,"messages":[{"role":"user","content":"Use get_weather for Paris."},)"
                 R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",)"
                 R"("function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},)"
                 R"({"role":"tool","tool_call_id":"call_1","content":"18 C"}]})" + "\n" +
                 R"({"id":"orphan","messages":[{"role":"tool","tool_call_id":"nope","content":"x"}]})" + "\n");
  Ran r = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("out.jsonl"), "--base-url",
                    emu.base_url()},
                   env_for("k-tools"), dir);
  EXPECT_EQ(r.code, 3) << r.err;  // one invalid line, the others answered
  std::vector<std::string> lines = read_lines(dir.path("out.jsonl"));
  ASSERT_EQ(lines.size(), 3u);
  rapidjson::Document ask = parse(lines[0]);
  EXPECT_STREQ(ask["finish_reason"].GetString(), "tool_calls") << lines[0];
  EXPECT_STREQ(ask["tool_calls"][0]["name"].GetString(), "get_weather") << lines[0];
  EXPECT_TRUE(ask["tool_calls"][0]["arguments_json"]["city"].IsString()) << lines[0];
  rapidjson::Document answer = parse(lines[1]);
  EXPECT_STREQ(answer["text"].GetString(), "Tool results: 18 C") << lines[1];
  EXPECT_NE(lines[2].find("answers no tool call"), std::string::npos) << lines[2];
  write_text(dir.path("tools.json"), tools);
  for (const char *stream : {"", "--stream"}) {
    std::vector<std::string> args = {"chat", "Use get_weather for Rome.", "--tools",
                                     dir.path("tools.json"), "--base-url", emu.base_url()};
    if (*stream) args.push_back(stream);
    Ran chat = run_tool(args, env_for("k-tools"), dir);
    ASSERT_EQ(chat.code, 0) << chat.err;
    EXPECT_NE(chat.out.find("get_weather({\"city\":"), std::string::npos) << chat.out;
    EXPECT_NE(chat.out.find("})"), std::string::npos) << chat.out;
  }
}

TEST(CliConfig, CheckAndConvertReadYamlLayoutsAndNeverPrintAKey) {
  EmulatorProcess emu;
  TempDir dir;
  const std::string canary = "sk-canary-5e4d3c2b1a09";
  write_text(dir.path("llm.yaml"), "providers:\n  openai:\n    base_url: " + emu.base_url() +
                                       "\n    api_keys: [\"${POOL_KEY}\", k2]\n    models: [gpt-4o-mini]\n"
                                       "    rate_limits: [{requests_per_minute: 600, burst: 2}]\nlogging: {}\n");
  write_text(dir.path("env"), "# the pool's first key\nexport POOL_KEY=\"" + canary + "\"\n");
  Ran check = run_tool({"config", "check", dir.path("llm.yaml"), "--env-file", dir.path("env")},
                       clean_env(), dir);
  ASSERT_EQ(check.code, 0) << check.err;
  EXPECT_NE(check.out.find("openai#2"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("rpm 600"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("config.logging: ignored"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("rate_limits[0].burst: ignored"), std::string::npos) << check.out;
  EXPECT_EQ(check.out.find(canary), std::string::npos) << check.out;
  Ran convert = run_tool({"config", "convert", dir.path("llm.yaml"), "--env-file", dir.path("env")},
                         clean_env(), dir);
  ASSERT_EQ(convert.code, 0) << convert.err;
  EXPECT_EQ(convert.out.find(canary), std::string::npos) << convert.out;
  EXPECT_TRUE(parse(convert.out).IsObject()) << convert.out;
  // Without the variable: an error naming it, exit 5.
  Ran missing = run_tool({"config", "check", dir.path("llm.yaml")}, clean_env(), dir);
  EXPECT_EQ(missing.code, 5);
  EXPECT_NE(missing.err.find("the environment variable POOL_KEY is not set"), std::string::npos) << missing.err;
  // llmsvc run reads the same file; the warnings go to stderr, the key nowhere.
  write_text(dir.path("in.jsonl"), batch(4));
  Ran r = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("out.jsonl"), "--config",
                    dir.path("llm.yaml")},
                   clean_env({{"POOL_KEY", canary}}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("config.logging: ignored"), std::string::npos) << r.err;
  EXPECT_EQ(stat_of(emu, canary, "ok"), 2);
  EXPECT_EQ(stat_of(emu, "k2", "ok"), 2);
  for (const std::string &text : {r.out, r.err, read_text(dir.path("out.jsonl"))})
    EXPECT_EQ(text.find(canary), std::string::npos) << text;
}

// A 10,000-line batch through the Batch API, killed (SIGKILL) once while its first
// provider batches run and once while results are being written, then run to the end:
// one result per line, the batch-price cost, and no line ever sent twice.
TEST(CliRun, BatchApiRunKilledTwiceEndsWithOneResultPerLine) {
  EmulatorProcess emu({"--batch-latency-ms", "300", "--batch-enqueued-tokens", "60000"});
  TempDir dir;
  const int n = 10000;
  write_text(dir.path("in.jsonl"), batch(n));
  const std::string out = dir.path("out.jsonl"), state = out + ".batch-job";
  std::vector<std::string> args = {"run", dir.path("in.jsonl"), "-o", out, "--base-url",
                                   emu.base_url(), "--batch-api", "--batch-max-requests", "1000",
                                   "--batch-enqueued-tokens", "60000", "--batch-poll-ms", "50",
                                   "--quiet"};
  auto running = [&] {
    std::ifstream in(state);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return s.find("\"running\"") != std::string::npos;
  };
  {
    Process p(args, env_for("k-batch-api"), dir);
    ASSERT_TRUE(wait_until(running, 60s)) << p.err();
    p.signal(SIGKILL);
    p.wait();
  }
  size_t first = read_lines(out).size();
  EXPECT_LT(first, size_t(n));
  {
    Process p(args, env_for("k-batch-api"), dir);
    ASSERT_TRUE(wait_until([&] { return read_lines(out).size() > first + 1500; }, 60s)) << p.err();
    p.signal(SIGKILL);
    p.wait();
  }
  size_t second = read_lines(out).size();
  EXPECT_LT(second, size_t(n));
  Ran r = run_tool(args, env_for("k-batch-api"), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> ids = ids_of(out);
  EXPECT_EQ(ids, expected_ids(n));  // one per line, in input order
  int64_t cost = 0, expected = 0;
  for (const std::string &line : read_lines(out)) {
    rapidjson::Document d = parse(line);
    ASSERT_TRUE(d["ok"].GetBool()) << line;
    int64_t p = d["usage"]["prompt_tokens"].GetInt64(), c = d["usage"]["completion_tokens"].GetInt64();
    // gpt-4o-mini at half its $0.15 / $0.60 per million tokens.
    expected += (p * 150000 + c * 600000) / 2 / 1000;
    cost += d["cost_nano_usd"].GetInt64();
  }
  EXPECT_EQ(cost, expected);
  EXPECT_GT(cost, 0);
  rapidjson::Document s = emu.stats("k-batch-api");
  EXPECT_EQ(s["batches"]["lines_received"].GetInt(), n);
  EXPECT_EQ(s["batches"]["duplicate_custom_ids"].GetInt(), 0);
  EXPECT_EQ(s["batches"]["token_limit_failures"].GetInt(), 0);
  EXPECT_FALSE(std::ifstream(state).good());  // a finished job leaves no state behind
}

TEST(CliRun, BatchApiOnTheEmbeddedEmulatorWhenNoKeyIsConfigured) {
  TempDir dir;
  write_text(dir.path("in.jsonl"), batch(5));
  Ran r = run_tool({"run", dir.path("in.jsonl"), "-o", dir.path("out.jsonl"), "--batch-api"},
                   clean_env({{"LLMSVC_EMULATOR", LLMSVC_EMULATOR_PATH}}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("batch API (openai_chat): provider batches created by this run 1, delivered in all 1"), std::string::npos)
      << r.err;
  EXPECT_EQ(ids_of(dir.path("out.jsonl")), expected_ids(5));
}
