// The control calls of a provider batch job (upload, create, poll, download): one blocking
// libcurl easy call each, on the job's caller's thread, with the deployment's own headers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/config.h"
#include "providers/provider.h"

namespace llmsvc {

struct HttpAnswer {
  int status = 0;           // 0: no answer (transport failure; `error` says why)
  std::string body;
  std::string error;        // libcurl's message when status is 0
  int64_t retry_after_ms = -1;
  /// A failure worth trying again later: no answer, 408, 409, 429 or 5xx.
  bool transient() const {
    return status == 0 || status == 408 || status == 409 || status == 429 || status >= 500;
  }
};

class BatchHttp {
 public:
  BatchHttp(const Config &config, const Provider &provider);
  ~BatchHttp();
  BatchHttp(const BatchHttp &) = delete;
  BatchHttp &operator=(const BatchHttp &) = delete;

  HttpAnswer get(const std::string &url);
  HttpAnswer post_json(const std::string &url, std::string_view body);
  /// multipart/form-data: the field "purpose" and the file "file" named `filename`.
  HttpAnswer upload(const std::string &url, const std::string &purpose,
                    const std::string &filename, std::string_view content);

 private:
  HttpAnswer perform(const std::string &url, curl_slist *headers);
  void *easy_ = nullptr;
  curl_slist *json_headers_ = nullptr;   // the provider's
  curl_slist *plain_headers_ = nullptr;  // the provider's without its content type
  int64_t connect_timeout_ms_;
  int64_t timeout_ms_;
};

/// A one-line description of a failed call for messages: "HTTP 400: <provider message>".
std::string describe(const HttpAnswer &a, const Provider &provider);

}  // namespace llmsvc
