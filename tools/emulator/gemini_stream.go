package main

import "net/http"

// streamGenerateContent with alt=sse: server-sent events, each
// "data: GenerateContentResponse\r\n\r\n" (Google separates events with
// CRLF pairs), and no end sentinel: the stream ends with the connection.

// geminiStep is one chunk of a streamed answer.
type geminiStep struct {
	cand     int      // the candidate the chunk belongs to
	parts    [][]byte // nil for a chunk without parts
	finish   string   // the candidate's last chunk
	out      int64    // candidatesTokenCount so far
	thoughts int64    // thoughtsTokenCount so far
	text     bool     // a text delta of the answer, [from, to) of its bytes
	from, to int
}

// steps lists the chunks: the thought summary in deltas (first
// candidate), then each candidate in turn, its text in deltas or its
// function calls all in one chunk; the last chunk of a candidate carries
// its finishReason. The counts are cumulative; hidden thinking is done
// before the first chunk.
func (r *geminiReply) steps(showThoughts bool) []geminiStep {
	var steps []geminiStep
	var out, thoughts int64
	if !showThoughts {
		thoughts = r.thoughts
	}
	sent := 0
	for _, d := range streamDeltas(r.thought) {
		sent += len(d)
		thoughts = min(textTokens(r.thought[:sent]), r.thoughts)
		steps = append(steps, geminiStep{parts: [][]byte{geminiTextPart(d, true)}, thoughts: thoughts})
	}
	thoughts = r.thoughts
	for i := range r.cands {
		cd := &r.cands[i]
		first := len(steps)
		if cd.calls != nil {
			if parts := r.answerParts(cd); len(parts) > 0 {
				steps = append(steps, geminiStep{cand: i, parts: parts})
			}
		} else {
			at := 0
			for _, d := range streamDeltas(cd.text.text) {
				steps = append(steps, geminiStep{cand: i, parts: [][]byte{geminiTextPart(d, false)}, text: true, from: at, to: at + len(d),
					out: out + min(textTokens(cd.text.text[:at+len(d)]), cd.text.tokens), thoughts: thoughts})
				at += len(d)
			}
		}
		if len(steps) == first {
			steps = append(steps, geminiStep{cand: i})
		}
		out += cd.tokens()
		last := &steps[len(steps)-1]
		last.finish, last.out, last.thoughts = cd.finish, out, thoughts
	}
	return steps
}

// stream sends the answer as server-sent events (see steps); a mid-stream
// fault strikes after half of the chunks: a cut connection, or a last
// event carrying an INTERNAL error.
func (c *geminiCall) stream(r *geminiReply) {
	req := c.req
	c.setHeaders(c.w.Header())
	s := startStream(c.w, c.r, c.e.cfg, "text/event-stream")
	steps := r.steps(req.thoughts)
	var b []byte
	event := func(body []byte) bool {
		b = append(append(append(b[:0], "data: "...), body...), "\r\n\r\n"...)
		return s.write(b)
	}
	var chunk []byte
	limit := deltasBeforeFault(len(steps), c.mid)
	for i, st := range steps[:limit] {
		var lp []byte
		if st.text && req.logprobs {
			lp = appendGeminiLogprobs(nil, r.cands[st.cand].text.text, st.from, st.to, req.topLogprobs, false)
		}
		chunk = append(chunk[:0], `{"candidates":[`...)
		chunk = appendGeminiCandidate(chunk, st.cand, st.parts, st.finish, lp)
		chunk = c.tail(append(chunk, ']'), st.out, st.thoughts)
		last := i == len(steps)-1
		if last {
			c.record(outOK, http.StatusOK)
		}
		if !event(chunk) && !last {
			c.record(outGone, 0)
			return
		}
	}
	switch c.mid {
	case midReset:
		c.reset()
	case midError:
		c.record(outServerError, http.StatusOK)
		event(errGeminiInternal().body())
	}
}
