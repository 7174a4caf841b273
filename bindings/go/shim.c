#include "shim.h"

#include "_cgo_export.h"

/* Runs on the client's engine thread: hands the JSON over, then frees the result at
 * once, so nothing of the C side outlives the completion. */
static void llmsvcgo_complete(llmsvc_result *result, void *payload) {
  size_t len = 0;
  const char *json = llmsvc_result_json(result, &len);
  llmsvcgoComplete((uintptr_t)payload, (char *)json, len);
  llmsvc_result_free(result);
}

int llmsvcgo_submit(llmsvc_client *client, const char *request, uintptr_t handle,
                    uint64_t *out_id, llmsvc_error **out_err) {
  return llmsvc_client_submit(client, request, llmsvcgo_complete, (void *)handle, out_id,
                              out_err);
}

/* Runs on the client's engine thread for each piece of a streamed reply: Go copies the
 * piece into its own queue and returns at once, never waiting for the reader. */
static void llmsvcgo_delta(uint64_t request_id, const char *text, size_t len, void *payload) {
  (void)request_id;
  llmsvcgoDelta((uintptr_t)payload, (char *)text, len);
}

int llmsvcgo_submit_stream(llmsvc_client *client, const char *request, uintptr_t handle,
                           uint64_t *out_id, llmsvc_error **out_err) {
  return llmsvc_client_submit_stream(client, request, llmsvcgo_delta, llmsvcgo_complete,
                                     (void *)handle, out_id, out_err);
}

void llmsvcgo_noop(const char *document) { (void)document; }
