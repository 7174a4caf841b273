package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Ollama's embeddings API: POST /api/embed. Keys, statistics, faults and
// the rate-limit window are those of /api/chat (arrivals counted apart);
// --rate-limit-first applies as on the other embeddings endpoints. The
// vectors are those of /v1/embeddings for the same model and text, and
// the window is charged the input tokens only.

const (
	epOllamaEmbed = "ollama-embed"
	// ollamaEmbedDims is the length of a vector when dimensions does not
	// shorten it.
	ollamaEmbedDims = 768
)

// ollamaEmbedFields are the members of an EmbedRequest; any other member
// is refused.
var ollamaEmbedFields = []string{"model", "input", "truncate", "dimensions", "keep_alive", "options"}

// ollamaEmbedRequest is what the emulator needs from an /api/embed body.
type ollamaEmbedRequest struct {
	model        string
	inputs       []string
	dims         int
	promptTokens int64
}

func (e *emulator) serveOllamaEmbed(w http.ResponseWriter, r *http.Request) {
	c, body, ok := e.admitOllama(w, r)
	if !ok {
		return
	}
	req, aerr := parseOllamaEmbedRequest(body)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	c.model, c.promptTokens = req.model, req.promptTokens
	if !c.modelKnown() || !c.arrive(epOllamaEmbed, false, errOllamaRateLimited) {
		return
	}
	// The charge is the actual usage: nothing to reconcile later.
	if _, ok := c.admitAndWait(req.promptTokens); !ok {
		return
	}
	b := c.appendEmbedReply(nil, req)
	c.record(outOK, http.StatusOK)
	writeJSON(c.w, http.StatusOK, b)
}

// appendEmbedReply appends {"model","embeddings":[[...]...],"total_duration",
// "load_duration","prompt_eval_count"}. The durations are nominal, as on
// /api/chat: loading 1 ms and 0.05 ms per input token, plus the real
// handling time in the total.
func (c *ollamaCall) appendEmbedReply(b []byte, req *ollamaEmbedRequest) []byte {
	if b == nil {
		b = make([]byte, 0, 160+len(req.inputs)*(2+12*req.dims))
	}
	b = append(b, `{"model":`...)
	b = appendJSONString(b, req.model)
	b = append(b, `,"embeddings":[`...)
	for i, text := range req.inputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendVector(b, textEmbedding(req.model, text, req.dims))
	}
	load := int64(time.Millisecond)
	promptDur := req.promptTokens * int64(50*time.Microsecond)
	b = append(b, `],"total_duration":`...)
	b = strconv.AppendInt(b, int64(time.Since(c.start))+load+promptDur, 10)
	b = append(b, `,"load_duration":`...)
	b = strconv.AppendInt(b, load, 10)
	b = append(b, `,"prompt_eval_count":`...)
	b = strconv.AppendInt(b, req.promptTokens, 10)
	return append(b, "}\n"...)
}

// parseOllamaEmbedRequest checks an /api/embed body: model, input (a
// non-empty string or a non-empty array of non-empty strings), truncate,
// dimensions, keep_alive and options.
func parseOllamaEmbedRequest(body []byte) (*ollamaEmbedRequest, *apiError) {
	var probe any
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, ollamaBadRequest("%v", err)
	}
	o, ok := parseObject(body)
	if !ok {
		return nil, ollamaBadRequest("json: cannot unmarshal %s into Go value of type api.EmbedRequest", jsonType(body))
	}
	for _, k := range o.keys {
		if !contains(ollamaEmbedFields, k) {
			return nil, ollamaBadRequest("json: unknown field %q", k)
		}
	}
	req := &ollamaEmbedRequest{dims: ollamaEmbedDims}
	raw := o.get("model")
	model, ok := rawString(raw)
	switch {
	case isAbsent(raw):
		return nil, ollamaBadRequest("model is required")
	case !ok:
		return nil, ollamaBadRequest("json: cannot unmarshal %s into Go struct field EmbedRequest.model of type string", jsonType(raw))
	case model == "":
		return nil, ollamaBadRequest("model is required")
	}
	req.model = model

	raw = o.get("input")
	switch jsonKind(raw) {
	case "nothing", "null":
		return nil, ollamaBadRequest("input is required")
	case "a string":
		s, _ := rawString(raw)
		if s == "" {
			return nil, ollamaBadRequest("input must not be empty")
		}
		req.inputs = []string{s}
	case "an array":
		list := rawList(raw)
		if len(list) == 0 {
			return nil, ollamaBadRequest("input must not be empty")
		}
		for i, item := range list {
			s, ok := rawString(item)
			if !ok {
				return nil, ollamaBadRequest("invalid input type: input[%d] is %s, not a string", i, jsonType(item))
			}
			if s == "" {
				return nil, ollamaBadRequest("input[%d] must not be empty", i)
			}
			req.inputs = append(req.inputs, s)
		}
	default:
		return nil, ollamaBadRequest("invalid input type: input is %s, not a string or an array of strings", jsonType(raw))
	}
	for _, s := range req.inputs {
		req.promptTokens += textTokens(s)
	}

	if v := o.get("truncate"); !isAbsent(v) && jsonKind(v) != "a boolean" {
		return nil, ollamaBadRequest("json: cannot unmarshal %s into Go struct field EmbedRequest.truncate of type bool", jsonType(v))
	}
	if v := o.get("dimensions"); !isAbsent(v) {
		if jsonKind(v) != "an integer" {
			return nil, ollamaBadRequest("json: cannot unmarshal %s into Go struct field EmbedRequest.dimensions of type int", jsonType(v))
		}
		n, err := strconv.ParseInt(string(compactJSON(v)), 10, 32)
		if err != nil || n < 0 {
			return nil, ollamaBadRequest("dimensions must be a positive integer, got %s", compactJSON(v))
		}
		// As Ollama does, dimensions only ever shortens the vector.
		if n > 0 && n < ollamaEmbedDims {
			req.dims = int(n)
		}
	}
	if aerr := checkKeepAlive("EmbedRequest", o.get("keep_alive")); aerr != nil {
		return nil, aerr
	}
	// The options are checked as on /api/chat; none changes an embedding.
	if aerr := (&ollamaRequest{}).parseOptions(o.get("options")); aerr != nil {
		return nil, aerr
	}
	return req, nil
}
