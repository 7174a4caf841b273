package llmsvc

import "testing"

// LiveHandles reports the submissions not yet completed, for the leak test.
func LiveHandles() int64 { return livePending.Load() }

// LiveClients reports the clients not yet closed, for the finalizer test.
func LiveClients() int64 { return liveClients.Load() }

// LiveEventHooks reports the event hooks the core may still deliver to.
func LiveEventHooks() int64 { return liveEventHooks.Load() }

// EncodeRequest encodes req into a pooled buffer and gives the buffer back.
func EncodeRequest(tb testing.TB, req Request) {
	doc, err := encodeRequest(&req)
	if err != nil {
		tb.Fatal(err)
	}
	releaseDocument(doc)
}

// CgoNoop makes a cgo call carrying a small document into a C function that does nothing.
func CgoNoop() { cgoNoop(noopDocument) }

var noopDocument = []byte(`{"prompt":"hi"}` + "\x00")

// BenchResult sends req with the core's blocking call and returns what builds its
// Response from the result, and what frees the result.
func BenchResult(c *Client, req Request) (func() (*Response, error), func(), error) {
	return c.benchResult(req)
}

// SubmitC submits req n times through the C ABI alone, its completions freed in C.
func SubmitC(c *Client, req Request, n int) error { return c.submitC(req, n) }
