package main

import (
	"net/http"
	"strconv"
)

// responsesEvents writes the events of one streamed response. Each event
// is assembled in b between begin and send.
type responsesEvents struct {
	s   *streamer
	seq int
	b   []byte
}

// begin starts the event of type typ: {"type":typ
func (ev *responsesEvents) begin(typ string) {
	ev.b = append(append(append(ev.b[:0], `{"type":"`...), typ...), `"`...)
}

// send closes the event with its sequence_number and sends it.
func (ev *responsesEvents) send(typ string) bool {
	ev.b = append(ev.b, `,"sequence_number":`...)
	ev.b = strconv.AppendInt(ev.b, int64(ev.seq), 10)
	ev.seq++
	return ev.s.event(typ, append(ev.b, '}'))
}

// streamResponse sends a response as the Responses API's events:
// response.created and response.in_progress, the events of the output
// items (see streamMessage and streamCalls) and last response.completed
// (response.incomplete when capped). Every event carries its
// sequence_number.
func (c *responsesCall) streamResponse() {
	c.setHeaders(c.w.Header())
	ev := &responsesEvents{s: startStream(c.w, c.r, c.e.cfg, "text/event-stream"), b: make([]byte, 0, 1024)}
	for _, typ := range []string{"response.created", "response.in_progress"} {
		ev.begin(typ)
		ev.b = append(ev.b, `,"response":`...)
		ev.b = c.responseJSON(ev.b, false)
		if !ev.send(typ) {
			c.record(outGone, 0)
			return
		}
	}
	var ok bool
	if c.calls != nil {
		ok = c.streamCalls(ev)
	} else {
		ok = c.streamMessage(ev)
	}
	if !ok {
		return
	}
	final := "response.completed"
	if c.capped() {
		final = "response.incomplete"
	}
	c.store()
	c.record(outOK, http.StatusOK)
	ev.begin(final)
	ev.b = append(ev.b, `,"response":`...)
	ev.b = c.responseJSON(ev.b, true)
	ev.send(final)
}

// endEarly ends a stream that stopped before its last event: with the
// mid-stream fault when one struck, else because the client left.
func (c *responsesCall) endEarly(ev *responsesEvents, fault bool) bool {
	switch {
	case !fault:
		c.record(outGone, 0)
	case c.mid == midReset:
		c.reset()
	case c.mid == midError:
		c.record(outServerError, http.StatusOK)
		ev.begin("error")
		ev.b = append(ev.b, `,"code":"server_error","message":`...)
		ev.b = appendJSONString(ev.b, errServer().message)
		ev.b = append(ev.b, `,"param":null`...)
		ev.send("error")
	}
	return false
}

// streamMessage sends the events of the message item:
// response.output_item.added, response.content_part.added,
// response.output_text.delta (one per delta), response.output_text.done,
// response.content_part.done and response.output_item.done. It reports
// false when the stream ended early.
func (c *responsesCall) streamMessage(ev *responsesEvents) bool {
	part := func(typ string) {
		ev.begin(typ)
		ev.b = append(ev.b, `,"item_id":`...)
		ev.b = appendJSONString(ev.b, c.msgID)
		ev.b = append(ev.b, `,"output_index":0,"content_index":0`...)
	}
	ev.begin("response.output_item.added")
	ev.b = append(ev.b, `,"output_index":0,"item":`...)
	ev.b = c.outputItemJSON(ev.b, false)
	if !ev.send("response.output_item.added") {
		return c.endEarly(ev, false)
	}
	part("response.content_part.added")
	ev.b = append(ev.b, `,"part":`...)
	ev.b = c.appendOutputText(ev.b, "")
	if !ev.send("response.content_part.added") {
		return c.endEarly(ev, false)
	}
	text := c.out.text
	deltas := streamDeltas(text)
	at := 0
	for _, d := range deltas[:deltasBeforeFault(len(deltas), c.mid)] {
		part("response.output_text.delta")
		ev.b = append(ev.b, `,"delta":`...)
		ev.b = appendJSONString(ev.b, d)
		ev.b = append(ev.b, `,"logprobs":[`...)
		ev.b = c.appendLogprobs(ev.b, at, at+len(d))
		ev.b = append(ev.b, ']')
		at += len(d)
		if !ev.send("response.output_text.delta") {
			return c.endEarly(ev, false)
		}
	}
	if c.mid != midNone {
		return c.endEarly(ev, true)
	}
	part("response.output_text.done")
	ev.b = append(ev.b, `,"text":`...)
	ev.b = appendJSONString(ev.b, text)
	ev.b = append(ev.b, `,"logprobs":[`...)
	ev.b = c.appendLogprobs(ev.b, 0, len(text))
	ev.b = append(ev.b, ']')
	if !ev.send("response.output_text.done") {
		return c.endEarly(ev, false)
	}
	part("response.content_part.done")
	ev.b = append(ev.b, `,"part":`...)
	ev.b = c.appendOutputText(ev.b, text)
	if !ev.send("response.content_part.done") {
		return c.endEarly(ev, false)
	}
	ev.begin("response.output_item.done")
	ev.b = append(ev.b, `,"output_index":0,"item":`...)
	ev.b = c.outputItemJSON(ev.b, true)
	if !ev.send("response.output_item.done") {
		return c.endEarly(ev, false)
	}
	return true
}

// streamCalls sends, for each function call, response.output_item.added
// (the item with empty arguments), response.function_call_arguments.delta
// (the arguments in pieces of at most 8 bytes),
// response.function_call_arguments.done and response.output_item.done. It
// reports false when the stream ended early.
func (c *responsesCall) streamCalls(ev *responsesEvents) bool {
	total := 0
	for _, call := range c.calls.calls {
		total += len(argumentPieces(call.args))
	}
	limit, sent := deltasBeforeFault(total, c.mid), 0
	for j, call := range c.calls.calls {
		item := func(typ string) {
			ev.begin(typ)
			ev.b = append(ev.b, `,"item_id":`...)
			ev.b = appendJSONString(ev.b, c.itemIDs[j])
			ev.b = append(ev.b, `,"output_index":`...)
			ev.b = strconv.AppendInt(ev.b, int64(j), 10)
		}
		ev.begin("response.output_item.added")
		ev.b = append(ev.b, `,"output_index":`...)
		ev.b = strconv.AppendInt(ev.b, int64(j), 10)
		ev.b = append(ev.b, `,"item":`...)
		ev.b = c.functionCallJSON(ev.b, j, false)
		if !ev.send("response.output_item.added") {
			return c.endEarly(ev, false)
		}
		for _, piece := range argumentPieces(call.args) {
			if c.mid != midNone && sent == limit {
				return c.endEarly(ev, true)
			}
			sent++
			item("response.function_call_arguments.delta")
			ev.b = append(ev.b, `,"delta":`...)
			ev.b = appendJSONString(ev.b, piece)
			if !ev.send("response.function_call_arguments.delta") {
				return c.endEarly(ev, false)
			}
		}
		if c.mid != midNone && sent == limit {
			return c.endEarly(ev, true)
		}
		item("response.function_call_arguments.done")
		ev.b = append(ev.b, `,"name":`...)
		ev.b = appendJSONString(ev.b, call.name)
		ev.b = append(ev.b, `,"arguments":`...)
		ev.b = appendJSONString(ev.b, call.args)
		if !ev.send("response.function_call_arguments.done") {
			return c.endEarly(ev, false)
		}
		ev.begin("response.output_item.done")
		ev.b = append(ev.b, `,"output_index":`...)
		ev.b = strconv.AppendInt(ev.b, int64(j), 10)
		ev.b = append(ev.b, `,"item":`...)
		ev.b = c.functionCallJSON(ev.b, j, true)
		if !ev.send("response.output_item.done") {
			return c.endEarly(ev, false)
		}
	}
	return true
}
