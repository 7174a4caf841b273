// Calls from other threads that steer the engine: running a task on it, cancelling,
// pausing admission, closing (waiting or not), where batches of results go.
#include <condition_variable>

#include "engine/engine.h"

namespace llmsvc {

bool Engine::post(Task task) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    if (stopped_) return false;
    tasks_.push_back(std::move(task));
  }
  wake();
  return true;
}

void Engine::run_on_engine(const Task &task) {
  if (on_engine_thread()) {
    task();
    return;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  {
    std::unique_lock<std::mutex> lock(inbox_mu_);
    if (stopped_) {
      // The engine thread is gone: its state is frozen, so run here, one caller at a time.
      task();
      return;
    }
    tasks_.push_back([&] {
      task();
      std::lock_guard<std::mutex> l(mu);
      done = true;
      cv.notify_one();
    });
  }
  wake();
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
}

void Engine::cancel_live(uint64_t id, int *rc) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  finish(it->second, LLMSVC_KIND_CANCELLED, "cancelled by the caller", clock_.steady_ns());
  if (rc) *rc = LLMSVC_OK;
}

int Engine::cancel(uint64_t id) {
  int rc = LLMSVC_ENOTFOUND;
  run_on_engine([&] { cancel_live(id, &rc); });
  return rc;
}

int Engine::cancel_async(uint64_t id) {
  if (id == 0 || id >= next_id_.load(std::memory_order_relaxed)) return LLMSVC_ENOTFOUND;
  if (on_engine_thread()) {
    cancel_live(id, nullptr);
    return LLMSVC_OK;
  }
  return post([this, id] { cancel_live(id, nullptr); }) ? LLMSVC_OK : LLMSVC_ECLOSED;
}

void Engine::pause(bool paused) {
  auto apply = [this, paused] { admission_paused_ = paused; };
  if (on_engine_thread()) apply();
  else if (!post(apply)) apply();  // stopped: nothing is admitted any more either way
}

void Engine::set_batch_callback(llmsvc_batch_cb cb, void *user) {
  run_on_engine([&] {
    batch_cb_ = cb;
    batch_user_ = user;
  });
}

void Engine::deliver_to_queue() {
  if (to_queue_.empty()) return;
  if (!batch_cb_) {
    completions_.push_all(to_queue_);  // one lock, at most one wake-up
    return;
  }
  batch_results_.clear();
  batch_payloads_.clear();
  for (auto &[r, payload] : to_queue_) {
    batch_results_.push_back(r);
    batch_payloads_.push_back(payload);
  }
  to_queue_.clear();
  try {
    batch_cb_(batch_results_.data(), batch_payloads_.data(), batch_results_.size(), batch_user_);
  } catch (...) {
    // A C++ host's callback threw; it must not unwind through the engine.
  }
}

void Engine::begin_close(llmsvc_closed_cb cb, void *payload) {
  std::lock_guard<std::mutex> lock(inbox_mu_);
  if (cb) {
    if (stopped_) {
      // Everything has completed already: say so at once.
      closed_now_ = {cb, payload};
    } else {
      closed_cbs_.emplace_back(cb, payload);
    }
  }
  if (!closing_) {
    closing_ = true;
    tasks_.push_back([this] { stopping_ = true; });
  }
}

void Engine::close_async(llmsvc_closed_cb cb, void *payload) {
  std::pair<llmsvc_closed_cb, void *> now{nullptr, nullptr};
  {
    begin_close(cb, payload);
    std::lock_guard<std::mutex> lock(inbox_mu_);
    std::swap(now, closed_now_);
  }
  wake();
  if (now.first) now.first(now.second);
}

void Engine::close() {
  if (telemetry_) telemetry_->stop();  // before the engine: a scrape waits for it
  begin_close(nullptr, nullptr);
  wake();
  {
    std::lock_guard<std::mutex> lock(join_mu_);  // two threads closing at once
    if (thread_.joinable()) thread_.join();
    otlp_.reset();  // every request has completed: the last spans and metrics go out
  }
  completions_.close();
}

}  // namespace llmsvc
