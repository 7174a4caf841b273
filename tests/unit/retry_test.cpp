#include "retry/policy.h"

#include "common/clock.h"
#include "providers/fields.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

using namespace llmsvc;

TEST(Classify, TransientStatusesRetry) {
  for (int s : {408, 409, 429, 500, 502, 503, 504, 529}) {
    Classification c = classify_http(s, "", "", -1);
    EXPECT_TRUE(c.retryable) << s;
  }
  EXPECT_EQ(classify_http(429, "requests", "rate_limit_exceeded", -1).kind,
            LLMSVC_KIND_RATE_LIMITED);
  EXPECT_EQ(classify_http(503, "server_error", "", -1).kind, LLMSVC_KIND_SERVER_ERROR);
}

TEST(Classify, TerminalStatusesNeverRetry) {
  struct Case {
    int status;
    llmsvc_error_kind kind;
  } cases[] = {{400, LLMSVC_KIND_BAD_REQUEST}, {401, LLMSVC_KIND_AUTH},
               {403, LLMSVC_KIND_PERMISSION},  {404, LLMSVC_KIND_NOT_FOUND},
               {422, LLMSVC_KIND_BAD_REQUEST}};
  for (const Case &c : cases) {
    Classification got = classify_http(c.status, "invalid_request_error", "", -1);
    EXPECT_FALSE(got.retryable) << c.status;
    EXPECT_EQ(got.kind, c.kind) << c.status;
  }
}

TEST(Classify, InsufficientQuotaIsNotARateLimit) {
  Classification c = classify_http(429, "insufficient_quota", "insufficient_quota", -1);
  EXPECT_EQ(c.kind, LLMSVC_KIND_INSUFFICIENT_QUOTA);
  EXPECT_FALSE(c.retryable);
  // Even when the server says it may retry: quota does not come back by waiting.
  EXPECT_FALSE(classify_http(429, "", "insufficient_quota", 1).retryable);
}

TEST(Classify, UnsupportedRegion) {
  Classification c = classify_http(403, "request_forbidden", "unsupported_country_region_territory", -1);
  EXPECT_EQ(c.kind, LLMSVC_KIND_UNSUPPORTED_REGION);
  EXPECT_FALSE(c.retryable);
}

TEST(Classify, ShouldRetryHeaderWins) {
  EXPECT_FALSE(classify_http(500, "", "", 0).retryable);
  EXPECT_TRUE(classify_http(400, "", "", 1).retryable);
}

TEST(Classify, TransportErrors) {
  EXPECT_TRUE(classify_transport(CURLE_RECV_ERROR).c.retryable);
  EXPECT_TRUE(classify_transport(CURLE_GOT_NOTHING).c.retryable);
  EXPECT_EQ(classify_transport(CURLE_OPERATION_TIMEDOUT).c.kind, LLMSVC_KIND_TIMEOUT);
  TransportClass refused = classify_transport(CURLE_COULDNT_CONNECT);
  EXPECT_TRUE(refused.c.retryable);
  EXPECT_FALSE(refused.reached_server);
  EXPECT_FALSE(classify_transport(CURLE_PEER_FAILED_VERIFICATION).c.retryable);
  EXPECT_FALSE(classify_transport(CURLE_URL_MALFORMAT).c.retryable);
}

TEST(Backoff, ExponentialCappedWithJitter) {
  RetryPolicy p;
  p.base_delay_ms = 100;
  p.max_delay_ms = 1000;
  p.jitter = 0.5;
  EXPECT_EQ(backoff_ns(p, 1, 0.0), 100 * kNsPerMs);
  EXPECT_EQ(backoff_ns(p, 2, 0.0), 200 * kNsPerMs);
  EXPECT_EQ(backoff_ns(p, 4, 0.0), 800 * kNsPerMs);
  EXPECT_EQ(backoff_ns(p, 5, 0.0), 1000 * kNsPerMs);
  EXPECT_EQ(backoff_ns(p, 50, 0.0), 1000 * kNsPerMs);
  // Jitter shortens by at most its fraction.
  EXPECT_EQ(backoff_ns(p, 1, 0.999999), int64_t(100 * kNsPerMs * (1 - 0.5 * 0.999999)));
  EXPECT_GE(backoff_ns(p, 3, 0.999999), 200 * kNsPerMs);
}

TEST(Classify, AFlexTiersResourceUnavailableIsRetriedWithoutPausingTheKey) {
  Classification flex = classify_http(429, "invalid_request_error", "resource_unavailable", -1);
  EXPECT_EQ(flex.kind, LLMSVC_KIND_RATE_LIMITED);
  EXPECT_TRUE(flex.retryable);
  EXPECT_FALSE(flex.pauses_key);
  EXPECT_TRUE(classify_http(429, "requests", "rate_limit_exceeded", -1).pauses_key);
}

TEST(Headers, RetryAfterForms) {
  EXPECT_EQ(parse_retry_after("2", 0), 2 * kNsPerSec);
  EXPECT_EQ(parse_retry_after(" 1.5 ", 0), 1500 * kNsPerMs);
  EXPECT_EQ(parse_retry_after("soon", 0), -1);
  // HTTP date: 10 s after "now".
  int64_t now = 784111767;  // Sun, 06 Nov 1994 08:49:27 GMT
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 10 * kNsPerSec);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:17 GMT", now), 0);
  EXPECT_EQ(parse_retry_after_ms("250"), 250 * kNsPerMs);
  EXPECT_EQ(parse_retry_after_ms("12.5"), 12500000);
  EXPECT_EQ(parse_retry_after_ms("-3"), -1);
  // Hostile forms: negative, NaN, infinite, garbage read as no wait at all (-1: the
  // client's own backoff); so is a wait beyond 1e9 s (FarFutureTimesAreMalformedNotOverflows).
  // A long wait within that is the retry policy's to bound (retry.max_retry_after_ms,
  // retry.max_pause_ms).
  for (const char *bad : {"-1", "NaN", "nan", "inf", "1e400", "", "  ", "0x10", "5s"})
    EXPECT_EQ(parse_retry_after(bad, now), -1) << bad;
  for (const char *bad : {"NaN", "inf", "garbage", "", "1e400", "99999999999999999999999"})
    EXPECT_EQ(parse_retry_after_ms(bad), -1) << bad;
  EXPECT_EQ(parse_retry_after("999999999", now), 999999999 * kNsPerSec);
}

TEST(Headers, GoDurations) {
  EXPECT_EQ(parse_go_duration("6m0s"), 360 * kNsPerSec);
  EXPECT_EQ(parse_go_duration("120ms"), 120 * kNsPerMs);
  EXPECT_EQ(parse_go_duration("1.5s"), 1500 * kNsPerMs);
  EXPECT_EQ(parse_go_duration("1h2m3s"), (3600 + 120 + 3) * kNsPerSec);
  EXPECT_EQ(parse_go_duration("20us"), 20000);
  EXPECT_EQ(parse_go_duration("0s"), 0);
  EXPECT_EQ(parse_go_duration("17.28s"), 17280 * kNsPerMs);
  EXPECT_EQ(parse_go_duration(""), -1);
  EXPECT_EQ(parse_go_duration("5 minutes"), -1);
  EXPECT_EQ(parse_go_duration("s"), -1);
}

TEST(Headers, FarFutureTimesAreMalformedNotOverflows) {
  // Found by fuzz_headers: a retry-after date or a reset time centuries away overflowed
  // int64 nanoseconds (undefined behaviour). They are as malformed as a wait of 1e10 s.
  int64_t now = 1735689600;  // 2025-01-01T00:00:00Z
  EXPECT_EQ(parse_retry_after("Wed, 01 Jan 4050 00:00:30 GMT", now), -1);
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now), -1);
  EXPECT_EQ(parse_retry_after("Wed, 01 Jan 2025 00:00:30 GMT", now), 30 * kNsPerSec);
  EXPECT_EQ(parse_rfc3339_from("9999-12-31T23:59:59Z", now * 1000), -1);
  EXPECT_EQ(parse_rfc3339_from("2025-01-01T00:00:30Z", now * 1000), 30 * kNsPerSec);
  EXPECT_EQ(parse_rfc3339_from("0000-01-01T00:00:00Z", now * 1000), 0);
  // And a remaining count one past INT64_MAX.
  EXPECT_EQ(parse_count("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parse_count("9223372036854775808"), -1);
}
