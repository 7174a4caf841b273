// Command-line options of `llmsvc run` and `llmsvc chat`, and their help texts.
#pragma once

#include <cstdint>
#include <string>

namespace llmsvc_cli {

/// Exit codes (docs/cli.md). When several apply, the first in this list that applies wins:
/// interrupted, configuration, I/O, usage, provider failures, invalid lines, success.
enum ExitCode {
  kExitOk = 0,
  kExitFailed = 1,    // some requests failed at the provider
  kExitUsage = 2,     // bad command line
  kExitInvalid = 3,   // some input lines invalid; every valid line succeeded
  kExitIo = 4,        // input unreadable, output unwritable
  kExitConfig = 5,    // configuration error, client or emulator could not start
  kExitSigint = 130,  // interrupted by SIGINT
  kExitSigterm = 143  // interrupted by SIGTERM
};

/// What decides the client's configuration; shared by `run` and `chat`.
struct ClientOptions {
  std::string config_path;
  std::string model;
  std::string provider;
  std::string base_url;
  // Limits from the command line; -1 when not given.
  int64_t rpm = -1, tpm = -1, itpm = -1, otpm = -1, concurrency = -1, window_ms = -1;
  std::string cache_db;
  bool cache_memory = false;
  bool no_cache = false;
  std::string cache_policy;
};

struct RunOptions {
  ClientOptions client;
  std::string input;
  std::string output;
  bool order_completion = false;
  bool quiet = false;
  double progress_interval_s = 10;
  double grace_s = 10;
  int64_t max_pending = 4096;
  bool attempts_full = false;
  std::string summary_json;
  bool help = false;
  // --batch-api: through the provider's batch API (state in OUT.jsonl.batch-job).
  bool batch_api = false;
  int64_t batch_max_requests = 0;
  int64_t batch_enqueued_tokens = 0;
  int64_t batch_poll_ms = -1;  // -1: the library's default
};

struct ChatOptions {
  ClientOptions client;
  std::string prompt;
  std::string system;
  int64_t max_output_tokens = -1;
  std::string tools_file;   // a JSON array of tool definitions, sent as the request's tools
  std::string tool_choice;  // auto, none, required or a tool's name
  bool stream = false;
  bool json = false;
  bool help = false;
};

/// Parses the arguments after "run". Returns "" or a message naming the bad argument.
std::string parse_run_args(int argc, char **argv, RunOptions *out);
/// Parses the arguments after "chat". Returns "" or a message naming the bad argument.
std::string parse_chat_args(int argc, char **argv, ChatOptions *out);

extern const char kMainHelp[];
extern const char kRunHelp[];
extern const char kChatHelp[];

}  // namespace llmsvc_cli
