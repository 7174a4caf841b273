package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Amazon Bedrock Runtime's Converse API: POST /model/{modelId}/converse and
// POST /model/{modelId}/converse-stream. Requests are authenticated with
// AWS Signature Version 4 (bedrock_sigv4.go); the access key id names the
// statistics and rate-limit key. The endpoint shares the key registry, the
// chat completions rate-limit window, the fault decisions, tool-call
// planning and the token formula with the others; arrivals are counted per
// endpoint and the model is part of the body for the fault draws. Errors
// are {"message": ...} with the exception named in x-amzn-ErrorType; no
// answer carries rate-limit headers or retry-after.

const (
	epBedrock       = "bedrock-converse"
	epBedrockStream = "bedrock-converse-stream"
	epBedrockInvoke = "bedrock-invoke"
	bedrockPrefix   = "/model/"
	// bedrockErrorNamespace follows the exception name in x-amzn-ErrorType,
	// as Bedrock sends it: "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/".
	bedrockErrorNamespace = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
	// The header names, in the case AWS writes them.
	hdrAmznRequestID = "x-amzn-RequestId"
	hdrAmznErrorType = "x-amzn-ErrorType"
)

// Messages of the throttling and server errors, as Bedrock words them.
const (
	msgThrottledRequests  = "Too many requests, please wait before trying again."
	msgThrottledTokens    = "Too many tokens, please wait before trying again."
	msgBedrockInternal    = "The system encountered an unexpected error during processing. Try your request again."
	msgBedrockUnavailable = "Bedrock is unable to process your request."
)

// bedrockCall is one Converse or ConverseStream request.
type bedrockCall struct {
	call
	req    *bedrockRequest
	stream bool
}

// requestPath is the path of the request as it appears in the request line,
// still encoded.
func requestPath(r *http.Request) string {
	p := r.RequestURI
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if !strings.HasPrefix(p, "/") {
		// An absolute URI or an empty one: fall back on the parsed URL.
		p = r.URL.EscapedPath()
	}
	return p
}

// bedrockRoute splits a /model/{modelId}/{operation} path as sent; the
// model id is decoded (it may hold %3A, or %2F in an ARN).
func bedrockRoute(rawPath string) (model, op string, ok bool) {
	rest, ok := strings.CutPrefix(rawPath, bedrockPrefix)
	if !ok {
		return "", "", false
	}
	enc, op, ok := strings.Cut(rest, "/")
	if !ok || op != "converse" && op != "converse-stream" && op != "invoke" {
		return "", "", false
	}
	model, err := url.PathUnescape(enc)
	if err != nil || model == "" {
		return "", "", false
	}
	return model, op, true
}

func errUnknownOperation() *bedrockError {
	return &bedrockError{status: http.StatusNotFound, typ: "UnknownOperationException", outcome: outBadRequest,
		message: "The requested operation is not recognized by the service."}
}

func (e *emulator) serveBedrock(w http.ResponseWriter, r *http.Request) {
	rawPath := requestPath(r)
	model, op, ok := bedrockRoute(rawPath)
	if !ok {
		c := &bedrockCall{call: call{e: e, w: w, r: r, start: time.Now()}}
		c.idA, c.idB = e.nextIDs()
		c.write(errUnknownOperation())
		return
	}
	c := &bedrockCall{call: call{e: e, w: w, r: r, start: time.Now(), model: model,
		key: sigv4KeyID(r.Header.Get("Authorization"))}, stream: op == "converse-stream"}
	c.receive()

	if r.Method != http.MethodPost {
		c.fail(errUnknownOperation())
		return
	}
	body, ok := readBody(w, r, maxBodyBytes, errBedrockTooLarge, c.fail, c.gone)
	if !ok {
		return
	}
	c.digestWithModel(body)
	cfg := e.cfg
	form, be := cfg.verifySigV4(r, rawPath, body, time.Now())
	if be != nil {
		c.fail(be)
		return
	}
	if e.logger != nil {
		e.logger.Printf("%s %s: signature matches the canonical URI %s", r.Method, rawPath, form)
	}
	switch {
	case cfg.invalidKeys[c.key]:
		c.fail(errUnrecognizedClient())
		return
	case cfg.quotaKeys[c.key]:
		c.fail(&bedrockError{status: http.StatusBadRequest, typ: "ServiceQuotaExceededException", outcome: outQuota,
			message: "Your request exceeds the service quota for your account. You can view your quotas at Viewing service quotas. You can resubmit your request later."})
		return
	}
	if op == "invoke" {
		e.bedrockInvoke(c, body)
		return
	}
	req, be := parseBedrockRequest(model, c.stream, body)
	if be != nil {
		c.fail(be)
		return
	}
	c.req = req
	c.promptTokens = req.promptTokens
	if len(cfg.knownModels) > 0 && !cfg.knownModels[model] {
		c.fail(bedrockInvalid("The provided model identifier is invalid."))
		return
	}
	ep := epBedrock
	if c.stream {
		ep = epBedrockStream
	}
	if !c.arrive(ep) {
		return
	}
	if seq, ok := admitAndWait(&c.call, req.charge(), errBedrockRefused, c.fail); ok {
		c.succeed(seq)
	}
}

// arrive counts the call's arrival on endpoint ep and plays what it meets
// (a stream may draw a mid-stream fault); false when that already answered
// the call.
func (c *bedrockCall) arrive(ep string) bool {
	return arrive(&c.call, onArrival[*bedrockError]{count: c.ks.arrivalsOn(ep), stream: c.stream,
		first:  func() *bedrockError { return errThrottled(msgThrottledRequests) },
		server: errBedrockInternal, unavailable: errBedrockUnavailable}, c.fail)
}

func errBedrockTooLarge(limit int64) *bedrockError {
	return &bedrockError{status: http.StatusRequestEntityTooLarge, typ: "ValidationException", outcome: outBadRequest,
		message: fmt.Sprintf("The request body exceeds the limit of %d bytes.", limit)}
}

// errThrottled is Bedrock's 429: no retry-after, the client backs off.
func errThrottled(message string) *bedrockError {
	return &bedrockError{status: http.StatusTooManyRequests, typ: "ThrottlingException", outcome: outRateLimited, message: message}
}

// errBedrockRefused is the 429 of a Converse call the rate-limit window refused,
// on requests or on tokens.
func errBedrockRefused(adm admission) *bedrockError {
	if adm.kind == limitRequests {
		return errThrottled(msgThrottledRequests)
	}
	return errThrottled(msgThrottledTokens)
}

func errBedrockInternal() *bedrockError {
	return &bedrockError{status: http.StatusInternalServerError, typ: "InternalServerException", outcome: outServerError,
		message: msgBedrockInternal}
}

func errBedrockUnavailable() *bedrockError {
	return &bedrockError{status: http.StatusServiceUnavailable, typ: "ServiceUnavailableException", outcome: outServerError,
		message: msgBedrockUnavailable}
}

// bedrockReply is the planned answer of a call.
type bedrockReply struct {
	text   replyPlan // the text, when calls is nil
	calls  *callPlan // the tool uses, nil for text
	ids    []string  // the tool use ids
	stop   string    // end_turn, max_tokens, tool_use or stop_sequence
	output int64
}

// plan decides the answer, as on the other endpoints: tool uses or text
// (quoting the tool results when the conversation ends with them). The
// text ends before the first stop sequence it contains; maxTokens cuts it
// (or the tool inputs).
func (c *bedrockCall) plan() *bedrockReply {
	req := c.req
	r := &bedrockReply{stop: "end_turn"}
	if picked := req.tools.pick(); len(picked) > 0 {
		invalid := req.tools.choice.forced() && c.e.cfg.invalidJSON(c.digest, c.k)
		cp := planCalls(picked, req.maxOut, req.hasMax, invalid)
		r.calls, r.stop, r.output, c.invalidJSON = &cp, "tool_use", cp.tokens, cp.invalid
		for j := range cp.calls {
			r.ids = append(r.ids, callID("tooluse_", req.promptHash, 0, j, 22))
		}
		if cp.capped {
			r.stop = "max_tokens"
		}
		return r
	}
	base := replyText(completionTarget(req.model, req.lastText))
	if req.tools.endsInTool {
		base = resultsText(req.tools.results)
	}
	stopped := false
	if cut := firstStop(base, req.stops); cut >= 0 {
		base, stopped = base[:cut], true
	}
	r.text = planText(base, req.maxOut, req.hasMax, nil, false)
	switch {
	case r.text.capped:
		r.stop = "max_tokens"
	case stopped:
		r.stop = "stop_sequence"
	}
	r.output = r.text.tokens
	return r
}

// firstStop is where the earliest of stops starts in text, -1 for none.
func firstStop(text string, stops []string) int {
	at := -1
	for _, s := range stops {
		if i := strings.Index(text, s); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	}
	return at
}

func (c *bedrockCall) succeed(seq uint64) {
	r := c.plan()
	c.settle(seq, r.output)
	if c.stream {
		c.streamConverse(r)
		return
	}
	b := make([]byte, 0, 256+4*r.output)
	b = append(b, `{"output":{"message":{"role":"assistant","content":[`...)
	if r.calls == nil {
		b = append(appendJSONString(append(b, `{"text":`...), r.text.text), '}')
	}
	for j, call := range r.calls.list() {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(append(b, `{"toolUse":{"toolUseId":`...), r.ids[j])
		b = appendJSONString(append(b, `,"name":`...), call.name)
		b = call.appendArgs(append(b, `,"input":`...))
		b = append(b, "}}"...)
	}
	b = append(b, `]}},"stopReason":"`...)
	b = append(b, r.stop...)
	b = append(b, `","usage":`...)
	b = c.appendUsage(b)
	b = append(b, `,"metrics":`...)
	b = c.appendMetrics(b)
	b = append(b, "}"...)
	c.setHeaders(c.w.Header())
	c.record(outOK, http.StatusOK)
	writeJSON(c.w, http.StatusOK, b)
}

// list is the plan's calls; none for a nil plan.
func (p *callPlan) list() []plannedCall {
	if p == nil {
		return nil
	}
	return p.calls
}

// appendUsage appends {"inputTokens","outputTokens","totalTokens"}.
func (c *bedrockCall) appendUsage(b []byte) []byte {
	b = append(b, `{"inputTokens":`...)
	b = strconv.AppendInt(b, c.promptTokens, 10)
	b = append(b, `,"outputTokens":`...)
	b = strconv.AppendInt(b, c.completionTokens, 10)
	b = append(b, `,"totalTokens":`...)
	b = strconv.AppendInt(b, c.promptTokens+c.completionTokens, 10)
	return append(b, '}')
}

// appendMetrics appends {"latencyMs": the handling time so far}.
func (c *bedrockCall) appendMetrics(b []byte) []byte {
	b = append(b, `{"latencyMs":`...)
	b = strconv.AppendInt(b, time.Since(c.start).Milliseconds(), 10)
	return append(b, '}')
}

// requestID is the call's x-amzn-RequestId, a UUID made of its ids.
func (c *bedrockCall) requestID() string {
	var h [32]byte
	x := appendHex(appendHex(h[:0], c.idA), c.idB)
	s := string(x)
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// setHeaders adds the header every answer carries, x-amzn-RequestId, in the
// case AWS writes it.
func (c *bedrockCall) setHeaders(h http.Header) {
	h[hdrAmznRequestID] = []string{c.requestID()}
}

// fail answers with an error after the configured latency.
func (c *bedrockCall) fail(be *bedrockError) {
	if !sleepCtx(c.r.Context(), c.e.cfg.delay(c.digest, c.k, false)) {
		c.record(outGone, 0)
		return
	}
	c.record(be.outcome, be.status)
	c.write(be)
}

// write sends an error answer: {"message": ...} and the exception in
// x-amzn-ErrorType.
func (c *bedrockCall) write(be *bedrockError) {
	h := c.w.Header()
	c.setHeaders(h)
	h[hdrAmznErrorType] = []string{be.typ + bedrockErrorNamespace}
	b := appendJSONString(append(make([]byte, 0, 16+len(be.message)), `{"message":`...), be.message)
	writeJSON(c.w, be.status, append(b, '}'))
}
