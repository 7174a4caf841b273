package main

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Google's Gemini API: POST /v1beta/models/{model}:generateContent and
// POST /v1beta/models/{model}:streamGenerateContent?alt=sse (the
// embeddings methods, embedContent and batchEmbedContents, are in
// gemini_embed.go). The key comes in x-goog-api-key (or the key query
// parameter) and names the statistics and rate-limit key. The endpoint
// shares the key registry, the chat completions rate-limit window, the
// fault decisions and the token formula with the others; arrivals are
// counted per endpoint (the two methods apart) and per model. Errors have Google's shape,
// {"error":{"code","message","status","details"?}}; answers carry no
// rate-limit headers and no retry-after: a rate-limited answer says when
// to retry in a google.rpc.RetryInfo detail.

const (
	epGemini       = "gemini"
	epGeminiStream = "gemini-stream"
	geminiPrefix   = "/v1beta/models/"
)

// geminiCall is one generateContent or streamGenerateContent request.
type geminiCall struct {
	call
	req    *geminiRequest
	method string // generateContent or streamGenerateContent
}

// geminiRoute splits a /v1beta/models/{model}:{method} path. The model
// may carry its "models/" prefix once more; it is removed.
func geminiRoute(path string) (model, method string, ok bool) {
	rest, ok := strings.CutPrefix(path, geminiPrefix)
	i := strings.LastIndexByte(rest, ':')
	if !ok || i < 0 {
		return "", "", false
	}
	model, method = strings.TrimPrefix(rest[:i], "models/"), rest[i+1:]
	if model == "" || strings.Contains(model, "/") || !contains(geminiMethods, method) {
		return "", "", false
	}
	return model, method, true
}

// geminiMethods are the methods served under /v1beta/models/{model}.
var geminiMethods = []string{"generateContent", "streamGenerateContent", "embedContent", "batchEmbedContents"}

func (e *emulator) serveGemini(w http.ResponseWriter, r *http.Request) {
	model, method, ok := geminiRoute(r.URL.Path)
	if !ok {
		writeGeminiJSON(w, http.StatusNotFound, (&geminiError{status: http.StatusNotFound, state: "NOT_FOUND",
			message: fmt.Sprintf("Method not found: %s %s", r.Method, r.URL.Path)}).body())
		return
	}
	key := r.Header.Get("X-Goog-Api-Key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	c := &geminiCall{call: call{e: e, w: w, r: r, start: time.Now(), key: key, model: model}, method: method}
	c.receive()

	if r.Method != http.MethodPost {
		c.fail(&geminiError{status: http.StatusNotFound, state: "NOT_FOUND", outcome: outBadRequest,
			message: fmt.Sprintf("Method not found: %s %s", r.Method, r.URL.Path)})
		return
	}
	body, ok := readBody(w, r, maxBodyBytes, errGeminiTooLarge, c.fail, c.gone)
	if !ok {
		return
	}
	c.digestWithModel(body)
	cfg := e.cfg

	switch {
	case c.key == "":
		c.fail(&geminiError{status: http.StatusForbidden, state: "PERMISSION_DENIED", outcome: outAuth,
			message: "Method doesn't allow unregistered callers (callers without established identity). " +
				"Please use API Key or other form of API consumer identity to call this API."})
		return
	case cfg.invalidKeys[c.key]:
		c.fail(errGeminiInvalidKey())
		return
	case cfg.quotaKeys[c.key]:
		c.fail(errGeminiQuota(model))
		return
	}
	if method == "embedContent" || method == "batchEmbedContents" {
		c.embed(body)
		return
	}
	stream := method == "streamGenerateContent"
	if stream && r.URL.Query().Get("alt") != "sse" {
		c.fail(geminiBad("Only server-sent events are emulated for streamGenerateContent: add the query parameter alt=sse."))
		return
	}
	req, ge := parseGeminiRequest(model, stream, body)
	if ge != nil {
		c.fail(ge)
		return
	}
	c.req = req
	c.promptTokens = req.promptTokens
	if len(cfg.knownModels) > 0 && !cfg.knownModels[model] {
		c.fail(errGeminiModelNotFound(model, method))
		return
	}

	ep := epGemini
	if stream {
		ep = epGeminiStream
	}
	if !c.arrive(ep, stream) {
		return
	}
	if seq, ok := c.admitAndWait(req.charge()); ok {
		c.succeed(seq)
	}
}

// arrive counts the arrival at endpoint ep for the fault draws and applies
// --rate-limit-first and the fault drawn (for a stream, also the
// mid-stream fault). False when it already answered.
func (c *geminiCall) arrive(ep string, stream bool) bool {
	wait := c.e.cfg.rateLimitWait
	return arrive(&c.call, onArrival[*geminiError]{count: c.ks.arrivalsOn(ep), stream: stream,
		first:  func() *geminiError { return errGeminiRateLimited(wait) },
		server: errGeminiInternal, unavailable: errGeminiUnavailable}, c.fail)
}

// admitAndWait charges the rate-limit window charge tokens and holds the
// answer; false when it already answered.
func (c *geminiCall) admitAndWait(charge int64) (uint64, bool) {
	return admitAndWait(&c.call, charge, func(adm admission) *geminiError {
		return c.e.geminiRateLimitError(c.model, charge, adm)
	}, c.fail)
}

func errGeminiUnavailable() *geminiError {
	return &geminiError{status: http.StatusServiceUnavailable, state: "UNAVAILABLE", outcome: outServerError,
		message: "The model is overloaded. Please try again later."}
}

// errGeminiModelNotFound is the 404 of a model outside --known-models.
func errGeminiModelNotFound(model, method string) *geminiError {
	return &geminiError{status: http.StatusNotFound, state: "NOT_FOUND", outcome: outBadRequest,
		message: fmt.Sprintf("models/%s is not found for API version v1beta, or is not supported for %s. "+
			"Call ListModels to see the list of available models and their supported methods.", model, method)}
}

func errGeminiTooLarge(limit int64) *geminiError {
	return geminiBad("Request payload size exceeds the limit: %d bytes.", limit)
}

func errGeminiInvalidKey() *geminiError {
	return &geminiError{status: http.StatusBadRequest, state: "INVALID_ARGUMENT", outcome: outAuth,
		message: "API key not valid. Please pass a valid API key.",
		details: []byte(`[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]`)}
}

// errGeminiQuota is the 429 of a key whose quota is used up: a
// QuotaFailure and no RetryInfo, since retrying soon will not help.
func errGeminiQuota(model string) *geminiError {
	d := []byte(`[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":` +
		`"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":` +
		`"GenerateRequestsPerDayPerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":`)
	d = appendJSONString(d, model)
	d = append(d, `},"quotaValue":"0"}]},{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":`+
		`"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]}]`...)
	return &geminiError{status: http.StatusTooManyRequests, state: "RESOURCE_EXHAUSTED", outcome: outQuota, details: d,
		message: "You exceeded your current quota, please check your plan and billing details. " +
			"For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."}
}

func errGeminiInternal() *geminiError {
	return &geminiError{status: http.StatusInternalServerError, state: "INTERNAL", outcome: outServerError,
		message: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"}
}

// errGeminiRateLimited is the 429 of a rate limit that lifts after wait,
// with a RetryInfo detail saying so.
func errGeminiRateLimited(wait time.Duration) *geminiError {
	d := append([]byte(`[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"`), geminiDelay(wait)...)
	return &geminiError{status: http.StatusTooManyRequests, state: "RESOURCE_EXHAUSTED", outcome: outRateLimited,
		message: "Resource has been exhausted (e.g. check quota).", details: append(d, `"}]`...)}
}

// geminiDelay renders a wait as a google.protobuf.Duration in JSON:
// seconds with up to 3 decimals and an "s", e.g. "1.5s", rounded up to
// the millisecond.
func geminiDelay(wait time.Duration) string {
	ms := ceilMillis(wait)
	return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) + "s"
}

// geminiRateLimitError is the answer to a request the window refused: a
// RetryInfo 429, or for a request larger than the whole token allowance a
// QuotaFailure 429 without RetryInfo.
func (e *emulator) geminiRateLimitError(model string, charge int64, adm admission) *geminiError {
	if adm.kind != limitTooLarge {
		return errGeminiRateLimited(adm.wait)
	}
	d := []byte(`[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":` +
		`"generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count","quotaId":` +
		`"GenerateContentPaidTierInputTokensPerModelPerMinute","quotaDimensions":{"location":"global","model":`)
	d = appendJSONString(d, model)
	d = append(d, `},"quotaValue":"`...)
	d = strconv.AppendInt(d, e.lim.tokCap, 10)
	d = append(d, `"}]}]`...)
	return &geminiError{status: http.StatusTooManyRequests, state: "RESOURCE_EXHAUSTED", outcome: outRateLimited, details: d,
		message: fmt.Sprintf("Resource has been exhausted (e.g. check quota). The request needs %d tokens; the limit is %d per window.", charge, e.lim.tokCap)}
}

// fail answers with an error after the configured latency.
func (c *geminiCall) fail(ge *geminiError) {
	if !sleepCtx(c.r.Context(), c.e.cfg.delay(c.digest, c.k, false)) {
		c.record(outGone, 0)
		return
	}
	c.setHeaders(c.w.Header())
	c.record(ge.outcome, ge.status)
	writeGeminiJSON(c.w, ge.status, append(ge.body(), '\n'))
}

// setHeaders adds the headers every answer carries: the server timing.
func (c *geminiCall) setHeaders(h http.Header) {
	h.Set("Server-Timing", "gfet4t7; dur="+strconv.FormatInt(time.Since(c.start).Milliseconds(), 10))
	h.Set("Vary", "Origin, X-Origin, Referer")
}

func writeGeminiJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// geminiCandidate is one planned candidate: text, or function calls.
type geminiCandidate struct {
	text   replyPlan // the text, when calls is nil
	calls  *callPlan // the function calls, nil for text
	finish string    // STOP or MAX_TOKENS
}

func (cd *geminiCandidate) tokens() int64 {
	if cd.calls != nil {
		return cd.calls.tokens
	}
	return cd.text.tokens
}

// geminiReply is the planned answer of a call.
type geminiReply struct {
	thought   string // the thought summary (includeThoughts), shown in the first candidate
	thoughts  int64  // thoughtsTokenCount
	signature string // the thoughtSignature of the first function call, when thinking
	cands     []geminiCandidate
	out       int64 // candidatesTokenCount: all candidates
}

// plan decides the answer: the thinking (shared by the candidates), then
// for each candidate function calls or text (quoting the function
// responses when the conversation ends with them). maxOutputTokens caps
// the thinking and each candidate's output together.
func (c *geminiCall) plan() *geminiReply {
	req := c.req
	r := &geminiReply{}
	room := req.maxOut
	if req.thinking {
		limit := int64(math.MaxInt64)
		if req.budget > 0 {
			limit = req.budget
		}
		if req.hasMax {
			limit = min(limit, room)
		}
		r.thoughts = thinkingTokens(req.model, req.lastText, limit)
		room = max(0, room-r.thoughts)
		text := thinkingText(r.thoughts)
		if req.thoughts {
			r.thought = text
		}
		r.signature = thinkingSignature(text)
	}
	picked := req.tools.pick()
	wantsJSON := len(picked) > 0 && req.tools.choice.forced() || len(picked) == 0 && req.format != nil
	invalid := wantsJSON && c.e.cfg.invalidJSON(c.digest, c.k)
	c.invalidJSON = invalid

	base := replyText(completionTarget(req.model, req.lastText))
	if req.tools.endsInTool {
		base = resultsText(req.tools.results)
	}
	r.cands = make([]geminiCandidate, req.n)
	for i := range r.cands {
		cd := &r.cands[i]
		cd.finish = "STOP"
		switch {
		case len(picked) > 0:
			cp := planCalls(picked, room, req.hasMax, invalid)
			cd.calls = &cp
			if cp.capped {
				cd.finish = "MAX_TOKENS"
			}
		case req.enumValue != nil:
			cd.text = planText(*req.enumValue, room, req.hasMax, nil, false)
		default:
			cd.text = planText(base+choiceSuffix(i), room, req.hasMax, req.format, invalid)
		}
		if cd.calls == nil && cd.text.capped {
			cd.finish = "MAX_TOKENS"
		}
		r.out += cd.tokens()
	}
	return r
}

func (c *geminiCall) succeed(seq uint64) {
	req := c.req
	r := c.plan()
	c.settle(seq, r.out+r.thoughts)
	c.reasoningTokens = r.thoughts
	if req.cached {
		c.cachedTokens = req.promptTokens / 2
	}
	if req.stream {
		c.stream(r)
		return
	}
	b := make([]byte, 0, 512+4*c.completionTokens)
	b = append(b, `{"candidates":[`...)
	for i := range r.cands {
		if i > 0 {
			b = append(b, ',')
		}
		cd := &r.cands[i]
		var parts [][]byte
		if i == 0 && r.thought != "" {
			parts = append(parts, geminiTextPart(r.thought, true))
		}
		parts = append(parts, r.answerParts(cd)...)
		var lp []byte
		if req.logprobs && cd.calls == nil {
			lp = appendGeminiLogprobs(nil, cd.text.text, 0, len(cd.text.text), req.topLogprobs, true)
		}
		b = appendGeminiCandidate(b, i, parts, cd.finish, lp)
	}
	b = c.tail(append(b, ']'), r.out, r.thoughts)
	c.setHeaders(c.w.Header())
	c.record(outOK, http.StatusOK)
	writeGeminiJSON(c.w, http.StatusOK, append(b, '\n'))
}

// answerParts are a candidate's parts after the thought: one functionCall
// part per call (the first with the thoughtSignature), or one text part
// (none for an empty text).
func (r *geminiReply) answerParts(cd *geminiCandidate) [][]byte {
	var parts [][]byte
	if cd.calls != nil {
		for j, call := range cd.calls.calls {
			sig := ""
			if j == 0 {
				sig = r.signature
			}
			parts = append(parts, geminiCallPart(call, sig))
		}
		return parts
	}
	if cd.text.text != "" {
		parts = append(parts, geminiTextPart(cd.text.text, false))
	}
	return parts
}

// geminiTextPart is {"text":..} or, for a thought, {"text":..,"thought":true}.
func geminiTextPart(text string, thought bool) []byte {
	b := appendJSONString([]byte(`{"text":`), text)
	if thought {
		b = append(b, `,"thought":true`...)
	}
	return append(b, '}')
}

// geminiCallPart is {"functionCall":{"name","args"}} with the
// thoughtSignature when sig is set. Arguments the cap cut short are {}.
func geminiCallPart(call plannedCall, sig string) []byte {
	b := appendJSONString([]byte(`{"functionCall":{"name":`), call.name)
	b = call.appendArgs(append(b, `,"args":`...))
	b = append(b, '}')
	if sig != "" {
		b = appendJSONString(append(b, `,"thoughtSignature":`...), sig)
	}
	return append(b, '}')
}

// appendGeminiCandidate appends {"content":{"parts":[..],"role":"model"},
// "finishReason":..,logprobs,"index":i}. Without parts the content has
// none (as Google sends it when the cap left no room); without a finish
// reason (a stream chunk before the last) finishReason is left out. lp
// holds the logprob members, with their leading comma.
func appendGeminiCandidate(b []byte, i int, parts [][]byte, finish string, lp []byte) []byte {
	b = append(b, `{"content":{`...)
	if len(parts) > 0 {
		b = append(b, `"parts":[`...)
		for j, p := range parts {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, p...)
		}
		b = append(b, "],"...)
	}
	b = append(b, `"role":"model"}`...)
	if finish != "" {
		b = append(append(append(b, `,"finishReason":"`...), finish...), '"')
	}
	b = append(b, lp...)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(i), 10)
	return append(b, '}')
}

// tail appends the members after the candidates: the usage for out
// candidate tokens and thoughts thought tokens, the model version and the
// response id, and closes the object.
func (c *geminiCall) tail(b []byte, out, thoughts int64) []byte {
	p := c.promptTokens
	b = append(b, `,"usageMetadata":{"promptTokenCount":`...)
	b = strconv.AppendInt(b, p, 10)
	b = append(b, `,"candidatesTokenCount":`...)
	b = strconv.AppendInt(b, out, 10)
	b = append(b, `,"totalTokenCount":`...)
	b = strconv.AppendInt(b, p+out+thoughts, 10)
	if c.req.cached {
		b = append(b, `,"cachedContentTokenCount":`...)
		b = strconv.AppendInt(b, c.cachedTokens, 10)
	}
	if c.req.thinking {
		b = append(b, `,"thoughtsTokenCount":`...)
		b = strconv.AppendInt(b, thoughts, 10)
	}
	b = append(b, `},"modelVersion":`...)
	b = appendJSONString(b, c.req.model)
	b = append(b, `,"responseId":"`...)
	b = appendBase62(b, c.idA, 11)
	b = appendBase62(b, c.idB, 11)
	return append(b, `"}`...)
}

// appendGeminiLogprobs appends ,"avgLogprobs" (with avg) and
// ,"logprobsResult":{"topCandidates"?,"chosenCandidates"} for the tokens of
// text that start within [from, to). The figures are those of the chat
// completions logprobs: the same tokens, logprobs and alternatives.
func appendGeminiLogprobs(b []byte, text string, from, to int, top int64, avg bool) []byte {
	var chosen, tops []byte
	var sum int64
	n := 0
	for start := (from + 3) / 4 * 4; start < to && start < len(text); start += 4 {
		tok := text[start:min(start+4, len(text))]
		milli := tokenMilli(tok, start/4)
		if n > 0 {
			chosen, tops = append(chosen, ','), append(tops, ',')
		}
		sum, n = sum+milli, n+1
		chosen = appendGeminiLogprob(chosen, tok, milli)
		tops = append(tops, `{"candidates":[`...)
		alt := int(milli) % len(altTokens)
		for j := int64(0); j < top; j++ {
			if j > 0 {
				tops = append(tops, ',')
			}
			if j == 0 {
				tops = appendGeminiLogprob(tops, tok, milli)
				continue
			}
			if altTokens[alt%len(altTokens)] == tok {
				alt++
			}
			tops = appendGeminiLogprob(tops, altTokens[alt%len(altTokens)], milli+500*j)
			alt++
		}
		tops = append(tops, "]}"...)
	}
	if avg && n > 0 {
		b = append(b, `,"avgLogprobs":`...)
		b = strconv.AppendFloat(b, -float64(sum)/float64(n)/1000, 'g', -1, 64)
	}
	b = append(b, `,"logprobsResult":{`...)
	if top > 0 {
		b = append(append(append(b, `"topCandidates":[`...), tops...), "],"...)
	}
	b = append(append(append(b, `"chosenCandidates":[`...), chosen...), "]}"...)
	return b
}

// appendGeminiLogprob appends {"token","tokenId","logProbability"}.
func appendGeminiLogprob(b []byte, tok string, milli int64) []byte {
	b = appendJSONString(append(b, `{"token":`...), tok)
	b = append(b, `,"tokenId":`...)
	b = strconv.AppendUint(b, fnv1a64(tok)%256000, 10)
	b = append(b, `,"logProbability":`...)
	b = strconv.AppendFloat(b, -float64(milli)/1000, 'f', -1, 64)
	return append(b, '}')
}
