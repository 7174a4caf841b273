package main

import (
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Ollama's native chat API: POST /api/chat. No key is required; a bearer
// key, when sent, names the statistics and rate-limit key, otherwise the
// key is "ollama". Answers carry no rate-limit headers. Streaming is the
// default, as NDJSON.

const (
	epOllama       = "ollama"
	ollamaKey      = "ollama"
	ollamaMidError = "an error was encountered while running the model: unexpected EOF"
)

// ollamaCall is one request to /api/chat.
type ollamaCall struct {
	call
	req *ollamaRequest
}

func (e *emulator) serveOllama(w http.ResponseWriter, r *http.Request) {
	c := newOllamaCall(e, w, r)
	body, ok := c.admit()
	if !ok {
		return
	}
	cfg := e.cfg
	req, aerr := parseOllamaRequest(body)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	c.req = req
	c.model, c.promptTokens = req.model, req.promptTokens
	if len(cfg.knownModels) > 0 && !cfg.knownModels[req.model] {
		c.fail(ollamaError(http.StatusNotFound, outBadRequest, "model %q not found, try pulling it first", req.model))
		return
	}

	if cfg.countsArrivals() {
		c.k = c.ks.arrivalOn(epOllama, c.digest)
		f := cfg.decideFault(c.digest, c.k)
		if req.stream {
			f, c.mid = cfg.streamFault(c.digest, c.k, f, false)
		}
		switch f {
		case fault500:
			c.fail(ollamaError(http.StatusInternalServerError, outServerError, "an error was encountered while running the model"))
			return
		case fault503:
			c.fail(ollamaError(http.StatusServiceUnavailable, outServerError, "server busy, please try again.  maximum pending requests exceeded"))
			return
		case faultReset:
			c.reset()
			return
		case faultStall:
			c.stalled = true
		}
	}

	var seq uint64
	if e.lim.enabled() {
		adm := c.ks.admit(e.lim, req.charge())
		if adm.kind != admitted {
			c.fail(ollamaError(http.StatusTooManyRequests, outRateLimited, "rate limited"))
			return
		}
		seq = adm.seq
	}
	if !sleepCtx(r.Context(), cfg.delay(c.digest, c.k, c.stalled)) {
		c.record(outGone, 0)
		return
	}
	c.succeed(seq)
}

// newOllamaCall starts a call to one of Ollama's endpoints. No key is
// required: a bearer key, when sent, names the statistics and rate-limit
// key, otherwise the key is "ollama".
func newOllamaCall(e *emulator, w http.ResponseWriter, r *http.Request) *ollamaCall {
	key := bearerKey(r)
	if key == "" {
		key = ollamaKey
	}
	return &ollamaCall{call: call{e: e, w: w, r: r, start: time.Now(), key: key}}
}

// admit counts the arrival, checks the method and reads the body (bounded),
// taking its digest for the fault draws. False when it already answered.
func (c *ollamaCall) admit() ([]byte, bool) {
	e, w, r := c.e, c.w, c.r
	c.idA, c.idB = e.nextIDs()
	c.ks = e.keys.get(c.key)
	c.ks.mu.Lock()
	c.ks.stats.Received++
	c.ks.noteTrace(c.r)
	c.ks.mu.Unlock()

	if r.Method != http.MethodPost {
		c.fail(ollamaError(http.StatusMethodNotAllowed, outBadRequest, "method not allowed"))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.fail(ollamaError(http.StatusRequestEntityTooLarge, outBadRequest, "request body too large"))
			return nil, false
		}
		c.record(outGone, 0)
		return nil, false
	}
	if e.cfg.needsDigest() {
		c.digest = digestBody(body)
	}
	return body, true
}

// ollamaReply is the planned answer of an /api/chat call.
type ollamaReply struct {
	thinking string    // with think: the thinking text
	text     replyPlan // the text reply, when calls is nil
	calls    *callPlan // the tool calls, nil for a text reply
	tokens   int64     // eval_count: thinking and reply
	capped   bool
}

// plan decides the answer: the thinking (with think), then tool calls or
// text (quoting the tool results when the conversation ends with them).
// num_predict caps the thinking and the reply together.
func (c *ollamaCall) plan() *ollamaReply {
	req := c.req
	r := &ollamaReply{}
	room := req.maxOut
	if req.think {
		limit := int64(math.MaxInt64)
		if req.hasMax {
			limit = room
		}
		n := thinkingTokens(req.model, req.lastText, limit)
		r.thinking, room = thinkingText(n), room-n
	}
	if picked := req.tools.pick(); len(picked) > 0 {
		cp := planCalls(picked, room, req.hasMax, false)
		r.calls, r.capped = &cp, cp.capped
		r.tokens = textTokens(r.thinking) + cp.tokens
		return r
	}
	base := replyText(completionTarget(req.model, req.lastText))
	if req.tools.endsInTool {
		base = resultsText(req.tools.results)
	}
	invalid := req.format != nil && c.e.cfg.invalidJSON(c.digest, c.k)
	r.text = planText(base, room, req.hasMax, req.format, invalid)
	r.capped, c.invalidJSON = r.text.capped, invalid
	r.tokens = textTokens(r.thinking) + r.text.tokens
	return r
}

func (c *ollamaCall) succeed(seq uint64) {
	req := c.req
	r := c.plan()
	c.completionTokens = r.tokens
	if seq != 0 {
		c.ks.mu.Lock()
		c.ks.win.reconcile(seq, req.promptTokens+r.tokens)
		c.ks.mu.Unlock()
	}
	if req.stream {
		c.stream(r)
		return
	}
	b := c.head(nil)
	b = append(b, `"message":{"role":"assistant","content":`...)
	b = appendJSONString(b, r.text.text)
	if r.thinking != "" {
		b = appendJSONString(append(b, `,"thinking":`...), r.thinking)
	}
	if r.calls != nil {
		b = r.appendToolCalls(append(b, ','))
	}
	b = append(b, "},"...)
	b = c.tail(b, r)
	c.record(outOK, http.StatusOK)
	writeJSON(c.w, http.StatusOK, b)
}

// appendToolCalls appends "tool_calls":[{"function":{"name","arguments"}}],
// the arguments as an object ({} for a call the cap cut short).
func (r *ollamaReply) appendToolCalls(b []byte) []byte {
	b = append(b, `"tool_calls":[`...)
	for j, call := range r.calls.calls {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(append(b, `{"function":{"name":`...), call.name)
		b = append(b, `,"arguments":`...)
		if call.cut {
			b = append(b, "{}"...)
		} else {
			b = append(b, call.args...)
		}
		b = append(b, "}}"...)
	}
	return append(b, ']')
}

// head appends {"model":..,"created_at":.., and leaves the object open.
func (c *ollamaCall) head(b []byte) []byte {
	b = append(b, `{"model":`...)
	b = appendJSONString(b, c.req.model)
	b = append(b, `,"created_at":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `",`...)
}

// tail appends the closing fields of the final object: done_reason, done
// and the counts. The durations are nominal: loading 1 ms, 0.05 ms per
// prompt token, 1 ms per output token; the total adds the real handling
// time.
func (c *ollamaCall) tail(b []byte, r *ollamaReply) []byte {
	reason := "stop"
	if r.capped {
		reason = "length"
	}
	load := int64(time.Millisecond)
	promptDur := c.promptTokens * int64(50*time.Microsecond)
	evalDur := r.tokens * int64(time.Millisecond)
	total := int64(time.Since(c.start)) + load + promptDur + evalDur
	b = append(b, `"done_reason":"`...)
	b = append(b, reason...)
	b = append(b, `","done":true,"total_duration":`...)
	b = strconv.AppendInt(b, total, 10)
	b = append(b, `,"load_duration":`...)
	b = strconv.AppendInt(b, load, 10)
	b = append(b, `,"prompt_eval_count":`...)
	b = strconv.AppendInt(b, c.promptTokens, 10)
	b = append(b, `,"prompt_eval_duration":`...)
	b = strconv.AppendInt(b, promptDur, 10)
	b = append(b, `,"eval_count":`...)
	b = strconv.AppendInt(b, r.tokens, 10)
	b = append(b, `,"eval_duration":`...)
	b = strconv.AppendInt(b, evalDur, 10)
	return append(b, '}')
}

// stream sends the reply as NDJSON: one object per delta of the thinking
// and of the text, or one object carrying all the tool calls, then the
// final object with done true and the counts.
func (c *ollamaCall) stream(r *ollamaReply) {
	s := startStream(c.w, c.r, c.e.cfg, "application/x-ndjson")
	var lines [][]byte
	var b []byte
	for _, d := range streamDeltas(r.thinking) {
		b = append(c.head(nil), `"message":{"role":"assistant","content":"","thinking":`...)
		lines = append(lines, append(appendJSONString(b, d), `},"done":false}`...))
	}
	if r.calls != nil {
		b = append(c.head(nil), `"message":{"role":"assistant","content":"",`...)
		lines = append(lines, append(r.appendToolCalls(b), `},"done":false}`...))
	} else {
		for _, d := range streamDeltas(r.text.text) {
			b = append(c.head(nil), `"message":{"role":"assistant","content":`...)
			lines = append(lines, append(appendJSONString(b, d), `},"done":false}`...))
		}
	}
	for _, line := range lines[:deltasBeforeFault(len(lines), c.mid)] {
		if !s.line(line) {
			c.record(outGone, 0)
			return
		}
	}
	switch c.mid {
	case midReset:
		c.reset()
		return
	case midError:
		c.record(outServerError, http.StatusOK)
		b = appendJSONString(append(b[:0], `{"error":`...), ollamaMidError)
		s.line(append(b, '}'))
		return
	}
	b = append(c.head(b[:0]), `"message":{"role":"assistant","content":""},`...)
	b = c.tail(b, r)
	c.record(outOK, http.StatusOK)
	s.line(b)
}

// fail answers with {"error": message} after the configured latency.
func (c *ollamaCall) fail(ae *apiError) {
	if !sleepCtx(c.r.Context(), c.e.cfg.delay(c.digest, c.k, false)) {
		c.record(outGone, 0)
		return
	}
	c.record(ae.outcome, ae.status)
	b := appendJSONString(append(make([]byte, 0, 32+len(ae.message)), `{"error":`...), ae.message)
	writeJSON(c.w, ae.status, append(b, '}'))
}
