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

/* Runs on the client's engine thread for each typed piece of a streamed reply, as
 * llmsvcgo_delta does; `call_id` and `name` are "" except for a tool call's start. */
static void llmsvcgo_piece(uint64_t request_id, int kind, uint32_t index, const char *call_id,
                           const char *name, const char *text, size_t len, void *payload) {
  (void)request_id;
  llmsvcgoPiece((uintptr_t)payload, kind, index, (char *)call_id, (char *)name, (char *)text,
                len);
}

int llmsvcgo_submit_stream_pieces(llmsvc_client *client, const char *request, uintptr_t handle,
                                  uint64_t *out_id, llmsvc_error **out_err) {
  return llmsvc_client_submit_stream_pieces(client, request, llmsvcgo_piece, llmsvcgo_complete,
                                            (void *)handle, out_id, out_err);
}

/* The hook running on this thread (an engine thread), so that Go can tell a call made from
 * inside a hook from any other. */
static _Thread_local uintptr_t running_hook;

/* Runs on the client's engine thread for each lifecycle event: Go copies the document and
 * calls the hook's function. */
static void llmsvcgo_event(unsigned type, uint64_t request_id, const char *json, size_t len,
                           void *payload) {
  uintptr_t handle = (uintptr_t)payload;
  if (!handle) return; /* built before the hook was turned off */
  uintptr_t outer = running_hook;
  running_hook = handle;
  llmsvcgoEvent(handle, type, request_id, (char *)json, len);
  running_hook = outer;
}

int llmsvcgo_set_event_hook(llmsvc_client *client, unsigned events, unsigned flags,
                            uintptr_t handle, llmsvc_error **out_err) {
  return llmsvc_client_set_event_hook(client, events, flags, llmsvcgo_event, (void *)handle,
                                      out_err);
}

uintptr_t llmsvcgo_running_hook(void) { return running_hook; }

void llmsvcgo_noop(const char *document) { (void)document; }
