// One reusable libcurl easy handle set up for a client's provider. The options that never
// change (URL, headers, callbacks, timeouts, HTTP version) are set once; an attempt only
// sets its body and owner, so reusing a handle costs almost nothing. Connections live in
// the engine's multi handle and are kept alive across transfers.
#pragma once

#include <curl/curl.h>

#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "providers/provider.h"

namespace llmsvc {

/// Whether the libcurl in use speaks HTTP/2 reliably (8.1 and later).
bool http2_reliable();

/// Takes the bytes of a successful streamed reply as they arrive (from inside libcurl's
/// write callback: it must not call back into libcurl). False aborts the transfer.
class StreamSink {
 public:
  virtual bool on_stream_bytes(void *owner, std::string_view bytes) = 0;

 protected:
  ~StreamSink() = default;
};

class Transfer {
 public:
  Transfer(const Config &config, const Provider &provider);
  ~Transfer();
  Transfer(const Transfer &) = delete;
  Transfer &operator=(const Transfer &) = delete;

  /// Readies the handle for one attempt posting `body` (which must outlive the transfer).
  /// With a `sink`, a 2xx body goes to it as it arrives instead of being kept.
  /// `traceparent` / `tracestate` (may be empty): W3C trace context headers for this
  /// attempt, beside the provider's own.
  /// `extra`: the request's own headers (extra_headers), checked at submit.
  void start(const char *body, size_t len, void *owner, int64_t wall_now_ms,
             StreamSink *sink = nullptr, std::string_view traceparent = {},
             std::string_view tracestate = {},
             const std::vector<std::pair<std::string, std::string>> &extra = {});

  /// Posts the next attempts to `url` instead of the provider's endpoint (a provider whose
  /// URL depends on the request).
  void set_url(const std::string &url);

  CURL *easy() const { return easy_; }
  uint32_t shard = 0;  // the engine's multi handle it was added to
  bool other_url = false;  // set_url moved it off the provider's endpoint (embeddings)
  const std::string &response() const { return response_; }
  const ResponseHeaders &headers() const { return headers_; }
  const char *error_text() const { return errbuf_; }
  /// Whether the body went past http.max_reply_bytes (the transfer was then stopped).
  bool too_large() const { return body_bytes_ > max_body_bytes_; }
  int64_t max_body_bytes() const { return max_body_bytes_; }
  long http_status() const;
  /// How often this attempt's request went out: more than once when libcurl wrote it to a
  /// reused connection that proved dead before any reply byte and sent it again.
  int sends() const { return sends_; }

 private:
  static size_t on_body(char *data, size_t size, size_t n, void *self);
  static size_t on_header(char *data, size_t size, size_t n, void *self);
  static int on_send(void *self, char *, char *, int, int);

  const Provider &provider_;
  CURL *easy_ = nullptr;
  curl_slist *trace_headers_ = nullptr;  // the provider's headers plus trace context
  curl_slist *trace_line_ = nullptr;     // its traceparent node, when that is all it adds
  void *owner_ = nullptr;
  StreamSink *sink_ = nullptr;
  std::string response_;
  int64_t body_bytes_ = 0;      // of this attempt, kept or streamed
  int sends_ = 0;
  int64_t max_body_bytes_ = 0;  // http.max_reply_bytes
  ResponseHeaders headers_;
  int64_t wall_now_ms_ = 0;
  char errbuf_[CURL_ERROR_SIZE] = {};
};

}  // namespace llmsvc
