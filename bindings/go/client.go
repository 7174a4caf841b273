package llmsvc

/*
#include <stdlib.h>
#include <string.h>
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Client is one llmsvc client: an engine thread with its gates, connections, metrics
// and usage ledger. It is safe for concurrent use. Close it when done; a client that is
// garbage collected without Close is closed by a finalizer, but a client never becomes
// garbage while one of its requests is pending.
type Client struct {
	// mu guards ptr: calls into the core hold it for reading, the destruction for
	// writing, so the core object is never destroyed under a call.
	mu      sync.RWMutex
	ptr     *C.llmsvc_client // nil once closed
	st      *clientState
	closing sync.Once

	// jobs are the batch jobs open on the client, closed before it is destroyed.
	jobsMu sync.Mutex
	jobs   map[*BatchJob]struct{}
}

// clientState is what the client's dispatcher uses: it holds no reference to the Client,
// which stays collectable.
type clientState struct {
	pending  pending
	hooks    eventHooks
	observer atomic.Pointer[observerBox] // nil: no Observer
	exited   chan struct{}               // closed when the dispatcher has delivered the last result
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
	return newClient(func(out **C.llmsvc_client, cerr **C.llmsvc_error) C.int {
		return C.llmsvc_client_new(out, cString(doc.Bytes()), cerr)
	})
}

// NewClientFromFile creates a client from a configuration file as the core reads it: YAML
// or JSON, in llmsvc's layout, the llm.yaml key-pool layout or LiteLLM's config.yaml, with
// ${NAME} environment references (docs/schema.md, "Configuration files"). An error names
// the file, line and column.
func NewClientFromFile(path string) (*Client, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return newClient(func(out **C.llmsvc_client, cerr **C.llmsvc_error) C.int {
		return C.llmsvc_client_new_from_file(out, cpath, cerr)
	})
}

// newClient creates the core's client with create and starts its dispatcher.
func newClient(create func(**C.llmsvc_client, **C.llmsvc_error) C.int) (*Client, error) {
	var ptr *C.llmsvc_client
	var cerr *C.llmsvc_error
	if st := create(&ptr, &cerr); st != C.LLMSVC_OK {
		return nil, statusError("new", st, cerr)
	}
	s := &clientState{exited: make(chan struct{})}
	if err := s.start(ptr); err != nil {
		C.llmsvc_client_destroy(ptr)
		return nil, err
	}
	c := &Client{ptr: ptr, st: s}
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

// call runs fn on the core's client under the read lock; a closed client gives ErrClosed
// and a refusal a *StatusError for op.
func (c *Client) call(op string, fn func(*C.llmsvc_client, **C.llmsvc_error) C.int) error {
	var cerr *C.llmsvc_error
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return statusError(op, C.LLMSVC_ECLOSED, nil)
	}
	st := fn(c.ptr, &cerr)
	c.mu.RUnlock()
	if st != C.LLMSVC_OK {
		return statusError(op, st, cerr)
	}
	return nil
}

// Close closes the client: new calls fail with ErrClosed, every pending request
// completes with ErrShutDown (queued, backing off and in flight alike), and the engine
// thread stops. It returns once every completion (and every event) was delivered,
// waiting on a channel, never inside the core. Close is idempotent. Called from an event
// hook it fails with StatusRecursive.
func (c *Client) Close() error {
	if inHook() {
		return statusError("close", C.LLMSVC_ERECURSIVE, nil) // the hook's dispatcher cannot wait for itself
	}
	err := c.call("close", func(p *C.llmsvc_client, _ **C.llmsvc_error) (st C.int) {
		c.closing.Do(func() { st = C.llmsvc_client_close_async(p, nil, nil) })
		return st
	})
	if errors.Is(err, ErrClosed) {
		return nil
	} else if err != nil {
		return err
	}
	<-c.st.exited // meanwhile hooks run, and may call the client
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr == nil {
		return nil
	}
	c.closeJobs()                        // before the client they use
	st := C.llmsvc_client_destroy(c.ptr) // the engine thread has finished: returns at once
	c.ptr = nil
	c.st.hooks.set(nil)
	liveClients.Add(-1)
	runtime.SetFinalizer(c, nil)
	if st != C.LLMSVC_OK {
		return statusError("close", st, nil)
	}
	return nil
}

// Pause stops admission (true): nothing more is sent, requests in flight go on and
// queued or new ones wait (their deadlines still apply); false resumes. A graceful stop
// for a batch job.
func (c *Client) Pause(paused bool) error {
	var p C.int
	if paused {
		p = 1
	}
	return c.call("pause", func(ptr *C.llmsvc_client, _ **C.llmsvc_error) C.int {
		return C.llmsvc_client_pause(ptr, p)
	})
}

// Metrics returns one consistent snapshot of the client's metrics, usage and cost.
func (c *Client) Metrics() (Metrics, error) {
	var out *C.char
	err := c.call("metrics", func(p *C.llmsvc_client, cerr **C.llmsvc_error) C.int {
		return C.llmsvc_client_metrics(p, &out, cerr)
	})
	if err != nil {
		return Metrics{}, err
	}
	m := Metrics{Raw: takeString(out)}
	if err := json.Unmarshal(m.Raw, &m); err != nil {
		return Metrics{}, fmt.Errorf("llmsvc: reading the metrics document: %w", err)
	}
	return m, nil
}

// MetricsPrometheus returns the same snapshot as Metrics in the Prometheus text
// exposition format (version 0.0.4), ready to serve as "text/plain; version=0.0.4"
// from a handler of your own. The metric names are listed in docs/schema.md.
func (c *Client) MetricsPrometheus() (string, error) {
	var out *C.char
	err := c.call("metrics_prometheus", func(p *C.llmsvc_client, cerr **C.llmsvc_error) C.int {
		return C.llmsvc_client_metrics_prometheus(p, &out, cerr)
	})
	return string(takeString(out)), err
}

// takeString copies a string the library allocated and frees it; nil gives nil.
func takeString(s *C.char) []byte {
	if s == nil {
		return nil
	}
	defer C.llmsvc_free(unsafe.Pointer(s))
	return C.GoBytes(unsafe.Pointer(s), C.int(C.strlen(s)))
}

// SetLimits replaces the client's limits at run time (see Limits: a zero rate or
// concurrency removes that limit, a zero WindowMS keeps the window). It takes effect
// before any request submitted after it returns is admitted.
func (c *Client) SetLimits(l Limits) error {
	return c.callDocument("set_limits", "limits", &l,
		func(p *C.llmsvc_client, doc *C.char, cerr **C.llmsvc_error) C.int {
			return C.llmsvc_client_set_limits(p, doc, cerr)
		})
}

// SetDeployment changes one of the client's configured deployments (Config.Deployments,
// Config.APIKeys, Config.Models) at run time: back into rotation or out of it, its weight,
// its limits. It takes effect before any request is admitted after it returns. A name
// that no deployment has gives a *StatusError with StatusSchema.
func (c *Client) SetDeployment(u DeploymentUpdate) error {
	return c.callDocument("set_deployment", "deployment", &u,
		func(p *C.llmsvc_client, doc *C.char, cerr **C.llmsvc_error) C.int {
			return C.llmsvc_client_set_deployment(p, doc, cerr)
		})
}

// callDocument encodes v (the what of the error) and hands it to fn, as call does.
func (c *Client) callDocument(op, what string, v any,
	fn func(*C.llmsvc_client, *C.char, **C.llmsvc_error) C.int) error {
	doc, err := encodeDocument(v)
	if err != nil {
		return fmt.Errorf("llmsvc: encoding the %s: %w", what, err)
	}
	defer releaseDocument(doc)
	return c.call(op, func(p *C.llmsvc_client, cerr **C.llmsvc_error) C.int {
		return fn(p, cString(doc.Bytes()), cerr)
	})
}
