/*
 * shim.h - the C side of the Go binding.
 *
 * Go cannot take the address of a C function nor turn a cgo.Handle into a void *
 * without a vet warning, so these few functions do both on the C side.
 */
#ifndef LLMSVC_GO_SHIM_H
#define LLMSVC_GO_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include <llmsvc.h>

/* Submits `request` with a completion that hands the result's JSON to Go and frees it.
 * `handle` is a runtime/cgo.Handle, passed back to Go exactly once. */
int llmsvcgo_submit(llmsvc_client *client, const char *request, uintptr_t handle,
                    uint64_t *out_id, llmsvc_error **out_err);

/* Submits `request` as a stream (llmsvc_client_submit_stream): each piece of the reply is
 * handed to Go as it arrives, then the completion as for llmsvcgo_submit. `handle` is a
 * runtime/cgo.Handle, valid until the completion, which passes it back exactly once. */
int llmsvcgo_submit_stream(llmsvc_client *client, const char *request, uintptr_t handle,
                           uint64_t *out_id, llmsvc_error **out_err);

/* Submits `request` as a stream of typed pieces (llmsvc_client_submit_stream_pieces):
 * each piece (text, a tool call's start, a piece of its arguments) is handed to Go as it
 * arrives, then the completion as for llmsvcgo_submit. `handle` is as for
 * llmsvcgo_submit_stream. */
int llmsvcgo_submit_stream_pieces(llmsvc_client *client, const char *request, uintptr_t handle,
                                  uint64_t *out_id, llmsvc_error **out_err);

/* Sets the client's event hook (llmsvc_client_set_event_hook) with a callback that hands
 * each event to Go. `handle` is a runtime/cgo.Handle of the Go hook, valid as long as the
 * core may call it; with `handle` 0 (and `events` 0) the callback drops whatever was built
 * before, so nothing reaches the completion queue. */
int llmsvcgo_set_event_hook(llmsvc_client *client, unsigned events, unsigned flags,
                            uintptr_t handle, llmsvc_error **out_err);

/* The handle of the event hook running on the calling thread, 0 outside any hook. */
uintptr_t llmsvcgo_running_hook(void);

/* Does nothing; the benchmarks use it to time a bare cgo call carrying a document. */
void llmsvcgo_noop(const char *document);

#endif
