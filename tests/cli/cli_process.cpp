#include "cli_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char **environ;

namespace cli_test {

TempDir::TempDir() {
  const char *base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/llmsvc-cli-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> clean_env(const std::map<std::string, std::string> &extra) {
  static const char *const kDropped[] = {"OPENAI_API_KEY=",    "OPENAI_BASE_URL=",
                                         "ANTHROPIC_API_KEY=", "ANTHROPIC_BASE_URL=",
                                         "LLMSVC_EMULATOR=",   "OLLAMA_HOST=",
                                         "OTEL_"};
  std::vector<std::string> env;
  for (char **e = environ; *e; ++e) {
    bool drop = false;
    for (const char *d : kDropped) drop = drop || std::strncmp(*e, d, std::strlen(d)) == 0;
    if (!drop) env.push_back(*e);
  }
  for (const auto &kv : extra) env.push_back(kv.first + "=" + kv.second);
  return env;
}

Process::Process(const std::vector<std::string> &args, const std::vector<std::string> &env,
                 const TempDir &dir) {
  static int counter = 0;
  ++counter;
  out_path_ = dir.path("stdout." + std::to_string(counter));
  err_path_ = dir.path("stderr." + std::to_string(counter));
  std::vector<std::string> argv_s = {LLMSVC_CLI_PATH};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char *> argv, envp;
  for (auto &a : argv_s) argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  for (auto &e : env) envp.push_back(const_cast<char *>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
}

Process::~Process() {
  if (pid_ > 0 && status_ == -1) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Process::signal(int sig) { kill(pid_, sig); }

int Process::wait(std::chrono::seconds limit) {
  if (status_ != -1) return status_;
  int st = 0;
  bool exited = wait_until([&] { return waitpid(pid_, &st, WNOHANG) == pid_; }, limit);
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &st, 0);
    status_ = -2;
    return -1;
  }
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return status_;
}

std::string Process::out() const { return read_text(out_path_); }
std::string Process::err() const { return read_text(err_path_); }

Ran run_tool(const std::vector<std::string> &args, const std::vector<std::string> &env,
             const TempDir &dir) {
  Process p(args, env, dir);
  int code = p.wait();
  return {code, p.out(), p.err()};
}

std::string read_text(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<std::string> read_lines(const std::string &path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

bool wait_until(const std::function<bool()> &cond, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace cli_test
