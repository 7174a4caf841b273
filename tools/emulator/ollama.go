package main

import (
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
	c, body, ok := e.admitOllama(w, r)
	if !ok {
		return
	}
	req, aerr := parseOllamaRequest(body)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	c.req = req
	c.model, c.promptTokens = req.model, req.promptTokens
	if !c.modelKnown() || !c.arrive(epOllama, req.stream, nil) {
		return
	}
	if seq, ok := c.admitAndWait(req.charge()); ok {
		c.succeed(seq)
	}
}

// admitOllama starts a call to one of Ollama's endpoints: it counts the
// arrival, checks the method and reads the body (bounded), taking its
// digest for the fault draws. No key is required: a bearer key, when sent,
// names the statistics and rate-limit key, otherwise the key is "ollama".
// False when it already answered.
func (e *emulator) admitOllama(w http.ResponseWriter, r *http.Request) (*ollamaCall, []byte, bool) {
	key := bearerKey(r)
	if key == "" {
		key = ollamaKey
	}
	c := &ollamaCall{call: call{e: e, w: w, r: r, start: time.Now(), key: key}}
	c.receive()

	if r.Method != http.MethodPost {
		c.fail(ollamaError(http.StatusMethodNotAllowed, outBadRequest, "method not allowed"))
		return nil, nil, false
	}
	tooLarge := func(int64) *apiError {
		return ollamaError(http.StatusRequestEntityTooLarge, outBadRequest, "request body too large")
	}
	body, ok := readBody(w, r, maxBodyBytes, tooLarge, c.fail, c.gone)
	if !ok {
		return nil, nil, false
	}
	if e.cfg.needsDigest() {
		c.digest = digestBody(body)
	}
	return c, body, true
}

// modelKnown answers a model outside --known-models with Ollama's 404;
// false when it did.
func (c *ollamaCall) modelKnown() bool {
	known := c.e.cfg.knownModels
	if len(known) > 0 && !known[c.model] {
		c.fail(ollamaError(http.StatusNotFound, outBadRequest, "model %q not found, try pulling it first", c.model))
		return false
	}
	return true
}

// arrive plays what the call meets on arrival at endpoint ep; first, where
// the endpoint applies --rate-limit-first, answers the first arrivals.
func (c *ollamaCall) arrive(ep string, stream bool, first func() *apiError) bool {
	return arrive(&c.call, onArrival[*apiError]{count: c.ks.arrivalsOn(ep), stream: stream, first: first,
		server: errOllamaServer, unavailable: errOllamaBusy}, c.fail)
}

// admitAndWait charges the rate-limit window and holds the answer; every
// refusal is Ollama's 429.
func (c *ollamaCall) admitAndWait(charge int64) (uint64, bool) {
	return admitAndWait(&c.call, charge, func(admission) *apiError { return errOllamaRateLimited() }, c.fail)
}

func errOllamaServer() *apiError {
	return ollamaError(http.StatusInternalServerError, outServerError, "an error was encountered while running the model")
}

func errOllamaBusy() *apiError {
	return ollamaError(http.StatusServiceUnavailable, outServerError, "server busy, please try again.  maximum pending requests exceeded")
}

// errOllamaRateLimited is Ollama's 429: no retry-after, whatever the limit.
func errOllamaRateLimited() *apiError {
	return ollamaError(http.StatusTooManyRequests, outRateLimited, "rate limited")
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
	c.settle(seq, r.tokens)
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
		b = call.appendArgs(append(b, `,"arguments":`...))
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
