package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is an error answer in OpenAI's shape.
type apiError struct {
	status  int
	message string
	typ     string
	param   string // "" is sent as null
	code    string // "" is sent as null
	outcome outcome
	noRetry bool // a 429 that retrying cannot fix

	// Rate-limit refusals only.
	retryAfter bool
	wait       time.Duration
}

func invalidRequest(param, code, format string, args ...any) *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		message: fmt.Sprintf(format, args...),
		typ:     "invalid_request_error",
		param:   param,
		code:    code,
		outcome: outBadRequest,
	}
}

// openAIObject opens an OpenAI request body: a JSON object with no member
// that fields leaves out.
func openAIObject(body []byte, fields []string) (*jsonObject, *apiError) {
	if !json.Valid(body) {
		return nil, errInvalidJSON()
	}
	o, ok := parseObject(body)
	if !ok {
		return nil, errInvalidJSON()
	}
	for _, k := range o.keys {
		if !contains(fields, k) {
			return nil, invalidRequest("", "", "Unrecognized request argument supplied: %s", k)
		}
	}
	return o, nil
}

func errInvalidJSON() *apiError {
	return invalidRequest("", "", "We could not parse the JSON body of your request. (HINT: This likely means you aren't "+
		"using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "+
		"If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)")
}

// chatRequest is what the emulator needs from a request body.
type chatRequest struct {
	model        string
	maxOut       int64 // max_completion_tokens, else max_tokens
	hasMax       bool
	stream       bool
	includeUsage bool // stream_options.include_usage
	promptTokens int64
	lastContent  string      // text of the last message
	promptHash   uint64      // identifies the prompt for the cache
	format       *jsonFormat // response_format asking for JSON, nil for text
	n            int64       // choices to generate
	logprobs     bool
	topLogprobs  int64
	serviceTier  string // the tier the answer reports
	tools        toolRequest
}

// charge is what a request costs the token window on arrival: the prompt
// and, when capped, the cap for each of the n choices.
func (c *chatRequest) charge() int64 {
	if c.hasMax {
		per := min(c.maxOut, (math.MaxInt64-c.promptTokens)/max(c.n, 1))
		return c.promptTokens + per*max(c.n, 1)
	}
	return c.promptTokens
}

type wireRequest struct {
	Model               json.RawMessage `json:"model"`
	Messages            json.RawMessage `json:"messages"`
	MaxCompletionTokens json.RawMessage `json:"max_completion_tokens"`
	MaxTokens           json.RawMessage `json:"max_tokens"`
	Stream              json.RawMessage `json:"stream"`
	ResponseFormat      json.RawMessage `json:"response_format"`
	StreamOptions       json.RawMessage `json:"stream_options"`
	Tools               json.RawMessage `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ParallelToolCalls   json.RawMessage `json:"parallel_tool_calls"`
	N                   json.RawMessage `json:"n"`
	Logprobs            json.RawMessage `json:"logprobs"`
	TopLogprobs         json.RawMessage `json:"top_logprobs"`
	ServiceTier         json.RawMessage `json:"service_tier"`
	Temperature         json.RawMessage `json:"temperature"`
	TopP                json.RawMessage `json:"top_p"`
	FrequencyPenalty    json.RawMessage `json:"frequency_penalty"`
	PresencePenalty     json.RawMessage `json:"presence_penalty"`
	LogitBias           json.RawMessage `json:"logit_bias"`
	Seed                json.RawMessage `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	PromptCacheKey      json.RawMessage `json:"prompt_cache_key"`
	SafetyIdentifier    json.RawMessage `json:"safety_identifier"`
	User                json.RawMessage `json:"user"`
	Metadata            json.RawMessage `json:"metadata"`
	Store               json.RawMessage `json:"store"`
	ReasoningEffort     json.RawMessage `json:"reasoning_effort"`
}

type wireMessage struct {
	Role       json.RawMessage `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  json.RawMessage `json:"tool_calls"`
	ToolCallID json.RawMessage `json:"tool_call_id"`
}

type wirePart struct {
	Type     json.RawMessage `json:"type"`
	Text     json.RawMessage `json:"text"`
	ImageURL json.RawMessage `json:"image_url"`
}

type wireImageURL struct {
	URL json.RawMessage `json:"url"`
}

// jsonKind names the JSON type of a raw value the way OpenAI's errors do.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return "a decimal number"
	}
	return "an integer"
}

func isAbsent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func rawString(raw json.RawMessage) (string, bool) {
	var s string
	if jsonKind(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

var validRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

// roles whose content may be null or absent.
var optionalContent = map[string]bool{"assistant": true, "function": true}

var validPartTypes = map[string]bool{"text": true, "image_url": true, "input_audio": true, "refusal": true, "file": true}

// parseChatRequest checks a body and computes its token figures.
func parseChatRequest(body []byte) (*chatRequest, *apiError) {
	var wr wireRequest
	if err := json.Unmarshal(body, &wr); err != nil {
		return nil, errInvalidJSON()
	}
	req := &chatRequest{}

	if isAbsent(wr.Model) {
		return nil, invalidRequest("model", "", "you must provide a model parameter")
	}
	model, ok := rawString(wr.Model)
	if !ok {
		return nil, invalidRequest("model", "invalid_type", "Invalid type for 'model': expected a string, but got %s instead.", jsonKind(wr.Model))
	}
	req.model = model

	if isAbsent(wr.Messages) {
		return nil, invalidRequest("messages", "missing_required_parameter", "Missing required parameter: 'messages'.")
	}
	if jsonKind(wr.Messages) != "an array" {
		return nil, invalidRequest("messages", "invalid_type", "Invalid type for 'messages': expected an array of objects, but got %s instead.", jsonKind(wr.Messages))
	}
	var msgs []json.RawMessage
	if err := json.Unmarshal(wr.Messages, &msgs); err != nil {
		return nil, errInvalidJSON()
	}
	if len(msgs) == 0 {
		return nil, invalidRequest("messages", "empty_array", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	}

	h := fnvAdd(fnvOffset64, model)
	req.promptTokens = tokensPerPrompt
	var texts []string // every message's text, for JSON mode's check
	var open *toolCallTurn
	for i, raw := range msgs {
		p := fmt.Sprintf("messages[%d]", i)
		if jsonKind(raw) != "an object" {
			return nil, invalidRequest(p, "invalid_type", "Invalid type for '%s': expected an object, but got %s instead.", p, jsonKind(raw))
		}
		var m wireMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, errInvalidJSON()
		}
		if isAbsent(m.Role) {
			return nil, invalidRequest(p+".role", "missing_required_parameter", "Missing required parameter: '%s.role'.", p)
		}
		role, ok := rawString(m.Role)
		if !ok {
			return nil, invalidRequest(p+".role", "invalid_type", "Invalid type for '%s.role': expected a string, but got %s instead.", p, jsonKind(m.Role))
		}
		if !validRoles[role] {
			return nil, invalidRequest(p+".role", "invalid_value", "Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", role)
		}
		msgTexts, images, hashed, aerr := parseContent(p+".content", role, m.Content)
		if aerr != nil {
			return nil, aerr
		}
		texts = append(texts, msgTexts...)
		req.promptTokens += messageTokens(msgTexts, images)
		h = fnvAddByte(fnvAdd(fnvAddByte(h, 0x1e), role), 0x1d)
		h = fnvAdd(h, hashed)

		// Tool calls and their results must pair up as the API requires.
		switch role {
		case "tool":
			id, aerr := toolCallIDOf(p, m.ToolCallID)
			if aerr != nil {
				return nil, aerr
			}
			if open == nil || !open.answer(id) {
				return nil, invalidRequest(fmt.Sprintf("messages.[%d].role", i), "",
					"Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.")
			}
			if !req.tools.endsInTool {
				req.tools.results = nil
			}
			req.tools.endsInTool = true
			req.tools.results = append(req.tools.results, strings.Join(msgTexts, ""))
			h = fnvAdd(fnvAddByte(h, 0x1c), id)
			continue
		}
		if aerr := open.check(); aerr != nil {
			return nil, aerr
		}
		open = nil
		req.tools.endsInTool, req.tools.results = false, nil
		switch role {
		case "assistant":
			calls, tokens, canon, aerr := parseToolCalls(p+".tool_calls", m.ToolCalls)
			if aerr != nil {
				return nil, aerr
			}
			if len(calls) > 0 {
				open = &toolCallTurn{index: i, ids: calls, answered: map[string]bool{}}
				req.promptTokens += tokens
				h = fnvAdd(fnvAddByte(h, 0x1b), canon)
			}
		case "user":
			req.tools.lastUser = strings.Join(msgTexts, "")
		}
		if i == len(msgs)-1 {
			req.lastContent = strings.Join(msgTexts, "")
		}
	}
	if open != nil && len(open.answered) > 0 {
		if aerr := open.check(); aerr != nil {
			return nil, aerr
		}
	}
	if req.tools.endsInTool {
		req.lastContent = req.tools.results[len(req.tools.results)-1]
	}

	var aerr *apiError
	if req.maxOut, req.hasMax, aerr = parseMax("max_completion_tokens", wr.MaxCompletionTokens); aerr != nil {
		return nil, aerr
	}
	if !req.hasMax {
		if req.maxOut, req.hasMax, aerr = parseMax("max_tokens", wr.MaxTokens); aerr != nil {
			return nil, aerr
		}
	}
	if !isAbsent(wr.Stream) {
		switch strings.TrimSpace(string(wr.Stream)) {
		case "true":
			req.stream = true
		case "false":
		default:
			return nil, invalidRequest("stream", "invalid_type", "Invalid type for 'stream': expected a boolean, but got %s instead.", jsonKind(wr.Stream))
		}
	}
	if req.format, aerr = parseResponseFormat(wr.ResponseFormat); aerr != nil {
		return nil, aerr
	}
	if so, aerr := oaObject("stream_options", wr.StreamOptions); aerr != nil {
		return nil, aerr
	} else if so != nil {
		if !req.stream {
			return nil, invalidRequest("stream_options", "", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
		}
		if req.includeUsage, _, aerr = oaBool("stream_options.include_usage", so.get("include_usage")); aerr != nil {
			return nil, aerr
		}
	}
	if aerr := req.parseChatTools(&wr, &h); aerr != nil {
		return nil, aerr
	}
	if aerr := req.parseChatOptions(&wr); aerr != nil {
		return nil, aerr
	}
	if req.format != nil && req.format.answer && !mentionsJSON(texts) {
		return nil, invalidRequest("response_format", "",
			"'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.")
	}
	req.promptHash = h
	return req, nil
}

// parseContent returns a message's text parts, its image count and a
// canonical form of the content for prompt hashing.
func parseContent(p, role string, raw json.RawMessage) (texts []string, images int, canon string, aerr *apiError) {
	if isAbsent(raw) {
		if optionalContent[role] {
			return nil, 0, "", nil
		}
		return nil, 0, "", invalidRequest(p, "missing_required_parameter", "Missing required parameter: '%s'.", p)
	}
	switch jsonKind(raw) {
	case "a string":
		s, _ := rawString(raw)
		return []string{s}, 0, "t" + s, nil
	case "an array":
	default:
		return nil, 0, "", invalidRequest(p, "invalid_type", "Invalid type for '%s': expected one of a string or array of objects, but got %s instead.", p, jsonKind(raw))
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, 0, "", errInvalidJSON()
	}
	var canonB strings.Builder
	for j, rp := range parts {
		pp := fmt.Sprintf("%s[%d]", p, j)
		if jsonKind(rp) != "an object" {
			return nil, 0, "", invalidRequest(pp, "invalid_type", "Invalid type for '%s': expected an object, but got %s instead.", pp, jsonKind(rp))
		}
		var part wirePart
		if err := json.Unmarshal(rp, &part); err != nil {
			return nil, 0, "", errInvalidJSON()
		}
		if isAbsent(part.Type) {
			return nil, 0, "", invalidRequest(pp+".type", "missing_required_parameter", "Missing required parameter: '%s.type'.", pp)
		}
		typ, ok := rawString(part.Type)
		if !ok || !validPartTypes[typ] {
			return nil, 0, "", invalidRequest(pp+".type", "invalid_value", "Invalid value: '%s'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', and 'file'.",
				strings.Trim(string(part.Type), `"`))
		}
		switch typ {
		case "text":
			if isAbsent(part.Text) {
				return nil, 0, "", invalidRequest(pp+".text", "missing_required_parameter", "Missing required parameter: '%s.text'.", pp)
			}
			s, ok := rawString(part.Text)
			if !ok {
				return nil, 0, "", invalidRequest(pp+".text", "invalid_type", "Invalid type for '%s.text': expected a string, but got %s instead.", pp, jsonKind(part.Text))
			}
			texts = append(texts, s)
			canonB.WriteString("t" + s + "\x1f")
		case "image_url":
			if jsonKind(part.ImageURL) != "an object" {
				return nil, 0, "", invalidRequest(pp+".image_url", "missing_required_parameter", "Missing required parameter: '%s.image_url'.", pp)
			}
			var iu wireImageURL
			if err := json.Unmarshal(part.ImageURL, &iu); err != nil {
				return nil, 0, "", errInvalidJSON()
			}
			u, ok := rawString(iu.URL)
			if !ok {
				return nil, 0, "", invalidRequest(pp+".image_url.url", "missing_required_parameter", "Missing required parameter: '%s.image_url.url'.", pp)
			}
			images++
			canonB.WriteString("i" + u + "\x1f")
		default:
			// Other part kinds are accepted and cost nothing.
			canonB.WriteString(typ + "\x1f")
		}
	}
	return texts, images, canonB.String(), nil
}

// parseMax reads an optional positive integer limit.
func parseMax(name string, raw json.RawMessage) (int64, bool, *apiError) {
	if isAbsent(raw) {
		return 0, false, nil
	}
	if jsonKind(raw) != "an integer" {
		return 0, false, invalidRequest(name, "invalid_type", "Invalid type for '%s': expected an integer, but got %s instead.", name, jsonKind(raw))
	}
	s := strings.TrimSpace(string(raw))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if strings.HasPrefix(s, "-") {
			v = math.MinInt64
		} else {
			v = math.MaxInt64
		}
	}
	if v < 1 {
		return 0, false, invalidRequest(name, "integer_below_min_value", "Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d instead.", name, v)
	}
	return v, true, nil
}
