#include "shim.h"

void llmsvcgo_view_of(llmsvcgo_view *v, llmsvc_result *r, void *payload) {
  v->result = r;
  v->payload = (uintptr_t)payload;
  v->type = llmsvc_result_type(r);
  v->id = llmsvc_result_id(r);
  v->json = llmsvc_result_json(r, &v->json_len);
  for (int k = 0; k < LLMSVC_STR_COUNT; ++k) {
    v->strs[k] = llmsvc_result_string(r, k, &v->lens[k]);
    if (!v->strs[k]) v->lens[k] = 0; /* a key the library does not have (older than the header) */
  }
  if (v->type == LLMSVC_RESULT_DELTA)
    llmsvc_result_piece(r, &v->piece_kind, &v->piece_index, &v->call_id, &v->call_name);
  else
    llmsvc_result_numbers(r, v->nums, LLMSVC_NUM_COUNT);
}

llmsvcgo_polled llmsvcgo_poll(llmsvc_client *client, llmsvcgo_view *views, size_t done,
                              size_t max) {
  for (size_t i = 0; i < done; ++i) llmsvc_result_free(views[i].result);
  llmsvcgo_polled p = {LLMSVC_OK, 0};
  if (max == 0) return p;
  llmsvc_result *results[LLMSVCGO_BATCH];
  void *payloads[LLMSVCGO_BATCH];
  p.status = llmsvc_client_poll_batch(client, 0, results, payloads,
                                      max < LLMSVCGO_BATCH ? max : LLMSVCGO_BATCH, &p.n);
  for (size_t i = 0; i < p.n; ++i) llmsvcgo_view_of(&views[i], results[i], payloads[i]);
  return p;
}

llmsvcgo_submitted llmsvcgo_submit(llmsvc_client *client, const char *request, int mode,
                                   uintptr_t slot) {
  llmsvcgo_submitted s = {0, 0, NULL};
  void *payload = (void *)slot;
  if (mode == 1)
    s.status = llmsvc_client_submit_stream(client, request, NULL, NULL, payload, &s.id, &s.err);
  else if (mode == 2)
    s.status = llmsvc_client_submit_stream_pieces(client, request, NULL, NULL, payload, &s.id,
                                                  &s.err);
  else
    s.status = llmsvc_client_submit(client, request, NULL, payload, &s.id, &s.err);
  return s;
}

llmsvcgo_attempt llmsvcgo_read_attempt(const llmsvc_result *result, size_t i) {
  llmsvcgo_attempt a;
  size_t n =
      llmsvc_result_attempt(result, i, a.nums, LLMSVC_ATTEMPT_COUNT, &a.request_id, &a.deployment);
  for (; n < LLMSVC_ATTEMPT_COUNT; ++n) a.nums[n] = LLMSVC_UNKNOWN; /* an older library */
  return a;
}

int llmsvcgo_set_event_hook(llmsvc_client *client, unsigned events, unsigned flags,
                            uintptr_t generation, llmsvc_error **out_err) {
  return llmsvc_client_set_event_hook(client, events, flags, NULL, (void *)generation, out_err);
}

int llmsvcgo_batch_job_next(llmsvc_batch_job *job, llmsvcgo_view *v) {
  llmsvc_result *r = llmsvc_batch_job_next(job);
  if (!r) return 0;
  llmsvcgo_view_of(v, r, NULL);
  return 1;
}
