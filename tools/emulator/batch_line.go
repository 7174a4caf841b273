package main

import (
	"bytes"
	"context"
	"net/http"
	"time"
)

// A batch line is answered by the live endpoint's own handler, called with
// a request that carries a lineTally in its context. Such a call skips the
// random faults, the per-minute rate limits and every delay, and reports its
// outcome and token figures to the tally instead of the key's counters.

// lineTally is what one batch line's call reports.
type lineTally struct {
	ok         bool
	prompt     int64
	completion int64
	cached     int64
	reasoning  int64
}

type lineTallyKey struct{}

// batchOf returns the tally of a batch line's request, nil for a live one.
func batchOf(r *http.Request) *lineTally {
	t, _ := r.Context().Value(lineTallyKey{}).(*lineTally)
	return t
}

// note takes the outcome of the call.
func (t *lineTally) note(c *call, o outcome, _ int) {
	t.ok = o == outOK
	if t.ok {
		t.prompt, t.completion = c.promptTokens, c.completionTokens
		t.cached, t.reasoning = c.cachedTokens, c.reasoningTokens
	}
}

// delay is how long the call's answer is held: nothing for a batch line.
func (c *call) delay(stalled bool) time.Duration {
	if c.batch != nil {
		return 0
	}
	return c.e.cfg.delay(c.digest, c.k, stalled)
}

// drawInvalidJSON decides whether a reply asking for JSON gets a document
// that violates its schema; never for a batch line.
func (c *call) drawInvalidJSON() bool {
	return c.batch == nil && c.e.cfg.invalidJSON(c.digest, c.k)
}

// lineRecorder keeps the answer a handler writes for a batch line.
type lineRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *lineRecorder) Header() http.Header { return w.header }

func (w *lineRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *lineRecorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// lineAnswer is the live endpoint's answer to a batch line.
type lineAnswer struct {
	status    int
	body      []byte // the JSON document, without a final newline
	requestID string
	tally     lineTally
}

// answerLine runs body through the live handler of path (an OpenAI endpoint
// or /v1/messages) with the given headers.
func (e *emulator) answerLine(path string, body []byte, header http.Header) lineAnswer {
	t := &lineTally{}
	ctx := context.WithValue(context.Background(), lineTallyKey{}, t)
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		return lineAnswer{status: http.StatusInternalServerError, body: errorBody(errServer())}
	}
	r.Header = header.Clone()
	r.Header.Set("Content-Type", "application/json")
	w := &lineRecorder{header: http.Header{}}
	switch path {
	case "/v1/chat/completions":
		e.serveChat(w, r)
	case "/v1/embeddings":
		e.serveEmbeddings(w, r)
	case "/v1/responses":
		e.serveResponses(w, r)
	case "/v1/messages":
		e.serveMessages(w, r)
	}
	a := lineAnswer{status: w.status, body: bytes.TrimSpace(w.body.Bytes()), tally: *t}
	if a.requestID = w.header.Get("X-Request-Id"); a.requestID == "" {
		a.requestID = w.header.Get("Request-Id")
	}
	if a.status == 0 {
		a.status = http.StatusInternalServerError
		a.body = bytes.TrimSpace(errorBody(errServer()))
	}
	return a
}

// streams reports whether a line's body asks for a streaming answer.
func streams(body []byte) bool {
	o, ok := parseObject(body)
	return ok && string(bytes.TrimSpace(o.get("stream"))) == "true"
}
