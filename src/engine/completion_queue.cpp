#include "engine/completion_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

namespace llmsvc {

CompletionQueue::CompletionQueue() {
  fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

CompletionQueue::~CompletionQueue() {
  drain_and_free();
  if (fd_ >= 0) ::close(fd_);
}

void CompletionQueue::push(llmsvc_result *result, void *payload) {
  std::lock_guard<std::mutex> lock(mu_);
  items_.emplace_back(result, payload);
  if (items_.size() == 1) {
    uint64_t one = 1;
    ssize_t n = ::write(fd_, &one, sizeof one);
    (void)n;  // the counter cannot overflow: it is drained whenever the queue empties
  }
  cv_.notify_one();
}

int CompletionQueue::pop(int timeout_ms, llmsvc_result **out, void **out_payload) {
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [this] { return !items_.empty() || closed_; };
  if (timeout_ms < 0) {
    cv_.wait(lock, ready);
  } else if (timeout_ms > 0) {
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready);
  }
  if (items_.empty()) return closed_ ? LLMSVC_ECLOSED : LLMSVC_ETIMEOUT;
  *out = items_.front().first;
  if (out_payload) *out_payload = items_.front().second;
  items_.pop_front();
  if (items_.empty()) {
    uint64_t drained;
    ssize_t n = ::read(fd_, &drained, sizeof drained);
    (void)n;
  }
  return LLMSVC_OK;
}

void CompletionQueue::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

void CompletionQueue::drain_and_free() {
  std::deque<std::pair<llmsvc_result *, void *>> items;
  {
    std::lock_guard<std::mutex> lock(mu_);
    items.swap(items_);
  }
  for (auto &[r, p] : items) llmsvc_result_free(r);
}

}  // namespace llmsvc
