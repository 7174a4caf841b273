package main

import (
	"context"
	"net/http"
	"time"
	"unicode/utf8"
)

// Streaming answers: server-sent events on the chat completions,
// responses and messages endpoints, NDJSON on /api/chat. The reply is
// sent as deltas of 1 to 3 chunks of 4 bytes each, deterministic in the
// text, with --stream-delay-ms between events and a flush after each.

// midFault is a fault that strikes after half of the deltas.
type midFault int

const (
	midNone  midFault = iota
	midReset          // the connection is cut
	midError          // an in-band error event ends the stream
)

// Salts for the mid-stream fault draws.
const (
	saltMidReset = 5 // whether a reset strikes before the stream or in it
	saltMidError = 6 // --midstream-error-rate
)

// streamFault adjusts the fault drawn for a streaming request: a reset is,
// decided per body, either a reset before the answer (as for other
// requests) or a cut after half of the deltas; a request that drew no
// fault gets a mid-stream error with --midstream-error-rate. When
// resetAsError (on /v1/messages with --midstream-error-rate set), a
// mid-stream reset becomes a mid-stream error.
func (c *config) streamFault(d bodyDigest, k uint64, f faultKind, resetAsError bool) (faultKind, midFault) {
	switch f {
	case faultReset:
		if draw(c.seed, d, k, saltMidReset)&1 == 0 {
			return f, midNone
		}
		if resetAsError && c.midstreamErrorRate > 0 {
			return faultNone, midError
		}
		return faultNone, midReset
	case fault500, fault503:
		return f, midNone
	}
	if c.midstreamErrorRate > 0 && unit(draw(c.seed, d, k, saltMidError)) < c.midstreamErrorRate {
		return f, midError
	}
	return f, midNone
}

// streamDeltas splits text into deltas of 1 to 3 chunks of 4 bytes each
// (the last may be shorter), never inside a UTF-8 character. The sizes
// depend only on the text.
func streamDeltas(text string) []string {
	var out []string
	h := fnv1a64(text)
	for i, n := 0, uint64(0); i < len(text); n++ {
		end := min(i+4*int(1+mix64(h+n)%3), len(text))
		for end < len(text) && !utf8.RuneStart(text[end]) {
			end++
		}
		out = append(out, text[i:end])
		i = end
	}
	return out
}

// deltasBeforeFault is how many deltas are sent before a mid-stream fault.
func deltasBeforeFault(n int, mid midFault) int {
	if mid == midNone {
		return n
	}
	return n / 2
}

// streamer writes the events of one streaming answer.
type streamer struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	ctx    context.Context
	delay  time.Duration
	events int
	buf    []byte
}

// startStream sends the status line and headers of a streaming answer.
// The caller sets the endpoint's own headers first.
func startStream(w http.ResponseWriter, r *http.Request, cfg *config, contentType string) *streamer {
	h := w.Header()
	h.Set("Content-Type", contentType)
	if contentType == "text/event-stream" {
		h.Set("Cache-Control", "no-cache")
	}
	h.Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	s := &streamer{w: w, rc: http.NewResponseController(w), ctx: r.Context(), delay: cfg.streamDelay}
	s.rc.Flush()
	return s
}

// write sends one event, after the stream delay when it is not the first,
// and flushes it. It reports whether the client is still there.
func (s *streamer) write(p []byte) bool {
	if s.events > 0 && !sleepCtx(s.ctx, s.delay) {
		return false
	}
	s.events++
	if _, err := s.w.Write(p); err != nil {
		return false
	}
	return s.rc.Flush() == nil && s.ctx.Err() == nil
}

// event sends "event: name\ndata: data\n\n".
func (s *streamer) event(name string, data []byte) bool {
	s.buf = append(append(append(append(s.buf[:0], "event: "...), name...), "\ndata: "...), data...)
	return s.write(append(s.buf, "\n\n"...))
}

// data sends "data: data\n\n".
func (s *streamer) data(data []byte) bool {
	s.buf = append(append(s.buf[:0], "data: "...), data...)
	return s.write(append(s.buf, "\n\n"...))
}

// line sends data and a newline (NDJSON).
func (s *streamer) line(data []byte) bool {
	s.buf = append(append(s.buf[:0], data...), '\n')
	return s.write(s.buf)
}
