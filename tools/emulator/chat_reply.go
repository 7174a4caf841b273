package main

// chatChoice is one choice of a chat completion: text, or tool calls.
type chatChoice struct {
	text   replyPlan // the text reply, when calls is nil
	calls  *callPlan // the tool calls, nil for a text reply
	ids    []string  // the calls' ids
	finish string
}

func (ch *chatChoice) tokens() int64 {
	if ch.calls != nil {
		return ch.calls.tokens
	}
	return ch.text.tokens
}

// planChat decides the n choices of a chat completion. Every choice calls
// the same tools, with ids of its own; text choices after the first end in
// " (i)". A forced tool call, like a reply asking for JSON, may get a
// deliberately invalid document (--invalid-json-*).
func (c *call) planChat(req *chatRequest) []chatChoice {
	picked := req.tools.pick()
	wantsJSON := len(picked) > 0 && req.tools.choice.forced() || len(picked) == 0 && req.format != nil
	invalid := wantsJSON && c.drawInvalidJSON()
	c.invalidJSON = invalid

	base := replyText(completionTarget(req.model, req.lastContent))
	if req.tools.endsInTool {
		base = resultsText(req.tools.results)
	}
	choices := make([]chatChoice, req.n)
	for i := range choices {
		ch := &choices[i]
		if len(picked) > 0 {
			cp := planCalls(picked, req.maxOut, req.hasMax, invalid)
			ch.calls, ch.finish = &cp, "tool_calls"
			for j := range cp.calls {
				ch.ids = append(ch.ids, callID("call_", req.promptHash, i, j, 24))
			}
			if cp.capped {
				ch.finish = "length"
			}
			continue
		}
		ch.text = planText(base+choiceSuffix(i), req.maxOut, req.hasMax, req.format, invalid)
		ch.finish = "stop"
		if ch.text.capped {
			ch.finish = "length"
		}
	}
	return choices
}

// appendChatToolCall appends {"id","type":"function","function":{"name","arguments"}}.
func appendChatToolCall(b []byte, id string, call plannedCall) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"type":"function","function":{"name":`...)
	b = appendJSONString(b, call.name)
	b = append(b, `,"arguments":`...)
	b = appendJSONString(b, call.args)
	return append(b, "}}"...)
}

// appendLogprobs appends a choice's logprobs for the text bytes [from, to):
// null unless the request asked for them, no content entries for tool
// calls.
func (ch *chatChoice) appendLogprobs(b []byte, req *chatRequest, from, to int) []byte {
	if !req.logprobs {
		return append(b, "null"...)
	}
	if ch.calls != nil {
		return append(b, `{"content":null,"refusal":null}`...)
	}
	b = append(b, `{"content":[`...)
	b = appendLogprobEntries(b, ch.text.text, from, to, req.topLogprobs)
	return append(b, `],"refusal":null}`...)
}
