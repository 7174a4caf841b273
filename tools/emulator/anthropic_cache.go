package main

import "time"

// Prompt caching on /v1/messages with cache_control. Each breakpoint marks
// a prefix: the tools, the system prompt and the messages up to and
// including the marked block, in that order. A request reads the longest
// of its prefixes that the key has cached, and writes the rest up to its
// last breakpoint, which is charged as cache creation by the ttl of the
// breakpoint that ends each stretch. Prefixes shorter than 1024 tokens are
// not cached, as with the real API. A cached prefix lives for its ttl (5
// minutes unless "1h"), renewed by each use; each key keeps at most
// prefixCacheSize of them.

// cacheMark is a cache_control breakpoint.
type cacheMark struct {
	tokens int64  // prompt tokens up to and including the marked block
	hash   uint64 // identifies that prefix (with the model)
	ttl    string // "5m" or "1h"
}

const (
	maxCacheMarks   = 4
	minCacheTokens  = 1024
	prefixCacheSize = 10000
)

// checkMarks refuses more than four breakpoints, and a one-hour breakpoint
// after a five-minute one.
func checkMarks(marks []cacheMark) *apiError {
	if len(marks) > maxCacheMarks {
		return invalidMessages("", "A maximum of %d blocks with cache_control may be provided. Found %d.", maxCacheMarks, len(marks))
	}
	short := false
	for _, m := range marks {
		switch {
		case m.ttl == "5m":
			short = true
		case short:
			return invalidMessages("", "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block. "+
				"Note that blocks are processed in the following order: `tools`, `system`, `messages`.")
		}
	}
	return nil
}

// cacheUse is what one request reads from and writes to the cache.
type cacheUse struct {
	read     int64
	create5m int64
	create1h int64
}

func (u cacheUse) creation() int64 { return u.create5m + u.create1h }

func ttlOf(ttl string) time.Duration {
	if ttl == "1h" {
		return time.Hour
	}
	return 5 * time.Minute
}

// prefixCache is one key's cached prefixes, guarded by the key's mutex.
type prefixCache struct {
	expires map[uint64]time.Time
	ring    []uint64 // insertion order, for the bound
	pos     int
}

// use applies a request's breakpoints at now and reports what it read and
// wrote.
func (c *prefixCache) use(marks []cacheMark, now time.Time) cacheUse {
	var u cacheUse
	last := -1
	for i, m := range marks {
		if m.tokens >= minCacheTokens {
			last = i
		}
	}
	if last < 0 {
		return u
	}
	hit := -1
	for i := last; i >= 0; i-- {
		if marks[i].tokens >= minCacheTokens && now.Before(c.expires[marks[i].hash]) {
			hit = i
			break
		}
	}
	done := int64(0)
	if hit >= 0 {
		u.read, done = marks[hit].tokens, marks[hit].tokens
	}
	for _, m := range marks[hit+1 : last+1] {
		if m.tokens <= done {
			continue
		}
		if m.ttl == "1h" {
			u.create1h += m.tokens - done
		} else {
			u.create5m += m.tokens - done
		}
		done = m.tokens
	}
	for _, m := range marks[:last+1] {
		if m.tokens >= minCacheTokens {
			c.put(m.hash, now.Add(ttlOf(m.ttl)))
		}
	}
	return u
}

// put remembers a prefix until at least exp, forgetting the oldest one
// when the table is full.
func (c *prefixCache) put(h uint64, exp time.Time) {
	if c.expires == nil {
		c.expires = make(map[uint64]time.Time)
	}
	if old, ok := c.expires[h]; ok {
		if exp.After(old) {
			c.expires[h] = exp
		}
		return
	}
	if len(c.ring) < prefixCacheSize {
		c.ring = append(c.ring, h)
	} else {
		delete(c.expires, c.ring[c.pos])
		c.ring[c.pos] = h
		c.pos = (c.pos + 1) % prefixCacheSize
	}
	c.expires[h] = exp
}
