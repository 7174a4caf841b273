package llmsvc

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"log"
	"math/bits"
	"reflect"
	"runtime"
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
// fn runs on the client's dispatcher goroutine, one event at a time, in the order the
// events happened, and a request's events all come before its completion resolves its
// Future. The client's completions wait while fn runs (the core does not), so keep it
// short: record, count or hand the event to a channel or goroutine of your own. It may
// call the client's non-blocking methods (Submit, Stream, Metrics, SetLimits,
// SetEventHook, Future.Cancel); it must not wait for a result (Generate, Future.Result),
// which never returns there, nor Close the client, which fails with StatusRecursive. A
// panic in fn is recovered and logged, and the dispatcher carries on. A hook that holds
// the Client keeps it from being garbage collected: Close it explicitly.
func (c *Client) SetEventHook(types EventType, withContent bool, fn func(Event)) error {
	var flags C.unsigned
	if fn == nil || types == 0 {
		fn, types = nil, 0
	} else if withContent {
		flags = C.LLMSVC_EVENTS_WITH_CONTENT
	}
	hs := &c.st.hooks
	hs.mu.Lock() // the core and hs.cur change together
	defer hs.mu.Unlock()
	hs.gen++
	gen := hs.gen
	err := c.call("set_event_hook", func(p *C.llmsvc_client, cerr **C.llmsvc_error) C.int {
		return C.llmsvcgo_set_event_hook(p, C.unsigned(types), flags, C.uintptr_t(gen), cerr)
	})
	switch {
	case err != nil && fn == nil && errors.Is(err, ErrClosed):
		return nil // a closed client delivers nothing anyway
	case err != nil:
		return err
	case fn == nil:
		hs.set(nil)
	default:
		hs.set(&eventHook{fn, gen})
	}
	return nil
}

// liveEventHooks counts the clients whose core has an event hook of theirs.
var liveEventHooks atomic.Int64

// eventHooks is a client's event hook. The core queues each event with the payload (a
// generation number) of the hook it had then, and only events of the current hook reach
// it: those of a hook that was replaced are dropped, as they happened before the call
// that replaced it returned.
type eventHooks struct {
	mu  sync.Mutex // held by SetEventHook
	gen uintptr
	cur atomic.Pointer[eventHook] // nil: events off
}

type eventHook struct {
	fn  func(Event)
	gen uintptr
}

func (hs *eventHooks) set(h *eventHook) {
	switch old := hs.cur.Swap(h); {
	case old == nil && h != nil:
		liveEventHooks.Add(1)
	case old != nil && h == nil:
		liveEventHooks.Add(-1)
	}
}

// deliver runs on the client's dispatcher for each event, in order, and calls the hook.
func (hs *eventHooks) deliver(v *C.llmsvcgo_view) {
	h := hs.cur.Load()
	if h == nil || h.gen != uintptr(v.payload) {
		return
	}
	doc := C.GoBytes(unsafe.Pointer(v.json), C.int(v.json_len))
	t := eventType(doc)
	callHook(h.fn, Event{Type: t, Name: t.String(), RequestID: uint64(v.id), JSON: doc})
}

// callHook calls an event hook; a panic in it is recovered and logged. Only the
// dispatchers call it, so a caller with callHook on its stack runs inside a hook.
//
//go:noinline
func callHook(fn func(Event), ev Event) {
	defer func() {
		if v := recover(); v != nil {
			log.Printf("llmsvc: panic in an event hook (the %s event of request %d was dropped): %v\n%s",
				ev.Name, ev.RequestID, v, debug.Stack())
		}
	}()
	fn(ev)
}

// callHookName is callHook's name in stack traces.
var callHookName = runtime.FuncForPC(reflect.ValueOf(callHook).Pointer()).Name()

// inHook reports whether the calling goroutine runs inside an event hook (on a
// dispatcher's stack).
func inHook() bool {
	var pcs [64]uintptr
	for skip := 2; ; skip += len(pcs) {
		n := runtime.Callers(skip, pcs[:])
		for frames := runtime.CallersFrames(pcs[:n]); ; {
			f, more := frames.Next()
			if f.Function == callHookName {
				return true
			}
			if !more {
				break
			}
		}
		if n < len(pcs) {
			return false
		}
	}
}
