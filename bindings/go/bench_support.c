/* What the benchmarks reach of the C side (bench_support.go); the binding uses none of it. */
#include "shim.h"

void llmsvcgo_noop(const char *document) { (void)document; }

static void free_result(llmsvc_result *result, void *payload) {
  (void)payload;
  llmsvc_result_free(result);
}

int llmsvcgo_submit_c(llmsvc_client *client, const char *request, int n) {
  int st = LLMSVC_OK;
  for (int i = 0; i < n && st == LLMSVC_OK; ++i)
    st = llmsvc_client_submit(client, request, free_result, NULL, NULL, NULL);
  return st;
}
