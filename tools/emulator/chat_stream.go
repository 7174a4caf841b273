package main

import (
	"net/http"
	"strconv"
	"time"
)

// chatStep is one chunk of a streamed chat completion.
type chatStep struct {
	choice   int
	delta    []byte
	from, to int    // the text bytes the chunk carries, for logprobs
	isDelta  bool   // a content or arguments delta (mid-stream faults count these)
	finish   string // the last chunk of the choice
}

// chatSteps lists the chunks of the choices, one choice after the other:
// for text the role, the content deltas and the finish; for tool calls
// each call's id and name (the first with the role) followed by its
// arguments in pieces of at most 8 bytes, then the finish.
func chatSteps(choices []chatChoice) []chatStep {
	var steps []chatStep
	for i, ch := range choices {
		if ch.calls == nil {
			steps = append(steps, chatStep{choice: i, delta: []byte(`{"role":"assistant","content":"","refusal":null}`)})
			at := 0
			for _, d := range streamDeltas(ch.text.text) {
				delta := append(appendJSONString([]byte(`{"content":`), d), '}')
				steps = append(steps, chatStep{choice: i, delta: delta, from: at, to: at + len(d), isDelta: true})
				at += len(d)
			}
		} else {
			for j, call := range ch.calls.calls {
				var b []byte
				if j == 0 {
					b = append(b, `{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":`...)
				} else {
					b = append(append(b, `{"tool_calls":[{"index":`...), strconv.Itoa(j)...)
					b = append(b, `,"id":`...)
				}
				b = appendJSONString(b, ch.ids[j])
				b = append(b, `,"type":"function","function":{"name":`...)
				b = appendJSONString(b, call.name)
				b = append(b, `,"arguments":""}}]`...)
				if j == 0 {
					b = append(b, `,"refusal":null`...)
				}
				steps = append(steps, chatStep{choice: i, delta: append(b, '}')})
				for _, piece := range argumentPieces(call.args) {
					b = append(append([]byte(`{"tool_calls":[{"index":`), strconv.Itoa(j)...), `,"function":{"arguments":`...)
					b = appendJSONString(b, piece)
					steps = append(steps, chatStep{choice: i, delta: append(b, "}}]}"...), isDelta: true})
				}
			}
		}
		steps = append(steps, chatStep{choice: i, delta: []byte("{}"), finish: ch.finish})
	}
	return steps
}

// streamChat sends a chat completion as chat.completion.chunk events: the
// steps of every choice (see chatSteps), the usage (with
// stream_options.include_usage) and [DONE].
func (c *call) streamChat(req *chatRequest, choices []chatChoice) {
	c.setHeaders(c.w.Header())
	s := startStream(c.w, c.r, c.e.cfg, "text/event-stream")

	head := make([]byte, 0, 192)
	head = append(head, `{"id":"`...)
	head = appendCompletionID(head, c.idA, c.idB)
	head = append(head, `","object":"chat.completion.chunk","created":`...)
	head = strconv.AppendInt(head, time.Now().Unix(), 10)
	head = append(head, `,"model":`...)
	head = appendJSONString(head, req.model)
	head = append(head, `,"service_tier":"`...)
	head = append(head, servedTier(req.serviceTier)...)
	head = append(head, `","system_fingerprint":"fp_emulator","choices":[`...)
	var b []byte
	chunk := func(st chatStep) []byte {
		b = append(append(b[:0], head...), `{"index":`...)
		b = strconv.AppendInt(b, int64(st.choice), 10)
		b = append(b, `,"delta":`...)
		b = append(b, st.delta...)
		b = append(b, `,"logprobs":`...)
		if st.isDelta && choices[st.choice].calls == nil {
			b = choices[st.choice].appendLogprobs(b, req, st.from, st.to)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"finish_reason":`...)
		b = appendNullable(b, st.finish)
		b = append(b, "}]"...)
		if req.includeUsage {
			b = append(b, `,"usage":null`...)
		}
		return append(b, '}')
	}

	steps := chatSteps(choices)
	deltas := 0
	for _, st := range steps {
		if st.isDelta {
			deltas++
		}
	}
	limit, sent := deltasBeforeFault(deltas, c.mid), 0
	for _, st := range steps {
		if c.mid != midNone && sent == limit && (st.isDelta || st.finish != "") {
			switch c.mid {
			case midReset:
				c.reset()
			case midError:
				c.record(outServerError, http.StatusOK)
				body := errorBody(errServer())
				s.data(body[:len(body)-1])
			}
			return
		}
		if st.isDelta {
			sent++
		}
		if !s.data(chunk(st)) {
			c.record(outGone, 0)
			return
		}
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
