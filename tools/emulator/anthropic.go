package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The Anthropic Messages API: POST /v1/messages, non-streaming. It shares
// the key registry, statistics, fault decisions, prompt cache and token
// formula with the chat completions endpoint; only the wire shapes, the
// headers and the token dimensions of the rate limits differ.

const anthropicOrg = "org-emulator"

// messagesCall is one request to /v1/messages. The embedded call provides
// the statistics and the connection reset.
type messagesCall struct {
	call
}

func (e *emulator) serveMessages(w http.ResponseWriter, r *http.Request) {
	c := &messagesCall{call{e: e, w: w, r: r, start: time.Now(), key: r.Header.Get("X-Api-Key"), batch: batchOf(r)}}
	c.receive()

	if r.Method != http.MethodPost {
		c.fail(&apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error", outcome: outBadRequest,
			message: fmt.Sprintf("Method Not Allowed (%s %s)", r.Method, r.URL.Path)})
		return
	}
	body, ok := readBody(w, r, maxBodyBytes, errRequestTooLarge, c.fail, c.gone)
	if !ok {
		return
	}
	cfg := e.cfg
	if cfg.needsDigest() {
		c.digest = digestBody(body)
	}

	switch {
	case c.key == "":
		c.fail(&apiError{status: http.StatusUnauthorized, typ: "authentication_error", outcome: outAuth,
			message: "x-api-key header is required"})
		return
	case cfg.invalidKeys[c.key]:
		c.fail(&apiError{status: http.StatusUnauthorized, typ: "authentication_error", outcome: outAuth,
			message: "invalid x-api-key"})
		return
	case cfg.quotaKeys[c.key]:
		c.fail(&apiError{status: http.StatusBadRequest, typ: "invalid_request_error", outcome: outQuota, noRetry: true,
			message: "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."})
		return
	case r.Header.Get("Anthropic-Version") == "":
		c.fail(invalidMessages("", "anthropic-version: header is required"))
		return
	}
	req, aerr := parseMessagesRequest(body)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	c.model, c.promptTokens = req.model, req.promptTokens
	if len(cfg.knownModels) > 0 && !cfg.knownModels[req.model] {
		c.fail(&apiError{status: http.StatusNotFound, typ: "not_found_error", outcome: outBadRequest,
			message: "model: " + req.model})
		return
	}
	if !arrive(&c.call, onArrival[*apiError]{count: c.ks.messagesArrival, stream: req.stream, resetAsError: true,
		server: errMessagesInternal, unavailable: errMessagesOverloaded}, c.fail) {
		return
	}

	var seq uint64
	if e.alim.enabled() && c.batch == nil {
		c.ks.mu.Lock()
		adm := c.ks.awin.admit(time.Now(), e.alim, req.charge())
		c.ks.mu.Unlock()
		if adm.refused != refusedNone {
			c.fail(e.messagesRateLimitError(adm))
			return
		}
		seq = adm.seq
	}
	if !sleepCtx(r.Context(), c.delay(c.stalled)) {
		c.record(outGone, 0)
		return
	}
	c.succeed(req, seq)
}

// statusOverloaded is Anthropic's 529 for a temporarily overloaded API.
const statusOverloaded = 529

// errRequestTooLarge is Anthropic's 413 for a body over limit bytes.
func errRequestTooLarge(limit int64) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, typ: "request_too_large", outcome: outBadRequest,
		message: fmt.Sprintf("Request exceeds the maximum allowed number of bytes (%d).", limit)}
}

func errMessagesInternal() *apiError {
	return &apiError{status: http.StatusInternalServerError, typ: "api_error", outcome: outServerError,
		message: "Internal server error"}
}

func errMessagesOverloaded() *apiError {
	return &apiError{status: statusOverloaded, typ: "overloaded_error", outcome: outServerError,
		message: "Overloaded"}
}

// messagesArrival counts one more arrival of a body at /v1/messages and
// returns the earlier count. The counts are kept apart from those of the
// chat completions endpoint.
func (ks *keyState) messagesArrival(d bodyDigest) uint64 {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.aseen == nil {
		ks.aseen = make(map[bodyDigest]uint64)
	}
	k := ks.aseen[d]
	if k == 0 && len(ks.aseen) >= maxSeenBodies {
		clear(ks.aseen)
	}
	ks.aseen[d] = k + 1
	return k
}

func (e *emulator) messagesRateLimitError(adm messagesAdmission) *apiError {
	var what string
	var limit int64
	switch adm.refused {
	case refusedRequests:
		what, limit = "requests", e.alim.reqCap
	case refusedInput:
		what, limit = "input tokens", e.alim.caps[dimInput]
	case refusedOutput:
		what, limit = "output tokens", e.alim.caps[dimOutput]
	default:
		what, limit = "tokens", e.alim.caps[dimTotal]
	}
	return &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", outcome: outRateLimited,
		retryAfter: true, wait: adm.wait,
		message: fmt.Sprintf("This request would exceed the rate limit for your organization (%s) of %d %s per minute. "+
			"For details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. "+
			"Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at "+
			"https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.", anthropicOrg, limit, what)}
}

// messagesReply is the planned answer of a /v1/messages call.
type messagesReply struct {
	thinking string    // the thinking text, "" without thinking
	text     replyPlan // the text reply, when calls is nil
	calls    *callPlan // the tool calls, nil for a text reply
	ids      []string  // the calls' ids
	stop     string
	output   int64 // output tokens: thinking and reply
	input    int64 // input tokens not read from or written to the cache
	cache    cacheUse
	marked   bool // the request has cache_control breakpoints
}

// plan decides the answer: the thinking, when enabled, then tool calls or
// text (quoting the tool results when the conversation ends with them).
// A forced tool may get a deliberately invalid input (--invalid-json-*).
func (c *messagesCall) plan(req *messagesRequest) *messagesReply {
	r := &messagesReply{stop: "end_turn", marked: len(req.marks) > 0}
	room := req.maxTokens
	if req.thinking > 0 {
		n := thinkingTokens(req.model, req.lastText, req.thinking)
		r.thinking, room = thinkingText(n), room-n
	}
	if picked := req.tools.pick(); len(picked) > 0 {
		invalid := req.tools.choice.forced() && c.drawInvalidJSON()
		cp := planCalls(picked, room, true, invalid)
		r.calls, r.stop, c.invalidJSON = &cp, "tool_use", cp.invalid
		for j := range cp.calls {
			r.ids = append(r.ids, callID("toolu_01", req.promptHash, 0, j, 22))
		}
		if cp.capped {
			r.stop = "max_tokens"
		}
		r.output = textTokens(r.thinking) + cp.tokens
		return r
	}
	base := replyText(completionTarget(req.model, req.lastText))
	if req.tools.endsInTool {
		base = resultsText(req.tools.results)
	}
	r.text = planText(base, room, true, nil, false)
	if r.text.capped {
		r.stop = "max_tokens"
	}
	r.output = textTokens(r.thinking) + r.text.tokens
	return r
}

func (c *messagesCall) succeed(req *messagesRequest, seq uint64) {
	r := c.plan(req)
	ks := c.ks
	ks.mu.Lock()
	if r.marked {
		r.cache = ks.prefixes.use(req.marks, time.Now())
	} else {
		seen := req.promptTokens >= 1024 && ks.cache.seenBefore(req.promptHash)
		r.cache.read = cachedTokens(req.promptTokens, seen)
	}
	r.input = req.promptTokens - r.cache.read - r.cache.creation()
	if seq != 0 {
		// Cached reads do not count against the input limit.
		in := req.promptTokens - r.cache.read
		ks.awin.reconcile(seq, tokenVec{in, r.output, in + r.output})
	}
	ks.mu.Unlock()
	c.completionTokens, c.cachedTokens = r.output, r.cache.read

	if req.stream {
		c.streamMessages(req, r)
		return
	}
	b := make([]byte, 0, 384+4*r.output)
	b = c.messageJSON(b, req, r, r.output, true)

	c.setHeaders(c.w.Header())
	c.record(outOK, http.StatusOK)
	writeJSON(c.w, http.StatusOK, b)
}

// messageJSON appends the message object. An unfinished one, as a stream
// starts it, has no content and no stop reason.
func (c *messagesCall) messageJSON(b []byte, req *messagesRequest, r *messagesReply, output int64, done bool) []byte {
	b = append(b, `{"id":"msg_01`...)
	b = appendBase62(b, c.idA, 11)
	b = appendBase62(b, c.idB, 11)
	b = append(b, `","type":"message","role":"assistant","model":`...)
	b = appendJSONString(b, req.model)
	b = append(b, `,"content":[`...)
	stop := ""
	if done {
		for i, block := range r.blocks() {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, block.done...)
		}
		stop = r.stop
	}
	b = append(b, `],"stop_reason":`...)
	b = appendNullable(b, stop)
	b = append(b, `,"stop_sequence":null,"usage":`...)
	b = r.appendUsage(b, output)
	return append(b, '}')
}

// appendUsage appends the usage object; cache_creation is there when the
// request has cache_control breakpoints.
func (r *messagesReply) appendUsage(b []byte, output int64) []byte {
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, r.input, 10)
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = strconv.AppendInt(b, r.cache.creation(), 10)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = strconv.AppendInt(b, r.cache.read, 10)
	if r.marked {
		b = append(b, `,"cache_creation":{"ephemeral_5m_input_tokens":`...)
		b = strconv.AppendInt(b, r.cache.create5m, 10)
		b = append(b, `,"ephemeral_1h_input_tokens":`...)
		b = strconv.AppendInt(b, r.cache.create1h, 10)
		b = append(b, '}')
	}
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, output, 10)
	return append(b, '}')
}

// contentBlock is one content block of the reply: as a stream starts it,
// the deltas that fill it, and finished.
type contentBlock struct {
	start  []byte
	deltas [][]byte
	done   []byte
}

// blocks lists the reply's content blocks: the thinking, then the text or
// the tool uses. A tool use cut short by the cap reports {} as its input.
func (r *messagesReply) blocks() []contentBlock {
	var out []contentBlock
	if r.thinking != "" {
		sig := thinkingSignature(r.thinking)
		cb := contentBlock{start: []byte(`{"type":"thinking","thinking":"","signature":""}`)}
		for _, d := range streamDeltas(r.thinking) {
			cb.deltas = append(cb.deltas, append(appendJSONString([]byte(`{"type":"thinking_delta","thinking":`), d), '}'))
		}
		cb.deltas = append(cb.deltas, append(appendJSONString([]byte(`{"type":"signature_delta","signature":`), sig), '}'))
		cb.done = appendJSONString([]byte(`{"type":"thinking","thinking":`), r.thinking)
		cb.done = append(appendJSONString(append(cb.done, `,"signature":`...), sig), '}')
		out = append(out, cb)
	}
	if r.calls == nil {
		cb := contentBlock{start: []byte(`{"type":"text","text":""}`)}
		for _, d := range streamDeltas(r.text.text) {
			cb.deltas = append(cb.deltas, append(appendJSONString([]byte(`{"type":"text_delta","text":`), d), '}'))
		}
		cb.done = append(appendJSONString([]byte(`{"type":"text","text":`), r.text.text), '}')
		return append(out, cb)
	}
	for j, call := range r.calls.calls {
		head := appendJSONString([]byte(`{"type":"tool_use","id":`), r.ids[j])
		head = appendJSONString(append(head, `,"name":`...), call.name)
		head = append(head, `,"input":`...)
		cb := contentBlock{start: append(append([]byte(nil), head...), "{}}"...)}
		for _, piece := range argumentPieces(call.args) {
			cb.deltas = append(cb.deltas, append(appendJSONString([]byte(`{"type":"input_json_delta","partial_json":`), piece), '}'))
		}
		input := call.args
		if call.cut {
			input = "{}"
		}
		cb.done = append(append(head, input...), '}')
		out = append(out, cb)
	}
	return out
}

// fail answers with an error after the configured latency.
func (c *messagesCall) fail(ae *apiError) {
	cfg := c.e.cfg
	if !sleepCtx(c.r.Context(), c.delay(false)) {
		c.record(outGone, 0)
		return
	}
	h := c.w.Header()
	c.setHeaders(h)
	if ae.retryAfter && !cfg.noRetryAfter {
		h.Set("Retry-After", strconv.FormatInt(ceilSeconds(ae.wait), 10))
	}
	if cfg.shouldRetry {
		retry := (ae.status >= 500 || ae.status == http.StatusTooManyRequests) && !ae.noRetry
		h.Set("X-Should-Retry", strconv.FormatBool(retry))
	}
	c.record(ae.outcome, ae.status)
	writeJSON(c.w, ae.status, messagesErrorBody(ae, c.requestID()))
}

func (c *messagesCall) requestID() string {
	var id [36]byte
	return string(appendHex(appendHex(append(id[:0], "req_"...), c.idA), c.idB))
}

// setHeaders adds the headers every answer of the endpoint carries.
func (c *messagesCall) setHeaders(h http.Header) {
	e := c.e
	h.Set("Request-Id", c.requestID())
	h.Set("Anthropic-Organization-Id", anthropicOrg)
	l := e.alim
	if !l.enabled() {
		return
	}
	now := time.Now()
	c.ks.mu.Lock()
	s := c.ks.awin.snapshot(now, l)
	c.ks.mu.Unlock()
	reset := formatResetTime(now, s.reset)
	set := func(name string, limit, remaining int64) {
		const p = "Anthropic-Ratelimit-"
		h.Set(p+name+"-Limit", strconv.FormatInt(limit, 10))
		h.Set(p+name+"-Remaining", strconv.FormatInt(remaining, 10))
		h.Set(p+name+"-Reset", reset)
	}
	if l.reqCap > 0 {
		set("Requests", l.reqCap, s.remainingRequests)
	}
	if l.caps[dimInput] > 0 {
		set("Input-Tokens", l.caps[dimInput], s.remainingTokens[dimInput])
	}
	if l.caps[dimOutput] > 0 {
		set("Output-Tokens", l.caps[dimOutput], s.remainingTokens[dimOutput])
	}
	// The tokens headers report the most restrictive token limit: the one
	// with the least room left, the smaller cap on a tie.
	best := -1
	for d := range l.caps {
		if l.caps[d] == 0 {
			continue
		}
		if best < 0 || s.remainingTokens[d] < s.remainingTokens[best] ||
			(s.remainingTokens[d] == s.remainingTokens[best] && l.caps[d] < l.caps[best]) {
			best = d
		}
	}
	if best >= 0 {
		set("Tokens", l.caps[best], s.remainingTokens[best])
	}
}

// messagesErrorBody renders
// {"type":"error","error":{"type":..,"message":..},"request_id":..}.
func messagesErrorBody(ae *apiError, requestID string) []byte {
	b := make([]byte, 0, 128+len(ae.message))
	b = append(b, `{"type":"error","error":{"type":`...)
	b = appendJSONString(b, ae.typ)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, ae.message)
	b = append(b, `},"request_id":`...)
	b = appendJSONString(b, requestID)
	return append(b, '}')
}
