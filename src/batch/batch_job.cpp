#include "batch/batch_job.h"

#include <fcntl.h>
#include <unistd.h>

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "capi/result.h"
#include "engine/deployment.h"
#include "retry/policy.h"

namespace llmsvc {

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char *state_name(int s) {
  static const char *const kNames[] = {"planned", "uploaded", "creating",
                                       "running", "ended",    "delivered"};
  return kNames[s];
}

std::string str_member(const JsonValue &v, const char *name) {
  if (!v.IsObject()) return {};
  auto m = v.FindMember(name);
  return m != v.MemberEnd() && m->value.IsString() ? std::string(sv(m->value)) : std::string();
}

int64_t int_member(const JsonValue &v, const char *name, int64_t fallback = 0) {
  if (!v.IsObject()) return fallback;
  auto m = v.FindMember(name);
  return m != v.MemberEnd() && m->value.IsInt64() ? m->value.GetInt64() : fallback;
}

const JsonValue *obj_member(const JsonValue &v, const char *name) {
  if (!v.IsObject()) return nullptr;
  auto m = v.FindMember(name);
  return m != v.MemberEnd() ? &m->value : nullptr;
}

// The HTTP status an Anthropic error type stands for (its results carry the type only).
int anthropic_status(std::string_view type) {
  if (type == "invalid_request_error") return 400;
  if (type == "authentication_error") return 401;
  if (type == "permission_error") return 403;
  if (type == "not_found_error") return 404;
  if (type == "request_too_large") return 413;
  if (type == "rate_limit_error") return 429;
  if (type == "overloaded_error") return 529;
  return 500;
}

// Each line of a JSONL document, blank ones skipped.
template <typename F>
void each_line(std::string_view text, F f) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (!line.empty()) f(line);
  }
}

}  // namespace

DocError parse_batch_options(const char *json, BatchJobOptions &out) {
  if (!json || !*json) return {};
  JsonDoc doc;
  if (DocError e = parse_json(doc, json, "batch job options")) return e;
  if (!doc.IsObject()) return {LLMSVC_ESCHEMA, "batch job options: expected an object"};
  for (auto &m : doc.GetObject()) {
    std::string name(sv(m.name));
    const JsonValue &v = m.value;
    auto positive = [&](int64_t &field) -> DocError {
      if (!v.IsInt64() || v.GetInt64() < 0)
        return {LLMSVC_ESCHEMA, "batch job options." + name + ": expected a count >= 0"};
      field = v.GetInt64();
      return {};
    };
    DocError e;
    if (name == "deployment" || name == "completion_window") {
      if (!v.IsString())
        return {LLMSVC_ESCHEMA, "batch job options." + name + ": expected a string"};
      (name == "deployment" ? out.deployment : out.completion_window) = std::string(sv(v));
    } else if (name == "max_requests") e = positive(out.max_requests);
    else if (name == "max_bytes") e = positive(out.max_bytes);
    else if (name == "max_enqueued_tokens") e = positive(out.max_enqueued_tokens);
    else if (name == "poll_ms") e = positive(out.poll_ms);
    else if (name == "max_poll_ms") e = positive(out.max_poll_ms);
    else
      return {LLMSVC_ESCHEMA, "batch job options." + name +
                                  ": unknown (deployment, max_requests, max_bytes, "
                                  "max_enqueued_tokens, poll_ms, max_poll_ms, completion_window)"};
    if (e) return e;
  }
  if (out.max_poll_ms < out.poll_ms) out.max_poll_ms = out.poll_ms;
  return {};
}

BatchJob::BatchJob(Engine &engine, std::string state_path, BatchJobOptions options)
    : engine_(engine), path_(std::move(state_path)), options_(std::move(options)),
      rng_(std::random_device{}()) {}

BatchJob::~BatchJob() {
  for (auto &[r, c] : ready_) delete r;
}

int BatchJob::open(Engine &engine, const std::string &state_path, const BatchJobOptions &options,
                   std::unique_ptr<BatchJob> &out, std::string &message) {
  if (state_path.empty()) {
    message = "a batch job needs a state file path";
    return LLMSVC_EINVAL;
  }
  std::unique_ptr<BatchJob> job(new BatchJob(engine, state_path, options));
  if (access(state_path.c_str(), F_OK) == 0) {
    if (int rc = job->load(message)) return rc;
  } else {
    char tag[9];
    std::snprintf(tag, sizeof tag, "%08x", unsigned(job->rng_() & 0xffffffffu));
    job->tag_ = tag;
    // Created at once, so that a path that cannot be written fails here.
    if (int rc = job->save(message)) return rc;
  }
  out = std::move(job);
  return LLMSVC_OK;
}

// ---- State file -------------------------------------------------------------------------

int BatchJob::save(std::string &message) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("llmsvc_batch_job");
  w.Int(1);
  w.Key("tag");
  write_str(w, tag_);
  if (dep_) {
    w.Key("deployment");
    write_str(w, dep_->name);
    w.Key("provider");
    w.String(dep_->provider->name());
  }
  w.Key("chunks");
  w.StartArray();
  for (const auto &c : chunks_) {
    if (c->state == State::kPlanned) continue;  // nothing sent: planned again on resume
    w.StartObject();
    w.Key("n");
    w.Int64(c->n);
    w.Key("state");
    w.String(state_name(int(c->state)));
    w.Key("model");
    write_str(w, c->model);
    w.Key("operation");
    write_str(w, c->operation);
    w.Key("embedding");
    w.Bool(c->embedding);
    w.Key("tokens");
    w.Int64(c->tokens);
    write_opt_str(w, "file_id", c->file_id);
    write_opt_str(w, "batch_id", c->batch_id);
    if (c->created_unix_ms) {
      w.Key("created_unix_ms");
      w.Int64(c->created_unix_ms);
    }
    w.Key("ids");
    w.StartArray();
    for (const Line &l : c->lines) write_str(w, l.id);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  // Written beside it and renamed over it: a reader sees the old state or the new one.
  std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    message = "cannot write the batch job's state " + tmp + ": " + std::strerror(errno);
    return LLMSVC_ESYSTEM;
  }
  const char *p = buf.GetString();
  size_t left = buf.GetSize();
  bool ok = true;
  while (left > 0 && ok) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) {
      p += n;
      left -= size_t(n);
    }
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    message = "cannot write the batch job's state " + path_ + ": " + std::strerror(errno);
    return LLMSVC_ESYSTEM;
  }
  return LLMSVC_OK;
}

int BatchJob::load(std::string &message) {
  std::ifstream in(path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) {
    message = "cannot read the batch job's state " + path_;
    return LLMSVC_ESYSTEM;
  }
  std::string text = ss.str();
  JsonDoc doc;
  if (DocError e = parse_json(doc, text, path_.c_str())) {
    message = e.message;
    return LLMSVC_EJSON;
  }
  if (!doc.IsObject() || int_member(doc, "llmsvc_batch_job") != 1) {
    message = path_ + ": not the state of an llmsvc batch job";
    return LLMSVC_ESCHEMA;
  }
  tag_ = str_member(doc, "tag");
  std::string dep = str_member(doc, "deployment");
  if (!dep.empty()) {
    dep_ = engine_.deployment(dep);
    if (!dep_) {
      message = path_ + ": the job's deployment \"" + dep + "\" is not configured in this client";
      return LLMSVC_EINVAL;
    }
    if (std::string(dep_->provider->name()) != str_member(doc, "provider")) {
      message = path_ + ": the job was sent through the " + str_member(doc, "provider") +
                " provider, and \"" + dep + "\" is now " + dep_->provider->name();
      return LLMSVC_EINVAL;
    }
    api_ = std::string(dep_->provider->name()) == "anthropic" ? Api::kAnthropic : Api::kOpenAI;
    http_ = std::make_unique<BatchHttp>(dep_->config, *dep_->provider);
  }
  const JsonValue *chunks = obj_member(doc, "chunks");
  if (chunks && chunks->IsArray()) {
    for (const JsonValue &v : chunks->GetArray()) {
      auto c = std::make_unique<Chunk>();
      c->n = int_member(v, "n");
      std::string s = str_member(v, "state");
      for (int i = 0; i <= int(State::kDelivered); ++i)
        if (s == state_name(i)) c->state = State(i);
      c->model = str_member(v, "model");
      c->operation = str_member(v, "operation");
      const JsonValue *e = obj_member(v, "embedding");
      c->embedding = e && e->IsBool() && e->GetBool();
      c->tokens = int_member(v, "tokens");
      c->file_id = str_member(v, "file_id");
      c->batch_id = str_member(v, "batch_id");
      c->created_unix_ms = int_member(v, "created_unix_ms");
      if (const JsonValue *ids = obj_member(v, "ids"); ids && ids->IsArray())
        for (const JsonValue &id : ids->GetArray())
          if (id.IsString()) c->lines.push_back(Line{std::string(sv(id)), {}});
      // Whatever was under way when the job stopped: a creation may have gone through
      // unrecorded (look for it first), a batch running or ended is asked again.
      if (c->state == State::kUploaded || c->state == State::kCreating) c->verify = true;
      if (c->state == State::kEnded) c->state = State::kRunning;
      c->poll_interval_ms = options_.poll_ms;
      c->next_poll_ms = 0;
      for (const Line &l : c->lines) ids_[l.id] = 1;
      chunks_.push_back(std::move(c));
    }
  }
  return LLMSVC_OK;
}

// ---- Adding and planning ------------------------------------------------------------------

int BatchJob::add(std::string_view id, std::string_view request_json, bool &known,
                  std::string &message) {
  known = false;
  std::string key(id);
  auto it = ids_.find(key);
  if (it != ids_.end() && it->second == 2) {
    message = "id \"" + key + "\" was added to this batch job already";
    return LLMSVC_EINVAL;
  }
  Engine::BatchRequest r;
  std::string deployment = dep_ ? dep_->name : options_.deployment;
  if (int rc = engine_.batch_request(request_json, deployment, r, message)) return rc;
  if (it != ids_.end()) {
    // Part of the job already: its body is kept in case its batch must be created again.
    known = true;
    for (auto &c : chunks_)
      if (c->state == State::kUploaded || c->state == State::kCreating)
        for (Line &l : c->lines)
          if (l.id == key && l.body.empty()) l.body = std::move(r.body);
    return LLMSVC_OK;
  }
  if (!dep_) {
    std::string_view name = r.dep->provider->name();
    if (name != "openai_chat" && name != "openai_responses" && name != "anthropic") {
      message = std::string("the ") + r.dep->provider->name() +
                " provider has no batch API llmsvc speaks (OpenAI's Batch API through "
                "openai_chat or openai_responses, Anthropic's Message Batches)";
      return LLMSVC_EINVAL;
    }
    dep_ = r.dep;
    api_ = name == "anthropic" ? Api::kAnthropic : Api::kOpenAI;
    http_ = std::make_unique<BatchHttp>(dep_->config, *dep_->provider);
  }
  Pending p;
  p.line = Line{key, std::move(r.body)};
  p.model = std::move(r.model);
  p.operation = std::move(r.operation);
  p.embedding = r.embedding;
  p.tokens = r.prompt_tokens;
  if (options_.max_enqueued_tokens > 0 && p.tokens > options_.max_enqueued_tokens) {
    message = "request: its input (about " + std::to_string(p.tokens) +
              " tokens) is more than max_enqueued_tokens (" +
              std::to_string(options_.max_enqueued_tokens) + ") allows in a batch";
    return LLMSVC_ESCHEMA;
  }
  pending_.push_back(std::move(p));
  ids_[key] = 2;
  return LLMSVC_OK;
}

std::string BatchJob::custom_id(const Chunk &c, size_t i) const {
  return tag_ + "-" + std::to_string(c.n) + "-" + std::to_string(i);
}

bool BatchJob::find_custom_id(std::string_view id, Chunk *&chunk, size_t &index) {
  if (id.size() <= tag_.size() + 1 || id.substr(0, tag_.size()) != tag_ || id[tag_.size()] != '-')
    return false;
  id.remove_prefix(tag_.size() + 1);
  size_t dash = id.find('-');
  if (dash == std::string_view::npos) return false;
  int64_t n = 0, i = 0;
  auto num = [](std::string_view s, int64_t &out) {
    if (s.empty() || s.size() > 12) return false;
    out = 0;
    for (char ch : s) {
      if (ch < '0' || ch > '9') return false;
      out = out * 10 + (ch - '0');
    }
    return true;
  };
  if (!num(id.substr(0, dash), n) || !num(id.substr(dash + 1), i)) return false;
  for (auto &c : chunks_)
    if (c->n == n && size_t(i) < c->lines.size()) {
      chunk = c.get();
      index = size_t(i);
      return true;
    }
  return false;
}

std::string BatchJob::endpoint_path(const Chunk &c) const {
  const std::string &url = c.embedding ? dep_->provider->embeddings_url() : dep_->provider->url();
  CURLU *u = curl_url();
  std::string path = "/v1/chat/completions";
  char *p = nullptr;
  if (u && curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_PATH, &p, 0) == CURLUE_OK) {
    path = p;
    curl_free(p);
  }
  curl_url_cleanup(u);
  return path;
}

void BatchJob::write_line(const Chunk &c, size_t i, std::string &out) const {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("custom_id");
  write_str(w, custom_id(c, i));
  const std::string &body = c.lines[i].body;
  if (api_ == Api::kOpenAI) {
    w.Key("method");
    w.String("POST");
    w.Key("url");
    write_str(w, endpoint_path(c));
    w.Key("body");
  } else {
    w.Key("params");
  }
  w.RawValue(body.data(), body.size(), rapidjson::kObjectType);
  w.EndObject();
  out.append(buf.GetString(), buf.GetSize());
}

void BatchJob::plan() {
  const int64_t max_requests =
      options_.max_requests > 0 ? options_.max_requests : api_ == Api::kOpenAI ? 50000 : 100000;
  const int64_t max_bytes = options_.max_bytes > 0 ? options_.max_bytes
                            : api_ == Api::kOpenAI ? int64_t(200) << 20
                                                   : int64_t(256) << 20;
  // One model and one endpoint per provider batch, in the order the lines came.
  std::vector<Pending> lines = std::move(pending_);
  pending_.clear();
  std::vector<bool> placed(lines.size(), false);
  for (size_t first = 0; first < lines.size(); ++first) {
    if (placed[first]) continue;
    Chunk *c = nullptr;
    for (size_t i = first; i < lines.size(); ++i) {
      Pending &p = lines[i];
      if (placed[i] || p.model != lines[first].model || p.embedding != lines[first].embedding)
        continue;
      int64_t bytes = int64_t(p.line.body.size()) + 96;  // with the line's own members
      bool full = c && (int64_t(c->lines.size()) >= max_requests || c->bytes + bytes > max_bytes ||
                        (options_.max_enqueued_tokens > 0 &&
                         c->tokens + p.tokens > options_.max_enqueued_tokens));
      if (!c || full) {
        auto chunk = std::make_unique<Chunk>();
        chunk->n = chunks_.empty() ? 0 : chunks_.back()->n + 1;
        chunk->model = p.model;
        chunk->operation = p.operation;
        chunk->embedding = p.embedding;
        chunk->poll_interval_ms = options_.poll_ms;
        c = chunk.get();
        chunks_.push_back(std::move(chunk));
      }
      c->lines.push_back(std::move(p.line));
      c->tokens += p.tokens;
      c->bytes += bytes;
      ids_[c->lines.back().id] = 1;
      placed[i] = true;
    }
  }
}

int64_t BatchJob::enqueued(const std::string &model) const {
  int64_t sum = 0;
  for (const auto &c : chunks_)
    if (c->model == model && (c->state == State::kCreating || c->state == State::kRunning))
      sum += c->tokens;
  return sum;
}

// ---- Steps --------------------------------------------------------------------------------

int BatchJob::failed(const HttpAnswer &a, const std::string &what, std::string &message) {
  if (a.transient()) {
    // Exponential from a second up to a minute, with jitter; the provider's wait wins.
    ++failures_;
    RetryPolicy control;
    control.base_delay_ms = 1000;
    control.max_delay_ms = 60000;
    const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
    int64_t wait = backoff_ns(control, failures_, u) / 1000000;
    if (a.retry_after_ms >= 0) wait = std::max(wait, a.retry_after_ms);
    retry_at_ms_ = wall_ms() + wait;
    return 1;
  }
  message = what + ": " + describe(a, *dep_->provider);
  return LLMSVC_EINVAL;
}

int BatchJob::upload(Chunk &c, std::string &message) {
  std::string content;
  for (size_t i = 0; i < c.lines.size(); ++i) {
    write_line(c, i, content);
    content.push_back('\n');
  }
  std::string name = "llmsvc-" + tag_ + "-" + std::to_string(c.n) + ".jsonl";
  HttpAnswer a = http_->upload(dep_->config.base_url + "/files", "batch", name, content);
  if (a.status != 200) return failed(a, "uploading batch " + std::to_string(c.n), message);
  JsonDoc doc;
  if (!parse_foreign_json(doc, a.body) || str_member(doc, "id").empty()) {
    message = "uploading batch " + std::to_string(c.n) + ": the reply names no file id";
    return LLMSVC_EINVAL;
  }
  failures_ = 0;
  c.file_id = str_member(doc, "id");
  c.state = State::kUploaded;
  c.verify = false;
  return save(message) ? LLMSVC_ESYSTEM : 1;
}

int BatchJob::create(Chunk &c, std::string &message) {
  const int64_t now = wall_ms();
  HttpAnswer a;
  if (api_ == Api::kOpenAI) {
    JsonBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("input_file_id");
    write_str(w, c.file_id);
    w.Key("endpoint");
    write_str(w, endpoint_path(c));
    w.Key("completion_window");
    write_str(w, options_.completion_window);
    w.Key("metadata");
    w.StartObject();
    w.Key("llmsvc_job");
    write_str(w, tag_);
    w.Key("llmsvc_batch");
    write_str(w, std::to_string(c.n));
    w.EndObject();
    w.EndObject();
    a = http_->post_json(dep_->config.base_url + "/batches",
                         std::string_view(buf.GetString(), buf.GetSize()));
  } else {
    // Lines known from the state only and not given again after a restart cannot be
    // sent; never sent, they leave the job (given again later, they go in a new batch).
    auto gone = std::remove_if(c.lines.begin(), c.lines.end(), [&](const Line &l) {
      if (!l.body.empty()) return false;
      ids_.erase(l.id);
      return true;
    });
    c.lines.erase(gone, c.lines.end());
    if (c.lines.empty()) {
      c.state = State::kDelivered;
      return save(message) ? LLMSVC_ESYSTEM : 1;
    }
    std::string body = "{\"requests\":[";
    for (size_t i = 0; i < c.lines.size(); ++i) {
      if (i) body.push_back(',');
      write_line(c, i, body);
    }
    body += "]}";
    c.state = State::kCreating;
    c.created_unix_ms = now;
    if (save(message)) return LLMSVC_ESYSTEM;  // before the provider can have it
    a = http_->post_json(dep_->provider->url() + "/batches", body);
  }
  if (a.status != 200) {
    // The batch may exist even so (an answer lost on the way back): look before creating.
    c.verify = true;
    return failed(a, "creating batch " + std::to_string(c.n), message);
  }
  JsonDoc doc;
  if (!parse_foreign_json(doc, a.body) || str_member(doc, "id").empty()) {
    message = "creating batch " + std::to_string(c.n) + ": the reply names no batch id";
    return LLMSVC_EINVAL;
  }
  failures_ = 0;
  ++batches_created_;
  c.batch_id = str_member(doc, "id");
  c.state = State::kRunning;
  c.created_unix_ms = now;
  c.verify = false;
  c.poll_interval_ms = options_.poll_ms;
  c.next_poll_ms = now + options_.poll_ms;
  return save(message) ? LLMSVC_ESYSTEM : 1;
}

// After a restart (or a creation whose answer was lost): the provider batch this chunk
// may already have. OpenAI's batch names the uploaded file; an Anthropic batch is taken
// when it has as many requests, and its results are checked to be this chunk's lines.
int BatchJob::find_created(Chunk &c, std::string &message) {
  std::string url = api_ == Api::kOpenAI ? dep_->config.base_url + "/batches?limit=100"
                                         : dep_->provider->url() + "/batches?limit=100";
  HttpAnswer a = http_->get(url);
  if (a.status != 200) return failed(a, "listing batches", message);
  failures_ = 0;
  JsonDoc doc;
  const JsonValue *data = parse_foreign_json(doc, a.body) ? obj_member(doc, "data") : nullptr;
  c.verify = false;
  if (data && data->IsArray()) {
    for (const JsonValue &b : data->GetArray()) {
      std::string id = str_member(b, "id");
      bool claimed = std::find(c.rejected.begin(), c.rejected.end(), id) != c.rejected.end();
      for (const auto &o : chunks_) claimed |= o.get() != &c && o->batch_id == id;
      if (id.empty() || claimed) continue;
      bool match;
      if (api_ == Api::kOpenAI) {
        std::string status = str_member(b, "status");
        match = str_member(b, "input_file_id") == c.file_id && status != "failed";
      } else {
        const JsonValue *counts = obj_member(b, "request_counts");
        int64_t total = 0;
        for (const char *k : {"processing", "succeeded", "errored", "canceled", "expired"})
          total += counts ? int_member(*counts, k) : 0;
        match = total == int64_t(c.lines.size());
        c.verify = match;  // its results are checked before they are taken
      }
      if (!match) continue;
      c.batch_id = id;
      c.state = State::kRunning;
      c.next_poll_ms = 0;
      return save(message) ? LLMSVC_ESYSTEM : 1;
    }
  }
  c.verify = false;
  if (api_ == Api::kAnthropic) c.state = State::kPlanned;  // not created: create it now
  return 1;
}

int BatchJob::poll(Chunk &c, std::string &message) {
  std::string url = api_ == Api::kOpenAI ? dep_->config.base_url + "/batches/" + c.batch_id
                                         : dep_->provider->url() + "/batches/" + c.batch_id;
  HttpAnswer a = http_->get(url);
  if (a.status != 200) return failed(a, "asking for batch " + c.batch_id, message);
  failures_ = 0;
  JsonDoc doc;
  if (!parse_foreign_json(doc, a.body)) {
    message = "asking for batch " + c.batch_id + ": the reply is not JSON";
    return LLMSVC_EINVAL;
  }
  const int64_t now = wall_ms();
  std::string status =
      str_member(doc, api_ == Api::kOpenAI ? "status" : "processing_status");
  bool ended = api_ == Api::kOpenAI
                   ? status == "completed" || status == "expired" || status == "cancelled" ||
                         status == "failed"
                   : status == "ended";
  if (!ended) {
    c.next_poll_ms = now + c.poll_interval_ms;
    c.poll_interval_ms = std::min(c.poll_interval_ms + c.poll_interval_ms / 2, options_.max_poll_ms);
    return 1;
  }
  c.ended_unix_ms = now;
  if (int64_t t = int_member(doc, "created_at"); t > 0) c.created_unix_ms = t * 1000;
  if (api_ == Api::kOpenAI && status == "failed") {
    const JsonValue *errors = obj_member(doc, "errors");
    const JsonValue *data = errors ? obj_member(*errors, "data") : nullptr;
    std::string code, why;
    if (data && data->IsArray() && !data->Empty()) {
      code = str_member((*data)[0], "code");
      why = str_member((*data)[0], "message");
    }
    if (code == "token_limit_exceeded") {
      // Others use the organisation's enqueued tokens too: the same file, later.
      c.state = State::kUploaded;
      c.batch_id.clear();
      retry_at_ms_ = now + c.poll_interval_ms;
      c.poll_interval_ms = std::min(c.poll_interval_ms * 2, options_.max_poll_ms);
      return save(message) ? LLMSVC_ESYSTEM : 1;
    }
    std::vector<bool> seen(c.lines.size(), false);
    deliver_rest(c, seen, LLMSVC_KIND_BAD_REQUEST,
                 "the provider failed batch " + c.batch_id + (why.empty() ? "" : ": " + why));
    c.state = State::kEnded;
    return save(message) ? LLMSVC_ESYSTEM : 1;
  }
  if (api_ == Api::kOpenAI) {
    c.file_id = str_member(doc, "output_file_id");  // reused: the results to download
    std::string errors_file = str_member(doc, "error_file_id");
    std::string text;
    for (const std::string &f : {c.file_id, errors_file}) {
      if (f.empty()) continue;
      HttpAnswer d = http_->get(dep_->config.base_url + "/files/" + f + "/content");
      if (d.status != 200) return failed(d, "downloading file " + f, message);
      text += d.body;
      text.push_back('\n');
    }
    return download_lines(c, text, status, message);
  }
  std::string results = str_member(doc, "results_url");
  if (results.empty()) results = url + "/results";
  HttpAnswer d = http_->get(results);
  if (d.status != 200) return failed(d, "downloading the results of " + c.batch_id, message);
  return download_lines(c, d.body, status, message);
}


int BatchJob::download_lines(Chunk &c, std::string_view text, const std::string &status,
                             std::string &message) {
  // An adopted batch first proves to be this chunk's: every line one of its custom ids.
  if (c.verify) {
    bool ours = true;
    each_line(text, [&](std::string_view line) {
      JsonDoc doc;
      Chunk *owner = nullptr;
      size_t i = 0;
      ours = ours && parse_foreign_json(doc, line) &&
             find_custom_id(str_member(doc, "custom_id"), owner, i) && owner == &c;
    });
    if (!ours) {
      c.rejected.push_back(c.batch_id);
      c.batch_id.clear();
      c.state = State::kCreating;
      c.verify = true;  // look again (an earlier batch is claimed now), else create
      return save(message) ? LLMSVC_ESYSTEM : 1;
    }
    c.verify = false;
  }
  std::vector<bool> seen(c.lines.size(), false);
  each_line(text, [&](std::string_view line) {
    JsonDoc doc;
    Chunk *owner = nullptr;
    size_t i = 0;
    if (!parse_foreign_json(doc, line) ||
        !find_custom_id(str_member(doc, "custom_id"), owner, i) || owner != &c || seen[i])
      return;  // not a line of this batch, or one already taken
    seen[i] = true;
    if (api_ == Api::kOpenAI) {
      const JsonValue *response = obj_member(doc, "response");
      const JsonValue *body = response ? obj_member(*response, "body") : nullptr;
      if (response && response->IsObject() && body) {
        int code = int(int_member(*response, "status_code"));
        deliver(c, i, code, json_text(*body), LLMSVC_KIND_NONE, {},
                str_member(*response, "request_id"));
        return;
      }
      const JsonValue *error = obj_member(doc, "error");
      std::string why = error ? str_member(*error, "message") : std::string();
      deliver(c, i, 0, {}, LLMSVC_KIND_BAD_REQUEST,
              "the provider did not run this line: " + (why.empty() ? "no reason given" : why), {});
      return;
    }
    const JsonValue *result = obj_member(doc, "result");
    std::string type = result ? str_member(*result, "type") : std::string();
    if (type == "succeeded") {
      const JsonValue *m = obj_member(*result, "message");
      deliver(c, i, 200, m ? json_text(*m) : std::string(), LLMSVC_KIND_NONE, {}, {});
    } else if (type == "errored") {
      const JsonValue *e = obj_member(*result, "error");
      const JsonValue *inner = e ? obj_member(*e, "error") : nullptr;
      int code = anthropic_status(inner ? str_member(*inner, "type") : std::string());
      deliver(c, i, code, e ? json_text(*e) : std::string(), LLMSVC_KIND_NONE, {}, {});
    } else if (type == "canceled") {
      deliver(c, i, 0, {}, LLMSVC_KIND_CANCELLED, "the batch was cancelled before this line ran", {});
    } else if (type == "expired") {
      deliver(c, i, 0, {}, LLMSVC_KIND_TIMEOUT, "the batch expired before this line ran", {});
    } else {
      seen[i] = false;
    }
  });
  if (status == "expired")
    deliver_rest(c, seen, LLMSVC_KIND_TIMEOUT, "the batch expired before this line ran");
  else if (status == "cancelled")
    deliver_rest(c, seen, LLMSVC_KIND_CANCELLED, "the batch was cancelled before this line ran");
  else
    deliver_rest(c, seen, LLMSVC_KIND_PROTOCOL,
                 "the results of batch " + c.batch_id + " do not include this line");
  c.state = State::kEnded;
  return save(message) ? LLMSVC_ESYSTEM : 1;
}

void BatchJob::deliver(Chunk &c, size_t i, int status, std::string_view body,
                       llmsvc_error_kind kind, const std::string &why,
                       const std::string &request_id) {
  Engine::BatchReply b;
  b.dep = dep_;
  b.model = c.model;
  b.operation = c.operation;
  b.batch_id = c.batch_id;
  b.custom_id = c.lines[i].id;
  b.http_status = status;
  b.body = body;
  b.kind = kind;
  b.message = why;
  b.request_id = request_id;
  b.created_unix_ms = c.created_unix_ms;
  b.ended_unix_ms = std::max(c.ended_unix_ms, c.created_unix_ms);
  llmsvc_result *r = engine_.batch_result(b);
  if (r->kind == LLMSVC_KIND_NONE) ++delivered_ok_;
  else ++delivered_failed_;
  if (r->nums[LLMSVC_NUM_COST_NANO_USD] > 0) cost_nano_usd_ += r->nums[LLMSVC_NUM_COST_NANO_USD];
  ready_.emplace_back(r, &c);
  ++c.untaken;
  c.lines[i].body.clear();
  c.lines[i].body.shrink_to_fit();
}

void BatchJob::deliver_rest(Chunk &c, std::vector<bool> &seen, llmsvc_error_kind kind,
                            const std::string &why) {
  for (size_t i = 0; i < c.lines.size(); ++i)
    if (!seen[i]) {
      seen[i] = true;
      deliver(c, i, 0, {}, kind, why, {});
    }
}

int BatchJob::step(int timeout_ms, std::string &message) {
  if (!pending_.empty()) plan();
  int64_t now = wall_ms();
  const int64_t until = now + std::max(timeout_ms, 0);
  if (retry_at_ms_ > now) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(retry_at_ms_, until) - now));
    return 1;
  }
  // Unfinished creations first (after a restart), then batches due a poll, then new ones.
  for (auto &c : chunks_)
    if ((c->state == State::kCreating || c->state == State::kUploaded) && c->verify)
      return find_created(*c, message);
  for (auto &c : chunks_)
    if (c->state == State::kUploaded) {
      if (options_.max_enqueued_tokens > 0 &&
          enqueued(c->model) + c->tokens > options_.max_enqueued_tokens)
        continue;
      return create(*c, message);
    }
  for (auto &c : chunks_)
    if (c->state == State::kCreating) return create(*c, message);
  int64_t next_due = INT64_MAX;
  for (auto &c : chunks_)
    if (c->state == State::kRunning) {
      if (c->next_poll_ms <= now) return poll(*c, message);
      next_due = std::min(next_due, c->next_poll_ms);
    }
  for (auto &c : chunks_)
    if (c->state == State::kPlanned) {
      if (options_.max_enqueued_tokens > 0 &&
          enqueued(c->model) + c->tokens > options_.max_enqueued_tokens)
        continue;  // until a running batch of its model ends
      return api_ == Api::kOpenAI ? upload(*c, message) : create(*c, message);
    }
  bool all_delivered = pending_.empty() && ready_.empty();
  for (auto &c : chunks_) all_delivered &= c->state == State::kDelivered;
  if (all_delivered) return 0;
  bool uncommitted = false;
  for (auto &c : chunks_) uncommitted |= c->state == State::kEnded && c->taken;
  if (!ready_.empty() || uncommitted) return 1;  // the caller's turn: take and commit
  if (next_due != INT64_MAX && next_due > now)
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(next_due, until) - now));
  return 1;
}

llmsvc_result *BatchJob::next() {
  if (ready_.empty()) return nullptr;
  auto [r, c] = ready_.front();
  ready_.pop_front();
  if (--c->untaken == 0 && c->state == State::kEnded) c->taken = true;
  return r;
}

int BatchJob::commit(std::string &message) {
  bool changed = false;
  for (auto &c : chunks_)
    if (c->state == State::kEnded && c->taken) {
      c->state = State::kDelivered;
      changed = true;
    }
  return changed ? save(message) : LLMSVC_OK;
}

std::string BatchJob::status_json() const {
  JsonBuffer buf;
  JsonWriter w(buf);
  int64_t by_state[6] = {};
  int64_t lines = int64_t(pending_.size());
  for (const auto &c : chunks_) {
    ++by_state[int(c->state)];
    lines += int64_t(c->lines.size());
  }
  w.StartObject();
  w.Key("provider");
  w.String(dep_ ? dep_->provider->name() : "");
  w.Key("deployment");
  write_str(w, dep_ ? dep_->name : std::string());
  w.Key("requests");
  w.Int64(lines);
  w.Key("batches");
  w.StartObject();
  for (int i = 0; i < 6; ++i) {
    w.Key(state_name(i));
    w.Int64(by_state[i]);
  }
  w.Key("created");  // by this process
  w.Int64(batches_created_);
  w.EndObject();
  w.Key("results");  // handed over by this process
  w.StartObject();
  w.Key("ok");
  w.Int64(delivered_ok_);
  w.Key("failed");
  w.Int64(delivered_failed_);
  w.Key("cost_nano_usd");
  w.Int64(cost_nano_usd_);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace llmsvc
