// llmsvc: the command-line tool. Runs batches of LLM API requests through the library's
// rate-limit gates (`run`), one request (`chat`), checks a configuration file (`config`), or
// the local emulator (`emulator`).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "llmsvc.h"

#include "args.h"
#include "chat.h"
#include "config_command.h"
#include "emulator.h"
#include "run.h"

namespace {

using namespace llmsvc_cli;

int usage_error(const char *command, const std::string &message) {
  std::fprintf(stderr, "llmsvc %s: %s\nrun 'llmsvc %s --help' for the options\n", command,
               message.c_str(), command);
  return kExitUsage;
}

int help(const std::string &topic) {
  if (topic == "run") std::fputs(kRunHelp, stdout);
  else if (topic == "chat") std::fputs(kChatHelp, stdout);
  else if (topic == "config") {
    char help_arg[] = "--help";
    char *args[] = {help_arg};
    return config_command(1, args);
  }
  else if (topic.empty() || topic == "help") std::fputs(kMainHelp, stdout);
  else return usage_error("help", "no such command: " + topic);
  return kExitOk;
}

int run_command(int argc, char **argv) {
  RunOptions o;
  std::string err = parse_run_args(argc, argv, &o);
  if (!err.empty()) return usage_error("run", err);
  if (o.help) return help("run");
  return run_batch(o);
}

int chat_command(int argc, char **argv) {
  ChatOptions o;
  std::string err = parse_chat_args(argc, argv, &o);
  if (!err.empty()) return usage_error("chat", err);
  if (o.help) return help("chat");
  return chat(o);
}

int emulator_command(int argc, char **argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::string err = exec_emulator(args);
  std::fprintf(stderr, "llmsvc emulator: %s\n", err.c_str());
  return kExitConfig;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fputs(kMainHelp, stderr);
    return kExitUsage;
  }
  std::string command = argv[1];
  if (command == "run") return run_command(argc - 2, argv + 2);
  if (command == "chat") return chat_command(argc - 2, argv + 2);
  if (command == "emulator") return emulator_command(argc - 2, argv + 2);
  if (command == "config") return config_command(argc - 2, argv + 2);
  if (command == "help" || command == "--help" || command == "-h")
    return help(argc > 2 ? argv[2] : "");
  if (command == "--version" || command == "version") {
    std::printf("llmsvc %s (library %s)\n", LLMSVC_VERSION_STRING, llmsvc_version());
    return kExitOk;
  }
  std::fprintf(stderr, "llmsvc: unknown command '%s'\n\n%s", command.c_str(), kMainHelp);
  return kExitUsage;
}
