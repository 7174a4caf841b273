#include "args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <vector>

namespace llmsvc_cli {

const char kMainHelp[] =
    "usage: llmsvc <command> [options]\n"
    "\n"
    "Runs LLM API requests through rate-limit gates, with retries, metrics, usage and cost.\n"
    "\n"
    "commands:\n"
    "  run IN.jsonl -o OUT.jsonl   run a batch of requests, one JSON document per line;\n"
    "                              resumable, paced by the limits (llmsvc run --help)\n"
    "  chat \"PROMPT\"               send one request and print the answer (llmsvc chat --help)\n"
    "  config check|convert FILE   a configuration file (YAML or JSON, llmsvc's, llm.yaml's or\n"
    "                              LiteLLM's layout) as the library reads it (llmsvc config --help)\n"
    "  emulator [FLAGS]            run the local emulator in the foreground (its own --help)\n"
    "  help [COMMAND]              this text, or a command's\n"
    "  --version                   the tool's and the library's version\n"
    "\n"
    "With no API key configured (config file, OPENAI_API_KEY, ANTHROPIC_API_KEY) and no base\n"
    "URL (config file, --base-url, OPENAI_BASE_URL), run and chat start the local emulator and\n"
    "talk to it: the answers are then synthetic.\n";

const char kRunHelp[] =
    "usage: llmsvc run IN.jsonl -o OUT.jsonl [options]\n"
    "\n"
    "Sends every line of IN.jsonl (a request document, see docs/schema.md, with an optional\n"
    "\"id\": string or number, else the line number) and writes one result line per id to\n"
    "OUT.jsonl. Re-running with the same OUT.jsonl skips the ids already done and retries the\n"
    "failed ones. IN.jsonl may be - for standard input.\n"
    "\n"
    "client:\n"
    "  --config FILE          the library's configuration: YAML or JSON, llmsvc's layout,\n"
    "                         llm.yaml's or LiteLLM's (see llmsvc config --help)\n"
    "  --model M              default model (else the config's, else gpt-4o-mini)\n"
    "  --provider P           openai_chat, openai_responses, anthropic, ollama or azure_openai\n"
    "  --base-url URL         the API's base URL\n"
    "  --rpm N --tpm N        requests and tokens per minute (0: unlimited)\n"
    "  --itpm N --otpm N      input and output tokens per minute (Anthropic)\n"
    "  --concurrency N        requests in flight at most\n"
    "  --window-ms N          the provider's counting window (60000)\n"
    "                         (these override the config file's \"limits\")\n"
    "  --cache-db PATH        cache results in an SQLite file\n"
    "  --cache-memory         cache results in memory for this run\n"
    "  --cache-policy P       deterministic (default) or all\n"
    "  --no-cache             ignore the config file's \"cache\"\n"
    "run:\n"
    "  -o, --output FILE      the results (required)\n"
    "  --order input|completion  order of OUT.jsonl at the end (default: input)\n"
    "  --max-pending N        requests submitted but not completed at most (4096)\n"
    "  --grace SECONDS        after SIGINT/SIGTERM, how long in-flight work may finish (10)\n"
    "  --attempts full        add every attempt's details to each result line\n"
    "  --progress-interval S  seconds between progress lines when stderr is no terminal (10)\n"
    "  --quiet                print only errors (and the emulator notice)\n"
    "  --summary-json FILE    write the final summary as JSON\n"
    "  --batch-api            send the requests through the provider's batch API (OpenAI's\n"
    "                         Batch API, Anthropic's Message Batches) at batch prices; the\n"
    "                         job's state is kept in OUT.jsonl.batch-job, so running the same\n"
    "                         command again after a stop resumes it and sends nothing twice\n"
    "  --batch-max-requests N requests per provider batch at most (the provider's limit)\n"
    "  --batch-enqueued-tokens N  input tokens in unfinished batches per model at most\n"
    "                         (your organisation's enqueued-token limit; 0: none)\n"
    "  --batch-poll-ms N      first wait before asking for a batch (10000; grows to 60000)\n"
    "\n"
    "exit status:\n"
    "  0    every request succeeded (or was already done)\n"
    "  1    some requests failed at the provider (re-run to retry them)\n"
    "  2    bad command line\n"
    "  3    some input lines are invalid; every valid line succeeded\n"
    "  4    I/O error: input unreadable, output unwritable\n"
    "  5    configuration error; the client or the emulator could not start\n"
    "  130  interrupted by SIGINT (143: SIGTERM); finished results are kept, re-run to resume\n";

const char kChatHelp[] =
    "usage: llmsvc chat \"PROMPT\" [options]\n"
    "\n"
    "Sends one request and prints the answer on standard output.\n"
    "\n"
    "  --stream               print the answer as it arrives\n"
    "  --system TEXT          instructions sent before the prompt\n"
    "  --max-output-tokens N  upper bound of the answer's tokens\n"
    "  --tools FILE           offer the tools in FILE (a JSON array, OpenAI's shape); the\n"
    "                         model's tool calls are printed as NAME(ARGUMENTS) lines\n"
    "  --tool-choice C        auto, none, required, or the name of one tool\n"
    "  --json                 print the whole result document instead of the text\n"
    "  --config FILE, --model M, --provider P, --base-url URL, --rpm N, --tpm N,\n"
    "  --concurrency N, --window-ms N   as for llmsvc run\n"
    "\n"
    "exit status: 0 answered, 1 the request failed, 2 bad command line, 5 configuration error\n";

namespace {

using Handler = std::function<std::string(const std::string &value)>;

struct Option {
  bool takes_value;
  Handler handle;
};

std::string parse_int(const std::string &name, const std::string &v, int64_t min, int64_t *out) {
  errno = 0;
  char *end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE || n < min)
    return name + ": expected an integer >= " + std::to_string(min) + ", got \"" + v + "\"";
  *out = n;
  return "";
}

std::string parse_seconds(const std::string &name, const std::string &v, double *out) {
  char *end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(d) || d < 0 || d > 1e6)
    return name + ": expected a number of seconds, got \"" + v + "\"";
  *out = d;
  return "";
}

Handler text(std::string *dst) {
  return [dst](const std::string &v) {
    *dst = v;
    return std::string();
  };
}

Handler flag(bool *dst) {
  return [dst](const std::string &) {
    *dst = true;
    return std::string();
  };
}

Handler integer(const char *name, int64_t min, int64_t *dst) {
  return [=](const std::string &v) { return parse_int(name, v, min, dst); };
}

void add_client_options(std::map<std::string, Option> &o, ClientOptions *c) {
  o["--config"] = {true, text(&c->config_path)};
  o["--model"] = {true, text(&c->model)};
  o["--provider"] = {true, text(&c->provider)};
  o["--base-url"] = {true, text(&c->base_url)};
  o["--rpm"] = {true, integer("--rpm", 0, &c->rpm)};
  o["--tpm"] = {true, integer("--tpm", 0, &c->tpm)};
  o["--itpm"] = {true, integer("--itpm", 0, &c->itpm)};
  o["--otpm"] = {true, integer("--otpm", 0, &c->otpm)};
  o["--concurrency"] = {true, integer("--concurrency", 0, &c->concurrency)};
  o["--window-ms"] = {true, integer("--window-ms", 1, &c->window_ms)};
}

void add_cache_options(std::map<std::string, Option> &o, ClientOptions *c) {
  o["--cache-db"] = {true, text(&c->cache_db)};
  o["--cache-memory"] = {false, flag(&c->cache_memory)};
  o["--no-cache"] = {false, flag(&c->no_cache)};
  o["--cache-policy"] = {true, [c](const std::string &v) {
                           if (v != "deterministic" && v != "all")
                             return "--cache-policy: expected deterministic or all, got \"" + v +
                                    "\"";
                           c->cache_policy = v;
                           return std::string();
                         }};
}

// Walks argv: options from `table` (as "--name value" or "--name=value"), the rest are
// positional. "--" ends the options.
std::string walk(int argc, char **argv, const std::map<std::string, Option> &table,
                 std::vector<std::string> *positional) {
  bool options_done = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      positional->push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg, value;
    size_t eq = arg.find('=');
    bool inline_value = eq != std::string::npos && arg.rfind("--", 0) == 0;
    if (inline_value) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto it = table.find(name);
    if (it == table.end()) return "unknown option " + name;
    if (it->second.takes_value && !inline_value) {
      if (i + 1 >= argc) return name + ": expects a value";
      value = argv[++i];
    } else if (!it->second.takes_value && inline_value) {
      return name + ": takes no value";
    }
    std::string err = it->second.handle(value);
    if (!err.empty()) return err;
  }
  return "";
}

}  // namespace

std::string parse_run_args(int argc, char **argv, RunOptions *out) {
  std::map<std::string, Option> t;
  add_client_options(t, &out->client);
  add_cache_options(t, &out->client);
  t["-o"] = t["--output"] = {true, text(&out->output)};
  t["--order"] = {true, [out](const std::string &v) {
                    if (v != "input" && v != "completion")
                      return "--order: expected input or completion, got \"" + v + "\"";
                    out->order_completion = v == "completion";
                    return std::string();
                  }};
  t["--attempts"] = {true, [out](const std::string &v) {
                       if (v != "full" && v != "count")
                         return "--attempts: expected full or count, got \"" + v + "\"";
                       out->attempts_full = v == "full";
                       return std::string();
                     }};
  t["--quiet"] = t["-q"] = {false, flag(&out->quiet)};
  t["--help"] = t["-h"] = {false, flag(&out->help)};
  t["--progress-interval"] = {true, [out](const std::string &v) {
                                std::string e = parse_seconds("--progress-interval", v,
                                                              &out->progress_interval_s);
                                if (e.empty() && out->progress_interval_s < 0.05)
                                  e = "--progress-interval: at least 0.05 seconds";
                                return e;
                              }};
  t["--grace"] = {true, [out](const std::string &v) {
                    return parse_seconds("--grace", v, &out->grace_s);
                  }};
  t["--max-pending"] = {true, integer("--max-pending", 1, &out->max_pending)};
  t["--summary-json"] = {true, text(&out->summary_json)};
  t["--batch-api"] = {false, flag(&out->batch_api)};
  t["--batch-max-requests"] = {true, integer("--batch-max-requests", 1, &out->batch_max_requests)};
  t["--batch-enqueued-tokens"] = {true, integer("--batch-enqueued-tokens", 0,
                                                &out->batch_enqueued_tokens)};
  t["--batch-poll-ms"] = {true, integer("--batch-poll-ms", 1, &out->batch_poll_ms)};

  std::vector<std::string> positional;
  std::string err = walk(argc, argv, t, &positional);
  if (!err.empty() || out->help) return err;
  if (positional.empty()) return "missing the input file (llmsvc run IN.jsonl -o OUT.jsonl)";
  if (positional.size() > 1) return "unexpected argument \"" + positional[1] + "\"";
  out->input = positional[0];
  if (out->output.empty()) return "missing -o OUT.jsonl (where the results go)";
  if (out->output == "-") return "-o: the output must be a file (it is rewritten and resumed)";
  if (out->client.no_cache && (!out->client.cache_db.empty() || out->client.cache_memory))
    return "--no-cache contradicts --cache-db and --cache-memory";
  if (!out->batch_api && (out->batch_max_requests || out->batch_enqueued_tokens ||
                          out->batch_poll_ms >= 0))
    return "--batch-max-requests, --batch-enqueued-tokens and --batch-poll-ms need --batch-api";
  return "";
}

std::string parse_chat_args(int argc, char **argv, ChatOptions *out) {
  std::map<std::string, Option> t;
  add_client_options(t, &out->client);
  t["--stream"] = {false, flag(&out->stream)};
  t["--json"] = {false, flag(&out->json)};
  t["--system"] = {true, text(&out->system)};
  t["--max-output-tokens"] = {true, integer("--max-output-tokens", 1, &out->max_output_tokens)};
  t["--tools"] = {true, text(&out->tools_file)};
  t["--tool-choice"] = {true, text(&out->tool_choice)};
  t["--help"] = t["-h"] = {false, flag(&out->help)};
  std::vector<std::string> positional;
  std::string err = walk(argc, argv, t, &positional);
  if (!err.empty() || out->help) return err;
  if (positional.empty()) return "missing the prompt (llmsvc chat \"PROMPT\")";
  if (!out->tool_choice.empty() && out->tools_file.empty()) return "--tool-choice needs --tools";
  if (positional.size() > 1)
    return "unexpected argument \"" + positional[1] + "\" (quote the prompt as one argument)";
  out->prompt = positional[0];
  if (out->stream && out->json) return "--stream and --json cannot be combined";
  return "";
}

}  // namespace llmsvc_cli
