package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// ollamaRequest is what the emulator needs from an /api/chat body.
type ollamaRequest struct {
	model        string
	stream       bool
	promptTokens int64
	lastText     string      // content of the last message
	maxOut       int64       // options.num_predict when positive
	hasMax       bool        // num_predict > 0
	format       *jsonFormat // format: "json" or a schema; nil for text
	tools        toolRequest
	think        bool
}

// charge is what a request costs the token window on arrival.
func (r *ollamaRequest) charge() int64 {
	if r.hasMax {
		return r.promptTokens + min(r.maxOut, math.MaxInt64-r.promptTokens)
	}
	return r.promptTokens
}

// ollamaError is an error answer in Ollama's shape, {"error": message}.
func ollamaError(status int, o outcome, format string, args ...any) *apiError {
	return &apiError{status: status, outcome: o, message: fmt.Sprintf(format, args...)}
}

func ollamaBadRequest(format string, args ...any) *apiError {
	return ollamaError(http.StatusBadRequest, outBadRequest, format, args...)
}

type wireOllamaRequest struct {
	Model     json.RawMessage `json:"model"`
	Messages  json.RawMessage `json:"messages"`
	Stream    json.RawMessage `json:"stream"`
	Format    json.RawMessage `json:"format"`
	Options   json.RawMessage `json:"options"`
	KeepAlive json.RawMessage `json:"keep_alive"`
	Tools     json.RawMessage `json:"tools"`
	Think     json.RawMessage `json:"think"`
}

var ollamaRoles = map[string]bool{"system": true, "user": true, "assistant": true, "tool": true}

// parseOllamaRequest checks an /api/chat body and computes its token
// figures.
func parseOllamaRequest(body []byte) (*ollamaRequest, *apiError) {
	var wr wireOllamaRequest
	if err := json.Unmarshal(body, &wr); err != nil {
		return nil, ollamaBadRequest("%v", err)
	}
	req := &ollamaRequest{stream: true}
	model, ok := rawString(wr.Model)
	switch {
	case isAbsent(wr.Model):
		return nil, ollamaBadRequest("model is required")
	case !ok:
		return nil, ollamaBadRequest("json: cannot unmarshal %s into Go struct field ChatRequest.model of type string", jsonType(wr.Model))
	case model == "":
		return nil, ollamaBadRequest("model is required")
	}
	req.model = model

	if isAbsent(wr.Messages) {
		return nil, ollamaBadRequest("messages is required")
	}
	if jsonKind(wr.Messages) != "an array" {
		return nil, ollamaBadRequest("json: cannot unmarshal %s into Go struct field ChatRequest.messages of type []api.Message", jsonType(wr.Messages))
	}
	msgs := rawList(wr.Messages)
	if len(msgs) == 0 {
		return nil, ollamaBadRequest("messages is required")
	}
	req.promptTokens = tokensPerPrompt
	for i, raw := range msgs {
		m, ok := parseObject(raw)
		if !ok {
			return nil, ollamaBadRequest("json: cannot unmarshal %s into Go struct field ChatRequest.messages of type api.Message", jsonType(raw))
		}
		role, ok := rawString(m.get("role"))
		if !ok || !ollamaRoles[role] {
			return nil, ollamaBadRequest("messages[%d]: invalid role %s", i, strings.TrimSpace(string(m.get("role"))))
		}
		var content string
		if c := m.get("content"); !isAbsent(c) {
			if content, ok = rawString(c); !ok {
				return nil, ollamaBadRequest("json: cannot unmarshal %s into Go struct field Message.messages.content of type string", jsonType(c))
			}
		}
		images := 0
		if im := m.get("images"); !isAbsent(im) {
			if jsonKind(im) != "an array" {
				return nil, ollamaBadRequest("json: cannot unmarshal %s into Go struct field Message.messages.images of type []api.ImageData", jsonType(im))
			}
			for _, img := range rawList(im) {
				s, ok := rawString(img)
				if !ok {
					return nil, ollamaBadRequest("json: cannot unmarshal %s into Go struct field Message.messages.images of type api.ImageData", jsonType(img))
				}
				if _, err := base64.StdEncoding.DecodeString(s); err != nil {
					return nil, ollamaBadRequest("%v", err)
				}
				images++
			}
		}
		req.promptTokens += messageTokens([]string{content}, images)
		if role == "assistant" {
			tokens, aerr := ollamaToolCalls(m.get("tool_calls"))
			if aerr != nil {
				return nil, aerr
			}
			req.promptTokens += tokens
		}
		if th := m.get("thinking"); !isAbsent(th) {
			if _, ok := rawString(th); !ok {
				return nil, ollamaBadRequest("json: cannot unmarshal %s into Go struct field Message.messages.thinking of type string", jsonType(th))
			}
		}
		switch role {
		case "tool":
			if !req.tools.endsInTool {
				req.tools.results = nil
			}
			req.tools.endsInTool = true
			req.tools.results = append(req.tools.results, content)
		case "user":
			req.tools.lastUser = content
			fallthrough
		default:
			req.tools.endsInTool, req.tools.results = false, nil
		}
		if i == len(msgs)-1 {
			req.lastText = content
		}
	}
	if aerr := req.parseOllamaTools(wr.Tools); aerr != nil {
		return nil, aerr
	}
	if aerr := req.parseThink(wr.Think); aerr != nil {
		return nil, aerr
	}

	if !isAbsent(wr.Stream) {
		switch strings.TrimSpace(string(wr.Stream)) {
		case "true":
		case "false":
			req.stream = false
		default:
			return nil, ollamaBadRequest("json: cannot unmarshal %s into Go struct field ChatRequest.stream of type bool", jsonType(wr.Stream))
		}
	}
	if aerr := req.parseFormat(wr.Format); aerr != nil {
		return nil, aerr
	}
	if aerr := req.parseOptions(wr.Options); aerr != nil {
		return nil, aerr
	}
	if aerr := checkKeepAlive("ChatRequest", wr.KeepAlive); aerr != nil {
		return nil, aerr
	}
	return req, nil
}

// checkKeepAlive checks keep_alive: a number, or a duration string such
// as "5m". typ names the request in the decoder's message.
func checkKeepAlive(typ string, ka json.RawMessage) *apiError {
	if isAbsent(ka) {
		return nil
	}
	switch jsonKind(ka) {
	case "an integer", "a decimal number":
	case "a string":
		s, _ := rawString(ka)
		if _, err := time.ParseDuration(s); err != nil {
			return ollamaBadRequest("%v", err)
		}
	default:
		return ollamaBadRequest("json: cannot unmarshal %s into Go struct field %s.keep_alive", jsonType(ka), typ)
	}
	return nil
}

// parseFormat reads format: "" (text), "json" or a JSON Schema object.
func (r *ollamaRequest) parseFormat(raw json.RawMessage) *apiError {
	if isAbsent(raw) {
		return nil
	}
	if s, ok := rawString(raw); ok {
		switch s {
		case "":
			return nil
		case "json":
			r.format = &jsonFormat{answer: true}
			return nil
		}
		return ollamaBadRequest(`invalid format: %q; expected "json" or a valid JSON Schema`, s)
	}
	if jsonKind(raw) != "an object" {
		return ollamaBadRequest(`invalid format: expected "json" or a valid JSON Schema`)
	}
	r.format = &jsonFormat{schema: compactJSON(raw)}
	return nil
}

// parseOptions reads the options that matter (temperature, top_p, top_k,
// num_predict, stop, seed, frequency_penalty, presence_penalty) and checks
// their types; others are ignored.
func (r *ollamaRequest) parseOptions(raw json.RawMessage) *apiError {
	if isAbsent(raw) {
		return nil
	}
	o, ok := parseObject(raw)
	if !ok {
		return ollamaBadRequest("json: cannot unmarshal %s into Go struct field ChatRequest.options of type map[string]interface {}", jsonType(raw))
	}
	for _, name := range []string{"temperature", "top_p", "frequency_penalty", "presence_penalty"} {
		if v := o.get(name); !isAbsent(v) {
			if k := jsonKind(v); k != "an integer" && k != "a decimal number" {
				return ollamaBadRequest("option %q must be of type float32", name)
			}
		}
	}
	for _, name := range []string{"num_predict", "seed", "top_k"} {
		if v := o.get(name); !isAbsent(v) {
			if jsonKind(v) != "an integer" && !integralDecimal(v) {
				return ollamaBadRequest("option %q must be of type integer", name)
			}
		}
	}
	if v := o.get("num_predict"); !isAbsent(v) {
		if n, ok := schemaNumber(v); ok && n > 0 {
			r.maxOut, r.hasMax = clampInt(n), true
		}
	}
	if v := o.get("stop"); !isAbsent(v) {
		if _, ok := rawString(v); !ok {
			if jsonKind(v) != "an array" {
				return ollamaBadRequest("option \"stop\" must be of type array")
			}
			for _, s := range rawList(v) {
				if _, ok := rawString(s); !ok {
					return ollamaBadRequest("option \"stop\" must be of type array")
				}
			}
		}
	}
	return nil
}

// integralDecimal reports whether raw is a decimal number with an integral
// value, such as 128.0, which Ollama accepts for integer options.
func integralDecimal(raw json.RawMessage) bool {
	v, ok := schemaNumber(raw)
	return ok && v == math.Trunc(v)
}

// jsonType names the JSON type of a value the way Go's decoder does.
func jsonType(raw json.RawMessage) string {
	switch jsonKind(raw) {
	case "a string":
		return "string"
	case "an object":
		return "object"
	case "an array":
		return "array"
	case "a boolean":
		return "bool"
	case "null":
		return "null"
	}
	return "number"
}
