package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

const maxBodyBytes = 32 << 20

// outcome classifies a call for the statistics.
type outcome int

const (
	outOK outcome = iota
	outRateLimited
	outServerError
	outReset
	outQuota
	outAuth
	outBadRequest
	outSpecViolation
	outGone // the client left before an answer was due
)

type emulator struct {
	cfg    *config
	lim    limits
	alim   messagesLimits
	spec   *specValidator
	logger *log.Logger // nil unless --verbose
	start  time.Time
	idBase uint64
	ids    atomic.Uint64
	keys   registry
	recent recentLog
	otlp   otlpReceiver
	// The files and jobs of the batch APIs.
	batches batchStore
}

func newEmulator(cfg *config, stderr io.Writer) (*emulator, error) {
	e := &emulator{cfg: cfg, lim: newLimits(cfg.rpm, cfg.tpm, cfg.window), start: time.Now(),
		alim: newMessagesLimits(cfg.rpm, cfg.itpm, cfg.otpm, cfg.tpm, cfg.window)}
	var b [8]byte
	rand.Read(b[:])
	e.idBase = binary.LittleEndian.Uint64(b[:])
	if cfg.validateSpec != "" {
		spec, err := loadSpec(cfg.validateSpec)
		if err != nil {
			return nil, fmt.Errorf("--validate-spec: %w", err)
		}
		e.spec = spec
	}
	if cfg.verbose {
		e.logger = log.New(stderr, "", log.LstdFlags|log.Lmicroseconds)
	}
	return e, nil
}

func (e *emulator) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, methodError(r))
}

func methodError(r *http.Request) *apiError {
	return &apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error", outcome: outBadRequest,
		message: fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, r.URL.Path)}
}

// call is one request to the chat completions endpoint.
type call struct {
	e      *emulator
	w      http.ResponseWriter
	r      *http.Request
	start  time.Time
	idA    uint64
	idB    uint64
	key    string
	ks     *keyState
	digest bodyDigest
	k      uint64 // earlier arrivals of the same body from the same key

	stalled          bool
	invalidJSON      bool     // the reply is a deliberately invalid document
	mid              midFault // strikes half-way through a streaming answer
	model            string
	promptTokens     int64
	completionTokens int64
	cachedTokens     int64
	reasoningTokens  int64

	// batch is set when the call answers a line of a batch: no faults, rate
	// limits or delays, and its figures go to the batch, not the key's counters.
	batch *lineTally
}

func (e *emulator) serveChat(w http.ResponseWriter, r *http.Request) {
	c := &call{e: e, w: w, r: r, start: time.Now(), key: bearerKey(r), batch: batchOf(r)}
	body, ok := c.admitOpenAI(specSchema)
	if !ok {
		return
	}
	cfg := e.cfg
	req, aerr := parseChatRequest(body)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	c.model, c.promptTokens = req.model, req.promptTokens
	if len(cfg.knownModels) > 0 && !cfg.knownModels[req.model] {
		c.fail(&apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", outcome: outBadRequest,
			message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.model)})
		return
	}
	if cfg.flexUnavailable && req.serviceTier == "flex" && c.batch == nil {
		c.fail(errFlexUnavailable())
		return
	}
	refused := func(adm admission) *apiError { return e.rateLimitError(req.model, req.charge(), adm) }
	if !c.arriveOpenAI(c.ks.arrival, req.stream, refused) {
		return
	}
	if seq, ok := admitAndWait(c, req.charge(), refused, c.fail); ok {
		c.succeed(req, seq)
	}
}

// arriveOpenAI plays what the call meets on arrival, counted by count, at
// an OpenAI endpoint. refused answers a request the rate-limit window
// refused; where it is set, the endpoint applies --rate-limit-first and
// answers the first arrivals as refused on requests.
func (c *call) arriveOpenAI(count func(bodyDigest) uint64, stream bool, refused func(admission) *apiError) bool {
	a := onArrival[*apiError]{count: count, stream: stream, server: errServer, unavailable: errOverloaded}
	if refused != nil {
		wait := c.e.cfg.rateLimitWait
		a.first = func() *apiError { return refused(admission{kind: limitRequests, wait: wait}) }
	}
	return arrive(c, a, c.fail)
}

// arrival counts one more arrival of a body and returns the earlier count.
func (ks *keyState) arrival(d bodyDigest) uint64 {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	k := ks.seen[d]
	if k == 0 && len(ks.seen) >= maxSeenBodies {
		clear(ks.seen)
	}
	ks.seen[d] = k + 1
	return k
}

// arrivalOn counts one more arrival of a body at endpoint ep and returns
// the earlier count. Each endpoint counts on its own.
func (ks *keyState) arrivalOn(ep string, d bodyDigest) uint64 {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.eseen == nil {
		ks.eseen = make(map[string]map[bodyDigest]uint64)
	}
	seen := ks.eseen[ep]
	if seen == nil {
		seen = make(map[bodyDigest]uint64)
		ks.eseen[ep] = seen
	}
	k := seen[d]
	if k == 0 && len(seen) >= maxSeenBodies {
		clear(seen)
	}
	seen[d] = k + 1
	return k
}

func (ks *keyState) admit(l limits, charge int64) admission {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.win.admit(time.Now(), l, charge)
}

func (c *call) succeed(req *chatRequest, seq uint64) {
	choices := c.planChat(req)
	for _, ch := range choices {
		c.completionTokens += ch.tokens()
	}
	c.reasoningTokens = reasoningTokens(req.model, c.completionTokens)

	ks := c.ks
	ks.mu.Lock()
	seen := req.promptTokens >= 1024 && ks.cache.seenBefore(req.promptHash)
	if seq != 0 {
		ks.win.reconcile(seq, req.promptTokens+c.completionTokens)
	}
	ks.mu.Unlock()
	c.cachedTokens = cachedTokens(req.promptTokens, seen)

	if req.stream {
		c.streamChat(req, choices)
		return
	}
	b := make([]byte, 0, 768+4*c.completionTokens)
	b = append(b, `{"id":"`...)
	b = appendCompletionID(b, c.idA, c.idB)
	b = append(b, `","object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, time.Now().Unix(), 10)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, req.model)
	b = append(b, `,"choices":[`...)
	for i, ch := range choices {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"message":{"role":"assistant","content":`...)
		if ch.calls != nil {
			b = append(b, `null,"tool_calls":[`...)
			for j, call := range ch.calls.calls {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendChatToolCall(b, ch.ids[j], call)
			}
			b = append(b, ']')
		} else {
			b = appendJSONString(b, ch.text.text)
		}
		b = append(b, `,"refusal":null,"annotations":[]},"logprobs":`...)
		b = ch.appendLogprobs(b, req, 0, len(ch.text.text))
		b = append(b, `,"finish_reason":"`...)
		b = append(b, ch.finish...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"usage":`...)
	b = c.appendChatUsage(b)
	b = append(b, `,"service_tier":"`...)
	b = append(b, servedTier(req.serviceTier)...)
	b = append(b, `","system_fingerprint":"fp_emulator"}`+"\n"...)

	c.setHeaders(c.w.Header())
	c.record(outOK, http.StatusOK)
	writeJSON(c.w, http.StatusOK, b)
}

// appendChatUsage appends the chat completions usage object of the call.
func (c *call) appendChatUsage(b []byte) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, c.promptTokens, 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, c.completionTokens, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, c.promptTokens+c.completionTokens, 10)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, c.cachedTokens, 10)
	b = append(b, `,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":`...)
	b = strconv.AppendInt(b, c.reasoningTokens, 10)
	return append(b, `,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`...)
}

// fail answers with an error after the configured latency.
func (c *call) fail(ae *apiError) {
	cfg := c.e.cfg
	if !sleepCtx(c.r.Context(), c.delay(false)) {
		c.record(outGone, 0)
		return
	}
	h := c.w.Header()
	c.setHeaders(h)
	if ae.retryAfter && !cfg.noRetryAfter {
		h.Set("Retry-After", strconv.FormatInt(ceilSeconds(ae.wait), 10))
		h.Set("Retry-After-Ms", strconv.FormatInt(ceilMillis(ae.wait), 10))
	}
	if cfg.shouldRetry {
		retry := (ae.status >= 500 || ae.status == http.StatusTooManyRequests) && !ae.noRetry
		h.Set("X-Should-Retry", strconv.FormatBool(retry))
	}
	c.record(ae.outcome, ae.status)
	writeError(c.w, ae)
}

// reset drops the connection without an answer: an RST on HTTP/1.1, a
// stream reset on HTTP/2.
func (c *call) reset() {
	c.record(outReset, 0)
	conn, _, err := http.NewResponseController(c.w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// setHeaders adds the headers every answer of the endpoint carries.
func (c *call) setHeaders(h http.Header) {
	e := c.e
	var id [36]byte
	h.Set("X-Request-Id", string(appendHex(appendHex(append(id[:0], "req_"...), c.idA), c.idB)))
	h.Set("Openai-Version", "2020-10-01")
	h.Set("Openai-Organization", "org-emulator")
	h.Set("Openai-Processing-Ms", strconv.FormatInt(time.Since(c.start).Milliseconds(), 10))
	if !e.lim.enabled() {
		return
	}
	c.ks.mu.Lock()
	s := c.ks.win.snapshot(time.Now(), e.lim)
	c.ks.mu.Unlock()
	if e.lim.reqCap > 0 {
		h.Set("X-Ratelimit-Limit-Requests", strconv.FormatInt(e.lim.reqCap, 10))
		h.Set("X-Ratelimit-Remaining-Requests", strconv.FormatInt(s.remainingRequests, 10))
		h.Set("X-Ratelimit-Reset-Requests", formatReset(s.reset))
	}
	if e.lim.tokCap > 0 {
		h.Set("X-Ratelimit-Limit-Tokens", strconv.FormatInt(e.lim.tokCap, 10))
		h.Set("X-Ratelimit-Remaining-Tokens", strconv.FormatInt(s.remainingTokens, 10))
		h.Set("X-Ratelimit-Reset-Tokens", formatReset(s.reset))
	}
}

// record updates the statistics; it runs before the answer is written so
// that a client reading the stats right after its answer sees the call.
func (c *call) record(o outcome, status int) {
	if c.batch != nil {
		c.batch.note(c, o, status)
		return
	}
	ks := c.ks
	ks.mu.Lock()
	st := &ks.stats
	if c.stalled {
		st.Stalls++
	}
	switch o {
	case outOK:
		st.OK++
		if c.invalidJSON {
			st.InvalidJSON++
		}
		st.PromptTokens += c.promptTokens
		st.CompletionTokens += c.completionTokens
		st.CachedTokens += c.cachedTokens
		st.ReasoningTokens += c.reasoningTokens
		mc := ks.models[c.model]
		if mc == nil {
			mc = &modelCounters{}
			ks.models[c.model] = mc
		}
		mc.OK++
		mc.PromptTokens += c.promptTokens
		mc.CompletionTokens += c.completionTokens
		mc.CachedTokens += c.cachedTokens
		mc.ReasoningTokens += c.reasoningTokens
	case outRateLimited:
		st.RateLimited++
	case outServerError:
		st.ServerErrors++
	case outReset:
		st.Resets++
	case outQuota:
		st.QuotaErrors++
	case outAuth:
		st.AuthErrors++
	case outBadRequest:
		st.BadRequests++
	case outSpecViolation:
		st.BadRequests++
		st.SpecViolations++
	}
	ks.mu.Unlock()

	completion := int64(0)
	if o == outOK {
		completion = c.completionTokens
	}
	c.e.recent.add(recentCall{Key: maskKey(c.key), Model: c.model, Status: status,
		PromptTokens: c.promptTokens, CompletionTokens: completion, AtMs: c.e.sinceStart(c.start),
		Traceparent: c.r.Header.Get("traceparent")})
	if c.e.logger != nil {
		c.e.logger.Printf("%s %s %s key=%s model=%q status=%d outcome=%d prompt=%d completion=%d %v",
			c.r.Proto, c.r.Method, c.r.URL.Path, maskKey(c.key), c.model, status, o,
			c.promptTokens, completion, time.Since(c.start).Round(time.Microsecond))
	}
}

func bearerKey(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

func errMissingKey() *apiError {
	return &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", outcome: outAuth,
		message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth " +
			"(i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API " +
			"from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys."}
}

func errInvalidKey(key string) *apiError {
	return &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key", outcome: outAuth,
		message: fmt.Sprintf("Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.", maskKey(key))}
}

func errQuota() *apiError {
	return &apiError{status: http.StatusTooManyRequests, typ: "insufficient_quota", code: "insufficient_quota", outcome: outQuota, noRetry: true,
		message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, " +
			"read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."}
}

// errBodyTooLarge is OpenAI's 413 for a body over limit bytes.
func errBodyTooLarge(limit int64) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", outcome: outBadRequest,
		message: fmt.Sprintf("Request body too large: the limit is %d bytes.", limit)}
}

func errServer() *apiError {
	return &apiError{status: http.StatusInternalServerError, typ: "server_error", outcome: outServerError,
		message: "The server had an error while processing your request. Sorry about that!"}
}

func errOverloaded() *apiError {
	return &apiError{status: http.StatusServiceUnavailable, typ: "server_error", outcome: outServerError,
		message: "The engine is currently overloaded, please try again later"}
}

// errFlexUnavailable is the 429 of a flex request when flex processing has
// no capacity: it costs nothing and may be retried shortly.
func errFlexUnavailable() *apiError {
	return &apiError{status: http.StatusTooManyRequests, typ: "invalid_request_error", code: "resource_unavailable",
		outcome: outRateLimited, retryAfter: true, wait: time.Second,
		message: "Resource unavailable. Please try again later."}
}

func (e *emulator) rateLimitError(model string, charge int64, adm admission) *apiError {
	ae := &apiError{status: http.StatusTooManyRequests, code: "rate_limit_exceeded", outcome: outRateLimited}
	const more = " Visit https://platform.openai.com/account/rate-limits to learn more."
	switch adm.kind {
	case limitTooLarge:
		ae.typ = "tokens"
		ae.noRetry = true
		ae.message = fmt.Sprintf("Request too large for %s in organization org-emulator on tokens per min (TPM): Limit %d, Requested %d. "+
			"The input or output tokens must be reduced in order to run successfully."+more, model, e.lim.tokCap, charge)
	case limitRequests:
		ae.typ = "requests"
		ae.retryAfter, ae.wait = true, adm.wait
		ae.message = fmt.Sprintf("Rate limit reached for %s in organization org-emulator on requests per min (RPM): Limit %d, Used %d, Requested 1. "+
			"Please try again in %s."+more, model, e.lim.reqCap, adm.used, formatReset(adm.wait))
	default:
		ae.typ = "tokens"
		ae.retryAfter, ae.wait = true, adm.wait
		ae.message = fmt.Sprintf("Rate limit reached for %s in organization org-emulator on tokens per min (TPM): Limit %d, Used %d, Requested %d. "+
			"Please try again in %s."+more, model, e.lim.tokCap, adm.used, charge, formatReset(adm.wait))
	}
	return ae
}

func (e *emulator) nextIDs() (uint64, uint64) {
	a := mix64(e.idBase + e.ids.Add(1))
	return a, mix64(a ^ 0x9e3779b97f4a7c15)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func appendBase62(b []byte, v uint64, width int) []byte {
	for i := 0; i < width; i++ {
		b = append(b, base62[v%62])
		v /= 62
	}
	return b
}

// appendCompletionID appends "chatcmpl-" and 29 characters, unique per call.
func appendCompletionID(b []byte, a, c uint64) []byte {
	b = append(b, "chatcmpl-"...)
	b = appendBase62(b, a, 11)
	b = appendBase62(b, c, 11)
	return appendBase62(b, mix64(c), 7)
}

func appendHex(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		b = append(b, digits[(v>>uint(i))&0xf])
	}
	return b
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 0x20 && ch != '"' && ch != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch ch {
		case '"', '\\':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// errorBody renders {"error":{"message":..,"type":..,"param":..,"code":..}}.
func errorBody(ae *apiError) []byte {
	b := make([]byte, 0, 128+len(ae.message))
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, ae.message)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, ae.typ)
	b = append(b, `,"param":`...)
	b = appendNullable(b, ae.param)
	b = append(b, `,"code":`...)
	b = appendNullable(b, ae.code)
	return append(b, "}}\n"...)
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

func writeError(w http.ResponseWriter, ae *apiError) {
	writeJSON(w, ae.status, errorBody(ae))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// admitOpenAI runs what every OpenAI-shaped endpoint does before reading its own
// request: count the arrival, check the method, read the body (bounded), take its digest
// for the fault draws, check the key and validate the body against the named schema of
// the OpenAPI document. False when it already answered.
func (c *call) admitOpenAI(schema string) ([]byte, bool) {
	e, w, r := c.e, c.w, c.r
	c.receive()

	if r.Method != http.MethodPost {
		c.fail(methodError(r))
		return nil, false
	}
	body, ok := readBody(w, r, maxBodyBytes, errBodyTooLarge, c.fail, c.gone)
	if !ok {
		return nil, false
	}
	cfg := e.cfg
	if cfg.needsDigest() {
		c.digest = digestBody(body)
	}

	switch {
	case c.key == "":
		c.fail(errMissingKey())
		return nil, false
	case cfg.invalidKeys[c.key]:
		c.fail(errInvalidKey(c.key))
		return nil, false
	case cfg.quotaKeys[c.key]:
		c.fail(errQuota())
		return nil, false
	}
	if e.spec != nil {
		if aerr := e.spec.validate(schema, body); aerr != nil {
			c.fail(aerr)
			return nil, false
		}
	}
	return body, true
}
