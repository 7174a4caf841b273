#include "retry/policy.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <string>

#include "common/clock.h"

namespace llmsvc {

Classification classify_http(int status, std::string_view type, std::string_view code,
                             int should_retry) {
  Classification c;
  if (status == 429 && (code == "insufficient_quota" || type == "insufficient_quota"))
    return {LLMSVC_KIND_INSUFFICIENT_QUOTA, false};  // billing: no wait helps
  if (code == "API_KEY_INVALID") return {LLMSVC_KIND_AUTH, false};  // Gemini's, with a 400
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
    case 429: c = {LLMSVC_KIND_RATE_LIMITED, true, code != "resource_unavailable"}; break;
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
  int64_t delta_s = int64_t(t) - wall_now_s;
  if (delta_s > 1000000000) return -1;  // as with delta-seconds: beyond any real wait
  return std::max<int64_t>(0, delta_s * kNsPerSec);
}

int64_t parse_rfc3339_from(std::string_view v, int64_t wall_now_ms) {
  v = trim(v);
  auto digits = [&](size_t at, size_t n, int &out) {
    if (at + n > v.size()) return false;
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (v[i] < '0' || v[i] > '9') return false;
      out = out * 10 + (v[i] - '0');
    }
    return true;
  };
  int year, month, day, hour, minute, second;
  if (!digits(0, 4, year) || v.size() < 19 || v[4] != '-' || !digits(5, 2, month) ||
      v[7] != '-' || !digits(8, 2, day) || (v[10] != 'T' && v[10] != 't' && v[10] != ' ') ||
      !digits(11, 2, hour) || v[13] != ':' || !digits(14, 2, minute) || v[16] != ':' ||
      !digits(17, 2, second) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60)
    return -1;
  size_t at = 19;
  double frac = 0, scale = 0.1;
  if (at < v.size() && v[at] == '.') {
    ++at;
    if (at >= v.size() || v[at] < '0' || v[at] > '9') return -1;
    for (; at < v.size() && v[at] >= '0' && v[at] <= '9'; ++at, scale /= 10) frac += (v[at] - '0') * scale;
  }
  int offset_s = 0;
  if (at < v.size() && (v[at] == 'Z' || v[at] == 'z')) {
    ++at;
  } else if (at < v.size() && (v[at] == '+' || v[at] == '-')) {
    int oh, om;
    if (!digits(at + 1, 2, oh) || at + 3 >= v.size() || v[at + 3] != ':' || !digits(at + 4, 2, om))
      return -1;
    offset_s = (v[at] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    at += 6;
  } else {
    return -1;
  }
  if (at != v.size()) return -1;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  double unix_s = double(timegm(&tm) - offset_s) + frac;
  double delta_ns = (unix_s * 1000.0 - double(wall_now_ms)) * 1e6;
  if (delta_ns > 9e18) return -1;  // does not fit in int64 ns (about 285 years away)
  return delta_ns <= 0 ? 0 : int64_t(delta_ns);
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
