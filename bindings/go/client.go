package llmsvc

/*
#include <stdlib.h>
#include <string.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Client is one llmsvc client: an engine thread with its gates, connections, metrics
// and usage ledger. It is safe for concurrent use. Close it when done; a client that is
// garbage collected without Close is closed by a finalizer, but a client never becomes
// garbage while one of its requests is pending.
type Client struct {
	// mu guards ptr: calls into the core hold it for reading, Close for writing, so the
	// core object is never destroyed under a call.
	mu  sync.RWMutex
	ptr *C.llmsvc_client // nil once closed

	hooks *eventHooks // the event hooks the core may call (SetEventHook)
}

// liveClients counts the clients created and not yet closed.
var liveClients atomic.Int64

// NewClient creates a client from cfg and starts its engine thread. A configuration the
// core refuses gives a *StatusError whose message names the field.
func NewClient(cfg Config) (*Client, error) {
	doc, err := encodeDocument(&cfg)
	if err != nil {
		return nil, fmt.Errorf("llmsvc: encoding the configuration: %w", err)
	}
	defer releaseDocument(doc)
	var ptr *C.llmsvc_client
	var cerr *C.llmsvc_error
	if st := C.llmsvc_client_new(&ptr, cString(doc.Bytes()), &cerr); st != C.LLMSVC_OK {
		return nil, statusError("new", st, cerr)
	}
	c := &Client{ptr: ptr, hooks: &eventHooks{}}
	liveClients.Add(1)
	runtime.SetFinalizer(c, (*Client).Close)
	return c, nil
}

// NewClientFromFile creates a client from a configuration file as the core reads it: YAML
// or JSON, in llmsvc's layout, the llm.yaml key-pool layout or LiteLLM's config.yaml, with
// ${NAME} environment references (docs/schema.md, "Configuration files"). An error names
// the file, line and column.
func NewClientFromFile(path string) (*Client, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var ptr *C.llmsvc_client
	var cerr *C.llmsvc_error
	if st := C.llmsvc_client_new_from_file(&ptr, cpath, &cerr); st != C.LLMSVC_OK {
		return nil, statusError("new", st, cerr)
	}
	c := &Client{ptr: ptr, hooks: &eventHooks{}}
	liveClients.Add(1)
	runtime.SetFinalizer(c, (*Client).Close)
	return c, nil
}

// cString returns a NUL-terminated document as a C string. The core copies its inputs
// before a call returns, so the Go memory is only borrowed for the call (and holds no
// Go pointers, as cgo requires).
func cString(nulTerminated []byte) *C.char {
	return (*C.char)(unsafe.Pointer(unsafe.SliceData(nulTerminated)))
}

// Close closes the client: new calls fail with ErrClosed, every pending request
// completes with ErrShutDown (queued, backing off and in flight alike), and the engine
// thread stops. It returns once every completion (and every event) was delivered. Close
// is idempotent. Called from an event hook it fails with StatusRecursive.
func (c *Client) Close() error {
	// First the core's close, under the read lock: while it completes what is pending,
	// event hooks run and may call the client, which needs the read lock too.
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return nil
	}
	st := C.llmsvc_client_close(c.ptr)
	c.mu.RUnlock()
	if st != C.LLMSVC_OK {
		return statusError("close", st, nil) // from a hook: the engine thread cannot stop itself
	}
	// Then destroy it: the engine thread is gone, no callback runs any more.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr == nil {
		return nil
	}
	st = C.llmsvc_client_destroy(c.ptr)
	c.ptr = nil
	liveClients.Add(-1)
	runtime.SetFinalizer(c, nil)
	c.hooks.deleteAll()
	if st != C.LLMSVC_OK {
		return statusError("close", st, nil)
	}
	return nil
}

// closedError is the error of a call on a closed client, with the core's text for it.
func closedError(op string) error { return statusError(op, C.LLMSVC_ECLOSED, nil) }

// Generate sends a request and waits for its result. A failed request gives an *Error
// (errors.Is with the sentinel of its kind, errors.As for the details); a request the
// core refuses at submission gives a *StatusError.
//
// ctx bounds the whole request. Its deadline becomes the request's timeout_ms (the time
// remaining, rounded up, when shorter than req.TimeoutMS), so the core itself ends the
// request with ErrDeadlineExceeded wherever it is. When ctx is cancelled, the request is
// cancelled in the core (queued, backing off or in flight) and ends with ErrCancelled.
// Either way the error also wraps ctx.Err().
func (c *Client) Generate(ctx context.Context, req Request) (*Response, error) {
	f, err := c.submit(ctx, &req, nil)
	if err != nil {
		return nil, err
	}
	if done := ctx.Done(); done != nil {
		select {
		case <-f.done:
		case <-done:
			f.contextDone()
			<-f.done // the core completes the request promptly
		}
	} else {
		<-f.done
	}
	return f.Result()
}

// Submit sends a request without waiting for it and returns its Future. No goroutine
// waits for it: the completion resolves the Future from the core's engine thread.
//
// ctx works as in Generate; its cancellation is watched with context.AfterFunc, so
// nothing runs until it happens. Errors returned here are submission errors
// (*StatusError, or ctx.Err() when ctx is already done); the request's own outcome
// comes from Future.Result.
func (c *Client) Submit(ctx context.Context, req Request) (*Future, error) {
	f, err := c.submit(ctx, &req, nil)
	if err != nil {
		return nil, err
	}
	f.watch()
	return f, nil
}

// watch passes the end of the Future's context on to the core with context.AfterFunc,
// which runs nothing until the context ends; the completion stops it.
func (f *Future) watch() {
	if f.ctx.Done() == nil {
		return
	}
	stop := context.AfterFunc(f.ctx, f.contextDone)
	f.mu.Lock()
	if f.completed {
		f.mu.Unlock()
		stop()
	} else {
		f.stop = stop
		f.mu.Unlock()
	}
}

// maxTimeoutMS is the longest timeout_ms the core accepts (30 days).
const maxTimeoutMS = 30 * 24 * 3600 * 1000

// submit encodes req and hands it to the core with a cgo.Handle of its Future as the
// completion's payload. The handle is deleted exactly once: by the completion, or here
// when the core refuses the request (then no completion follows). With a Stream or a
// PieceStream the request is streamed: the handle refers to it, and it receives the
// pieces and completes through the returned Future.
func (c *Client) submit(ctx context.Context, req *Request, s streamSink) (*Future, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("llmsvc: not submitted: %w", err)
	}
	deadlineInCore := false
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("llmsvc: not submitted: %w", context.DeadlineExceeded)
		}
		// Rounded up: the core's deadline is never before the context's, so the
		// context's error is set by the time the core reports the deadline.
		ms := int64((left + time.Millisecond - 1) / time.Millisecond)
		if ms <= maxTimeoutMS && (req.TimeoutMS <= 0 || ms < req.TimeoutMS) {
			req.TimeoutMS = ms
		}
		// The core now ends the request by the context's deadline (within the rounding).
		deadlineInCore = req.TimeoutMS > 0
	}
	doc, err := encodeRequest(req)
	if err != nil {
		return nil, fmt.Errorf("llmsvc: encoding the request: %w", err)
	}
	defer releaseDocument(doc)

	f := &Future{c: c, ctx: ctx, deadlineInCore: deadlineInCore, done: make(chan struct{})}
	var h cgo.Handle
	if s == nil {
		h = newHandle(f)
	} else {
		s.attach(f) // before the call: the first piece may arrive before it returns
		h = newHandle(s)
	}
	var id C.uint64_t
	var cerr *C.llmsvc_error
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		deleteHandle(h)
		return nil, closedError("submit")
	}
	var st C.int
	switch s.(type) {
	case nil:
		st = C.llmsvcgo_submit(c.ptr, cString(doc.Bytes()), C.uintptr_t(h), &id, &cerr)
	case *Stream:
		st = C.llmsvcgo_submit_stream(c.ptr, cString(doc.Bytes()), C.uintptr_t(h), &id, &cerr)
	case *PieceStream:
		st = C.llmsvcgo_submit_stream_pieces(c.ptr, cString(doc.Bytes()), C.uintptr_t(h), &id, &cerr)
	}
	c.mu.RUnlock()
	runtime.KeepAlive(c)
	if st != C.LLMSVC_OK {
		deleteHandle(h)
		return nil, statusError("submit", st, cerr)
	}
	f.id = uint64(id)
	return f, nil
}

// cancel asks the core to cancel a pending request; its completion follows with
// KindCancelled. An id that already completed, or a closed client, is not an error.
func (c *Client) cancel(id uint64) {
	c.mu.RLock()
	if c.ptr != nil {
		C.llmsvc_client_cancel(c.ptr, C.uint64_t(id))
	}
	c.mu.RUnlock()
	runtime.KeepAlive(c)
}

// Metrics returns one consistent snapshot of the client's metrics, usage and cost.
func (c *Client) Metrics() (Metrics, error) {
	var out *C.char
	var cerr *C.llmsvc_error
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return Metrics{}, closedError("metrics")
	}
	st := C.llmsvc_client_metrics(c.ptr, &out, &cerr)
	c.mu.RUnlock()
	runtime.KeepAlive(c)
	if st != C.LLMSVC_OK {
		return Metrics{}, statusError("metrics", st, cerr)
	}
	doc := C.GoBytes(unsafe.Pointer(out), C.int(C.strlen(out)))
	C.llmsvc_free(unsafe.Pointer(out))
	m := Metrics{Raw: doc}
	if err := json.Unmarshal(doc, &m); err != nil {
		return Metrics{}, fmt.Errorf("llmsvc: reading the metrics document: %w", err)
	}
	return m, nil
}

// MetricsPrometheus returns the same snapshot as Metrics in the Prometheus text
// exposition format (version 0.0.4), ready to serve as "text/plain; version=0.0.4"
// from a handler of your own. The metric names are listed in docs/schema.md.
func (c *Client) MetricsPrometheus() (string, error) {
	var out *C.char
	var cerr *C.llmsvc_error
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return "", closedError("metrics_prometheus")
	}
	st := C.llmsvc_client_metrics_prometheus(c.ptr, &out, &cerr)
	c.mu.RUnlock()
	runtime.KeepAlive(c)
	if st != C.LLMSVC_OK {
		return "", statusError("metrics_prometheus", st, cerr)
	}
	text := C.GoString(out)
	C.llmsvc_free(unsafe.Pointer(out))
	return text, nil
}

// SetLimits replaces the client's limits at run time (see Limits: a zero rate or
// concurrency removes that limit, a zero WindowMS keeps the window). It takes effect
// before any request submitted after it returns is admitted.
func (c *Client) SetLimits(l Limits) error {
	doc, err := encodeDocument(&l)
	if err != nil {
		return fmt.Errorf("llmsvc: encoding the limits: %w", err)
	}
	defer releaseDocument(doc)
	var cerr *C.llmsvc_error
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return closedError("set_limits")
	}
	st := C.llmsvc_client_set_limits(c.ptr, cString(doc.Bytes()), &cerr)
	c.mu.RUnlock()
	runtime.KeepAlive(c)
	if st != C.LLMSVC_OK {
		return statusError("set_limits", st, cerr)
	}
	return nil
}

// SetDeployment changes one of the client's configured deployments (Config.Deployments,
// Config.APIKeys, Config.Models) at run time: back into rotation or out of it, its weight,
// its limits. It takes effect before any request is admitted after it returns. A name
// that no deployment has gives a *StatusError with StatusSchema.
func (c *Client) SetDeployment(u DeploymentUpdate) error {
	doc, err := encodeDocument(&u)
	if err != nil {
		return fmt.Errorf("llmsvc: encoding the deployment: %w", err)
	}
	defer releaseDocument(doc)
	var cerr *C.llmsvc_error
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return closedError("set_deployment")
	}
	st := C.llmsvc_client_set_deployment(c.ptr, cString(doc.Bytes()), &cerr)
	c.mu.RUnlock()
	runtime.KeepAlive(c)
	if st != C.LLMSVC_OK {
		return statusError("set_deployment", st, cerr)
	}
	return nil
}

// Future is a request in progress, returned by Submit. Its methods are safe for
// concurrent use.
type Future struct {
	c    *Client
	ctx  context.Context
	id   uint64
	done chan struct{}
	// deadlineInCore is set when the core got the context's deadline as timeout_ms.
	deadlineInCore bool

	mu        sync.Mutex
	completed bool
	stop      func() bool // stops the context's AfterFunc; nil without one
	doc       []byte      // the result document, set before done is closed

	decode sync.Once
	resp   *Response
	err    error
}

// ID returns the core's id of the request (Response.ID).
func (f *Future) ID() uint64 { return f.id }

// Done returns a channel that is closed when the request has completed, for select.
func (f *Future) Done() <-chan struct{} { return f.done }

// Result waits for the request to complete and returns its outcome, as Generate would.
// It may be called any number of times.
func (f *Future) Result() (*Response, error) {
	<-f.done
	f.decode.Do(func() { f.resp, f.err = decodeResult(f.ctx, f.doc) })
	return f.resp, f.err
}

// Cancel cancels the request in the core, wherever it is; Result then reports
// ErrCancelled. It does nothing once the request has completed.
func (f *Future) Cancel() { f.c.cancel(f.id) }

// contextDone reacts to the end of the request's context: a cancellation is passed on to
// the core; a deadline the core enforces itself is left to it (it ends the request
// within a millisecond, reported as a deadline rather than a cancellation).
func (f *Future) contextDone() {
	if f.deadlineInCore && errors.Is(f.ctx.Err(), context.DeadlineExceeded) {
		return
	}
	f.Cancel()
}

// complete runs on the engine thread: it stores the document, stops the context watch and
// wakes the waiters, and never blocks.
func (f *Future) complete(doc []byte) {
	f.mu.Lock()
	f.completed = true
	f.doc = doc
	stop := f.stop
	f.stop = nil
	f.mu.Unlock()
	if stop != nil {
		stop()
	}
	close(f.done)
}

// cgoNoop makes a cgo call carrying a document, as a submission does, into a C function
// that does nothing: the benchmarks time the bare crossing with it.
func cgoNoop(nulTerminated []byte) { C.llmsvcgo_noop(cString(nulTerminated)) }
