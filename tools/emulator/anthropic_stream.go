package main

import (
	"net/http"
	"strconv"
)

// streamMessages sends a message as Anthropic's events: message_start,
// then for each content block content_block_start (followed by ping after
// the first), its content_block_delta events (thinking_delta and
// signature_delta, text_delta, or input_json_delta) and
// content_block_stop; then message_delta and message_stop.
func (c *messagesCall) streamMessages(req *messagesRequest, r *messagesReply) {
	c.setHeaders(c.w.Header())
	s := startStream(c.w, c.r, c.e.cfg, "text/event-stream")
	gone := func() { c.record(outGone, 0) }

	b := append(make([]byte, 0, 512), `{"type":"message_start","message":`...)
	b = c.messageJSON(b, req, r, 1, false)
	if !s.event("message_start", append(b, '}')) {
		gone()
		return
	}
	blocks := r.blocks()
	total := 0
	for _, cb := range blocks {
		total += len(cb.deltas)
	}
	limit, sent := deltasBeforeFault(total, c.mid), 0
	for i, cb := range blocks {
		index := strconv.Itoa(i)
		b = append(append(b[:0], `{"type":"content_block_start","index":`...), index...)
		b = append(append(b, `,"content_block":`...), cb.start...)
		if !s.event("content_block_start", append(b, '}')) || i == 0 && !s.event("ping", []byte(`{"type":"ping"}`)) {
			gone()
			return
		}
		for _, d := range cb.deltas {
			if sent == limit && c.mid != midNone {
				break
			}
			sent++
			b = append(append(b[:0], `{"type":"content_block_delta","index":`...), index...)
			b = append(append(b, `,"delta":`...), d...)
			if !s.event("content_block_delta", append(b, '}')) {
				gone()
				return
			}
		}
		if sent == limit && c.mid != midNone {
			switch c.mid {
			case midReset:
				c.reset()
			case midError:
				c.record(outServerError, http.StatusOK)
				s.event("error", []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
			}
			return
		}
		b = append(append(b[:0], `{"type":"content_block_stop","index":`...), index...)
		if !s.event("content_block_stop", append(b, '}')) {
			gone()
			return
		}
	}
	b = append(b[:0], `{"type":"message_delta","delta":{"stop_reason":`...)
	b = appendJSONString(b, r.stop)
	b = append(b, `,"stop_sequence":null},"usage":{"output_tokens":`...)
	b = strconv.AppendInt(b, r.output, 10)
	if !s.event("message_delta", append(b, "}}"...)) {
		gone()
		return
	}
	c.record(outOK, http.StatusOK)
	s.event("message_stop", []byte(`{"type":"message_stop"}`))
}
