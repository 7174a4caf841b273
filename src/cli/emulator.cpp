#include "emulator.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace llmsvc_cli {

namespace {

constexpr const char kEmulatorName[] = "llmsvc-emulator";
constexpr int kStartTimeoutMs = 15000;

bool executable(const std::string &path) {
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         access(path.c_str(), X_OK) == 0;
}

std::string self_dir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string p(buf, size_t(n));
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

std::string on_path() {
  const char *path = std::getenv("PATH");
  std::string all = path ? path : "";
  size_t start = 0;
  while (start <= all.size()) {
    size_t end = all.find(':', start);
    if (end == std::string::npos) end = all.size();
    std::string dir = all.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + kEmulatorName;
    if (executable(candidate)) return candidate;
    start = end + 1;
  }
  return "";
}

std::vector<char *> argv_of(std::vector<std::string> &args) {
  std::vector<char *> argv;
  for (auto &a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// In the child: everything the parent blocked or caught is back to default for the
// emulator, which must answer SIGTERM.
void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
}

[[noreturn]] void run_child(std::vector<char *> &argv, int out_fd, pid_t parent) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent is already gone
  reset_signals();
  dup2(out_fd, STDOUT_FILENO);
  close(out_fd);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  execv(argv[0], argv.data());
  _exit(127);
}

// Reads the first line from `fd`, waiting at most `timeout_ms` in all.
bool read_first_line(int fd, int timeout_ms, std::string *line) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char c;
  while (line->size() < 512) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, int(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (c == '\n') return true;
    line->push_back(c);
  }
  return false;
}

}  // namespace

std::string find_emulator(std::string *searched) {
  const char *env = std::getenv("LLMSVC_EMULATOR");
  if (env && *env) {
    *searched = "$LLMSVC_EMULATOR (" + std::string(env) + ")";
    return executable(env) ? std::string(env) : std::string();
  }
  std::string dir = self_dir();
  std::string beside = dir + "/" + kEmulatorName;
  if (!dir.empty() && executable(beside)) return beside;
  std::string found = on_path();
  *searched = "$LLMSVC_EMULATOR, " + (dir.empty() ? std::string("this program's directory") : dir) +
              " and PATH";
  return found;
}

Emulator::~Emulator() { stop(); }

std::string Emulator::start(const std::string &path, const std::vector<std::string> &args) {
  std::vector<std::string> all = {path, "--host", "127.0.0.1", "--port", "0"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char *> argv = argv_of(all);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    close(fds[0]);
    close(fds[1]);
    return std::string("fork: ") + std::strerror(errno);
  }
  if (pid_ == 0) {
    close(fds[0]);
    run_child(argv, fds[1], parent);
  }
  close(fds[1]);
  out_fd_ = fds[0];
  std::string line;
  bool ok = read_first_line(out_fd_, kStartTimeoutMs, &line);
  size_t colon = line.rfind(':');
  if (ok && line.rfind("listening on ", 0) == 0 && colon != std::string::npos)
    port_ = std::atoi(line.c_str() + colon + 1);
  if (port_ <= 0) {
    stop();
    return path + " did not start" + (line.empty() ? std::string() : " (it said: " + line + ")");
  }
  return "";
}

void Emulator::stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status;
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      pid_t r = waitpid(pid_, &status, WNOHANG);
      gone = r == pid_ || (r < 0 && errno != EINTR);
      if (!gone) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, nullptr);
      }
    }
    if (!gone) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  if (out_fd_ >= 0) close(out_fd_);
  out_fd_ = -1;
}

std::string Emulator::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string exec_emulator(const std::vector<std::string> &args) {
  std::string searched;
  std::string path = find_emulator(&searched);
  if (path.empty()) return "cannot find llmsvc-emulator (looked in " + searched + ")";
  std::vector<std::string> all = {path};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char *> argv = argv_of(all);
  execv(argv[0], argv.data());
  return path + ": " + std::strerror(errno);
}

}  // namespace llmsvc_cli
