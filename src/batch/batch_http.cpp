#include "batch/batch_http.h"

#include <curl/curl.h>

#include <cctype>
#include <ctime>
#include <new>

#include "retry/policy.h"

namespace llmsvc {

namespace {

size_t on_body(char *data, size_t size, size_t n, void *out) {
  static_cast<HttpAnswer *>(out)->body.append(data, size * n);
  return size * n;
}

size_t on_header(char *data, size_t size, size_t n, void *out) {
  std::string_view line(data, size * n);
  auto *a = static_cast<HttpAnswer *>(out);
  auto starts = [&](std::string_view name) {
    if (line.size() <= name.size()) return false;
    for (size_t i = 0; i < name.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
    return true;
  };
  auto value = [&](size_t skip) {
    std::string_view v = line.substr(skip);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    return v;
  };
  if (starts("retry-after-ms:")) {
    int64_t ns = parse_retry_after_ms(value(15));
    if (ns >= 0) a->retry_after_ms = ns / 1000000;
  } else if (starts("retry-after:") && a->retry_after_ms < 0) {
    int64_t ns = parse_retry_after(value(12), int64_t(std::time(nullptr)));
    if (ns >= 0) a->retry_after_ms = ns / 1000000;
  }
  return size * n;
}

curl_slist *append(curl_slist *list, const char *line) {
  curl_slist *next = curl_slist_append(list, line);
  if (!next) {
    curl_slist_free_all(list);
    throw std::bad_alloc();
  }
  return next;
}

bool is_content_type(const char *h) {
  static const char kName[] = "content-type:";
  for (size_t i = 0; kName[i]; ++i)
    if (std::tolower(static_cast<unsigned char>(h[i])) != kName[i]) return false;
  return true;
}

}  // namespace

BatchHttp::BatchHttp(const Config &config, const Provider &provider)
    : connect_timeout_ms_(config.connect_timeout_ms), timeout_ms_(config.request_timeout_ms) {
  easy_ = curl_easy_init();
  if (!easy_) throw std::bad_alloc();
  try {
    for (const curl_slist *h = provider.headers(); h; h = h->next) {
      json_headers_ = append(json_headers_, h->data);
      if (!is_content_type(h->data)) plain_headers_ = append(plain_headers_, h->data);
    }
  } catch (...) {
    curl_slist_free_all(json_headers_);
    curl_slist_free_all(plain_headers_);
    curl_easy_cleanup(easy_);
    throw;
  }
}

BatchHttp::~BatchHttp() {
  curl_easy_cleanup(easy_);
  curl_slist_free_all(json_headers_);
  curl_slist_free_all(plain_headers_);
}

HttpAnswer BatchHttp::perform(const std::string &url, curl_slist *headers) {
  HttpAnswer a;
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL *e = easy_;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, long(connect_timeout_ms_));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, long(timeout_ms_));
  curl_easy_setopt(e, CURLOPT_USERAGENT, "llmsvc/" LLMSVC_VERSION_STRING);
  CURLcode rc = curl_easy_perform(e);
  if (rc != CURLE_OK) {
    a.status = 0;
    a.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    a.body.clear();
  } else {
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    a.status = int(status);
  }
  // The next call sets what it needs; nothing of this one may leak into it.
  curl_easy_setopt(e, CURLOPT_MIMEPOST, nullptr);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, nullptr);
  curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, nullptr);
  return a;
}

HttpAnswer BatchHttp::get(const std::string &url) {
  curl_easy_setopt(easy_, CURLOPT_HTTPGET, 1L);
  return perform(url, plain_headers_);
}

HttpAnswer BatchHttp::post_json(const std::string &url, std::string_view body) {
  curl_easy_setopt(easy_, CURLOPT_POST, 1L);
  curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.size()));
  curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, body.data());
  return perform(url, json_headers_);
}

HttpAnswer BatchHttp::upload(const std::string &url, const std::string &purpose,
                             const std::string &filename, std::string_view content) {
  curl_mime *mime = curl_mime_init(easy_);
  if (!mime) throw std::bad_alloc();
  curl_mimepart *part = curl_mime_addpart(mime);
  curl_mime_name(part, "purpose");
  curl_mime_data(part, purpose.c_str(), CURL_ZERO_TERMINATED);
  part = curl_mime_addpart(mime);
  curl_mime_name(part, "file");
  curl_mime_filename(part, filename.c_str());
  curl_mime_type(part, "application/jsonl");
  curl_mime_data(part, content.data(), content.size());
  curl_easy_setopt(easy_, CURLOPT_MIMEPOST, mime);
  HttpAnswer a = perform(url, plain_headers_);
  curl_mime_free(mime);
  return a;
}

std::string describe(const HttpAnswer &a, const Provider &provider) {
  if (a.status == 0) return "no answer (" + a.error + ")";
  std::string s = "HTTP " + std::to_string(a.status);
  ProviderError e = provider.parse_error(a.body);
  if (!e.message.empty()) s += ": " + e.message;
  else if (!a.body.empty()) s += ": " + to_utf8(a.body.substr(0, 200));
  return s;
}

}  // namespace llmsvc
