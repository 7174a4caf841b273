package main

import (
	"net/http"
	"strconv"
)

// streamMessages sends a message as Anthropic's events: message_start,
// content_block_start, ping, content_block_delta (text_delta, or
// input_json_delta for a forced tool), content_block_stop, message_delta
// and message_stop.
func (c *messagesCall) streamMessages(req *messagesRequest, plan replyPlan, input int64, stop string) {
	c.setHeaders(c.w.Header())
	s := startStream(c.w, c.r, c.e.cfg, "text/event-stream")
	gone := func() { c.record(outGone, 0) }

	b := append(make([]byte, 0, 512), `{"type":"message_start","message":`...)
	b = c.messageJSON(b, req, plan, input, "", 1, false)
	if !s.event("message_start", append(b, '}')) {
		gone()
		return
	}
	b = append(b[:0], `{"type":"content_block_start","index":0,"content_block":`...)
	b = c.contentBlockJSON(b, req, plan, false)
	if !s.event("content_block_start", append(b, '}')) || !s.event("ping", []byte(`{"type":"ping"}`)) {
		gone()
		return
	}
	deltaHead := `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`
	if req.tool != nil {
		deltaHead = `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":`
	}
	deltas := streamDeltas(plan.text)
	for _, d := range deltas[:deltasBeforeFault(len(deltas), c.mid)] {
		b = appendJSONString(append(b[:0], deltaHead...), d)
		if !s.event("content_block_delta", append(b, "}}"...)) {
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
		s.event("error", []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
		return
	}
	if !s.event("content_block_stop", []byte(`{"type":"content_block_stop","index":0}`)) {
		gone()
		return
	}
	b = append(b[:0], `{"type":"message_delta","delta":{"stop_reason":`...)
	b = appendJSONString(b, stop)
	b = append(b, `,"stop_sequence":null},"usage":{"output_tokens":`...)
	b = strconv.AppendInt(b, plan.tokens, 10)
	if !s.event("message_delta", append(b, "}}"...)) {
		gone()
		return
	}
	c.record(outOK, http.StatusOK)
	s.event("message_stop", []byte(`{"type":"message_stop"}`))
}
