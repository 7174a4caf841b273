#include "http/transfer.h"

#include <cstring>
#include <new>

#include "llmsvc.h"

namespace llmsvc {

bool http2_reliable() {
  // libcurl before 8.1 fails HTTP/2 streams with "Error in the HTTP2 framing layer", under
  // concurrency and now and then even one at a time (docs/decisions.md): there we speak
  // HTTP/1.1 with keep-alive instead.
  static const bool ok = curl_version_info(CURLVERSION_NOW)->version_num >= 0x080100;
  return ok;
}

Transfer::Transfer(const Config &config, const Provider &provider)
    : provider_(provider), max_body_bytes_(config.max_reply_bytes) {
  easy_ = curl_easy_init();
  if (!easy_) throw std::bad_alloc();
  curl_easy_setopt(easy_, CURLOPT_URL, provider.url().c_str());
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, provider.headers());
  curl_easy_setopt(easy_, CURLOPT_POST, 1L);
  curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  // Called before every send of the request, libcurl's own re-sends included.
  curl_easy_setopt(easy_, CURLOPT_PREREQFUNCTION, &Transfer::on_send);
  curl_easy_setopt(easy_, CURLOPT_PREREQDATA, this);
  curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, errbuf_);
  curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy_, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS, long(config.connect_timeout_ms));
  curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, long(config.request_timeout_ms));
  curl_easy_setopt(easy_, CURLOPT_USERAGENT, "llmsvc/" LLMSVC_VERSION_STRING);
  long version = CURL_HTTP_VERSION_1_1;
  if (http2_reliable()) {
    if (config.http2_prior_knowledge) version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    else if (config.http2) version = CURL_HTTP_VERSION_2TLS;
    // Prefer waiting for a multiplexed HTTP/2 stream over opening another connection.
    curl_easy_setopt(easy_, CURLOPT_PIPEWAIT, 1L);
  }
  curl_easy_setopt(easy_, CURLOPT_HTTP_VERSION, version);
  provider.configure_handle(easy_);
}

Transfer::~Transfer() {
  curl_easy_cleanup(easy_);
  curl_slist_free_all(trace_headers_);
}

void Transfer::start(const char *body, size_t len, void *owner, int64_t wall_now_ms,
                     StreamSink *sink, std::string_view traceparent, std::string_view tracestate,
                     const std::vector<std::pair<std::string, std::string>> &extra) {
  constexpr size_t kTraceparentLen = 55;  // "00-" 32 hex "-" 16 hex "-" 2 hex
  constexpr size_t kPrefixLen = 13;       // "traceparent: "
  // The provider's headers and the request's own.
  auto build = [&] {
    curl_slist *list = nullptr;
    auto add = [&](const std::string &line) {
      curl_slist *next = curl_slist_append(list, line.c_str());
      if (!next) {
        curl_slist_free_all(list);
        throw std::bad_alloc();
      }
      list = next;
    };
    for (const curl_slist *h = provider_.headers(); h; h = h->next) add(h->data);
    if (!traceparent.empty()) add("traceparent: " + std::string(traceparent));
    if (!tracestate.empty()) add("tracestate: " + std::string(tracestate));
    for (const auto &[name, value] : extra) add(name + ": " + value);
    return list;
  };
  if (extra.empty() && tracestate.empty() && traceparent.size() == kTraceparentLen) {
    // Only a traceparent (telemetry gives every attempt one): the list is built once per
    // handle and the header's value rewritten in place, the same length every time.
    if (!trace_line_) {
      curl_slist_free_all(trace_headers_);
      trace_headers_ = nullptr;
      trace_headers_ = build();
      for (curl_slist *h = trace_headers_; h; h = h->next) trace_line_ = h;  // the last one
    }
    std::memcpy(trace_line_->data + kPrefixLen, traceparent.data(), kTraceparentLen);
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, trace_headers_);
  } else if (trace_headers_ || !traceparent.empty() || !extra.empty()) {
    trace_line_ = nullptr;
    curl_slist_free_all(trace_headers_);
    trace_headers_ = nullptr;
    if (!traceparent.empty() || !extra.empty()) trace_headers_ = build();
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER,
                     trace_headers_ ? trace_headers_ : provider_.headers());
  }
  owner_ = owner;
  sink_ = sink;
  response_.clear();
  body_bytes_ = 0;
  sends_ = 0;
  headers_ = ResponseHeaders{};
  errbuf_[0] = '\0';
  wall_now_ms_ = wall_now_ms;
  curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(len));
  curl_easy_setopt(easy_, CURLOPT_PRIVATE, owner);
}

void Transfer::set_url(const std::string &url) {
  curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());  // libcurl keeps its own copy
}

long Transfer::http_status() const {
  long code = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

size_t Transfer::on_body(char *data, size_t size, size_t n, void *self) {
  auto *t = static_cast<Transfer *>(self);
  t->body_bytes_ += int64_t(size * n);
  if (t->too_large()) return 0;  // curl stops with a write error; the engine says why
  try {
    if (t->sink_) {
      long status = t->http_status();
      if (status >= 200 && status < 300)
        return t->sink_->on_stream_bytes(t->owner_, std::string_view(data, size * n)) ? size * n
                                                                                       : 0;
    }
    t->response_.append(data, size * n);  // a whole reply, or an error body
  } catch (...) {
    return 0;  // curl reports a write error; the attempt fails cleanly
  }
  return size * n;
}

int Transfer::on_send(void *self, char *, char *, int, int) {
  ++static_cast<Transfer *>(self)->sends_;
  return CURL_PREREQFUNC_OK;
}

size_t Transfer::on_header(char *data, size_t size, size_t n, void *self) {
  auto *t = static_cast<Transfer *>(self);
  size_t len = size * n;
  std::string_view line(data, len);
  if (line.rfind("HTTP/", 0) == 0) {
    t->headers_ = ResponseHeaders{};  // a new response (after 100-continue or a redirect)
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon > 64) return len;
  char name[65];
  for (size_t i = 0; i < colon; ++i) {
    char c = line[i];
    name[i] = (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
  }
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.remove_suffix(1);
  t->provider_.read_header(std::string_view(name, colon), value, t->wall_now_ms_, t->headers_);
  return len;
}

}  // namespace llmsvc
