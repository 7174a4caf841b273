// The completion queue for hosts that cannot take calls from a foreign thread: results
// wait here until llmsvc_client_poll takes them; an eventfd is readable while any wait.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "llmsvc.h"

namespace llmsvc {

class CompletionQueue {
 public:
  CompletionQueue();  // throws std::system_error when no eventfd can be had
  ~CompletionQueue();
  CompletionQueue(const CompletionQueue &) = delete;
  CompletionQueue &operator=(const CompletionQueue &) = delete;

  using Item = std::pair<llmsvc_result *, void *>;
  void push(llmsvc_result *result, void *payload);
  /// Appends `items` (emptied) in order with one lock and at most one wake-up.
  void push_all(std::vector<Item> &items);
  /// LLMSVC_OK, LLMSVC_ETIMEOUT, or LLMSVC_ECLOSED once closed and empty.
  int pop(int timeout_ms, llmsvc_result **out, void **out_payload);
  /// Takes up to `max` results (at least one, waiting up to `timeout_ms` as pop does);
  /// `out_payloads` may be NULL. `*out_n` receives how many.
  int pop_some(int timeout_ms, llmsvc_result **out, void **out_payloads, size_t max,
               size_t *out_n);
  /// No more results will come: wakes every waiter.
  void close();
  int fd() const { return fd_; }
  /// Frees what nobody took (at destroy).
  void drain_and_free();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> items_;
  bool closed_ = false;
  int fd_ = -1;
};

}  // namespace llmsvc
