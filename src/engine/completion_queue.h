// The completion queue for hosts that cannot take calls from a foreign thread: results
// wait here until llmsvc_client_poll takes them; an eventfd is readable while any wait.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

#include "llmsvc.h"

namespace llmsvc {

class CompletionQueue {
 public:
  CompletionQueue();  // throws std::system_error when no eventfd can be had
  ~CompletionQueue();
  CompletionQueue(const CompletionQueue &) = delete;
  CompletionQueue &operator=(const CompletionQueue &) = delete;

  void push(llmsvc_result *result, void *payload);
  /// LLMSVC_OK, LLMSVC_ETIMEOUT, or LLMSVC_ECLOSED once closed and empty.
  int pop(int timeout_ms, llmsvc_result **out, void **out_payload);
  /// No more results will come: wakes every waiter.
  void close();
  int fd() const { return fd_; }
  /// Frees what nobody took (at destroy).
  void drain_and_free();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<llmsvc_result *, void *>> items_;
  bool closed_ = false;
  int fd_ = -1;
};

}  // namespace llmsvc
