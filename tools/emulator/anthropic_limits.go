package main

import (
	"sort"
	"time"
)

// The /v1/messages endpoint limits requests, input tokens, output tokens
// and, with --tpm, input plus output tokens, all over the same sliding
// window as the chat completions endpoint. Each key has one such window for
// the endpoint, separate from its chat completions window.

// Token dimensions of a /v1/messages window.
const (
	dimInput  = iota // prompt tokens; cached reads are excluded once known
	dimOutput        // max_tokens on arrival, output tokens once known
	dimTotal         // input + output, limited by --tpm
	numDims
)

// tokenVec holds one figure per token dimension.
type tokenVec [numDims]int64

// messagesLimits are the per-key allowances of a /v1/messages window.
type messagesLimits struct {
	reqCap int64    // requests per window, 0 = unlimited
	caps   tokenVec // tokens per window per dimension, 0 = unlimited
	span   time.Duration
}

// newMessagesLimits scales per-minute limits to the window the same way as
// newLimits: floor(perMin * W / 60000 ms), never below 1 when set.
func newMessagesLimits(rpm, itpm, otpm, tpm int64, span time.Duration) messagesLimits {
	return messagesLimits{
		reqCap: scaleCap(rpm, span),
		caps:   tokenVec{scaleCap(itpm, span), scaleCap(otpm, span), scaleCap(tpm, span)},
		span:   span,
	}
}

func (l messagesLimits) enabled() bool {
	return l.reqCap > 0 || l.caps[dimInput] > 0 || l.caps[dimOutput] > 0 || l.caps[dimTotal] > 0
}

// messagesRefusal names the limit a request ran into.
type messagesRefusal int

const (
	refusedNone messagesRefusal = iota
	refusedRequests
	refusedInput
	refusedOutput
	refusedTotal
)

// messagesAdmission is the outcome of offering a request to a window.
type messagesAdmission struct {
	refused messagesRefusal
	seq     uint64        // entry to reconcile, when admitted
	wait    time.Duration // until enough room frees up, when refused
}

type messagesEntry struct {
	at     time.Time
	tokens tokenVec
	seq    uint64
}

// messagesWindow is one key's /v1/messages window. It is guarded by the
// key's mutex.
type messagesWindow struct {
	entries []messagesEntry // ordered by arrival (and seq); live ones start at head
	head    int
	tokens  tokenVec // sums over live entries
	seq     uint64

	peakRequests int64
	peakTokens   tokenVec
}

func (w *messagesWindow) count() int64 { return int64(len(w.entries) - w.head) }

// prune drops entries that arrived span or more before now.
func (w *messagesWindow) prune(now time.Time, span time.Duration) {
	for w.head < len(w.entries) && now.Sub(w.entries[w.head].at) >= span {
		for d := range w.tokens {
			w.tokens[d] -= w.entries[w.head].tokens[d]
		}
		w.head++
	}
	switch {
	case w.head == len(w.entries):
		w.entries = w.entries[:0]
		w.head = 0
	case w.head >= 256 && 2*w.head >= len(w.entries):
		n := copy(w.entries, w.entries[w.head:])
		w.entries = w.entries[:n]
		w.head = 0
	}
}

func (w *messagesWindow) expiry(i int, now time.Time, span time.Duration) time.Duration {
	return w.entries[i].at.Add(span).Sub(now)
}

// admit checks a request against the window and, if it fits, records it.
// The checks run in the order requests, input, output, input+output.
// Refused requests leave the window untouched.
func (w *messagesWindow) admit(now time.Time, l messagesLimits, charge tokenVec) messagesAdmission {
	w.prune(now, l.span)
	if l.reqCap > 0 && w.count()+1 > l.reqCap {
		need := w.count() + 1 - l.reqCap
		return messagesAdmission{refused: refusedRequests, wait: w.expiry(w.head+int(need)-1, now, l.span)}
	}
	for d, refusal := range [numDims]messagesRefusal{refusedInput, refusedOutput, refusedTotal} {
		// Live sums never exceed their caps, so cap-sum cannot overflow.
		if l.caps[d] > 0 && charge[d] > l.caps[d]-w.tokens[d] {
			return messagesAdmission{refused: refusal, wait: w.tokenWait(now, l, d, charge[d])}
		}
	}
	w.seq++
	w.entries = append(w.entries, messagesEntry{at: now, tokens: charge, seq: w.seq})
	for d := range w.tokens {
		w.tokens[d] += charge[d]
		w.peakTokens[d] = max(w.peakTokens[d], w.tokens[d])
	}
	w.peakRequests = max(w.peakRequests, w.count())
	return messagesAdmission{seq: w.seq}
}

// tokenWait is how long until enough of the oldest entries expire for
// charge to fit in dimension d. A charge larger than the cap never fits;
// its wait is until the window is empty.
func (w *messagesWindow) tokenWait(now time.Time, l messagesLimits, d int, charge int64) time.Duration {
	left := w.tokens[d]
	for i := w.head; i < len(w.entries); i++ {
		left -= w.entries[i].tokens[d]
		if charge <= l.caps[d]-left {
			return w.expiry(i, now, l.span)
		}
	}
	if w.count() > 0 {
		return w.expiry(len(w.entries)-1, now, l.span)
	}
	return 0
}

// reconcile replaces an entry's charged tokens by the actual usage. The
// entry keeps its arrival time; an expired entry is left alone.
func (w *messagesWindow) reconcile(seq uint64, actual tokenVec) {
	live := w.entries[w.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].seq >= seq })
	if i < len(live) && live[i].seq == seq {
		for d := range w.tokens {
			w.tokens[d] += actual[d] - live[i].tokens[d]
		}
		live[i].tokens = actual
	}
}

// messagesSnapshot is what the anthropic-ratelimit-* headers report.
type messagesSnapshot struct {
	remainingRequests int64
	remainingTokens   tokenVec
	reset             time.Duration // until the oldest entry expires, 0 when empty
}

func (w *messagesWindow) snapshot(now time.Time, l messagesLimits) messagesSnapshot {
	w.prune(now, l.span)
	s := messagesSnapshot{remainingRequests: max(0, l.reqCap-w.count())}
	for d := range s.remainingTokens {
		s.remainingTokens[d] = max(0, l.caps[d]-w.tokens[d])
	}
	if w.count() > 0 {
		s.reset = max(0, w.expiry(w.head, now, l.span))
	}
	return s
}

// formatResetTime renders now+d as an RFC 3339 UTC timestamp with whole
// seconds, rounded up so that the window has room again by then.
func formatResetTime(now time.Time, d time.Duration) string {
	t := now.Add(d).UTC()
	if s := t.Truncate(time.Second); !s.Equal(t) {
		t = s.Add(time.Second)
	}
	return t.Format(time.RFC3339)
}
