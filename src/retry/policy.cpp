#include "retry/policy.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "common/clock.h"

namespace llmsvc {

Classification classify_http(int status, std::string_view type, std::string_view code,
                             int should_retry) {
  Classification c;
  if (status == 429 && (code == "insufficient_quota" || type == "insufficient_quota"))
    return {LLMSVC_KIND_INSUFFICIENT_QUOTA, false};  // billing: no wait helps
  if (code == "unsupported_country_region_territory" ||
      type == "unsupported_country_region_territory")
    return {LLMSVC_KIND_UNSUPPORTED_REGION, false};
  switch (status) {
    case 400:
    case 413:
    case 422: c = {LLMSVC_KIND_BAD_REQUEST, false}; break;
    case 401: c = {LLMSVC_KIND_AUTH, false}; break;
    case 403: c = {LLMSVC_KIND_PERMISSION, false}; break;
    case 404: c = {LLMSVC_KIND_NOT_FOUND, false}; break;
    case 408: c = {LLMSVC_KIND_TIMEOUT, true}; break;
    case 409: c = {LLMSVC_KIND_CONFLICT, true}; break;
    case 429: c = {LLMSVC_KIND_RATE_LIMITED, true}; break;
    default:
      if (status >= 500) c = {LLMSVC_KIND_SERVER_ERROR, true};
      else c = {LLMSVC_KIND_BAD_REQUEST, false};
  }
  if (should_retry == 1) c.retryable = true;
  if (should_retry == 0) c.retryable = false;
  return c;
}

TransportClass classify_transport(int curl_code) {
  switch (curl_code) {
    case CURLE_OK: return {{LLMSVC_KIND_NONE, false}, true};
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: return {{LLMSVC_KIND_CONNECTION, true}, false};
    case CURLE_OPERATION_TIMEDOUT: return {{LLMSVC_KIND_TIMEOUT, true}, true};
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT: return {{LLMSVC_KIND_INVALID_REQUEST, false}, false};
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM: return {{LLMSVC_KIND_CONNECTION, false}, false};
    case CURLE_OUT_OF_MEMORY: return {{LLMSVC_KIND_INTERNAL, false}, true};
    default:
      // Resets, empty replies, partial transfers, HTTP/2 stream errors, TLS hiccups.
      return {{LLMSVC_KIND_CONNECTION, true}, true};
  }
}

int64_t backoff_ns(const RetryPolicy &p, int64_t failures, double u) {
  double base = double(p.base_delay_ms) * kNsPerMs;
  double cap = double(p.max_delay_ms) * kNsPerMs;
  double d = base * std::ldexp(1.0, int(std::clamp<int64_t>(failures - 1, 0, 60)));
  d = std::min(d, cap);
  d *= 1.0 - p.jitter * std::clamp(u, 0.0, 1.0);
  return int64_t(d);
}

namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' ||
                        v.back() == '\n'))
    v.remove_suffix(1);
  return v;
}

// A non-negative decimal number ("12", "1.5"); false when malformed.
bool parse_decimal(std::string_view v, double &out) {
  if (v.empty()) return false;
  double whole = 0, frac = 0, scale = 1;
  bool dot = false, digit = false;
  for (char ch : v) {
    if (ch == '.' && !dot) {
      dot = true;
    } else if (ch >= '0' && ch <= '9') {
      digit = true;
      if (dot) {
        scale /= 10;
        frac += (ch - '0') * scale;
      } else {
        whole = whole * 10 + (ch - '0');
      }
    } else {
      return false;
    }
  }
  out = whole + frac;
  return digit;
}

}  // namespace

int64_t parse_retry_after_ms(std::string_view v) {
  double ms;
  if (!parse_decimal(trim(v), ms) || ms > 1e12) return -1;
  return int64_t(ms * kNsPerMs);
}

int64_t parse_retry_after(std::string_view v, int64_t wall_now_s) {
  v = trim(v);
  double s;
  if (parse_decimal(v, s)) return s > 1e9 ? -1 : int64_t(s * kNsPerSec);
  std::string date(v);
  time_t t = curl_getdate(date.c_str(), nullptr);
  if (t < 0) return -1;
  return std::max<int64_t>(0, (int64_t(t) - wall_now_s) * kNsPerSec);
}

int64_t parse_go_duration(std::string_view v) {
  v = trim(v);
  if (v.empty()) return -1;
  if (v == "0") return 0;
  double total = 0;
  while (!v.empty()) {
    size_t n = 0;
    while (n < v.size() && ((v[n] >= '0' && v[n] <= '9') || v[n] == '.')) ++n;
    double x;
    if (n == 0 || !parse_decimal(v.substr(0, n), x)) return -1;
    v.remove_prefix(n);
    size_t u = 0;
    while (u < v.size() && !((v[u] >= '0' && v[u] <= '9') || v[u] == '.')) ++u;
    std::string_view unit = v.substr(0, u);
    v.remove_prefix(u);
    double mult;
    if (unit == "h") mult = 3600e9;
    else if (unit == "m") mult = 60e9;
    else if (unit == "s") mult = 1e9;
    else if (unit == "ms") mult = 1e6;
    else if (unit == "us" || unit == "\xC2\xB5s") mult = 1e3;
    else if (unit == "ns") mult = 1;
    else return -1;
    total += x * mult;
  }
  return total > 9e18 ? -1 : int64_t(total);
}

}  // namespace llmsvc
