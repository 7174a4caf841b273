// Package llmsvc is the Go binding of libllmsvc, a client-side core for calling LLM APIs.
//
// The core admits every request through rate-limit gates (requests and tokens per
// minute, concurrency), sends it over libcurl, retries what is transient, and records
// metrics, usage and cost. This package is a thin layer over its C ABI: it encodes the
// request and configuration documents (docs/schema.md) with encoding/json, reads results
// through the core's typed getters, maps the core's errors to Go errors and contexts to
// the core's cancellation and deadlines. Gates, retries, metrics, cost and providers all
// stay in the core.
//
//	c, err := llmsvc.NewClient(llmsvc.Config{Model: "gpt-4o-mini",
//		Limits: &llmsvc.Limits{RPM: 500, TPM: 200000}})
//	if err != nil { ... }
//	defer c.Close()
//	resp, err := c.Generate(ctx, llmsvc.Request{Prompt: "Say hi", MaxOutputTokens: 20})
//	if errors.Is(err, llmsvc.ErrRateLimited) { ... }
//
// Client.Stream streams a reply (its pieces through an iterator, Stream.Deltas, then the
// whole result), Request.Tools offers functions to the model (Response.ToolCalls,
// Client.StreamPieces for calls streamed as typed pieces), GenerateJSON decodes
// structured output into a Go type, and
// Client.SetEventHook delivers each request's lifecycle events (queued, admitted,
// attempts, retries, completed) to a function of yours. Request.Input asks for embeddings
// (Response.Embeddings), and Client.OpenBatchJob sends requests through a provider's batch
// API at batch prices, resumable from a state file.
//
// A Client is safe for concurrent use. Its completions, pieces and events are taken from
// the core's completion queue in batches by one goroutine per client, which waits in the
// runtime's poller, never in the core. The library is found with pkg-config (package
// "llmsvc").
package llmsvc

/*
#cgo pkg-config: llmsvc
#include <llmsvc.h>
*/
import "C"

// Version returns the version of the libllmsvc in use ("MAJOR.MINOR.PATCH").
func Version() string { return C.GoString(C.llmsvc_version()) }

// libVersion is the version number of the libllmsvc in use (MAJOR * 10000 + MINOR * 100
// + PATCH), which may be older than the header the binding was built with: what a later
// version added is only asked of a library that has it.
var libVersion = uint32(C.llmsvc_version_number())
