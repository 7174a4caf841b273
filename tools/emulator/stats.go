package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// keyState is everything remembered about one API key. One mutex guards it;
// it is never held while waiting.
type keyState struct {
	mu     sync.Mutex
	win    window
	stats  keyCounters
	models map[string]*modelCounters
	seen   map[bodyDigest]uint64 // arrivals per body, for fault decisions
	cache  promptCache

	// The /v1/messages endpoint's own window and arrival counts, and the
	// prefixes its cache_control breakpoints cached.
	awin     messagesWindow
	aseen    map[bodyDigest]uint64
	prefixes prefixCache

	// Arrival counts of the other endpoints, by endpoint.
	eseen map[string]map[bodyDigest]uint64
	// Stored /v1/responses answers, for previous_response_id.
	responses responseStore
	// The batch APIs' enqueued tokens, custom_ids and statistics.
	batch batchAccount
}

type keyCounters struct {
	Received         int64 `json:"received"`
	OK               int64 `json:"ok"`
	RateLimited      int64 `json:"rate_limited"`
	ServerErrors     int64 `json:"server_errors"`
	Resets           int64 `json:"resets"`
	Stalls           int64 `json:"stalls"`
	QuotaErrors      int64 `json:"quota_errors"`
	AuthErrors       int64 `json:"auth_errors"`
	BadRequests      int64 `json:"bad_requests"`
	SpecViolations   int64 `json:"spec_violations"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	CachedTokens     int64 `json:"cached_tokens"`
	ReasoningTokens  int64 `json:"reasoning_tokens"`
	InvalidJSON      int64 `json:"invalid_json"`
	// W3C trace context: requests that carried a traceparent header, and the last one.
	Traced          int64  `json:"traced"`
	LastTraceparent string `json:"last_traceparent"`
	LastTracestate  string `json:"last_tracestate"`
}

// noteTrace counts a request's W3C trace context headers. Called with ks.mu held.
func (ks *keyState) noteTrace(r *http.Request) {
	if tp := r.Header.Get("traceparent"); tp != "" {
		ks.stats.Traced++
		ks.stats.LastTraceparent = tp
		ks.stats.LastTracestate = r.Header.Get("tracestate")
	}
}

type modelCounters struct {
	OK               int64 `json:"ok"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	CachedTokens     int64 `json:"cached_tokens"`
	ReasoningTokens  int64 `json:"reasoning_tokens"`
}

// keyReport is the JSON form of one key's statistics.
type keyReport struct {
	keyCounters
	PeakWindowRequests     int64                    `json:"peak_window_requests"`
	PeakWindowTokens       int64                    `json:"peak_window_tokens"`
	PeakWindowInputTokens  int64                    `json:"peak_window_input_tokens"`
	PeakWindowOutputTokens int64                    `json:"peak_window_output_tokens"`
	ReqCap                 int64                    `json:"req_cap"`
	TokCap                 int64                    `json:"tok_cap"`
	ITPMCap                int64                    `json:"itpm_cap"`
	OTPMCap                int64                    `json:"otpm_cap"`
	Models                 map[string]modelCounters `json:"models"`
	Batches                batchReport              `json:"batches"`
}

// promptCache remembers recent long prompts of one key (bounded, oldest
// forgotten first).
type promptCache struct {
	set  map[uint64]struct{}
	ring []uint64
	pos  int
}

const promptCacheSize = 10000

// seenBefore reports whether h was remembered, and remembers it.
func (c *promptCache) seenBefore(h uint64) bool {
	if _, ok := c.set[h]; ok {
		return true
	}
	if c.set == nil {
		c.set = make(map[uint64]struct{})
	}
	if len(c.ring) < promptCacheSize {
		c.ring = append(c.ring, h)
	} else {
		delete(c.set, c.ring[c.pos])
		c.ring[c.pos] = h
		c.pos = (c.pos + 1) % promptCacheSize
	}
	c.set[h] = struct{}{}
	return false
}

// registry maps API keys to their state.
type registry struct {
	mu   sync.RWMutex
	keys map[string]*keyState
}

func (r *registry) get(key string) *keyState {
	r.mu.RLock()
	ks := r.keys[key]
	r.mu.RUnlock()
	if ks != nil {
		return ks
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ks = r.keys[key]; ks == nil {
		if r.keys == nil {
			r.keys = make(map[string]*keyState)
		}
		ks = &keyState{models: make(map[string]*modelCounters), seen: make(map[bodyDigest]uint64)}
		r.keys[key] = ks
	}
	return ks
}

func (r *registry) lookup(key string) *keyState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.keys[key]
}

func (r *registry) snapshot() map[string]*keyState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := make(map[string]*keyState, len(r.keys))
	for k, v := range r.keys {
		m[k] = v
	}
	return m
}

func (r *registry) clear() {
	r.mu.Lock()
	r.keys = nil
	r.mu.Unlock()
}

// recentCall is one entry of the recent-calls log.
type recentCall struct {
	Key              string `json:"key"`
	Model            string `json:"model"`
	Status           int    `json:"status"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	AtMs             int64  `json:"at_ms"`
	// Traceparent is the W3C trace context the call carried ("" when none).
	Traceparent string `json:"traceparent,omitempty"`
}

const recentSize = 1000

// recentLog keeps the last recentSize calls.
type recentLog struct {
	mu   sync.Mutex
	buf  []recentCall
	next int
}

func (l *recentLog) add(c recentCall) {
	l.mu.Lock()
	if len(l.buf) < recentSize {
		l.buf = append(l.buf, c)
	} else {
		l.buf[l.next] = c
		l.next = (l.next + 1) % recentSize
	}
	l.mu.Unlock()
}

// list returns the calls oldest first.
func (l *recentLog) list() []recentCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]recentCall, 0, len(l.buf))
	out = append(out, l.buf[l.next:]...)
	return append(out, l.buf[:l.next]...)
}

func (l *recentLog) clear() {
	l.mu.Lock()
	l.buf, l.next = nil, 0
	l.mu.Unlock()
}

// maskKey hides most of an API key, e.g. "sk-abcdefyz" -> "sk-ab***yz".
func maskKey(k string) string {
	switch n := len(k); {
	case n == 0:
		return ""
	case n < 10:
		return k[:n/4] + "***"
	default:
		return k[:5] + "***" + k[n-2:]
	}
}

func (e *emulator) report(ks *keyState) keyReport {
	rep := keyReport{ReqCap: e.lim.reqCap, TokCap: e.lim.tokCap, Models: map[string]modelCounters{},
		ITPMCap: e.alim.caps[dimInput], OTPMCap: e.alim.caps[dimOutput]}
	if ks == nil {
		rep.Batches = (&batchAccount{}).report()
		return rep
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	rep.keyCounters = ks.stats
	// A key's peaks are the higher of its two endpoint windows.
	rep.PeakWindowRequests = max(ks.win.peakRequests, ks.awin.peakRequests)
	rep.PeakWindowTokens = max(ks.win.peakTokens, ks.awin.peakTokens[dimTotal])
	rep.PeakWindowInputTokens = ks.awin.peakTokens[dimInput]
	rep.PeakWindowOutputTokens = ks.awin.peakTokens[dimOutput]
	for m, c := range ks.models {
		rep.Models[m] = *c
	}
	rep.Batches = ks.batch.report()
	return rep
}

// serveStats answers GET /_emulator/stats[?key=K].
func (e *emulator) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		e.methodNotAllowed(w, r)
		return
	}
	var v any
	if q := r.URL.Query(); q.Has("key") {
		v = e.report(e.keys.lookup(q.Get("key")))
	} else {
		all := e.keys.snapshot()
		keys := make(map[string]keyReport, len(all))
		for k, ks := range all {
			keys[k] = e.report(ks)
		}
		v = struct {
			Keys     map[string]keyReport `json:"keys"`
			Received []recentCall         `json:"received"`
		}{keys, e.recent.list()}
	}
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, append(body, '\n'))
}

// serveReset answers POST /_emulator/reset: windows, counters, fault
// counters and prompt caches all start over.
func (e *emulator) serveReset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		e.methodNotAllowed(w, r)
		return
	}
	e.keys.clear()
	e.batches.clear()
	e.recent.clear()
	e.otlp.clear()
	writeJSON(w, http.StatusOK, []byte("{\"reset\":true}\n"))
}

func (e *emulator) sinceStart(t time.Time) int64 { return t.Sub(e.start).Milliseconds() }
