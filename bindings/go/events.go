package llmsvc

/*
#include <stddef.h>
#include <stdint.h>
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"log"
	"math/bits"
	"runtime"
	"runtime/cgo"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// EventType is one lifecycle event of a request, or a set of them (the core's
// LLMSVC_EVENT_* bits): SetEventHook takes a set, an Event carries one.
type EventType uint

// The lifecycle events, in the order a request goes through them (docs/schema.md,
// "Events"). A retried request goes through Admitted, AttemptStarted and AttemptFinished
// once per attempt, with a RetryScheduled between attempts.
const (
	EventQueued          EventType = C.LLMSVC_EVENT_QUEUED           // accepted, waiting for admission
	EventAdmitted        EventType = C.LLMSVC_EVENT_ADMITTED         // through the gates, to a deployment
	EventAttemptStarted  EventType = C.LLMSVC_EVENT_ATTEMPT_STARTED  // an attempt was sent
	EventAttemptFinished EventType = C.LLMSVC_EVENT_ATTEMPT_FINISHED // an attempt was answered or failed
	EventRetryScheduled  EventType = C.LLMSVC_EVENT_RETRY_SCHEDULED  // another attempt will follow
	EventCompleted       EventType = C.LLMSVC_EVENT_COMPLETED        // its one completion is next

	// EventAll is every lifecycle event.
	EventAll EventType = C.LLMSVC_EVENT_ALL
)

// eventNames holds the core's names of the single events ("queued", ...), by bit index.
var eventNames = func() (names [6]string) {
	for i := range names {
		names[i] = C.GoString(C.llmsvc_event_type_name(C.unsigned(1) << i))
	}
	return names
}()

// String returns the core's name of a single event ("queued", "attempt_finished", ...);
// a set is its names joined by "|", the empty set "none", and bits the core does not
// define "unknown".
func (t EventType) String() string {
	if t == 0 {
		return "none"
	}
	if t&^EventAll != 0 {
		return "unknown"
	}
	if t&(t-1) == 0 { // one event: no allocation (every delivered event's Name)
		return eventNames[bits.TrailingZeros(uint(t))]
	}
	var parts []string
	for i, name := range eventNames {
		if t&(1<<i) != 0 {
			parts = append(parts, name)
		}
	}
	return strings.Join(parts, "|")
}

// Event is one lifecycle event of a request, as SetEventHook delivers it.
type Event struct {
	Type      EventType // a single event
	Name      string    // Type's name: "queued", "admitted", ...
	RequestID uint64    // the request's id (Future.ID, Stream.ID, Response.ID)
	// JSON is the event document (docs/schema.md, "Events"): type, request_id, trace_id,
	// model, operation, times, and what the event is about. It belongs to the receiver.
	JSON []byte
}

// Decode unmarshals the event document into v (a map[string]any, or a struct of the
// fields you need).
func (e Event) Decode(v any) error { return json.Unmarshal(e.JSON, v) }

// SetEventHook delivers the lifecycle events of every request of the client to fn:
// types is the set of events wanted (EventAll for all of them), withContent adds the
// request's wire body to EventQueued ("request") and the reply's text to EventCompleted
// ("text"); without it prompts and replies never appear in events, and keys never do.
// A nil fn or an empty set turns events off. Each call replaces the previous hook and
// applies to what happens after it returns: from then on only the new fn is called.
//
// fn runs on the client's engine thread, one event at a time, in the order the events
// happened, and a request's events all come before its completion resolves its Future.
// Every request of the client waits while fn runs, so keep it short: record, count or
// hand the event to a channel or goroutine of your own. It may call the client's
// non-blocking methods (Submit, Stream, Metrics, SetLimits, SetEventHook, Future.Cancel);
// it must not wait for a result (Generate, Future.Result) nor Close the client, which
// fail or never return there. A panic in fn is recovered and logged, and the engine
// carries on. A hook that holds the Client keeps it from being garbage collected: Close
// it explicitly.
func (c *Client) SetEventHook(types EventType, withContent bool, fn func(Event)) error {
	on := fn != nil && types != 0
	reg := c.hooks
	inHook := reg.running()
	if !inHook {
		// Calls from outside a hook are serialized, so that turning events off knows
		// that no other call installs a hook meanwhile (see below). A call from inside a
		// hook must not wait here: the engine thread would wait for a caller that waits
		// for the engine thread.
		reg.serial.Lock()
		defer reg.serial.Unlock()
	}
	var h *eventHook
	var handle cgo.Handle
	var events, flags C.unsigned
	if on {
		h = reg.add(fn, types)
		handle = h.handle
		events = C.unsigned(types)
		if withContent {
			flags = C.LLMSVC_EVENTS_WITH_CONTENT
		}
	}
	var cerr *C.llmsvc_error
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		reg.drop(h)
		if !on {
			return nil // a closed client delivers nothing anyway
		}
		return closedError("set_event_hook")
	}
	st := C.llmsvcgo_set_event_hook(c.ptr, events, flags, C.uintptr_t(handle), &cerr)
	c.mu.RUnlock()
	runtime.KeepAlive(c)
	if st != C.LLMSVC_OK {
		reg.drop(h) // never installed
		return statusError("set_event_hook", st, cerr)
	}
	reg.installed(h, !on && !inHook)
	return nil
}

// liveEventHooks counts the cgo handles of event hooks not yet deleted.
var liveEventHooks atomic.Int64

// eventHooks keeps the hooks of one client that the core may still call.
//
// The core is given a new handle per SetEventHook call. A handle that was replaced is not
// deleted by the call that replaced it, which cannot always tell whether the old hook is
// still running (a hook may replace itself) nor, with concurrent calls, which hook the
// core has now. The engine thread knows: the next event delivered tells which hook is
// installed, and every other hook whose installing call has returned was replaced and
// is not running (hooks run one at a time on that one thread), so it is deleted then.
// Turning events off from outside a hook deletes them all: the core has no hook any
// more and none can be running (the core applied the call between two of its steps).
// Close deletes whatever is left once the core is destroyed.
type eventHooks struct {
	serial sync.Mutex // held by SetEventHook calls made outside a hook

	mu   sync.Mutex
	live []*eventHook // handed to the core (or about to be) and not yet deleted
	// prune is set when a hook was installed: the next event deletes those it replaced.
	prune atomic.Bool
}

// eventHook is what the core's payload (a cgo.Handle) refers to.
type eventHook struct {
	reg    *eventHooks
	fn     func(Event)
	types  EventType
	handle cgo.Handle
	// confirmed is set (under reg.mu) once the call that installs the hook returned.
	confirmed bool
}

func (r *eventHooks) add(fn func(Event), types EventType) *eventHook {
	h := &eventHook{reg: r, fn: fn, types: types}
	h.handle = cgo.NewHandle(h)
	liveEventHooks.Add(1)
	r.mu.Lock()
	r.live = append(r.live, h)
	r.mu.Unlock()
	return h
}

// drop deletes a hook the core never had. nil does nothing.
func (r *eventHooks) drop(h *eventHook) {
	if h == nil {
		return
	}
	r.mu.Lock()
	for i, x := range r.live {
		if x == h {
			r.live = append(r.live[:i], r.live[i+1:]...)
			break
		}
	}
	r.mu.Unlock()
	deleteHooks([]*eventHook{h})
}

// installed records that the core has h (nil: no hook); with all it deletes every hook,
// none of which the core can call any more.
func (r *eventHooks) installed(h *eventHook, all bool) {
	var dead []*eventHook
	r.mu.Lock()
	if h != nil {
		h.confirmed = true
		r.prune.Store(true)
	}
	if all {
		dead, r.live = r.live, nil
	}
	r.mu.Unlock()
	deleteHooks(dead)
}

// pruneFor runs on the engine thread while h is the core's hook: every other hook whose
// installing call returned was replaced and is not running.
func (r *eventHooks) pruneFor(h *eventHook) {
	var dead []*eventHook
	r.mu.Lock()
	keep := r.live[:0]
	for _, x := range r.live {
		if x == h || !x.confirmed {
			keep = append(keep, x)
		} else {
			dead = append(dead, x)
		}
	}
	clear(r.live[len(keep):])
	r.live = keep
	r.prune.Store(false)
	r.mu.Unlock()
	deleteHooks(dead)
}

// deleteAll deletes every hook; the core, destroyed, calls none of them any more.
func (r *eventHooks) deleteAll() {
	r.mu.Lock()
	dead := r.live
	r.live = nil
	r.mu.Unlock()
	deleteHooks(dead)
}

func deleteHooks(hs []*eventHook) {
	for _, h := range hs {
		h.handle.Delete()
		liveEventHooks.Add(-1)
	}
}

// running reports whether the calling goroutine runs inside one of r's hooks: a cgo
// callback runs on the C thread that called it, where the shim noted the hook's handle.
func (r *eventHooks) running() bool {
	cur := C.llmsvcgo_running_hook()
	if cur == 0 {
		return false
	}
	// The running hook's handle is not deleted while it runs.
	h, ok := cgo.Handle(cur).Value().(*eventHook)
	return ok && h.reg == r
}

// llmsvcgoEvent receives one lifecycle event on the client's engine thread (called by the
// C shim). It copies the document and calls the hook's function.
//
//export llmsvcgoEvent
func llmsvcgoEvent(handle C.uintptr_t, typ C.unsigned, id C.uint64_t, doc *C.char, n C.size_t) {
	h := cgo.Handle(handle).Value().(*eventHook)
	if h.reg.prune.Load() {
		h.reg.pruneFor(h)
	}
	t := EventType(typ)
	if h.types&t == 0 {
		return // built for the hook this one replaced, which asked for other events
	}
	ev := Event{Type: t, Name: t.String(), RequestID: uint64(id),
		JSON: C.GoBytes(unsafe.Pointer(doc), C.int(n))}
	defer func() {
		// A panic must not end the engine thread (nor the process) from inside the core.
		if v := recover(); v != nil {
			log.Printf("llmsvc: panic in an event hook (the %s event of request %d was dropped): %v\n%s",
				ev.Name, ev.RequestID, v, debug.Stack())
		}
	}()
	h.fn(ev)
}
