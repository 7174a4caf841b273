/* One process of the shared-cache test: runs requests "item FROM".."item TO-1" (temperature
 * 0, so cacheable) through a client whose SQLite cache is FILE, and prints one line:
 * "ok=N hits=H sqlite_errors=E". Uses only the public C ABI, as a user's program would.
 *
 *   llmsvc_cache_worker BASE_URL KEY FILE FROM TO
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmsvc.h"

static long sqlite_errors(const char *metrics) {
  const char *s = strstr(metrics, "\"sqlite\":{");
  const char *e = s ? strstr(s, "\"errors\":") : NULL;
  return e ? atol(e + strlen("\"errors\":")) : -1;
}

int main(int argc, char **argv) {
  char config[1024], request[256];
  llmsvc_client *client = NULL;
  llmsvc_error *err = NULL;
  long ok = 0, hits = 0, errors;
  int from, to, i;
  char *metrics = NULL;
  if (argc != 6) {
    fprintf(stderr, "usage: %s BASE_URL KEY FILE FROM TO\n", argv[0]);
    return 2;
  }
  from = atoi(argv[4]);
  to = atoi(argv[5]);
  snprintf(config, sizeof config,
           "{\"base_url\":\"%s\",\"api_key\":\"%s\",\"model\":\"gpt-4o-mini\","
           "\"cache\":{\"sqlite\":{\"path\":\"%s\"}}}",
           argv[1], argv[2], argv[3]);
  if (llmsvc_client_new(&client, config, &err) != LLMSVC_OK) {
    fprintf(stderr, "client: %s\n", llmsvc_error_message(err));
    llmsvc_error_free(err);
    return 1;
  }
  for (i = from; i < to; ++i) {
    llmsvc_result *r = NULL;
    const char *json;
    snprintf(request, sizeof request, "{\"prompt\":\"item %d\",\"temperature\":0}", i);
    if (llmsvc_client_generate(client, request, &r, &err) != LLMSVC_OK) {
      fprintf(stderr, "generate: %s\n", llmsvc_error_message(err));
      llmsvc_error_free(err);
      break;
    }
    json = llmsvc_result_json(r, NULL);
    if (llmsvc_result_kind(r) == LLMSVC_KIND_NONE) ++ok;
    else fprintf(stderr, "failed: %s\n", json);
    if (strstr(json, "\"cache\":{\"hit\":true")) ++hits;
    llmsvc_result_free(r);
  }
  llmsvc_client_metrics(client, &metrics, NULL);
  errors = metrics ? sqlite_errors(metrics) : -1;
  llmsvc_free(metrics);
  llmsvc_client_destroy(client);
  printf("ok=%ld hits=%ld sqlite_errors=%ld\n", ok, hits, errors);
  return ok == to - from && errors == 0 ? 0 : 1;
}
