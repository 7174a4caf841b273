/* One process of the shared-limits test: sends N requests at once through a client whose
 * limits are shared through Redis, as fast as the gates allow, waits for all of them and
 * prints one line:
 *   "ok=N failed=F first_start_ms=T0 last_start_ms=T1 mode=M script_calls=C script_mean_us=U
 *    redis_errors=E engine_max_us=X cpu_ms=P"
 * (the first and the last attempt's start, wall clock; the engine thread's longest moment
 * on a Redis call; the process's CPU time). Uses only the public C ABI. Also run by
 * bench/shared_limits.sh; a REDIS_URL of "-" means limits of its own.
 *
 *   llmsvc_shared_worker BASE_URL KEY REDIS_URL N RPM WINDOW_MS [CONCURRENCY]
 */
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmsvc.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long done_count, ok_count;
static long long first_start = -1, last_start = -1;

static long long start_of(const char *json, int last) {
  const char *key = "\"start_unix_ms\":", *at = NULL, *p = json;
  while ((p = strstr(p, key)) != NULL) {
    at = p;
    if (!last) break;
    p += strlen(key);
  }
  return at ? atoll(at + strlen(key)) : -1;
}

static void done(llmsvc_result *r, void *payload) {
  const char *json = llmsvc_result_json(r, NULL);
  long long first = start_of(json, 0), last = start_of(json, 1);
  (void)payload;
  pthread_mutex_lock(&mu);
  if (llmsvc_result_kind(r) == LLMSVC_KIND_NONE) ++ok_count;
  else fprintf(stderr, "failed: %s\n", json);
  if (first >= 0 && (first_start < 0 || first < first_start)) first_start = first;
  if (last > last_start) last_start = last;
  ++done_count;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  llmsvc_result_free(r);
}

static const char *field(const char *json, const char *name, char *out, size_t size) {
  const char *p = strstr(json, name);
  size_t n = 0;
  out[0] = 0;
  if (!p) return out;
  p += strlen(name);
  while (*p == '"' || *p == ':') ++p;
  while (p[n] && p[n] != '"' && p[n] != ',' && p[n] != '}' && n + 1 < size) ++n;
  memcpy(out, p, n);
  out[n] = 0;
  return out;
}

int main(int argc, char **argv) {
  char config[1024], limits[128], mode[32], calls[32], mean[32], errors[32], engine_max[32];
  struct rusage ru;
  llmsvc_client *client = NULL;
  llmsvc_error *err = NULL;
  char *metrics = NULL;
  long n, i;
  if (argc != 7 && argc != 8) {
    fprintf(stderr, "usage: %s BASE_URL KEY REDIS_URL N RPM WINDOW_MS [CONCURRENCY]\n", argv[0]);
    return 2;
  }
  n = atol(argv[4]);
  snprintf(limits, sizeof limits, "{\"rpm\":%s,\"window_ms\":%s,\"concurrency\":%s}", argv[5],
           argv[6], argc == 8 ? argv[7] : "0");
  if (strcmp(argv[3], "-") == 0)
    snprintf(config, sizeof config,
             "{\"base_url\":\"%s\",\"api_key\":\"%s\",\"model\":\"gpt-4o-mini\","
             "\"limits\":%s}",
             argv[1], argv[2], limits);
  else
    snprintf(config, sizeof config,
             "{\"base_url\":\"%s\",\"api_key\":\"%s\",\"model\":\"gpt-4o-mini\","
             "\"limits\":%s,\"shared_limits\":{\"redis\":\"%s\"}}",
             argv[1], argv[2], limits, argv[3]);
  if (llmsvc_client_new(&client, config, &err) != LLMSVC_OK) {
    fprintf(stderr, "client: %s\n", llmsvc_error_message(err));
    llmsvc_error_free(err);
    return 1;
  }
  for (i = 0; i < n; ++i) {
    char request[128];
    snprintf(request, sizeof request, "{\"prompt\":\"item %ld\",\"max_output_tokens\":8}", i);
    if (llmsvc_client_submit(client, request, done, NULL, NULL, &err) != LLMSVC_OK) {
      fprintf(stderr, "submit: %s\n", llmsvc_error_message(err));
      llmsvc_error_free(err);
      return 1;
    }
  }
  pthread_mutex_lock(&mu);
  while (done_count < n) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  llmsvc_client_metrics(client, &metrics, NULL);
  field(metrics ? metrics : "", "\"shared_limits\":{\"mode\"", mode, sizeof mode);
  field(metrics ? metrics : "", "\"script_calls\"", calls, sizeof calls);
  field(metrics ? metrics : "", "\"script_mean_us\"", mean, sizeof mean);
  field(metrics ? metrics : "", "\"engine_max_us\"", engine_max, sizeof engine_max);
  {
    const char *sl = metrics ? strstr(metrics, "\"shared_limits\"") : NULL;
    field(sl ? sl : "", "\"errors\"", errors, sizeof errors);
  }
  llmsvc_free(metrics);
  llmsvc_client_destroy(client);
  getrusage(RUSAGE_SELF, &ru);
  printf("ok=%ld failed=%ld first_start_ms=%lld last_start_ms=%lld mode=%s script_calls=%s "
         "script_mean_us=%s redis_errors=%s engine_max_us=%s cpu_ms=%.1f\n",
         ok_count, n - ok_count, first_start, last_start, mode, calls, mean, errors,
         engine_max[0] ? engine_max : "-",
         (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
             (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
  return ok_count == n ? 0 : 1;
}
