package main

import (
	"errors"
	"io"
	"net/http"
)

// receive gives a call its ids and its key's state, and counts it as
// received (a batch line is not counted).
func (c *call) receive() {
	c.idA, c.idB = c.e.nextIDs()
	c.ks = c.e.keys.get(c.key)
	if c.batch != nil {
		return
	}
	c.ks.mu.Lock()
	c.ks.stats.Received++
	c.ks.noteTrace(c.r)
	c.ks.mu.Unlock()
}

// readBody reads r's body, at most limit bytes. A larger body is answered
// with fail(tooLarge(limit)); any other error means the client went away,
// which gone (when set) notes. False when the body could not be read.
func readBody[E any](w http.ResponseWriter, r *http.Request, limit int64, tooLarge func(int64) E, fail func(E), gone func()) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err == nil {
		return body, true
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(tooLarge(limit))
	case gone != nil:
		gone()
	}
	return nil, false
}

// digestWithModel takes the digest of a body for the fault draws, with the
// model of the path as part of the request, as it is on the endpoints that
// have it in the body.
func (c *call) digestWithModel(body []byte) {
	if c.e.cfg.needsDigest() {
		c.digest = digestBody(append(append([]byte(c.model), 0), body...))
	}
}

// gone records a call whose client left before its answer was due.
func (c *call) gone() { c.record(outGone, 0) }
