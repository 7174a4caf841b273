package main

import (
	"context"
	"crypto/sha256"
	"time"
)

// Fault decisions depend only on the seed, the request body and how many
// times the same key sent that body before, never on arrival order across
// different bodies, so concurrent runs fault the same requests every time.

type faultKind int

const (
	faultNone faultKind = iota
	fault500
	fault503
	faultReset
	faultStall
)

// Salts that keep the independent draws for one request apart.
const (
	saltFault  = 1
	saltStatus = 2
	saltJitter = 3
	// saltInvalidJSON draws --invalid-json-rate.
	saltInvalidJSON = 4
)

// maxSeenBodies bounds the per-key body counters; the table starts over
// when it fills up.
const maxSeenBodies = 1 << 18

// bodyDigest identifies a request body.
type bodyDigest [sha256.Size]byte

func digestBody(body []byte) bodyDigest { return sha256.Sum256(body) }

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// draw is hash(seed, sha256(body), k, salt), uniform over 64 bits.
func draw(seed uint64, d bodyDigest, k uint64, salt uint64) uint64 {
	h := fnvAddUint64(fnvOffset64, seed)
	for _, b := range d {
		h = fnvAddByte(h, b)
	}
	h = fnvAddUint64(h, k)
	h = fnvAddUint64(h, salt)
	return mix64(h)
}

// unit maps a 64-bit draw to [0, 1).
func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

func (c *config) faultsEnabled() bool {
	return c.failFirst > 0 || c.errorRate > 0 || c.resetRate > 0 || c.stallRate > 0
}

// countsArrivals reports whether arrivals of each body must be counted.
func (c *config) countsArrivals() bool {
	return c.faultsEnabled() || c.rateLimitFirst > 0 || c.invalidJSONFirst > 0 || c.invalidJSONRate > 0 || c.midstreamErrorRate > 0
}

// needsDigest reports whether request bodies must be hashed at all.
func (c *config) needsDigest() bool { return c.countsArrivals() || c.jitter > 0 }

// decideFault chooses the fault for the k-th arrival (k counted from 0) of a
// body from one key.
func (c *config) decideFault(d bodyDigest, k uint64) faultKind {
	if k < uint64(c.failFirst) {
		return fault500
	}
	u := unit(draw(c.seed, d, k, saltFault))
	switch {
	case u < c.errorRate:
		// One in three server errors is an overload 503, chosen by hash.
		if draw(c.seed, d, k, saltStatus)%3 == 0 {
			return fault503
		}
		return fault500
	case u < c.errorRate+c.resetRate:
		return faultReset
	case u < c.errorRate+c.resetRate+c.stallRate:
		return faultStall
	}
	return faultNone
}

// delay is how long an answer is held: latency plus a jitter drawn from
// [0, jitter), plus the stall time for stalled requests.
func (c *config) delay(d bodyDigest, k uint64, stalled bool) time.Duration {
	t := c.latency
	if c.jitter > 0 {
		t += time.Duration(draw(c.seed, d, k, saltJitter) % uint64(c.jitter))
	}
	if stalled {
		t += c.stall
	}
	return t
}

// sleepCtx waits for d or until ctx ends; it reports whether the full
// delay elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
