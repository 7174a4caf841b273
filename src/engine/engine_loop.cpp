// The engine's event loop. libcurl is driven through its socket API: it tells us which
// sockets to watch (on_socket) and when its next timeout falls (on_curl_timer); epoll
// reports the sockets that are ready, and only those are handed back to libcurl. A wake-up
// therefore costs what is ready, not what is in flight (curl_multi_perform and
// curl_multi_poll walk every transfer on every pass). Other threads wake the engine through
// an eventfd, written at most once until the engine has read it.
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <new>
#include <system_error>

#include "engine/engine.h"

namespace llmsvc {

namespace {

// The wake-up's epoll data; a socket's is (shard << 32) | fd, and shards stay far fewer.
constexpr uint64_t kWakeData = ~uint64_t(0);

// Milliseconds from `now` until `due`, rounded up so a timer never fires early; 0 when due.
int64_t ms_until(int64_t due, int64_t now) {
  if (due <= now) return 0;
  return (due - now + kNsPerMs - 1) / kNsPerMs;
}

}  // namespace

void Engine::open_loop() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    int e = errno;
    close_loop();
    throw std::system_error(e, std::generic_category(), "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeData;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    int e = errno;
    close_loop();
    throw std::system_error(e, std::generic_category(), "epoll_ctl");
  }
}

Engine::Shard &Engine::add_shard() {
  CURLM *multi = curl_multi_init();
  if (!multi) throw std::bad_alloc();
  try {
    shards_.push_back(std::make_unique<Shard>(Shard{this, uint32_t(shards_.size()), multi}));
  } catch (...) {
    curl_multi_cleanup(multi);
    throw;
  }
  Shard &s = *shards_.back();
  curl_multi_setopt(multi, CURLMOPT_PIPELINING,
                    long(http2_reliable() ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING));
  if (config_.max_connections > 0)
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, long(config_.max_connections));
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Engine::on_socket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, &s);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Engine::on_curl_timer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, &s);
  return s;
}

Engine::Shard &Engine::shard_for_new() {
  // A configured connection bound holds per multi handle: keep one, so it holds per client.
  if (config_.max_connections > 0) return *shards_[0];
  for (auto &s : shards_)
    if (s->transfers < kShardTransfers) return *s;
  try {
    return add_shard();
  } catch (...) {
    return *shards_.back();  // out of memory: a full shard still works, only slower
  }
}

void Engine::close_shards() {
  for (auto &s : shards_) curl_multi_cleanup(s->multi);
  shards_.clear();
}

void Engine::close_loop() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  wake_fd_ = epoll_fd_ = -1;
}

void Engine::wake() {
  // One write until the engine has taken it: a burst of submissions costs one syscall.
  if (wake_sent_.exchange(true)) return;
  uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

int Engine::on_socket(CURL *, curl_socket_t s, int what, void *shard, void *socketp) {
  auto *sh = static_cast<Shard *>(shard);
  const int epoll_fd = sh->engine->epoll_fd_;
  if (what == CURL_POLL_REMOVE) {
    // The socket may be closed already (then the kernel dropped it from the set).
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s, nullptr);
    return 0;
  }
  epoll_event ev{};
  if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
  ev.data.u64 = (uint64_t(sh->index) << 32) | uint32_t(s);
  // socketp marks a socket already in the set; a number reused after a close the kernel
  // saw (and forgot) is added again.
  int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(epoll_fd, op, s, &ev) != 0) {
    op = errno == ENOENT ? EPOLL_CTL_ADD : errno == EEXIST ? EPOLL_CTL_MOD : -1;
    if (op < 0 || epoll_ctl(epoll_fd, op, s, &ev) != 0) return -1;
  }
  if (!socketp) curl_multi_assign(sh->multi, s, sh);
  return 0;
}

int Engine::on_curl_timer(CURLM *, long timeout_ms, void *shard) {
  auto *sh = static_cast<Shard *>(shard);
  sh->due_ns = timeout_ms < 0 ? kNever : steady_now_ns() + timeout_ms * kNsPerMs;
  return 0;
}

void Engine::run() {
  engine_tid_.store(std::this_thread::get_id());
  pthread_setname_np(pthread_self(), "llmsvc-engine");  // for top, perf and debuggers
  for (;;) {
    // Nothing may escape this thread: an exception here would end the host process.
    try {
      if (!step()) break;
      bool progressed = read_done();
      flush_completions();
      if (progressed) continue;  // freed capacity: admit again before sleeping
      wait_for_events(clock_.steady_ns());
    } catch (...) {
      metrics_.internal_error();
    }
  }
  try {
    shutdown_all();
    flush_completions();
    // Every request has completed: their telemetry goes out before the client says it
    // closed (a program may exit right after).
    if (otlp_) otlp_->stop();
  } catch (...) {
    metrics_.internal_error();
  }
  completions_.close();  // pollers and the fd learn that nothing more comes
  std::vector<Task> late;
  std::vector<std::pair<llmsvc_closed_cb, void *>> closed;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    late.swap(tasks_);
    closed.swap(closed_cbs_);
    stopped_ = true;
  }
  for (Task &t : late) t();
  for (auto &[cb, payload] : closed) {
    try {
      cb(payload);
    } catch (...) {
    }
  }
}

bool Engine::step() {
  drain_inbox();
  if (stopping_) return false;
  int64_t now = clock_.steady_ns();
  fire_timers(now);
  admit(now);
  int64_t real_now = 0;
  for (size_t i = 0; i < shards_.size(); ++i) {
    Shard &sh = *shards_[i];
    if (sh.due_ns == kNever) continue;
    if (!real_now) real_now = steady_now_ns();
    if (real_now < sh.due_ns) continue;
    int running = 0;
    curl_multi_socket_action(sh.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    // libcurl reports a timeout only when it changes; one that fired a moment early (it
    // rounds down to milliseconds) stays as it was, so read it back rather than assume.
    long ms = -1;
    curl_multi_timeout(sh.multi, &ms);
    sh.due_ns = ms < 0 ? kNever : steady_now_ns() + ms * kNsPerMs;
  }
  return true;
}

void Engine::wait_for_events(int64_t now) {
  int64_t timeout = poll_timeout_ms(now);  // the engine's timers, on its (injected) clock
  int64_t due = kNever;
  for (auto &sh : shards_) due = std::min(due, sh->due_ns);
  if (due != kNever) timeout = std::min(timeout, ms_until(due, steady_now_ns()));
  constexpr int kMaxEvents = 256;
  epoll_event evs[kMaxEvents];
  int n = epoll_wait(epoll_fd_, evs, kMaxEvents, int(timeout));
  for (int i = 0; i < n; ++i) {
    const uint64_t data = evs[i].data.u64;
    if (data == kWakeData) {
      uint64_t v;
      while (::read(wake_fd_, &v, sizeof v) < 0 && errno == EINTR) {
      }
      wake_sent_.store(false);  // before the inbox is taken: a later submission wakes again
      continue;
    }
    int mask = 0;
    if (evs[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
    if (evs[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
    if (evs[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
    const uint32_t shard = uint32_t(data >> 32);
    if (shard >= shards_.size()) continue;
    int running = 0;
    curl_multi_socket_action(shards_[shard]->multi, curl_socket_t(uint32_t(data)), mask, &running);
  }
}

void Engine::drain_inbox() {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_local_.swap(inbox_);
    tasks_local_.swap(tasks_);
  }
  // Submissions before tasks: a cancel posted after its submit finds the request.
  int64_t now = clock_.steady_ns();
  for (Pending *p : inbox_local_) accept(p, now);
  inbox_local_.clear();
  for (Task &t : tasks_local_) t();
  tasks_local_.clear();
}

int64_t Engine::poll_timeout_ms(int64_t now) const {
  int64_t next = gate_wake_ns_;
  if (!timers_.empty()) next = std::min(next, std::get<0>(*timers_.begin()));
  constexpr int64_t kIdleMs = 60000;  // nothing scheduled: a wakeup or socket activity comes first
  if (next == kNever) return kIdleMs;
  return std::min(ms_until(next, now), kIdleMs);
}

}  // namespace llmsvc
