package main

import (
	"math"
	"math/bits"
	"sort"
	"time"
)

// limits are the per-key allowances of one sliding window.
type limits struct {
	reqCap int64 // requests per window, 0 = unlimited
	tokCap int64 // tokens per window, 0 = unlimited
	span   time.Duration
}

// newLimits scales per-minute limits to the window: floor(perMin * W / 60000 ms).
// A configured limit never scales below 1.
func newLimits(rpm, tpm int64, span time.Duration) limits {
	return limits{reqCap: scaleCap(rpm, span), tokCap: scaleCap(tpm, span), span: span}
}

func scaleCap(perMin int64, span time.Duration) int64 {
	if perMin <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(perMin), uint64(span.Milliseconds()))
	if hi >= 60000 {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, 60000)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return max(int64(q), 1)
}

func (l limits) enabled() bool { return l.reqCap > 0 || l.tokCap > 0 }

// windowEntry is one admitted request: its arrival time and charged tokens.
type windowEntry struct {
	at     time.Time
	tokens int64
	seq    uint64
}

// window is one key's sliding window. It is guarded by the key's mutex.
type window struct {
	entries []windowEntry // ordered by arrival (and seq); live ones start at head
	head    int
	tokens  int64 // sum of live entries' tokens
	seq     uint64

	peakRequests int64
	peakTokens   int64
}

func (w *window) count() int64 { return int64(len(w.entries) - w.head) }

// prune drops entries that arrived span or more before now.
func (w *window) prune(now time.Time, span time.Duration) {
	for w.head < len(w.entries) && now.Sub(w.entries[w.head].at) >= span {
		w.tokens -= w.entries[w.head].tokens
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

type limitKind int

const (
	admitted limitKind = iota
	limitRequests
	limitTokens
	limitTooLarge
)

// admission is the outcome of offering a request to a window.
type admission struct {
	kind limitKind
	seq  uint64        // entry to reconcile, when admitted
	used int64         // in-window requests or tokens, when refused
	wait time.Duration // until enough room frees up, when refused
}

// admit checks a request charging charge tokens against the window and, if
// it fits, records it. Refused requests leave the window untouched.
func (w *window) admit(now time.Time, l limits, charge int64) admission {
	w.prune(now, l.span)
	if l.tokCap > 0 && charge > l.tokCap {
		return admission{kind: limitTooLarge}
	}
	if l.reqCap > 0 && w.count()+1 > l.reqCap {
		// The request fits once this many of the oldest entries expired.
		need := w.count() + 1 - l.reqCap
		e := w.entries[w.head+int(need)-1]
		return admission{kind: limitRequests, used: w.count(), wait: e.at.Add(l.span).Sub(now)}
	}
	if l.tokCap > 0 && w.tokens+charge > l.tokCap {
		left := w.tokens
		var wait time.Duration
		for i := w.head; i < len(w.entries); i++ {
			left -= w.entries[i].tokens
			if left+charge <= l.tokCap {
				wait = w.entries[i].at.Add(l.span).Sub(now)
				break
			}
		}
		return admission{kind: limitTokens, used: w.tokens, wait: wait}
	}
	w.seq++
	w.entries = append(w.entries, windowEntry{at: now, tokens: charge, seq: w.seq})
	w.tokens += charge
	w.peakRequests = max(w.peakRequests, w.count())
	w.peakTokens = max(w.peakTokens, w.tokens)
	return admission{kind: admitted, seq: w.seq}
}

// reconcile replaces an entry's charged tokens by the actual usage. The
// entry keeps its arrival time; an expired entry is left alone.
func (w *window) reconcile(seq uint64, actual int64) {
	live := w.entries[w.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].seq >= seq })
	if i < len(live) && live[i].seq == seq {
		w.tokens += actual - live[i].tokens
		live[i].tokens = actual
	}
}

// rateSnapshot is what the x-ratelimit-* headers report.
type rateSnapshot struct {
	remainingRequests int64
	remainingTokens   int64
	reset             time.Duration // until the oldest entry expires, 0 when empty
}

func (w *window) snapshot(now time.Time, l limits) rateSnapshot {
	w.prune(now, l.span)
	s := rateSnapshot{
		remainingRequests: max(0, l.reqCap-w.count()),
		remainingTokens:   max(0, l.tokCap-w.tokens),
	}
	if w.count() > 0 {
		s.reset = max(0, w.entries[w.head].at.Add(l.span).Sub(now))
	}
	return s
}

// formatReset renders a duration the way the x-ratelimit-reset-* headers do.
func formatReset(d time.Duration) string {
	return d.Round(time.Millisecond).String()
}

// ceilMillis rounds a wait up to whole milliseconds, at least 1.
func ceilMillis(d time.Duration) int64 {
	return max(1, int64((d+time.Millisecond-1)/time.Millisecond))
}

// ceilSeconds rounds a wait up to whole seconds, at least 1.
func ceilSeconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}
