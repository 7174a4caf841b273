#include "redis_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  return a;
}

}  // namespace

// redis 7 cannot be told to pick a port itself: take one the kernel picked, then free it.
int RedisProcess::free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0)
    throw std::runtime_error("no free loopback port");
  close(fd);
  return ntohs(a.sin_port);
}

int RedisProcess::free_cluster_port() {
  for (int i = 0; i < 1000; ++i) {
    int p = free_port();
    if (p + 10000 > 65535) continue;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(p + 10000);
    bool free = fd >= 0 && bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
    if (fd >= 0) close(fd);
    if (free) return p;
  }
  throw std::runtime_error("no free loopback port pair for a cluster node");
}

RedisProcess::RedisProcess(std::vector<std::string> extra, std::string config_file, bool sentinel,
                           int port)
    : port_(port ? port : free_port()),
      extra_(std::move(extra)),
      config_file_(std::move(config_file)),
      sentinel_(sentinel) {
  char tmpl[] = "/tmp/llmsvc-redis-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  start();
}

RedisProcess::~RedisProcess() {
  kill_now();
  if (!dir_.empty() && std::system(("rm -rf '" + dir_ + "'").c_str()) != 0) {
  }
}

void RedisProcess::start() {
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the test, even a crashed one
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    std::vector<std::string> args = {"redis-server"};
    if (!config_file_.empty()) args.push_back(config_file_);
    if (sentinel_) args.push_back("--sentinel");
    for (std::string a : {"--port", "", "--bind", "127.0.0.1"}) args.push_back(a);
    args[args.size() - 3] = std::to_string(port_);
    if (!sentinel_)
      for (std::string a : {"--save", "", "--appendonly", "no"}) args.push_back(a);
    args.push_back("--dir");
    args.push_back(dir_);
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char *> argv;
    for (std::string &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp("redis-server", argv.data());
    _exit(127);
  }
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ping()) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server did not start (is it installed?)");
    }
    if (std::chrono::steady_clock::now() > end) {
      kill_now();
      throw std::runtime_error("redis-server did not answer PING within 10 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void RedisProcess::kill_now() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string RedisProcess::command(const std::string &words) const {
  std::string reply = ask(words, false);
  return reply.substr(0, reply.find("\r\n"));
}

std::string RedisProcess::command_all(const std::string &words) const { return ask(words, true); }

std::string RedisProcess::ask(const std::string &words, bool all) const {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a = loopback(port_);
  std::string line = words + "\r\n", reply;
  if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0 &&
      write(fd, line.data(), line.size()) == ssize_t(line.size())) {
    char buf[4096];
    // One read answers a short reply; a whole one is read until the server is quiet.
    while (reply.size() < 65536) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      reply.append(buf, size_t(n));
      if (!all) break;
      timeval quiet{0, 100000};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &quiet, sizeof quiet);
    }
  }
  close(fd);
  return reply;
}
