package llmsvc

import (
	"context"
	"log"
	"runtime/debug"
)

// Observer sees every request a client submits, from its submission to its outcome: the
// hook through which an instrumentation watches a client. The OpenTelemetry adapter
// (package llmsvc/bindings/go/otelllmsvc, a module of its own) is one; install one with
// Client.SetObserver. A client without an observer pays nothing for the hook.
type Observer interface {
	// Observe is called on the submitting goroutine (Generate, Submit, Stream,
	// StreamPieces) once the request is about to be submitted, before it is encoded.
	// ctx is the call's context; stream says whether the reply is streamed. req is the
	// binding's own copy of the Request: Observe may set its fields (Traceparent,
	// Tracestate, ...), which then go to the core, but must not change what its slices
	// and maps share with the caller's. It returns what follows the request to its
	// end, or nil to see nothing more of it.
	Observe(ctx context.Context, req *Request, stream bool) Observation
}

// Observation follows one request that an Observer saw submitted.
type Observation interface {
	// End is called exactly once with the request's outcome, as Generate returns it: the
	// Response, or the error (an *Error, whose Response holds the result of a request
	// the core completed; a *StatusError or an encoding error, without a Response, when
	// the request was refused and nothing was submitted).
	//
	// For a request the core completed, End runs on the client's dispatcher before the
	// request's waiters wake (so what it records is there when Generate returns), and
	// the client's other completions wait while it runs: keep it short, and call no
	// blocking method of the client (Generate, Future.Result, Close). A panic in it is
	// recovered and logged. The Response must not be modified.
	End(resp *Response, err error)
}

// observerBox holds a client's Observer, for an atomic pointer.
type observerBox struct{ o Observer }

// SetObserver installs o to see every request the client submits from now on; nil
// removes the observer. Requests already submitted keep the Observation they were given.
func (c *Client) SetObserver(o Observer) {
	if o == nil {
		c.st.observer.Store(nil)
		return
	}
	c.st.observer.Store(&observerBox{o})
}

// observe asks the client's observer for the request's Observation.
func observe(o Observer, ctx context.Context, req *Request, mode int) (obs Observation) {
	defer func() {
		if v := recover(); v != nil {
			log.Printf("llmsvc: panic in an Observer (the request is not observed): %v\n%s", v, debug.Stack())
			obs = nil
		}
	}()
	return o.Observe(ctx, req, mode != modePlain)
}

// endObservation calls obs.End, recovering a panic in it.
func endObservation(obs Observation, resp *Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			log.Printf("llmsvc: panic in an Observation's End: %v\n%s", v, debug.Stack())
		}
	}()
	obs.End(resp, err)
}

// refused ends the observation of a request that was not submitted.
func (f *Future) refused(err error) error {
	if f.obs != nil {
		endObservation(f.obs, nil, err)
	}
	return err
}
