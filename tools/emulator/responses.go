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
}

func (e *emulator) serveResponses(w http.ResponseWriter, r *http.Request) {
	c := &responsesCall{call: call{e: e, w: w, r: r, start: time.Now(), key: bearerKey(r)}}
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
	}
	if cfg.countsArrivals() {
		c.k = c.ks.arrivalOn(epResponses, c.digest)
		f := cfg.decideFault(c.digest, c.k)
		if req.stream {
			f, c.mid = cfg.streamFault(c.digest, c.k, f, false)
		}
		switch f {
		case fault500:
			c.fail(errServer())
			return
		case fault503:
			c.fail(errOverloaded())
			return
		case faultReset:
			c.reset()
			return
		case faultStall:
			c.stalled = true
		}
	}

	var seq uint64
	if e.lim.enabled() {
		charge := req.charge(c.promptTokens)
		adm := c.ks.admit(e.lim, charge)
		if adm.kind != admitted {
			c.fail(e.rateLimitError(req.model, charge, adm))
			return
		}
		seq = adm.seq
	}
	if !sleepCtx(r.Context(), cfg.delay(c.digest, c.k, c.stalled)) {
		c.record(outGone, 0)
		return
	}
	c.succeed(seq)
}

func (c *responsesCall) succeed(seq uint64) {
	req := c.req
	out := planReply(req.model, req.lastText, req.maxOut, req.hasMax, req.format,
		req.format != nil && c.e.cfg.invalidJSON(c.digest, c.k))
	output := out.tokens
	c.completionTokens, c.invalidJSON = output, out.invalid
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
		c.streamResponse(out)
		return
	}
	c.store(out)
	b := c.responseJSON(nil, out, true)
	b = append(b, '\n')
	c.setHeaders(c.w.Header())
	c.record(outOK, http.StatusOK)
	writeJSON(c.w, http.StatusOK, b)
}

// store remembers a finished response for previous_response_id, unless the
// request asked not to.
func (c *responsesCall) store(out replyPlan) {
	if !c.req.store {
		return
	}
	c.ks.mu.Lock()
	c.ks.responses.put(c.respID, storedResponse{context: c.promptTokens + out.tokens,
		hash: fnvAdd(fnvAddByte(c.hash, 0x1a), out.text), lastOutput: out.text})
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
func (c *responsesCall) responseJSON(b []byte, out replyPlan, done bool) []byte {
	req := c.req
	status, incomplete := "in_progress", json.RawMessage("null")
	if done {
		status = "completed"
		if out.capped {
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
		b = c.outputItemJSON(b, out, true)
	}
	b = append(b, `],"parallel_tool_calls":`...)
	b = fmt.Appendf(b, "%t", req.parallelToolCalls)
	b = append(b, `,"previous_response_id":`...)
	b = append(b, c.previous...)
	b = append(b, `,"reasoning":{"effort":`...)
	b = append(b, req.effort...)
	b = append(b, `,"summary":`...)
	b = append(b, req.summary...)
	b = append(b, `},"store":`...)
	b = fmt.Appendf(b, "%t", req.store)
	b = append(b, `,"temperature":`...)
	b = append(b, req.temperature...)
	b = append(b, `,"text":{"format":`...)
	b = append(b, req.textFormat...)
	b = append(b, `},"tool_choice":"auto","tools":[],"top_p":`...)
	b = append(b, req.topP...)
	b = append(b, `,"truncation":`...)
	b = appendJSONString(b, req.truncation)
	b = append(b, `,"usage":`...)
	if done {
		b = c.usageJSON(b, out)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"user":`...)
	b = append(b, req.user...)
	b = append(b, `,"metadata":`...)
	b = append(b, req.metadata...)
	return append(b, '}')
}

// outputItemJSON appends the assistant message item; an unfinished item has
// no content yet.
func (c *responsesCall) outputItemJSON(b []byte, out replyPlan, done bool) []byte {
	status := "in_progress"
	if done {
		status = "completed"
		if out.capped {
			status = "incomplete"
		}
	}
	b = append(b, `{"type":"message","id":`...)
	b = appendJSONString(b, c.msgID)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","role":"assistant","content":[`...)
	if done {
		b = appendOutputText(b, out.text)
	}
	return append(b, "]}"...)
}

// appendOutputText appends an output_text content part.
func appendOutputText(b []byte, text string) []byte {
	b = append(b, `{"type":"output_text","text":`...)
	b = appendJSONString(b, text)
	return append(b, `,"annotations":[]}`...)
}

func (c *responsesCall) usageJSON(b []byte, out replyPlan) []byte {
	b = fmt.Appendf(b, `{"input_tokens":%d,"input_tokens_details":{"cached_tokens":%d},"output_tokens":%d,`+
		`"output_tokens_details":{"reasoning_tokens":%d},"total_tokens":%d}`,
		c.promptTokens, c.cachedTokens, out.tokens, c.reasoningTokens, c.promptTokens+out.tokens)
	return b
}
