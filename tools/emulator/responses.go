package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The OpenAI Responses API: POST /v1/responses. It shares the key's
// OpenAI window, headers, error shapes, statistics and prompt cache with
// the chat completions endpoint; arrivals for the fault decisions are
// counted per endpoint.

const epResponses = "responses"

// responsesCall is one request to /v1/responses.
type responsesCall struct {
	call
	req      *responsesRequest
	hash     uint64 // the conversation so far, for the prompt cache and the store
	respID   string
	msgID    string
	created  int64
	previous json.RawMessage // previous_response_id echo
	prev     storedResponse  // the previous response, when chained

	out     replyPlan // the text reply, when calls is nil
	calls   *callPlan // the function calls, nil for a text reply
	callIDs []string  // the calls' call_id
	itemIDs []string  // the calls' item id
}

func (e *emulator) serveResponses(w http.ResponseWriter, r *http.Request) {
	c := &responsesCall{call: call{e: e, w: w, r: r, start: time.Now(), key: bearerKey(r), batch: batchOf(r)}}
	body, ok := c.admitOpenAI(specResponsesSchema)
	if !ok {
		return
	}
	cfg := e.cfg
	req, aerr := parseResponsesRequest(body)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	c.req = req
	c.model, c.promptTokens, c.hash = req.model, req.inputTokens, req.itemsHash
	if len(cfg.knownModels) > 0 && !cfg.knownModels[req.model] {
		c.fail(&apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", outcome: outBadRequest,
			message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.model)})
		return
	}
	c.previous = json.RawMessage("null")
	if req.previousID != "" {
		c.ks.mu.Lock()
		prev, ok := c.ks.responses.get(req.previousID)
		c.ks.mu.Unlock()
		if !ok {
			c.fail(invalidRequest("previous_response_id", "previous_response_not_found", "Previous response with id '%s' not found.", req.previousID))
			return
		}
		c.promptTokens += prev.context
		c.hash = fnvAddUint64(fnvAddByte(c.hash, 0x1b), prev.hash)
		c.previous = appendJSONString(nil, req.previousID)
		c.prev = prev
	}
	if aerr := req.checkCallOutputs(c.prev); aerr != nil {
		c.fail(aerr)
		return
	}
	if cfg.flexUnavailable && req.serviceTier == "flex" && c.batch == nil {
		c.fail(errFlexUnavailable())
		return
	}
	// --rate-limit-first leaves the endpoint alone.
	if !c.arriveOpenAI(c.ks.arrivalsOn(epResponses), req.stream, nil) {
		return
	}
	charge := req.charge(c.promptTokens)
	refused := func(adm admission) *apiError { return e.rateLimitError(req.model, charge, adm) }
	if seq, ok := admitAndWait(&c.call, charge, refused, c.fail); ok {
		c.succeed(seq)
	}
}

func (c *responsesCall) succeed(seq uint64) {
	req := c.req
	c.plan()
	output := c.outputTokens()
	c.completionTokens = output
	c.reasoningTokens = reasoningTokens(req.model, output)

	c.respID = string(appendResponseID(nil, "resp_", c.idA, c.idB))
	c.msgID = string(appendResponseID(nil, "msg_", mix64(c.idA+1), mix64(c.idB+1)))
	c.created = time.Now().Unix()

	ks := c.ks
	ks.mu.Lock()
	seen := c.promptTokens >= 1024 && ks.cache.seenBefore(c.hash)
	if seq != 0 {
		ks.win.reconcile(seq, c.promptTokens+output)
	}
	ks.mu.Unlock()
	c.cachedTokens = cachedTokens(c.promptTokens, seen)

	if req.stream {
		c.streamResponse()
		return
	}
	c.store()
	b := c.responseJSON(nil, true)
	b = append(b, '\n')
	c.setHeaders(c.w.Header())
	c.record(outOK, http.StatusOK)
	writeJSON(c.w, http.StatusOK, b)
}

// plan decides the reply: function calls, or text (quoting the tool
// outputs when the input ends with them).
func (c *responsesCall) plan() {
	req := c.req
	picked := req.tools.pick()
	wantsJSON := len(picked) > 0 && req.tools.choice.forced() || len(picked) == 0 && req.format != nil
	invalid := wantsJSON && c.drawInvalidJSON()
	c.invalidJSON = invalid
	if len(picked) > 0 {
		cp := planCalls(picked, req.maxOut, req.hasMax, invalid)
		c.calls = &cp
		for j := range cp.calls {
			c.callIDs = append(c.callIDs, callID("call_", c.hash, 0, j, 24))
			h := mix64(c.hash ^ uint64(j+1)*0x9e3779b97f4a7c15)
			c.itemIDs = append(c.itemIDs, string(appendResponseID(nil, "fc_", h, mix64(h))))
		}
		return
	}
	base := replyText(completionTarget(req.model, req.lastText))
	if req.tools.endsInTool {
		base = resultsText(req.tools.results)
	}
	c.out = planText(base, req.maxOut, req.hasMax, req.format, invalid)
}

func (c *responsesCall) outputTokens() int64 {
	if c.calls != nil {
		return c.calls.tokens
	}
	return c.out.tokens
}

func (c *responsesCall) capped() bool {
	if c.calls != nil {
		return c.calls.capped
	}
	return c.out.capped
}

// store remembers a finished response for previous_response_id, unless the
// request asked not to, with the function calls it made.
func (c *responsesCall) store() {
	if !c.req.store {
		return
	}
	known := append(append(append([]string(nil), c.prev.known...), c.req.issued...), c.callIDs...)
	reply := c.out.text
	if c.calls != nil {
		for j, call := range c.calls.calls {
			reply += c.callIDs[j] + "\x00" + call.name + "\x00" + call.args + "\x1f"
		}
	}
	c.ks.mu.Lock()
	c.ks.responses.put(c.respID, storedResponse{context: c.promptTokens + c.outputTokens(),
		hash: fnvAdd(fnvAddByte(c.hash, 0x1a), reply), lastOutput: c.out.text, known: known, pending: c.callIDs})
	c.ks.mu.Unlock()
}

// appendResponseID appends prefix and 48 hex digits derived from a and b.
func appendResponseID(b []byte, prefix string, a, c uint64) []byte {
	b = append(b, prefix...)
	b = appendHex(b, a)
	b = appendHex(b, c)
	return appendHex(b, mix64(a^c))
}

// responseJSON appends the response object. done selects the finished
// object (status completed or incomplete, with output and usage) over the
// in-progress one a stream starts with.
func (c *responsesCall) responseJSON(b []byte, done bool) []byte {
	req := c.req
	status, incomplete := "in_progress", json.RawMessage("null")
	if done {
		status = "completed"
		if c.capped() {
			status, incomplete = "incomplete", json.RawMessage(`{"reason":"max_output_tokens"}`)
		}
	}
	b = append(b, `{"id":`...)
	b = appendJSONString(b, c.respID)
	b = append(b, `,"object":"response","created_at":`...)
	b = fmt.Appendf(b, "%d", c.created)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","error":null,"incomplete_details":`...)
	b = append(b, incomplete...)
	b = append(b, `,"instructions":`...)
	b = append(b, req.instructions...)
	b = append(b, `,"max_output_tokens":`...)
	b = append(b, req.maxOutputTokens...)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, req.model)
	b = append(b, `,"output":[`...)
	if done {
		b = c.outputItemsJSON(b)
	}
	b = append(b, `],"parallel_tool_calls":`...)
	b = fmt.Appendf(b, "%t", req.parallelToolCalls)
	b = append(b, `,"previous_response_id":`...)
	b = append(b, c.previous...)
	b = append(b, `,"reasoning":{"effort":`...)
	b = append(b, req.effort...)
	b = append(b, `,"summary":`...)
	b = append(b, req.summary...)
	b = append(b, `},"service_tier":"`...)
	b = append(b, servedTier(req.serviceTier)...)
	b = append(b, `","store":`...)
	b = fmt.Appendf(b, "%t", req.store)
	b = append(b, `,"temperature":`...)
	b = append(b, req.temperature...)
	b = append(b, `,"text":{"format":`...)
	b = append(b, req.textFormat...)
	b = append(b, `},"tool_choice":`...)
	b = append(b, req.toolChoiceEcho...)
	b = append(b, `,"tools":`...)
	b = append(b, req.toolsEcho...)
	b = append(b, `,"top_p":`...)
	b = append(b, req.topP...)
	b = append(b, `,"truncation":`...)
	b = appendJSONString(b, req.truncation)
	b = append(b, `,"usage":`...)
	if done {
		b = c.usageJSON(b)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"user":`...)
	b = append(b, req.user...)
	b = append(b, `,"metadata":`...)
	b = append(b, req.metadata...)
	return append(b, '}')
}

// outputItemsJSON appends the finished output items: the function calls,
// or the message.
func (c *responsesCall) outputItemsJSON(b []byte) []byte {
	if c.calls == nil {
		return c.outputItemJSON(b, true)
	}
	for j := range c.calls.calls {
		if j > 0 {
			b = append(b, ',')
		}
		b = c.functionCallJSON(b, j, true)
	}
	return b
}

// functionCallJSON appends function call j as an output item; an
// unfinished one, as a stream adds it, has empty arguments.
func (c *responsesCall) functionCallJSON(b []byte, j int, done bool) []byte {
	call := c.calls.calls[j]
	status, args := "in_progress", ""
	if done {
		status, args = "completed", call.args
		if call.cut {
			status = "incomplete"
		}
	}
	b = append(b, `{"type":"function_call","id":`...)
	b = appendJSONString(b, c.itemIDs[j])
	b = append(b, `,"call_id":`...)
	b = appendJSONString(b, c.callIDs[j])
	b = append(b, `,"name":`...)
	b = appendJSONString(b, call.name)
	b = append(b, `,"arguments":`...)
	b = appendJSONString(b, args)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	return append(b, `"}`...)
}

// outputItemJSON appends the assistant message item; an unfinished item has
// no content yet.
func (c *responsesCall) outputItemJSON(b []byte, done bool) []byte {
	status := "in_progress"
	if done {
		status = "completed"
		if c.out.capped {
			status = "incomplete"
		}
	}
	b = append(b, `{"type":"message","id":`...)
	b = appendJSONString(b, c.msgID)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","role":"assistant","content":[`...)
	if done {
		b = c.appendOutputText(b, c.out.text)
	}
	return append(b, "]}"...)
}

// appendOutputText appends an output_text content part holding text, with
// its logprobs when the request included them.
func (c *responsesCall) appendOutputText(b []byte, text string) []byte {
	b = append(b, `{"type":"output_text","text":`...)
	b = appendJSONString(b, text)
	b = append(b, `,"annotations":[],"logprobs":[`...)
	b = c.appendLogprobs(b, 0, len(text))
	return append(b, "]}"...)
}

// appendLogprobs appends the logprob entries of the reply's bytes
// [from, to) when the request included them.
func (c *responsesCall) appendLogprobs(b []byte, from, to int) []byte {
	if !c.req.logprobs {
		return b
	}
	return appendLogprobEntries(b, c.out.text, from, to, c.req.topLogprobs)
}

func (c *responsesCall) usageJSON(b []byte) []byte {
	out := c.outputTokens()
	b = fmt.Appendf(b, `{"input_tokens":%d,"input_tokens_details":{"cached_tokens":%d},"output_tokens":%d,`+
		`"output_tokens_details":{"reasoning_tokens":%d},"total_tokens":%d}`,
		c.promptTokens, c.cachedTokens, out, c.reasoningTokens, c.promptTokens+out)
	return b
}
