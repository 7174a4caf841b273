package main

import (
	"net/http"
	"strconv"
	"time"
)

// streamChat sends a chat completion as chat.completion.chunk events: the
// role, the content deltas, the finish reason, the usage (with
// stream_options.include_usage) and [DONE].
func (c *call) streamChat(req *chatRequest, plan replyPlan, finish string) {
	c.setHeaders(c.w.Header())
	s := startStream(c.w, c.r, c.e.cfg, "text/event-stream")

	head := make([]byte, 0, 192)
	head = append(head, `{"id":"`...)
	head = appendCompletionID(head, c.idA, c.idB)
	head = append(head, `","object":"chat.completion.chunk","created":`...)
	head = strconv.AppendInt(head, time.Now().Unix(), 10)
	head = append(head, `,"model":`...)
	head = appendJSONString(head, req.model)
	head = append(head, `,"service_tier":"default","system_fingerprint":"fp_emulator","choices":[`...)
	var b []byte
	chunk := func(delta []byte, finish string) []byte {
		b = append(append(b[:0], head...), `{"index":0,"delta":`...)
		b = append(b, delta...)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
		b = appendNullable(b, finish)
		b = append(b, "}]"...)
		if req.includeUsage {
			b = append(b, `,"usage":null`...)
		}
		return append(b, '}')
	}

	if !s.data(chunk([]byte(`{"role":"assistant","content":"","refusal":null}`), "")) {
		c.record(outGone, 0)
		return
	}
	deltas := streamDeltas(plan.text)
	var d []byte
	for _, text := range deltas[:deltasBeforeFault(len(deltas), c.mid)] {
		d = appendJSONString(append(d[:0], `{"content":`...), text)
		if !s.data(chunk(append(d, '}'), "")) {
			c.record(outGone, 0)
			return
		}
	}
	switch c.mid {
	case midReset:
		c.reset()
		return
	case midError:
		c.record(outServerError, http.StatusOK)
		body := errorBody(errServer())
		s.data(body[:len(body)-1])
		return
	}
	if !s.data(chunk([]byte("{}"), finish)) {
		c.record(outGone, 0)
		return
	}
	if req.includeUsage {
		b = append(append(b[:0], head...), `],"usage":`...)
		b = c.appendChatUsage(b)
		if !s.data(append(b, '}')) {
			c.record(outGone, 0)
			return
		}
	}
	c.record(outOK, http.StatusOK)
	s.data([]byte("[DONE]"))
}
