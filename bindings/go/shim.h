/*
 * shim.h - the C side of the Go binding: what Go cannot do itself (pass a number as a
 * void * without a vet warning) and the reading of each result into a flat view, so
 * that a whole batch of results crosses into Go in one call.
 */
#ifndef LLMSVC_GO_SHIM_H
#define LLMSVC_GO_SHIM_H

#include <stdint.h>

#include <llmsvc.h>

#if !LLMSVC_VERSION_CHECK(0, 6, 0)
#error "the Go binding is built with the headers of libllmsvc 0.6 or later"
#endif

/* A result as Go reads it: its numbers, and its strings borrowed from `result`. */
typedef struct llmsvcgo_view {
  llmsvc_result *result;
  uintptr_t payload; /* the submission's slot, or an event hook's generation */
  int type;          /* llmsvc_result_type_t */
  uint64_t id;
  int64_t nums[LLMSVC_NUM_COUNT];
  const char *strs[LLMSVC_STR_COUNT];
  size_t lens[LLMSVC_STR_COUNT];
  const char *json;
  size_t json_len;
  int piece_kind; /* a piece (LLMSVC_RESULT_DELTA) only, with the fields below */
  uint32_t piece_index;
  const char *call_id, *call_name;
} llmsvcgo_view;

void llmsvcgo_view_of(llmsvcgo_view *v, llmsvc_result *result, void *payload);

/* Frees the `done` results of the last batch, then takes up to `max` (at most
 * LLMSVCGO_BATCH) results from the completion queue without waiting, each into a view;
 * the status is llmsvc_client_poll_batch's (LLMSVC_ETIMEOUT: the queue is empty). */
enum { LLMSVCGO_BATCH = 64 };
typedef struct llmsvcgo_polled {
  int status;
  size_t n;
} llmsvcgo_polled;
llmsvcgo_polled llmsvcgo_poll(llmsvc_client *client, llmsvcgo_view *views, size_t done,
                              size_t max);

/* Submits `request` with its results going to the completion queue: a plain request
 * (mode 0), a stream of text (1) or of typed pieces (2); `slot` comes back as the
 * payload. Returned by value, so that Go passes no pointer of its own. */
typedef struct llmsvcgo_submitted {
  int status;
  uint64_t id;
  llmsvc_error *err;
} llmsvcgo_submitted;
llmsvcgo_submitted llmsvcgo_submit(llmsvc_client *client, const char *request, int mode,
                                   uintptr_t slot);

/* Attempt `i` (in range) of a result, by value as above. */
typedef struct llmsvcgo_attempt {
  int64_t nums[LLMSVC_ATTEMPT_COUNT];
  const char *request_id, *deployment;
} llmsvcgo_attempt;
llmsvcgo_attempt llmsvcgo_read_attempt(const llmsvc_result *result, size_t i);

/* Events to the completion queue, with `generation` as their payload. */
int llmsvcgo_set_event_hook(llmsvc_client *client, unsigned events, unsigned flags,
                            uintptr_t generation, llmsvc_error **out_err);

/* Takes the next result of a batch job into a view (payload 0); 0 when none is ready. */
int llmsvcgo_batch_job_next(llmsvc_batch_job *job, llmsvcgo_view *v);

#endif
