package main

// What every endpoint does between reading a request and answering it:
// count the arrival of the body from the key, answer the first
// --rate-limit-first arrivals with a 429 where that option applies, play
// the fault drawn for the arrival, charge the rate-limit window and hold
// the answer for the configured latency. Only the counters and the errors
// differ from one endpoint to another; E is the type of an endpoint's
// errors and fail sends one.

// onArrival is how an endpoint meets a call's arrival.
type onArrival[E any] struct {
	// count counts the arrival and returns how many times the key sent
	// the body before.
	count func(bodyDigest) uint64
	// stream also draws the mid-stream fault; resetAsError is passed on
	// to streamFault.
	stream, resetAsError bool
	// first answers one of the first --rate-limit-first arrivals; nil on
	// the endpoints that option leaves alone.
	first func() E
	// server and unavailable answer a drawn 500 and 503.
	server, unavailable func() E
}

// arrive plays what the call meets on arrival: the --rate-limit-first 429,
// a drawn server error or reset, or a stall, noted for the delay. Nothing
// is counted or drawn for a batch line, nor when no option needs the
// counts. False when it already answered the call.
func arrive[E any](c *call, a onArrival[E], fail func(E)) bool {
	cfg := c.e.cfg
	if !cfg.countsArrivals() || c.batch != nil {
		return true
	}
	c.k = a.count(c.digest)
	if a.first != nil && c.k < uint64(cfg.rateLimitFirst) {
		fail(a.first())
		return false
	}
	f := cfg.decideFault(c.digest, c.k)
	if a.stream {
		f, c.mid = cfg.streamFault(c.digest, c.k, f, a.resetAsError)
	}
	switch f {
	case fault500:
		fail(a.server())
		return false
	case fault503:
		fail(a.unavailable())
		return false
	case faultReset:
		c.reset()
		return false
	case faultStall:
		c.stalled = true
	}
	return true
}

// arrivalsOn is the arrival counter of endpoint ep.
func (ks *keyState) arrivalsOn(ep string) func(bodyDigest) uint64 {
	return func(d bodyDigest) uint64 { return ks.arrivalOn(ep, d) }
}

// admitAndWait charges the key's rate-limit window charge tokens (nothing
// for a batch line), answering a refusal with refused's error, then holds
// the answer for the configured latency. It returns the sequence number of
// the charge for settle (0 when nothing was charged); false when it
// already answered the call.
func admitAndWait[E any](c *call, charge int64, refused func(admission) E, fail func(E)) (uint64, bool) {
	e := c.e
	var seq uint64
	if e.lim.enabled() && c.batch == nil {
		adm := c.ks.admit(e.lim, charge)
		if adm.kind != admitted {
			fail(refused(adm))
			return 0, false
		}
		seq = adm.seq
	}
	if !sleepCtx(c.r.Context(), c.delay(c.stalled)) {
		c.gone()
		return 0, false
	}
	return seq, true
}

// settle takes the call's output tokens and replaces its charge seq (0:
// none) in the rate-limit window with the tokens it actually used.
func (c *call) settle(seq uint64, output int64) {
	c.completionTokens = output
	if seq == 0 {
		return
	}
	c.ks.mu.Lock()
	c.ks.win.reconcile(seq, c.promptTokens+output)
	c.ks.mu.Unlock()
}
