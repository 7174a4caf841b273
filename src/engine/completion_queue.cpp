#include "engine/completion_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
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

void CompletionQueue::push_all(std::vector<Item> &items) {
  if (items.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool was_empty = items_.empty();
    items_.insert(items_.end(), items.begin(), items.end());
    if (was_empty) {
      uint64_t one = 1;
      ssize_t n = ::write(fd_, &one, sizeof one);
      (void)n;
    }
  }
  items.clear();
  cv_.notify_all();  // a batch may serve several waiting pollers
}

int CompletionQueue::pop(int timeout_ms, llmsvc_result **out, void **out_payload) {
  size_t n = 0;
  return pop_some(timeout_ms, out, out_payload, 1, &n);
}

int CompletionQueue::pop_some(int timeout_ms, llmsvc_result **out, void **out_payloads,
                              size_t max, size_t *out_n) {
  *out_n = 0;
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [this] { return !items_.empty() || closed_; };
  if (timeout_ms < 0) {
    cv_.wait(lock, ready);
  } else if (timeout_ms > 0) {
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready);
  }
  if (items_.empty()) return closed_ ? LLMSVC_ECLOSED : LLMSVC_ETIMEOUT;
  size_t n = std::min(max, items_.size());
  for (size_t i = 0; i < n; ++i) {
    out[i] = items_[i].first;
    if (out_payloads) out_payloads[i] = items_[i].second;
  }
  items_.erase(items_.begin(), items_.begin() + ptrdiff_t(n));
  *out_n = n;
  if (items_.empty() && !closed_) {
    uint64_t drained;
    ssize_t r = ::read(fd_, &drained, sizeof drained);
    (void)r;
  }
  return LLMSVC_OK;
}

void CompletionQueue::close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!closed_ && items_.empty()) {
    uint64_t one = 1;  // readable from now on: a poll says LLMSVC_ECLOSED
    ssize_t n = ::write(fd_, &one, sizeof one);
    (void)n;
  }
  closed_ = true;
  cv_.notify_all();
}

void CompletionQueue::drain_and_free() {
  std::deque<Item> items;
  {
    std::lock_guard<std::mutex> lock(mu_);
    items.swap(items_);
  }
  for (auto &[r, p] : items) llmsvc_result_free(r);
}

}  // namespace llmsvc
