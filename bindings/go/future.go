package llmsvc

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

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
	f, err := c.submit(ctx, &req, modePlain, nil)
	if err != nil {
		return nil, err
	}
	select {
	case <-f.done:
	case <-ctx.Done(): // a nil channel without a Done: never ready
		f.contextDone()
		<-f.done // the core completes the request promptly
	}
	return f.resp, f.err
}

// Submit sends a request without waiting for it and returns its Future. No goroutine
// waits for it: the client's dispatcher resolves the Future when the core completes it.
//
// ctx works as in Generate; its cancellation is watched with context.AfterFunc, so
// nothing runs until it happens. Errors returned here are submission errors
// (*StatusError, or ctx.Err() when ctx is already done); the request's own outcome
// comes from Future.Result.
func (c *Client) Submit(ctx context.Context, req Request) (*Future, error) {
	f, err := c.submit(ctx, &req, modePlain, nil)
	if err != nil {
		return nil, err
	}
	f.watch()
	return f, nil
}

// Future is a request in progress, returned by Submit. Its methods are safe for
// concurrent use.
type Future struct {
	c    *Client
	ctx  context.Context
	id   uint64
	done chan struct{} // closed once resp and err are set
	// deadlineInCore is set when the core got the context's deadline as timeout_ms.
	deadlineInCore bool
	wants          wants       // what of the result only its JSON document has
	s              *stream     // the pieces of a streamed request; nil otherwise
	obs            Observation // the client's Observer's view of it; nil without one

	mu        sync.Mutex
	completed bool
	stop      func() bool // stops the context's AfterFunc; nil without one

	resp *Response
	err  error
}

// ID returns the core's id of the request (Response.ID).
func (f *Future) ID() uint64 { return f.id }

// Done returns a channel that is closed when the request has completed, for select.
func (f *Future) Done() <-chan struct{} { return f.done }

// Result waits for the request to complete and returns its outcome, as Generate would.
// It may be called any number of times.
func (f *Future) Result() (*Response, error) {
	<-f.done
	return f.resp, f.err
}

// Cancel cancels the request in the core, wherever it is; Result then reports
// ErrCancelled. It returns at once (the cancellation completes the request on the core's
// engine thread, without blocking the caller) and does nothing once the request has
// completed.
func (f *Future) Cancel() {
	_ = f.c.call("cancel", func(p *C.llmsvc_client, _ **C.llmsvc_error) C.int {
		return C.llmsvc_client_cancel_async(p, C.uint64_t(f.id))
	})
}

// contextDone reacts to the end of the request's context: a cancellation is passed on to
// the core; a deadline the core enforces itself is left to it (it ends the request
// within a millisecond, reported as a deadline rather than a cancellation).
func (f *Future) contextDone() {
	if !f.deadlineInCore || !errors.Is(f.ctx.Err(), context.DeadlineExceeded) {
		f.Cancel()
	}
}

// complete runs on the dispatcher with the request's outcome: it stops the context watch
// and wakes the waiters, and never blocks.
func (f *Future) complete(resp *Response, err error) {
	f.resp, f.err = resp, err
	f.mu.Lock()
	f.completed = true
	stop := f.stop
	f.mu.Unlock()
	if stop != nil {
		stop()
	}
	close(f.done)
}

// The ways to submit (llmsvcgo_submit's mode).
const (
	modePlain  = 0 // llmsvc_client_submit
	modeStream = 1 // llmsvc_client_submit_stream: text pieces
	modePieces = 2 // llmsvc_client_submit_stream_pieces: typed pieces
)

// maxTimeoutMS is the longest timeout_ms the core accepts (30 days).
const maxTimeoutMS = 30 * 24 * 3600 * 1000

// pending are a client's requests that the core has not completed, by the payload it
// was given with each (a slot number: C keeps no Go pointer).
type pending struct {
	mu      sync.Mutex
	futures []*Future
	free    []uintptr
}

// livePending counts the requests of every client that are pending, for the leak test.
var livePending atomic.Int64

func (p *pending) add(f *Future) (slot uintptr) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		slot, p.free = p.free[n-1], p.free[:n-1]
	} else {
		p.futures = append(p.futures, nil)
		slot = uintptr(len(p.futures))
	}
	p.futures[slot-1] = f
	p.mu.Unlock()
	livePending.Add(1)
	return slot
}

// get returns the request of slot; with done, the slot is free again.
func (p *pending) get(slot uintptr, done bool) *Future {
	p.mu.Lock()
	f := p.futures[slot-1]
	if done {
		p.futures[slot-1] = nil
		p.free = append(p.free, slot)
		livePending.Add(-1)
	}
	p.mu.Unlock()
	return f
}

// submit encodes req and hands it to the core with its Future's slot in c's pending as
// the payload. The slot is freed exactly once: by the completion, or here when the core
// refuses the request (then no completion follows). s receives a stream's pieces.
func (c *Client) submit(ctx context.Context, req *Request, mode int, s *stream) (*Future, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("llmsvc: not submitted: %w", err)
	}
	f := &Future{c: c, ctx: ctx, done: make(chan struct{}), wants: wantsOf(req), s: s}
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
		f.deadlineInCore = req.TimeoutMS > 0
	}
	if box := c.st.observer.Load(); box != nil {
		// Before the encoding, which takes what the observer adds (trace context); and
		// before pending.add, whose lock orders it before the dispatcher's reads. The
		// observer gets a copy on the heap (it may keep it), so that without one the
		// caller's Request does not escape.
		r := *req
		f.obs = observe(box.o, ctx, &r, mode)
		req = &r
	}
	doc, err := encodeRequest(req)
	if err != nil {
		return nil, f.refused(fmt.Errorf("llmsvc: encoding the request: %w", err))
	}
	defer releaseDocument(doc)
	if s != nil {
		s.f = f // before the call: the first piece may arrive before it returns
	}
	slot := c.st.pending.add(f)
	var r C.llmsvcgo_submitted
	c.mu.RLock()
	if c.ptr == nil {
		r.status = C.LLMSVC_ECLOSED
	} else {
		r = C.llmsvcgo_submit(c.ptr, cString(doc.Bytes()), C.int(mode), C.uintptr_t(slot))
	}
	c.mu.RUnlock()
	if r.status != C.LLMSVC_OK {
		c.st.pending.get(slot, true)
		return nil, f.refused(statusError("submit", r.status, r.err))
	}
	f.id = uint64(r.id)
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
		return
	}
	f.stop = stop
	f.mu.Unlock()
}
