#include "core/config.h"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <cstdlib>

#include "core/request.h"
#include "llmsvc.h"

namespace llmsvc {

DocError parse_limits(const JsonValue &v, const std::string &path, Limits &inout) {
  DocError err;
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, path + ": expected an object"};
  ObjectReader r(v, path);
  static const char *const known[] = {"rpm",         "tpm",       "itpm", "otpm", "rpd", "tpd",
                                      "concurrency", "window_ms", "windows", nullptr};
  constexpr int64_t kMax = int64_t(1) << 40;
  constexpr int64_t kDayMs = 24LL * 3600 * 1000;
  if (!r.only(known, err) || !r.get_int("rpm", inout.rpm, err, 0, kMax) ||
      !r.get_int("tpm", inout.tpm, err, 0, kMax) ||
      !r.get_int("itpm", inout.itpm, err, 0, kMax) ||
      !r.get_int("otpm", inout.otpm, err, 0, kMax) ||
      !r.get_int("concurrency", inout.concurrency, err, 0, 1 << 20) ||
      !r.get_int("window_ms", inout.window_ms, err, 1, kDayMs))
    return err;
  // Windows beside the per-minute ones: what is given replaces what was inherited.
  const JsonValue *windows = r.find("windows");
  if (r.find("rpd") || r.find("tpd") || windows) inout.windows.clear();
  Limits::Window day{kDayMs, 0, 0};
  if (!r.get_int("rpd", day.requests, err, 0, kMax) || !r.get_int("tpd", day.tokens, err, 0, kMax))
    return err;
  if (day.requests > 0 || day.tokens > 0) inout.windows.push_back(day);
  if (windows && !windows->IsNull()) {
    if (!windows->IsArray())
      return {LLMSVC_ESCHEMA, r.path("windows") + ": expected an array of {window_ms, requests, tokens}"};
    size_t i = 0;
    for (const JsonValue &w : windows->GetArray()) {
      std::string at = r.path("windows") + "[" + std::to_string(i++) + "]";
      if (!w.IsObject()) return {LLMSVC_ESCHEMA, at + ": expected an object"};
      ObjectReader wr(w, at);
      static const char *const wknown[] = {"window_ms", "requests", "tokens", nullptr};
      Limits::Window x;
      if (!wr.only(wknown, err) || !wr.get_int("window_ms", x.window_ms, err, 1, 31 * kDayMs) ||
          !wr.get_int("requests", x.requests, err, 0, kMax) ||
          !wr.get_int("tokens", x.tokens, err, 0, kMax))
        return err;
      if (x.window_ms == 0) return {LLMSVC_ESCHEMA, at + ".window_ms: missing"};
      if (x.requests == 0 && x.tokens == 0)
        return {LLMSVC_ESCHEMA, at + ": give requests, tokens or both"};
      inout.windows.push_back(x);
    }
  }
  if (inout.windows.size() > 16)
    return {LLMSVC_ESCHEMA, path + ".windows: at most 16 windows besides the per-minute ones"};
  return {};
}

std::string default_shared_key(const std::string &provider, const std::string &base_url,
                               const std::string &api_key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(api_key.data(), api_key.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    len = 0;
  static const char kHex[] = "0123456789abcdef";
  std::string hash;
  for (unsigned int i = 0; i < len && hash.size() < 16; ++i) {
    hash += kHex[digest[i] >> 4];
    hash += kHex[digest[i] & 15];
  }
  // A base URL may carry credentials (https://user:secret@host/v1): leave them out.
  std::string url = base_url;
  size_t scheme = url.find("://");
  size_t from = scheme == std::string::npos ? 0 : scheme + 3;
  size_t at = url.find('@', from);
  if (at != std::string::npos && at < url.find('/', from)) url.erase(from, at + 1 - from);
  return provider + ":" + url + ":" + hash;
}

namespace {

// "HOST[:PORT]" with HOST a name, an IPv4 address or "[v6addr]".
DocError parse_host_port(const std::string &path, const std::string &text, std::string &host,
                         int64_t &port) {
  std::string rest = text, p;
  bool port_given = false;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return {LLMSVC_ESCHEMA, path + ": unclosed [ in the host"};
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return {LLMSVC_ESCHEMA, path + ": expected :PORT after ]"};
      p = rest.substr(close + 2);
      port_given = true;
    }
  } else {
    size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string::npos) {
      p = rest.substr(colon + 1);
      port_given = true;
    }
  }
  if (host.empty()) return {LLMSVC_ESCHEMA, path + ": the host is empty"};
  if (port_given) {
    char *end = nullptr;
    long n = std::strtol(p.c_str(), &end, 10);
    if (*end || n < 1 || n > 65535)
      return {LLMSVC_ESCHEMA, path + ": \"" + p + "\" is not a port (1..65535)"};
    port = n;
  }
  return {};
}

// "redis://[user[:password]@]host[:port][/db]" (rediss:// with TLS), or
// "sentinel://[user[:password]@]host[:port][,host[:port]...]/master[/db]"; user and password
// percent-encoded.
DocError parse_redis_url(const std::string &url, SharedLimitsConfig &c) {
  const std::string path = "config.shared_limits.redis";
  std::string rest;
  bool sentinel = false;
  if (url.rfind("redis://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("rediss://", 0) == 0) {
    rest = url.substr(9);
    c.tls = true;
  } else if (url.rfind("sentinel://", 0) == 0) {
    rest = url.substr(11);
    sentinel = true;
  } else {
    return {LLMSVC_ESCHEMA, path +
                                ": expected redis://[USER[:PASSWORD]@]HOST[:PORT][/DB], rediss://... "
                                "(TLS) or sentinel://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]...]"
                                "/MASTER[/DB]"};
  }
  if (size_t at = rest.rfind('@', rest.find('/')); at != std::string::npos) {
    std::string userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    auto decode = [](const std::string &s, std::string &out) {
      int n = 0;
      char *d = curl_easy_unescape(nullptr, s.c_str(), int(s.size()), &n);
      if (!d) return false;
      out.assign(d, size_t(n));
      curl_free(d);
      return true;
    };
    if (!decode(userinfo.substr(0, colon), c.user) ||
        (colon != std::string::npos && !decode(userinfo.substr(colon + 1), c.password)))
      return {LLMSVC_ESCHEMA, path + ": the credentials cannot be decoded"};
  }
  std::string hosts = rest.substr(0, rest.find('/'));
  std::string tail = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
  if (sentinel) {
    c.master_name = tail.substr(0, tail.find('/'));
    tail = tail.find('/') == std::string::npos ? "" : tail.substr(tail.find('/') + 1);
    if (c.master_name.empty())
      return {LLMSVC_ESCHEMA, path + ": name the master after the sentinels (sentinel://HOST:PORT/MASTER)"};
  }
  if (!tail.empty()) {
    char *end = nullptr;
    long long n = std::strtoll(tail.c_str(), &end, 10);
    if (*end || n < 0 || n > 1000000)
      return {LLMSVC_ESCHEMA, path + ": \"" + tail + "\" is not a database number"};
    c.db = n;
  }
  if (!sentinel) return parse_host_port(path, hosts, c.host, c.port);
  for (size_t from = 0; from <= hosts.size();) {
    size_t comma = hosts.find(',', from);
    if (comma == std::string::npos) comma = hosts.size();
    std::pair<std::string, int64_t> s{{}, 26379};
    if (DocError e = parse_host_port(path, hosts.substr(from, comma - from), s.first, s.second))
      return e;
    c.sentinels.push_back(std::move(s));
    from = comma + 1;
  }
  return {};
}

DocError parse_shared_limits(const JsonValue &v, const Config &config, SharedLimitsConfig &c) {
  DocError err;
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, "config.shared_limits: expected an object"};
  ObjectReader r(v, "config.shared_limits");
  static const char *const known[] = {"redis",      "host",        "port",       "user",
                                      "password",   "password_env", "db",        "key",
                                      "share",      "timeout_ms",  "fallback_ms", "tls",
                                      "tls_ca",     "tls_cert",    "tls_key",    "tls_server_name",
                                      "tls_verify", "sentinels",   "master_name", nullptr};
  std::string url, password_env;
  bool share_given = false;
  if (!r.only(known, err) || !r.get_string("redis", url, err) ||
      !r.get_string("host", c.host, err) || !r.get_int("port", c.port, err, 1, 65535) ||
      !r.get_string("user", c.user, err) || !r.get_string("password", c.password, err) ||
      !r.get_string("password_env", password_env, err) ||
      !r.get_int("db", c.db, err, 0, 1000000) ||
      !r.get_string("key", c.key, err) ||
      !r.get_double("share", c.share, share_given, err, 0.0, 1.0) ||
      !r.get_int("timeout_ms", c.timeout_ms, err, 1, 60000) ||
      !r.get_int("fallback_ms", c.fallback_ms, err, 0, 24LL * 3600 * 1000))
    return err;
  bool tls = false;
  if (!r.get_bool("tls", tls, err) || !r.get_string("tls_ca", c.tls_ca, err) ||
      !r.get_string("tls_cert", c.tls_cert, err) || !r.get_string("tls_key", c.tls_key, err) ||
      !r.get_string("tls_server_name", c.tls_server_name, err) ||
      !r.get_bool("tls_verify", c.tls_verify, err) ||
      !r.get_string("master_name", c.master_name, err))
    return err;
  if (const JsonValue *list = r.find("sentinels")) {
    if (!list->IsArray() || list->Empty())
      return {LLMSVC_ESCHEMA, "config.shared_limits.sentinels: expected a list of \"HOST:PORT\""};
    for (const JsonValue &e : list->GetArray()) {
      if (!e.IsString())
        return {LLMSVC_ESCHEMA, "config.shared_limits.sentinels: expected a list of \"HOST:PORT\""};
      std::pair<std::string, int64_t> s{{}, 26379};
      if (DocError e2 = parse_host_port("config.shared_limits.sentinels", e.GetString(), s.first, s.second))
        return e2;
      c.sentinels.push_back(std::move(s));
    }
  }
  const bool sentinels_given = r.find("sentinels") != nullptr;
  if (r.find("redis") && (r.find("host") || r.find("port") || sentinels_given))
    return {LLMSVC_ESCHEMA, "config.shared_limits: give either redis, or host and port, or sentinels"};
  if (sentinels_given && (r.find("host") || r.find("port")))
    return {LLMSVC_ESCHEMA, "config.shared_limits: give either host and port or sentinels, not both"};
  if (!r.find("redis") && !r.find("host") && !sentinels_given)
    return {LLMSVC_ESCHEMA, "config.shared_limits: missing redis (redis://HOST[:PORT]), host or sentinels"};
  const std::string master_given = c.master_name;
  if (r.find("redis") && (err = parse_redis_url(url, c))) return err;
  if (!master_given.empty() && c.master_name != master_given)
    return {LLMSVC_ESCHEMA, "config.shared_limits.master_name: the URL names master \"" +
                                c.master_name + "\""};
  if (!c.sentinels.empty() && c.master_name.empty())
    return {LLMSVC_ESCHEMA, "config.shared_limits: sentinels need master_name (the name they monitor the master by)"};
  if (c.sentinels.empty() && r.find("master_name"))
    return {LLMSVC_ESCHEMA, "config.shared_limits.master_name: only with sentinels"};
  if (r.find("tls")) {
    if (c.tls && !tls)
      return {LLMSVC_ESCHEMA, "config.shared_limits.tls: false, but the URL is rediss://"};
    c.tls = tls;
  }
  for (const char *name : {"tls_ca", "tls_cert", "tls_key", "tls_server_name", "tls_verify"})
    if (r.find(name) && !c.tls)
      return {LLMSVC_ESCHEMA, std::string("config.shared_limits.") + name +
                                  ": given without TLS (use rediss:// or \"tls\": true)"};
  if (!c.tls_key.empty() && c.tls_cert.empty())
    return {LLMSVC_ESCHEMA, "config.shared_limits.tls_key: given without tls_cert"};
  for (auto [name, file] : {std::pair<const char *, const std::string *>{"tls_ca", &c.tls_ca},
                            {"tls_cert", &c.tls_cert}, {"tls_key", &c.tls_key}})
    if (!file->empty() && access(file->c_str(), R_OK) != 0)
      return {LLMSVC_ESCHEMA, std::string("config.shared_limits.") + name + ": cannot read " +
                                  *file + " (" + std::strerror(errno) + ")"};
  if (r.find("password") && r.find("password_env"))
    return {LLMSVC_ESCHEMA, "config.shared_limits: give either password or password_env, not both"};
  if (!password_env.empty()) {
    const char *secret = std::getenv(password_env.c_str());
    if (!secret || !*secret)
      return {LLMSVC_ESCHEMA, "config.shared_limits.password_env: the environment variable " +
                                  password_env + " is not set"};
    c.password = secret;
  }
  if (!c.password.empty() && c.password.size() > 4096)
    return {LLMSVC_ESCHEMA, "config.shared_limits: the password is longer than 4096 bytes"};
  if (c.host.empty()) return {LLMSVC_ESCHEMA, "config.shared_limits.host: the host is empty"};
  if (share_given && c.share <= 0)
    return {LLMSVC_ESCHEMA, "config.shared_limits.share: expected a fraction above 0, at most 1"};
  if (r.find("key") && c.key.empty())
    return {LLMSVC_ESCHEMA, "config.shared_limits.key: the name is empty"};
  if (c.key.empty()) c.key = default_shared_key(config.provider, config.base_url, config.api_key);
  c.enabled = true;
  return {};
}

DocError parse_retry(const JsonValue &v, RetryPolicy &p) {
  DocError err;
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, "config.retry: expected an object"};
  ObjectReader r(v, "config.retry");
  static const char *const known[] = {"max_attempts", "base_delay_ms", "max_delay_ms",
                                      "jitter", "max_retry_after_ms", "max_pause_ms", "schema_retries",
                                      nullptr};
  bool present = false;
  if (!r.only(known, err) || !r.get_int("max_attempts", p.max_attempts, err, 1, 100) ||
      !r.get_int("base_delay_ms", p.base_delay_ms, err, 0, 3600000) ||
      !r.get_int("max_delay_ms", p.max_delay_ms, err, 0, 3600000) ||
      !r.get_double("jitter", p.jitter, present, err, 0.0, 1.0) ||
      !r.get_int("max_retry_after_ms", p.max_retry_after_ms, err, 0, 24LL * 3600 * 1000) ||
      !r.get_int("max_pause_ms", p.max_pause_ms, err, 0, 24LL * 3600 * 1000) ||
      !r.get_int("schema_retries", p.schema_retries, err, 0, 10))
    return err;
  if (p.max_delay_ms < p.base_delay_ms)
    return {LLMSVC_ESCHEMA, "config.retry: max_delay_ms is smaller than base_delay_ms"};
  return {};
}

DocError parse_cache(const JsonValue &v, CacheConfig &c) {
  DocError err;
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, "config.cache: expected an object"};
  ObjectReader r(v, "config.cache");
  static const char *const known[] = {"policy", "memory", "sqlite", "namespace", nullptr};
  std::string policy;
  if (!r.only(known, err) || !r.get_string("policy", policy, err) ||
      !r.get_string("namespace", c.name_space, err))
    return err;
  if (policy == "all") c.policy = CacheConfig::Policy::kAll;
  else if (policy.empty() || policy == "deterministic") c.policy = CacheConfig::Policy::kDeterministic;
  else
    return {LLMSVC_ESCHEMA, "config.cache.policy: \"" + policy +
                                "\" is not one of deterministic, all"};
  constexpr int64_t kMax = int64_t(1) << 50;
  constexpr int64_t kMaxTtl = int64_t(10) * 365 * 24 * 3600 * 1000;
  if (const JsonValue *m = r.find("memory"); m && !m->IsNull()) {
    if (m->IsBool()) {
      c.memory = m->GetBool();
    } else if (m->IsObject()) {
      c.memory = true;
      ObjectReader mr(*m, "config.cache.memory");
      static const char *const mk[] = {"max_entries", "max_bytes", "ttl_ms", nullptr};
      if (!mr.only(mk, err) || !mr.get_int("max_entries", c.memory_max_entries, err, 1, kMax) ||
          !mr.get_int("max_bytes", c.memory_max_bytes, err, 1, kMax) ||
          !mr.get_int("ttl_ms", c.memory_ttl_ms, err, 1, kMaxTtl))
        return err;
    } else {
      return {LLMSVC_ESCHEMA, std::string("config.cache.memory: expected an object or a bool, got ") +
                                  json_type_name(*m)};
    }
  }
  if (const JsonValue *s = r.find("sqlite"); s && !s->IsNull()) {
    if (s->IsString()) {
      c.sqlite_path.assign(s->GetString(), s->GetStringLength());
    } else if (s->IsObject()) {
      ObjectReader sr(*s, "config.cache.sqlite");
      static const char *const sk[] = {"path",   "max_entries", "max_bytes", "ttl_ms",
                                       "on_corrupt", "busy_timeout_ms", nullptr};
      std::string on_corrupt;
      if (!sr.only(sk, err) || !sr.get_string("path", c.sqlite_path, err) ||
          !sr.get_int("max_entries", c.sqlite_max_entries, err, 1, kMax) ||
          !sr.get_int("max_bytes", c.sqlite_max_bytes, err, 1, kMax) ||
          !sr.get_int("ttl_ms", c.sqlite_ttl_ms, err, 1, kMaxTtl) ||
          !sr.get_int("busy_timeout_ms", c.sqlite_busy_timeout_ms, err, 0, 600000) ||
          !sr.get_string("on_corrupt", on_corrupt, err))
        return err;
      if (on_corrupt == "set_aside") c.sqlite_set_aside_corrupt = true;
      else if (!on_corrupt.empty() && on_corrupt != "error")
        return {LLMSVC_ESCHEMA, "config.cache.sqlite.on_corrupt: \"" + on_corrupt +
                                    "\" is not one of error, set_aside"};
      if (c.sqlite_path.empty())
        return {LLMSVC_ESCHEMA, "config.cache.sqlite.path: missing (the cache file to use)"};
    } else {
      return {LLMSVC_ESCHEMA, std::string("config.cache.sqlite: expected an object or a path, got ") +
                                  json_type_name(*s)};
    }
    if (c.sqlite_path.empty())
      return {LLMSVC_ESCHEMA, "config.cache.sqlite: the path is empty"};
  }
  return {};
}

// A number for every class, or {"high": N, "normal": N, "low": N} (missing classes: 0).
DocError parse_per_class(const JsonValue &v, const std::string &path, int64_t max,
                         int64_t (&out)[3]) {
  if (v.IsInt64() && v.GetInt64() >= 0 && v.GetInt64() <= max) {
    for (int64_t &o : out) o = v.GetInt64();
    return {};
  }
  if (!v.IsObject())
    return {LLMSVC_ESCHEMA, path + ": expected a non-negative integer or an object of "
                                   "high, normal, low"};
  ObjectReader r(v, path);
  static const char *const known[] = {"high", "normal", "low", nullptr};
  DocError err;
  if (!r.only(known, err) || !r.get_int("high", out[0], err, 0, max) ||
      !r.get_int("normal", out[1], err, 0, max) || !r.get_int("low", out[2], err, 0, max))
    return err;
  return {};
}

DocError parse_queue(const JsonValue &v, QueuePolicy &q) {
  DocError err;
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, "config.queue: expected an object"};
  ObjectReader r(v, "config.queue");
  static const char *const known[] = {"max_length", "max_wait_ms", nullptr};
  if (!r.only(known, err)) return err;
  if (const JsonValue *l = r.find("max_length"))
    if ((err = parse_per_class(*l, "config.queue.max_length", int64_t(1) << 40, q.max_length)))
      return err;
  if (const JsonValue *w = r.find("max_wait_ms"))
    if ((err = parse_per_class(*w, "config.queue.max_wait_ms", int64_t(30) * 24 * 3600 * 1000,
                               q.max_wait_ms)))
      return err;
  return {};
}

// Loopback only, unless the configuration says otherwise: metrics name models and
// operations, which are nobody else's business.
DocError parse_telemetry(const JsonValue &v, TelemetryConfig &t) {
  DocError err;
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, "config.telemetry: expected an object"};
  ObjectReader r(v, "config.telemetry");
  static const char *const known[] = {"prometheus_port", "prometheus_host", "allow_remote",
                                      "otlp", nullptr};
  if (const JsonValue *o = r.find("otlp"); o && !o->IsNull())
    if ((err = parse_otlp(*o, r.path("otlp"), t.otlp))) return err;
  if (!r.only(known, err) || !r.get_string("prometheus_host", t.prometheus_host, err) ||
      !r.get_bool("allow_remote", t.allow_remote, err))
    return err;
  if (const JsonValue *p = r.find("prometheus_port"); p && p->IsString()) {
    if (sv(*p) != "auto")
      return {LLMSVC_ESCHEMA, "config.telemetry.prometheus_port: expected a port or \"auto\""};
    t.prometheus_port = TelemetryConfig::kAutoPort;
  } else if (!r.get_int("prometheus_port", t.prometheus_port, err, 0, 65535)) {
    return err;
  }
  const std::string &h = t.prometheus_host;
  in_addr a4{};
  in6_addr a6{};
  bool v4 = inet_pton(AF_INET, h.c_str(), &a4) == 1;
  bool v6 = !v4 && inet_pton(AF_INET6, h.c_str(), &a6) == 1;
  if (h != "localhost" && !v4 && !v6)
    return {LLMSVC_ESCHEMA, "config.telemetry.prometheus_host: \"" + h +
                                "\" is not an IP address or localhost"};
  bool loopback = h == "localhost" || (v4 && (ntohl(a4.s_addr) >> 24) == 127) ||
                  (v6 && IN6_IS_ADDR_LOOPBACK(&a6));
  if (!loopback && !t.allow_remote)
    return {LLMSVC_ESCHEMA, "config.telemetry.prometheus_host: \"" + h +
                                "\" is not a loopback address (set allow_remote to listen on it)"};
  return {};
}

const char *env(const char *name) {
  const char *v = std::getenv(name);
  return v && *v ? v : nullptr;
}

bool starts_with(const std::string &s, const char *prefix) { return s.rfind(prefix, 0) == 0; }

// Whether a model's name says which provider family serves it (Claude, Gemini, OpenAI's).
bool names_a_family(const std::string &m) {
  return starts_with(m, "claude") || starts_with(m, "gemini") || starts_with(m, "gpt-") ||
         starts_with(m, "o1") || starts_with(m, "o3") || starts_with(m, "o4") ||
         starts_with(m, "chatgpt-");
}

// No provider named: the default model says. Claude models speak Anthropic Messages;
// OpenAI's own models on OpenAI's own endpoint speak the Responses API; anything else
// (another server behind base_url, or no model) speaks Chat Completions, which every
// OpenAI-compatible server offers.
std::string provider_for(const Config &c, bool base_url_given) {
  const std::string &m = c.model;
  if (starts_with(m, "claude")) return "anthropic";
  if (starts_with(m, "gemini") && !base_url_given && !env("OPENAI_BASE_URL")) return "gemini";
  bool openai_model = starts_with(m, "gpt-") || starts_with(m, "o1") || starts_with(m, "o3") ||
                      starts_with(m, "o4") || starts_with(m, "chatgpt-");
  if (openai_model && !base_url_given && !env("OPENAI_BASE_URL")) return "openai_responses";
  return "openai_chat";
}


const char *family(const std::string &provider) {
  if (provider == "anthropic") return "anthropic";
  if (provider == "ollama") return "ollama";
  if (provider == "azure_openai") return "azure";
  if (provider == "gemini") return "gemini";
  if (provider == "bedrock") return "bedrock";
  return "openai";
}

bool known_provider(const std::string &p) {
  return p == "openai_chat" || p == "openai_responses" || p == "anthropic" || p == "ollama" ||
         p == "azure_openai" || p == "gemini" || p == "bedrock";
}

constexpr const char *kKnownProviders =
    "openai_chat, openai_responses, anthropic, ollama, azure_openai, gemini, bedrock";

// AWS Bedrock: the region and credentials, from the configuration or as the AWS SDKs read
// them from the environment, and the regional endpoint.
DocError finish_bedrock(Config &c, const std::string &path) {
  if (c.provider != "bedrock") return {};
  auto fill = [](std::string &field, const char *a, const char *b = nullptr) {
    if (!field.empty()) return;
    const char *v = env(a);
    if (!v && b) v = env(b);
    if (v) field = v;
  };
  fill(c.aws_region, "AWS_REGION", "AWS_DEFAULT_REGION");
  if (c.aws_access_key_id.empty() && c.aws_secret_access_key.empty()) {
    fill(c.aws_access_key_id, "AWS_ACCESS_KEY_ID");
    fill(c.aws_secret_access_key, "AWS_SECRET_ACCESS_KEY");
    fill(c.aws_session_token, "AWS_SESSION_TOKEN");
  }
  if (c.aws_region.empty())
    return {LLMSVC_ESCHEMA, path + ".aws_region: Bedrock needs a region (aws_region, or "
                                   "AWS_REGION / AWS_DEFAULT_REGION)"};
  for (char ch : c.aws_region)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-'))
      return {LLMSVC_ESCHEMA, path + ".aws_region: \"" + c.aws_region + "\" is not a region name"};
  if (c.aws_access_key_id.empty() || c.aws_secret_access_key.empty())
    return {LLMSVC_ESCHEMA, path + ": Bedrock needs credentials: aws_access_key_id and "
                                   "aws_secret_access_key, or AWS_ACCESS_KEY_ID and "
                                   "AWS_SECRET_ACCESS_KEY"};
  if (c.aws_access_key_id.find(':') != std::string::npos)
    return {LLMSVC_ESCHEMA, path + ".aws_access_key_id: an access key id has no ':'"};
  if (c.base_url.empty()) {
    const char *e = env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME");
    if (!e) e = env("AWS_ENDPOINT_URL");
    c.base_url = e ? e : "https://bedrock-runtime." + c.aws_region + ".amazonaws.com";
    while (!c.base_url.empty() && c.base_url.back() == '/') c.base_url.pop_back();
  }
  return {};
}

// Azure OpenAI's own settings: the API version (OPENAI_API_VERSION, else a generally
// available one) and a deployment name that fits in a URL path.
DocError finish_azure(Config &c, const std::string &path) {
  if (c.provider != "azure_openai") return {};
  if (c.api_version.empty()) {
    const char *v = env("OPENAI_API_VERSION");
    c.api_version = v ? v : "2024-10-21";
  }
  auto url_safe = [](const std::string &s) {
    for (char ch : s)
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
        return false;
    return true;
  };
  if (!url_safe(c.api_version))
    return {LLMSVC_ESCHEMA, path + ".api_version: expected letters, digits, '-', '_' or '.'"};
  const std::string &deployment = c.azure_deployment.empty() ? c.model : c.azure_deployment;
  if (deployment.empty())
    return {LLMSVC_ESCHEMA, path + ".azure_deployment: Azure OpenAI needs the deployment's "
                                   "name (or a model, whose name is then the deployment's)"};
  if (!url_safe(deployment))
    return {LLMSVC_ESCHEMA, path + (c.azure_deployment.empty() ? ".model" : ".azure_deployment") +
                                ": a deployment name of letters, digits, '-', '_' or '.'"};
  if (c.base_url.empty())
    return {LLMSVC_ESCHEMA, path + ".base_url: Azure OpenAI needs the resource's endpoint "
                                   "(https://RESOURCE.openai.azure.com), in base_url or "
                                   "AZURE_OPENAI_ENDPOINT"};
  return {};
}

std::string default_base_url(const std::string &provider) {
  if (provider == "ollama") {
    const char *h = env("OLLAMA_HOST");
    std::string host = h ? h : "127.0.0.1:11434";
    return host.find("://") == std::string::npos ? "http://" + host : host;
  }
  if (provider == "azure_openai") {
    const char *e = env("AZURE_OPENAI_ENDPOINT");
    return e ? e : "";
  }
  if (provider == "gemini") {
    const char *b = env("GEMINI_BASE_URL");
    return b ? b : "https://generativelanguage.googleapis.com/v1beta";
  }
  if (provider == "bedrock") return "";  // the region's, once the region is known
  const bool anthropic = provider == "anthropic";
  const char *b = env(anthropic ? "ANTHROPIC_BASE_URL" : "OPENAI_BASE_URL");
  return b ? b : anthropic ? "https://api.anthropic.com/v1" : "https://api.openai.com/v1";
}

std::string default_api_key(const std::string &provider) {
  if (provider == "ollama" || provider == "bedrock") return "";  // Bedrock signs instead
  if (provider == "gemini") {  // as Google's SDKs read them
    const char *k = env("GEMINI_API_KEY");
    if (!k) k = env("GOOGLE_API_KEY");
    return k ? k : "";
  }
  const char *k = env(provider == "anthropic"      ? "ANTHROPIC_API_KEY"
                      : provider == "azure_openai" ? "AZURE_OPENAI_API_KEY"
                                                   : "OPENAI_API_KEY");
  return k ? k : "";
}

// One deployment object over a copy of the client's configuration. The provider, base URL
// and key travel together: a deployment of another provider family does not inherit the
// client's endpoint or key but takes that provider's defaults.
DocError parse_deployment(const JsonValue &v, const std::string &path, const Config &top,
                          DeploymentSpec &d) {
  DocError err;
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, path + ": expected an object"};
  ObjectReader r(v, path);
  static const char *const known[] = {
      "name", "group", "weight", "provider", "base_url", "api_key", "api_key_env",
      "organization", "project", "model", "max_tokens_field", "anthropic_version",
      "default_max_output_tokens", "limits", "headers", "api_version", "azure_deployment",
      "aws_region", "aws_access_key_id", "aws_secret_access_key", "aws_session_token", nullptr};
  Config &c = d.config;
  std::string key_env;
  if (!r.only(known, err) || !r.get_string("name", d.name, err) ||
      !r.get_string("group", d.group, err) || !r.get_int("weight", d.weight, err, 0, 1000000) ||
      !r.get_string("provider", c.provider, err) || !r.get_string("base_url", c.base_url, err) ||
      !r.get_string("api_key", c.api_key, err) || !r.get_string("api_key_env", key_env, err) ||
      !r.get_string("organization", c.organization, err) ||
      !r.get_string("project", c.project, err) || !r.get_string("model", c.model, err) ||
      !r.get_string("max_tokens_field", c.max_tokens_field, err) ||
      !r.get_string("anthropic_version", c.anthropic_version, err) ||
      !r.get_string("api_version", c.api_version, err) ||
      !r.get_string("azure_deployment", c.azure_deployment, err) ||
      !r.get_string("aws_region", c.aws_region, err) ||
      !r.get_string("aws_access_key_id", c.aws_access_key_id, err) ||
      !r.get_string("aws_secret_access_key", c.aws_secret_access_key, err) ||
      !r.get_string("aws_session_token", c.aws_session_token, err) ||
      !r.get_int("default_max_output_tokens", c.default_max_output_tokens, err, 1, 1 << 24))
    return err;
  if (!r.find("provider") && r.find("model") && names_a_family(c.model)) {
    // Only a model that names its family moves the deployment to another provider: any
    // other name (a local model, a Bedrock id) is the client's provider's.
    std::string inferred = provider_for(c, r.find("base_url") || !top.base_url.empty());
    if (std::string(family(inferred)) != family(top.provider)) c.provider = inferred;
  }
  if (c.provider == "openai") c.provider = "openai_chat";
  if (!known_provider(c.provider))
    return {LLMSVC_ESCHEMA, path + ".provider: \"" + c.provider +
                                "\" is not a known provider (" + kKnownProviders + ")"};
  const bool same_family = std::string(family(c.provider)) == family(top.provider);
  if (!r.find("base_url") && !same_family) c.base_url = default_base_url(c.provider);
  while (!c.base_url.empty() && c.base_url.back() == '/') c.base_url.pop_back();
  if ((err = finish_azure(c, path))) return err;
  // A deployment in another region than the client's: that region's endpoint.
  if (c.provider == "bedrock" && r.find("aws_region") && !r.find("base_url")) c.base_url.clear();
  if ((err = finish_bedrock(c, path))) return err;
  if (c.base_url.rfind("http://", 0) != 0 && c.base_url.rfind("https://", 0) != 0)
    return {LLMSVC_ESCHEMA, path + ".base_url: expected an http:// or https:// URL"};
  if (r.find("api_key") && r.find("api_key_env"))
    return {LLMSVC_ESCHEMA, path + ": give either api_key or api_key_env, not both"};
  if (r.find("api_key_env")) {
    const char *k = env(key_env.c_str());
    if (!k)
      return {LLMSVC_ESCHEMA, path + ".api_key_env: the environment variable " + key_env +
                                  " is not set"};
    c.api_key = k;
  } else if (!r.find("api_key") && !same_family) {
    c.api_key = default_api_key(c.provider);
  }
  if (c.max_tokens_field != "max_completion_tokens" && c.max_tokens_field != "max_tokens")
    return {LLMSVC_ESCHEMA, path + ".max_tokens_field: expected max_completion_tokens or max_tokens"};
  const JsonValue *obj = nullptr;
  if (!r.get_object("limits", obj, err)) return err;
  if (obj && (err = parse_limits(*obj, path + ".limits", c.limits))) return err;
  // A deployment's headers come after the client's, which it keeps.
  if (const JsonValue *h = r.find("headers"))
    if ((err = parse_headers(*h, path + ".headers", c.headers))) return err;
  return {};
}

DocError parse_deployments(const ObjectReader &r, const JsonValue *limits_list, Config &out) {
  const JsonValue *list = r.find("deployments");
  const JsonValue *keys = r.find("api_keys");
  const JsonValue *models = r.find("models");
  if (list && list->IsNull()) list = nullptr;
  if (keys && keys->IsNull()) keys = nullptr;
  if (models && models->IsNull()) models = nullptr;
  if (!list && !keys && !models && !limits_list) return {};
  if (list && (keys || models || limits_list))
    return {LLMSVC_ESCHEMA, "config: give either deployments or the lists api_keys, models and "
                            "limits, not both"};
  Config top = out;
  top.deployments.clear();
  std::vector<DeploymentSpec> &ds = out.deployments;
  if (list) {
    if (!list->IsArray() || list->Empty())
      return {LLMSVC_ESCHEMA, "config.deployments: expected a non-empty array of objects"};
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      DeploymentSpec d;
      d.config = top;
      std::string path = "config.deployments[" + std::to_string(i) + "]";
      if (DocError err = parse_deployment((*list)[i], path, top, d)) return err;
      ds.push_back(std::move(d));
    }
  } else {
    // Lists of equal length, a deployment per position; a list of one is used for all.
    size_t n = 0;
    auto length = [&](const JsonValue *v, const char *name) -> DocError {
      if (!v) return {};
      if (!v->IsArray() || v->Empty())
        return {LLMSVC_ESCHEMA, std::string("config.") + name + ": expected a non-empty array"};
      size_t len = v->Size();
      if (n && len != n && len != 1)
        return {LLMSVC_ESCHEMA, std::string("config.") + name + ": " + std::to_string(len) +
                                    " entries where the other lists have " + std::to_string(n)};
      if (len != 1 || !n) n = std::max(n, len);
      return {};
    };
    if (DocError err = length(keys, "api_keys")) return err;
    if (DocError err = length(models, "models")) return err;
    if (DocError err = length(limits_list, "limits")) return err;
    for (size_t i = 0; i < n; ++i) {
      JsonDoc one;
      one.SetObject();
      auto &a = one.GetAllocator();
      auto pick = [&](const JsonValue *v) -> const JsonValue & {
        return (*v)[rapidjson::SizeType(v->Size() == 1 ? 0 : i)];
      };
      if (keys) {
        if (!pick(keys).IsString())
          return {LLMSVC_ESCHEMA, "config.api_keys[" + std::to_string(i) + "]: expected a string"};
        one.AddMember("api_key", JsonValue(pick(keys), a), a);
      }
      if (models) {
        if (!pick(models).IsString())
          return {LLMSVC_ESCHEMA, "config.models[" + std::to_string(i) + "]: expected a string"};
        one.AddMember("model", JsonValue(pick(models), a), a);
      }
      if (limits_list) one.AddMember("limits", JsonValue(pick(limits_list), a), a);
      DeploymentSpec d;
      d.config = top;
      if (DocError err = parse_deployment(one, "config.deployments[" + std::to_string(i) + "]",
                                          top, d))
        return err;
      ds.push_back(std::move(d));
    }
  }
  for (size_t i = 0; i < ds.size(); ++i) {
    DeploymentSpec &d = ds[i];
    if (d.name.empty())
      d.name = (d.config.model.empty() ? d.config.provider : d.config.model) + "#" +
               std::to_string(i);
    if (d.group.empty()) d.group = d.config.model;
    for (size_t j = 0; j < i; ++j)
      if (ds[j].name == d.name)
        return {LLMSVC_ESCHEMA, "config.deployments[" + std::to_string(i) + "].name: \"" +
                                    d.name + "\" is already the name of deployments[" +
                                    std::to_string(j) + "]"};
    // Sharing through Redis: each deployment is its own budget (its endpoint and key).
    if (d.config.shared_limits.enabled) {
      SharedLimitsConfig &s = d.config.shared_limits;
      s.key = out.shared_limits.key == default_shared_key(out.provider, out.base_url, out.api_key)
                  ? default_shared_key(d.config.provider, d.config.base_url, d.config.api_key)
                  : out.shared_limits.key + ":" + d.name;
    }
  }
  if (!r.find("model")) out.model = ds.front().group;
  return {};
}

DocError parse_routing(const JsonValue &v, Config &out) {
  DocError err;
  if (!v.IsObject()) return {LLMSVC_ESCHEMA, "config.routing: expected an object"};
  ObjectReader r(v, "config.routing");
  static const char *const known[] = {"strategy", "fallbacks", nullptr};
  std::string strategy;
  if (!r.only(known, err) || !r.get_string("strategy", strategy, err)) return err;
  RoutingConfig &rc = out.routing;
  if (strategy.empty() || strategy == "round_robin") rc.strategy = RoutingConfig::Strategy::kRoundRobin;
  else if (strategy == "least_loaded") rc.strategy = RoutingConfig::Strategy::kLeastLoaded;
  else if (strategy == "lowest_latency") rc.strategy = RoutingConfig::Strategy::kLowestLatency;
  else if (strategy == "weighted") rc.strategy = RoutingConfig::Strategy::kWeighted;
  else
    return {LLMSVC_ESCHEMA, "config.routing.strategy: \"" + strategy +
                                "\" is not one of round_robin, least_loaded, lowest_latency, "
                                "weighted"};
  auto known_target = [&](const std::string &name) {
    for (const DeploymentSpec &d : out.deployments)
      if (d.name == name || d.group == name) return true;
    return false;
  };
  auto chain = [&](const JsonValue &a, const std::string &path,
                   std::vector<std::string> &names) -> DocError {
    if (!a.IsArray()) return {LLMSVC_ESCHEMA, path + ": expected an array of names"};
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
      std::string at = path + "[" + std::to_string(i) + "]";
      if (!a[i].IsString()) return {LLMSVC_ESCHEMA, at + ": expected a string"};
      std::string name(sv(a[i]));
      if (!known_target(name))
        return {LLMSVC_ESCHEMA, at + ": \"" + name +
                                    "\" names no deployment or model group of config.deployments"};
      names.push_back(std::move(name));
    }
    return {};
  };
  const JsonValue *f = r.find("fallbacks");
  if (!f || f->IsNull()) return {};
  if (out.deployments.empty())
    return {LLMSVC_ESCHEMA, "config.routing.fallbacks: fallbacks need config.deployments"};
  if (f->IsArray()) {
    std::vector<std::string> names;
    if ((err = chain(*f, "config.routing.fallbacks", names))) return err;
    rc.fallbacks.emplace_back("*", std::move(names));
  } else if (f->IsObject()) {
    for (auto it = f->MemberBegin(); it != f->MemberEnd(); ++it) {
      std::string group(sv(it->name));
      std::string path = "config.routing.fallbacks." + group;
      if (group != "*" && !known_target(group))
        return {LLMSVC_ESCHEMA, path + ": names no deployment or model group"};
      std::vector<std::string> names;
      if ((err = chain(it->value, path, names))) return err;
      rc.fallbacks.emplace_back(std::move(group), std::move(names));
    }
  } else {
    return {LLMSVC_ESCHEMA, "config.routing.fallbacks: expected an array of names or an object "
                            "of them by group"};
  }
  return {};
}

}  // namespace

const char *routing_strategy_name(RoutingConfig::Strategy s) {
  switch (s) {
    case RoutingConfig::Strategy::kRoundRobin: return "round_robin";
    case RoutingConfig::Strategy::kLeastLoaded: return "least_loaded";
    case RoutingConfig::Strategy::kLowestLatency: return "lowest_latency";
    case RoutingConfig::Strategy::kWeighted: return "weighted";
  }
  return "round_robin";
}

DocError parse_config(const char *json, Config &out) {
  JsonDoc doc;
  std::string_view text = json ? std::string_view(json) : std::string_view("{}");
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) text = "{}";
  DocError err = parse_json(doc, text, "config");
  if (err) return err;
  if (!doc.IsObject()) return {LLMSVC_ESCHEMA, "config: expected an object"};
  ObjectReader r(doc, "config");
  static const char *const known[] = {
      "provider", "base_url", "api_key", "organization", "project", "model",
      "max_tokens_field", "limits", "retry", "timeouts", "http", "seed", "prices",
      "prices_file", "free_models", "anthropic_version", "default_max_output_tokens", "cache",
      "budgets", "queue", "circuit_breaker", "telemetry", "shared_limits", "deployments",
      "api_keys", "models", "routing", "headers", "api_version", "azure_deployment",
      "aws_region", "aws_access_key_id", "aws_secret_access_key", "aws_session_token", nullptr};
  if (!r.only(known, err) || !r.get_string("provider", out.provider, err) ||
      !r.get_string("base_url", out.base_url, err) ||
      !r.get_string("api_key", out.api_key, err) ||
      !r.get_string("organization", out.organization, err) ||
      !r.get_string("project", out.project, err) || !r.get_string("model", out.model, err) ||
      !r.get_string("max_tokens_field", out.max_tokens_field, err) ||
      !r.get_string("anthropic_version", out.anthropic_version, err) ||
      !r.get_string("api_version", out.api_version, err) ||
      !r.get_string("azure_deployment", out.azure_deployment, err) ||
      !r.get_string("aws_region", out.aws_region, err) ||
      !r.get_string("aws_access_key_id", out.aws_access_key_id, err) ||
      !r.get_string("aws_secret_access_key", out.aws_secret_access_key, err) ||
      !r.get_string("aws_session_token", out.aws_session_token, err) ||
      !r.get_int("default_max_output_tokens", out.default_max_output_tokens, err, 1, 1 << 24))
    return err;
  if (!r.find("provider")) out.provider = provider_for(out, r.find("base_url") != nullptr);
  if (out.provider == "openai") out.provider = "openai_chat";
  if (!known_provider(out.provider))
    return {LLMSVC_ESCHEMA, "config.provider: \"" + out.provider +
                                "\" is not a known provider (" + kKnownProviders + ")"};
  if (out.max_tokens_field != "max_completion_tokens" && out.max_tokens_field != "max_tokens")
    return {LLMSVC_ESCHEMA,
            "config.max_tokens_field: expected max_completion_tokens or max_tokens"};

  if (!r.find("base_url")) out.base_url = default_base_url(out.provider);
  while (!out.base_url.empty() && out.base_url.back() == '/') out.base_url.pop_back();
  if ((err = finish_azure(out, "config"))) return err;
  if ((err = finish_bedrock(out, "config"))) return err;
  if (out.base_url.rfind("http://", 0) != 0 && out.base_url.rfind("https://", 0) != 0)
    return {LLMSVC_ESCHEMA, "config.base_url: expected an http:// or https:// URL"};
  if (out.api_key.empty()) out.api_key = default_api_key(out.provider);

  const JsonValue *obj = nullptr;
  const JsonValue *limits_list = nullptr;  // "limits": [...], one per deployment
  if (const JsonValue *l = r.find("limits"); l && l->IsArray()) limits_list = l;
  else if (!r.get_object("limits", obj, err)) return err;
  if (obj && (err = parse_limits(*obj, "config.limits", out.limits))) return err;
  if (!r.get_object("retry", obj, err)) return err;
  if (obj && (err = parse_retry(*obj, out.retry))) return err;
  if (const JsonValue *h = r.find("headers"))
    if ((err = parse_headers(*h, "config.headers", out.headers))) return err;
  if (!r.get_object("timeouts", obj, err)) return err;
  if (obj) {
    ObjectReader t(*obj, "config.timeouts");
    static const char *const tk[] = {"connect_ms", "request_ms", nullptr};
    if (!t.only(tk, err) || !t.get_int("connect_ms", out.connect_timeout_ms, err, 1, 3600000) ||
        !t.get_int("request_ms", out.request_timeout_ms, err, 1, 24LL * 3600 * 1000))
      return err;
  }
  if (!r.get_object("http", obj, err)) return err;
  if (obj) {
    ObjectReader h(*obj, "config.http");
    static const char *const hk[] = {"http2", "prior_knowledge", "max_connections",
                                     "max_reply_bytes", "max_stream_event_bytes", nullptr};
    if (!h.only(hk, err) || !h.get_bool("http2", out.http2, err) ||
        !h.get_bool("prior_knowledge", out.http2_prior_knowledge, err) ||
        !h.get_int("max_connections", out.max_connections, err, 0, 65536) ||
        !h.get_int("max_reply_bytes", out.max_reply_bytes, err, 1024, int64_t(1) << 40) ||
        !h.get_int("max_stream_event_bytes", out.max_stream_event_bytes, err, 1024,
                   int64_t(1) << 40))
      return err;
  }
  if (const JsonValue *cb = r.find("circuit_breaker"); cb && !cb->IsNull()) {
    if ((err = parse_breaker(*cb, out.breaker))) return err;
  }
  if (const JsonValue *q = r.find("queue"); q && !q->IsNull()) {
    if ((err = parse_queue(*q, out.queue))) return err;
  }
  if (const JsonValue *b = r.find("budgets"); b && !b->IsNull()) {
    if ((err = parse_budgets(*b, "config.budgets", out.budgets))) return err;
  }
  if (const JsonValue *cache = r.find("cache"); cache && !cache->IsNull()) {
    if ((err = parse_cache(*cache, out.cache))) return err;
  }
  if (!r.get_object("telemetry", obj, err)) return err;
  if (obj && (err = parse_telemetry(*obj, out.telemetry))) return err;
  if ((err = resolve_otlp(out.telemetry.otlp, env))) return err;
  if (const JsonValue *s = r.find("shared_limits"); s && !s->IsNull()) {
    if ((err = parse_shared_limits(*s, out, out.shared_limits))) return err;
  }
  int64_t seed = 0;
  if (!r.get_int("seed", seed, err, 0, INT64_MAX)) return err;
  out.seed = uint64_t(seed);

  std::string prices_file;
  if (!r.get_string("prices_file", prices_file, err)) return err;
  if (!prices_file.empty() && (err = out.prices.merge_file(prices_file))) return err;
  if (!r.get_object("prices", obj, err)) return err;
  if (obj && (err = out.prices.merge(*obj, "config.prices"))) return err;
  if (const JsonValue *free = r.find("free_models")) {
    if (!free->IsArray()) return {LLMSVC_ESCHEMA, "config.free_models: expected an array"};
    for (const auto &m : free->GetArray()) {
      if (!m.IsString()) return {LLMSVC_ESCHEMA, "config.free_models: expected strings"};
      out.prices.set_free(std::string(sv(m)));
    }
  }
  // Deployments last: each starts from everything above.
  if ((err = parse_deployments(r, limits_list, out))) return err;
  if (const JsonValue *routing = r.find("routing"); routing && !routing->IsNull())
    if ((err = parse_routing(*routing, out))) return err;
  // Windows beside the per-minute ones are held in this process only.
  auto unshared = [](const Config &c, const std::string &where) -> DocError {
    if (c.shared_limits.enabled && !c.limits.windows.empty())
      return {LLMSVC_ESCHEMA, where + ": rpd, tpd and windows are not shared through Redis; "
                                      "leave them out or leave out shared_limits"};
    return {};
  };
  if ((err = unshared(out, "config.limits"))) return err;
  for (const DeploymentSpec &d : out.deployments)
    if ((err = unshared(d.config, "config.deployments[" + d.name + "].limits"))) return err;
  return {};
}

}  // namespace llmsvc
