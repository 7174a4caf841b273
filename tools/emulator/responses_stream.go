package main

import (
	"net/http"
	"strconv"
)

// streamResponse sends a response as the Responses API's events:
// response.created, response.in_progress, response.output_item.added,
// response.content_part.added, response.output_text.delta (one per delta),
// response.output_text.done, response.content_part.done,
// response.output_item.done and response.completed (response.incomplete
// when capped). Every event carries its sequence_number.
func (c *responsesCall) streamResponse(out replyPlan) {
	c.setHeaders(c.w.Header())
	s := startStream(c.w, c.r, c.e.cfg, "text/event-stream")
	seq := 0
	b := make([]byte, 0, 1024)
	send := func(typ string) bool {
		b = append(b, `,"sequence_number":`...)
		b = strconv.AppendInt(b, int64(seq), 10)
		seq++
		return s.event(typ, append(b, '}'))
	}
	begin := func(typ string) {
		b = append(append(append(b[:0], `{"type":"`...), typ...), `"`...)
	}
	part := func(typ string) {
		begin(typ)
		b = append(b, `,"item_id":`...)
		b = appendJSONString(b, c.msgID)
		b = append(b, `,"output_index":0,"content_index":0`...)
	}
	gone := func() { c.record(outGone, 0) }

	for _, typ := range []string{"response.created", "response.in_progress"} {
		begin(typ)
		b = append(b, `,"response":`...)
		b = c.responseJSON(b, out, false)
		if !send(typ) {
			gone()
			return
		}
	}
	begin("response.output_item.added")
	b = append(b, `,"output_index":0,"item":`...)
	b = c.outputItemJSON(b, out, false)
	if !send("response.output_item.added") {
		gone()
		return
	}
	part("response.content_part.added")
	b = append(b, `,"part":`...)
	b = appendOutputText(b, "")
	if !send("response.content_part.added") {
		gone()
		return
	}
	deltas := streamDeltas(out.text)
	for _, d := range deltas[:deltasBeforeFault(len(deltas), c.mid)] {
		part("response.output_text.delta")
		b = append(b, `,"delta":`...)
		b = appendJSONString(b, d)
		b = append(b, `,"logprobs":[]`...)
		if !send("response.output_text.delta") {
			gone()
			return
		}
	}
	switch c.mid {
	case midReset:
		c.reset()
		return
	case midError:
		c.record(outServerError, http.StatusOK)
		begin("error")
		b = append(b, `,"code":"server_error","message":`...)
		b = appendJSONString(b, errServer().message)
		b = append(b, `,"param":null`...)
		send("error")
		return
	}
	part("response.output_text.done")
	b = append(b, `,"text":`...)
	b = appendJSONString(b, out.text)
	b = append(b, `,"logprobs":[]`...)
	if !send("response.output_text.done") {
		gone()
		return
	}
	part("response.content_part.done")
	b = append(b, `,"part":`...)
	b = appendOutputText(b, out.text)
	if !send("response.content_part.done") {
		gone()
		return
	}
	begin("response.output_item.done")
	b = append(b, `,"output_index":0,"item":`...)
	b = c.outputItemJSON(b, out, true)
	if !send("response.output_item.done") {
		gone()
		return
	}
	final := "response.completed"
	if out.capped {
		final = "response.incomplete"
	}
	c.store(out)
	c.record(outOK, http.StatusOK)
	begin(final)
	b = append(b, `,"response":`...)
	b = c.responseJSON(b, out, true)
	send(final)
}
