// Helpers shared by the integration tests: a client handle that is always destroyed, and a
// collector that records every completion and checks that none comes twice.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "emulator_process.h"
#include "llmsvc.h"

struct Completed {
  uint64_t id = 0;
  int kind = 0;
  int http_status = 0;
  std::string text;
  std::string json;
  rapidjson::Document doc() const {
    rapidjson::Document d;
    d.Parse(json.c_str());
    return d;
  }
};

class Collector {
 public:
  static void callback(llmsvc_result *r, void *self) {
    static_cast<Collector *>(self)->add(r);
  }
  void add(llmsvc_result *r) {
    Completed c;
    c.id = llmsvc_result_id(r);
    c.kind = llmsvc_result_kind(r);
    c.http_status = llmsvc_result_http_status(r);
    if (const char *t = llmsvc_result_text(r)) c.text = t;
    size_t len = 0;
    const char *j = llmsvc_result_json(r, &len);
    c.json.assign(j, len);
    llmsvc_result_free(r);
    std::lock_guard<std::mutex> lock(mu_);
    ++count_[c.id];
    results_.push_back(std::move(c));
    cv_.notify_all();
  }
  /// Waits (bounded) until n completions arrived; false on timeout.
  bool wait_for(size_t n, std::chrono::seconds limit = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return results_.size() >= n; });
  }
  std::vector<Completed> results() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }
  /// Every id completed exactly once.
  bool exactly_once() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto &[id, n] : count_)
      if (n != 1) return false;
    return true;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, int> count_;
  std::vector<Completed> results_;
};

/// A streamed request's text pieces, and its completion.
struct TextStream {
  std::mutex mu;
  std::string text;
  Collector done;
  static void on_delta(uint64_t, const char *t, size_t n, void *self) {
    auto *s = static_cast<TextStream *>(self);
    std::lock_guard<std::mutex> lock(s->mu);
    s->text.append(t, n);
  }
  static void on_done(llmsvc_result *r, void *self) { static_cast<TextStream *>(self)->done.add(r); }
};

class Client {
 public:
  explicit Client(const std::string &config) {
    llmsvc_error *err = nullptr;
    int rc = llmsvc_client_new(&c_, config.c_str(), &err);
    if (rc != LLMSVC_OK) {
      ADD_FAILURE() << "llmsvc_client_new: " << llmsvc_error_message(err);
      llmsvc_error_free(err);
    }
  }
  ~Client() { llmsvc_client_destroy(c_); }
  Client(const Client &) = delete;
  Client &operator=(const Client &) = delete;
  llmsvc_client *get() const { return c_; }

  uint64_t submit(const std::string &request, Collector &col) {
    uint64_t id = 0;
    llmsvc_error *err = nullptr;
    int rc = llmsvc_client_submit(c_, request.c_str(), &Collector::callback, &col, &id, &err);
    EXPECT_EQ(rc, LLMSVC_OK) << llmsvc_error_message(err);
    llmsvc_error_free(err);
    return id;
  }
  Completed generate(const std::string &request) {
    llmsvc_result *r = nullptr;
    llmsvc_error *err = nullptr;
    int rc = llmsvc_client_generate(c_, request.c_str(), &r, &err);
    EXPECT_EQ(rc, LLMSVC_OK) << llmsvc_error_message(err);
    llmsvc_error_free(err);
    Collector col;
    if (r) col.add(r);
    auto v = col.results();
    return v.empty() ? Completed{} : v.front();
  }
  std::string metrics_json() {
    char *json = nullptr;
    EXPECT_EQ(llmsvc_client_metrics(c_, &json, nullptr), LLMSVC_OK);
    std::string s = json ? json : "{}";
    llmsvc_free(json);
    return s;
  }
  rapidjson::Document metrics() {
    rapidjson::Document d;
    d.Parse(metrics_json().c_str());
    return d;
  }
  std::string prometheus() {
    char *text = nullptr;
    EXPECT_EQ(llmsvc_client_metrics_prometheus(c_, &text, nullptr), LLMSVC_OK);
    std::string s = text ? text : "";
    llmsvc_free(text);
    return s;
  }
  /// Waits (bounded) until the metrics satisfy `pred`: observable state, not a guess.
  template <typename Pred>
  bool wait_metrics(Pred pred, std::chrono::seconds limit = std::chrono::seconds(20)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (pred(metrics())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

 private:
  llmsvc_client *c_ = nullptr;
};

inline std::string prompt_request(const std::string &prompt, const std::string &extra = "") {
  std::string r = "{\"model\":\"gpt-4o-mini\",\"prompt\":\"" + prompt + "\"";
  if (!extra.empty()) r += "," + extra;
  return r + "}";
}

/// A value as compact JSON, for failure messages.
inline std::string to_json(const rapidjson::Value &v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return b.GetString();
}

inline int64_t i64(const rapidjson::Value &v, const char *name) {
  auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : -1;
}
