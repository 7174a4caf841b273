package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// responsesRequest is what the emulator needs from a /v1/responses body.
type responsesRequest struct {
	model       string
	inputTokens int64  // 3 + items + instructions; the previous context is added later
	lastText    string // text of the last input item, parts joined
	itemsHash   uint64 // model, instructions and items, for the prompt cache
	maxOut      int64  // max_output_tokens
	hasMax      bool
	stream      bool
	store       bool
	previousID  string      // previous_response_id, "" when absent
	format      *jsonFormat // nil: plain text
	texts       []string    // the text of every message item, for JSON mode's check

	tools       toolRequest
	issued      []string // call_ids of the function_call items in input
	answered    []string // call_ids of the function_call_output items in input
	serviceTier string
	logprobs    bool // include has message.output_text.logprobs
	topLogprobs int64

	// Values echoed in the response object, as JSON.
	instructions      json.RawMessage
	maxOutputTokens   json.RawMessage
	temperature       json.RawMessage
	topP              json.RawMessage
	effort            json.RawMessage
	summary           json.RawMessage
	textFormat        json.RawMessage
	user              json.RawMessage
	metadata          json.RawMessage
	parallelToolCalls bool
	truncation        string
	toolsEcho         json.RawMessage
	toolChoiceEcho    json.RawMessage
}

// minOutputTokens is the smallest max_output_tokens OpenAI accepts.
const minOutputTokens = 16

type wireResponsesRequest struct {
	Model              json.RawMessage `json:"model"`
	Input              json.RawMessage `json:"input"`
	Instructions       json.RawMessage `json:"instructions"`
	MaxOutputTokens    json.RawMessage `json:"max_output_tokens"`
	Temperature        json.RawMessage `json:"temperature"`
	TopP               json.RawMessage `json:"top_p"`
	Reasoning          json.RawMessage `json:"reasoning"`
	Text               json.RawMessage `json:"text"`
	PreviousResponseID json.RawMessage `json:"previous_response_id"`
	Store              json.RawMessage `json:"store"`
	Stream             json.RawMessage `json:"stream"`
	User               json.RawMessage `json:"user"`
	Metadata           json.RawMessage `json:"metadata"`
	ParallelToolCalls  json.RawMessage `json:"parallel_tool_calls"`
	Truncation         json.RawMessage `json:"truncation"`
	Tools              json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	ServiceTier        json.RawMessage `json:"service_tier"`
	Include            json.RawMessage `json:"include"`
	TopLogprobs        json.RawMessage `json:"top_logprobs"`
	PromptCacheKey     json.RawMessage `json:"prompt_cache_key"`
	SafetyIdentifier   json.RawMessage `json:"safety_identifier"`
}

var responsesRoles = []string{"user", "assistant", "system", "developer"}

// Content part types by the role of the item that carries them.
var (
	inputPartTypes  = []string{"input_text", "input_image", "input_file"}
	outputPartTypes = []string{"output_text", "refusal"}
)

// parseResponsesRequest checks a /v1/responses body and computes its token
// figures.
func parseResponsesRequest(body []byte) (*responsesRequest, *apiError) {
	var wr wireResponsesRequest
	if err := json.Unmarshal(body, &wr); err != nil {
		return nil, errInvalidJSON()
	}
	req := &responsesRequest{store: true, parallelToolCalls: true, truncation: "disabled"}

	model, ok, aerr := oaString("model", wr.Model)
	if aerr != nil {
		return nil, aerr
	}
	if !ok {
		return nil, invalidRequest("model", "missing_required_parameter", "Missing required parameter: 'model'.")
	}
	req.model = model
	h := fnvAdd(fnvAddByte(fnvAdd(fnvOffset64, "responses"), 0), model)

	req.instructions = json.RawMessage("null")
	req.inputTokens = tokensPerPrompt
	instr, ok, aerr := oaString("instructions", wr.Instructions)
	if aerr != nil {
		return nil, aerr
	}
	if ok {
		req.instructions = compactJSON(wr.Instructions)
		req.inputTokens += messageTokens([]string{instr}, 0)
		h = fnvAdd(fnvAddByte(h, 0x1c), instr)
	}

	if aerr := req.parseInput(wr.Input, &h); aerr != nil {
		return nil, aerr
	}
	if aerr := req.parseResponsesTools(&wr, &h); aerr != nil {
		return nil, aerr
	}
	req.itemsHash = h

	req.maxOutputTokens = json.RawMessage("null")
	if req.maxOut, req.hasMax, aerr = oaInteger("max_output_tokens", wr.MaxOutputTokens, minOutputTokens); aerr != nil {
		return nil, aerr
	}
	if req.hasMax {
		req.maxOutputTokens = compactJSON(wr.MaxOutputTokens)
	}
	req.temperature, req.topP = json.RawMessage("1"), json.RawMessage("1")
	if _, ok, aerr := oaNumber("temperature", wr.Temperature, 0, 2); aerr != nil {
		return nil, aerr
	} else if ok {
		req.temperature = compactJSON(wr.Temperature)
	}
	if _, ok, aerr := oaNumber("top_p", wr.TopP, 0, 1); aerr != nil {
		return nil, aerr
	} else if ok {
		req.topP = compactJSON(wr.TopP)
	}
	if aerr := req.parseReasoning(wr.Reasoning); aerr != nil {
		return nil, aerr
	}
	if aerr := req.parseText(wr.Text); aerr != nil {
		return nil, aerr
	}
	if req.previousID, _, aerr = oaString("previous_response_id", wr.PreviousResponseID); aerr != nil {
		return nil, aerr
	}
	if v, ok, aerr := oaBool("store", wr.Store); aerr != nil {
		return nil, aerr
	} else if ok {
		req.store = v
	}
	if req.stream, _, aerr = oaBool("stream", wr.Stream); aerr != nil {
		return nil, aerr
	}
	req.user = json.RawMessage("null")
	if _, ok, aerr := oaString("user", wr.User); aerr != nil {
		return nil, aerr
	} else if ok {
		req.user = compactJSON(wr.User)
	}
	if req.metadata, aerr = parseMetadata(wr.Metadata); aerr != nil {
		return nil, aerr
	}
	if v, ok, aerr := oaBool("parallel_tool_calls", wr.ParallelToolCalls); aerr != nil {
		return nil, aerr
	} else if ok {
		req.parallelToolCalls = v
	}
	req.tools.sequential = !req.parallelToolCalls
	if aerr := req.parseResponsesOptions(&wr); aerr != nil {
		return nil, aerr
	}
	if req.format != nil && req.format.answer && !mentionsJSON(req.texts) {
		return nil, invalidRequest("text.format", "",
			"Response input messages must contain the word 'json' in some form to use 'text.format' of type 'json_object'.")
	}
	if v, ok, aerr := oaEnum("truncation", wr.Truncation, "auto", "disabled"); aerr != nil {
		return nil, aerr
	} else if ok {
		req.truncation = v
	}
	return req, nil
}

// charge is what a request costs the token window on arrival, given its
// input tokens including any previous context.
func (r *responsesRequest) charge(input int64) int64 {
	if r.hasMax {
		return input + min(r.maxOut, math.MaxInt64-input)
	}
	return input
}

// parseInput reads input: a string (one user message) or a list of message
// items. It adds the items' tokens and hashes them into h.
func (r *responsesRequest) parseInput(raw json.RawMessage, h *uint64) *apiError {
	if isAbsent(raw) {
		return invalidRequest("input", "missing_required_parameter", "Missing required parameter: 'input'.")
	}
	switch jsonKind(raw) {
	case "a string":
		s, _ := rawString(raw)
		r.inputTokens += messageTokens([]string{s}, 0)
		r.lastText, r.tools.lastUser, r.texts = s, s, []string{s}
		*h = fnvAdd(fnvAddByte(fnvAdd(fnvAddByte(*h, 0x1e), "user"), 0x1d), "t"+s)
		return nil
	case "an array":
	default:
		return invalidRequest("input", "invalid_type", "Invalid type for 'input': expected one of a string or array of input items, but got %s instead.", jsonKind(raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return errInvalidJSON()
	}
	if len(items) == 0 {
		return invalidRequest("input", "empty_array", "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	}
	for i, iraw := range items {
		p := fmt.Sprintf("input[%d]", i)
		item, ok := parseObject(iraw)
		if !ok {
			return invalidRequest(p, "invalid_type", "Invalid type for '%s': expected an input item, but got %s instead.", p, jsonKind(iraw))
		}
		typ, _, aerr := oaEnum(p+".type", item.get("type"), "message", "function_call", "function_call_output")
		if aerr != nil {
			return aerr
		}
		if typ == "function_call" || typ == "function_call_output" {
			text, canon, aerr := r.parseToolItem(p, typ, item)
			if aerr != nil {
				return aerr
			}
			*h = fnvAdd(fnvAddByte(fnvAdd(fnvAddByte(*h, 0x1e), typ), 0x1d), canon)
			if i == len(items)-1 {
				r.lastText = text
			}
			continue
		}
		r.tools.endsInTool, r.tools.results = false, nil
		if isAbsent(item.get("role")) {
			return invalidRequest(p+".role", "missing_required_parameter", "Missing required parameter: '%s.role'.", p)
		}
		role, _, aerr := oaEnum(p+".role", item.get("role"), responsesRoles...)
		if aerr != nil {
			return aerr
		}
		texts, images, canon, aerr := parseItemContent(p+".content", role, item.get("content"))
		if aerr != nil {
			return aerr
		}
		r.texts = append(r.texts, texts...)
		r.inputTokens += messageTokens(texts, images)
		*h = fnvAdd(fnvAddByte(fnvAdd(fnvAddByte(*h, 0x1e), role), 0x1d), canon)
		if role == "user" {
			r.tools.lastUser = strings.Join(texts, "")
		}
		if i == len(items)-1 {
			r.lastText = strings.Join(texts, "")
		}
	}
	return nil
}

// parseItemContent returns an item's text parts, its image count and a
// canonical form of the content for prompt hashing.
func parseItemContent(p, role string, raw json.RawMessage) (texts []string, images int, canon string, aerr *apiError) {
	if isAbsent(raw) {
		return nil, 0, "", invalidRequest(p, "missing_required_parameter", "Missing required parameter: '%s'.", p)
	}
	switch jsonKind(raw) {
	case "a string":
		s, _ := rawString(raw)
		return []string{s}, 0, "t" + s, nil
	case "an array":
	default:
		return nil, 0, "", invalidRequest(p, "invalid_type", "Invalid type for '%s': expected one of a string or array of content parts, but got %s instead.", p, jsonKind(raw))
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, 0, "", errInvalidJSON()
	}
	allowed := inputPartTypes
	if role == "assistant" {
		allowed = outputPartTypes
	}
	var cb strings.Builder
	for j, praw := range parts {
		pp := fmt.Sprintf("%s[%d]", p, j)
		part, ok := parseObject(praw)
		if !ok {
			return nil, 0, "", invalidRequest(pp, "invalid_type", "Invalid type for '%s': expected an object, but got %s instead.", pp, jsonKind(praw))
		}
		if isAbsent(part.get("type")) {
			return nil, 0, "", invalidRequest(pp+".type", "missing_required_parameter", "Missing required parameter: '%s.type'.", pp)
		}
		typ, _, aerr := oaEnum(pp+".type", part.get("type"), allowed...)
		if aerr != nil {
			return nil, 0, "", aerr
		}
		switch typ {
		case "input_text", "output_text":
			text, ok, aerr := oaString(pp+".text", part.get("text"))
			if aerr != nil {
				return nil, 0, "", aerr
			}
			if !ok {
				return nil, 0, "", invalidRequest(pp+".text", "missing_required_parameter", "Missing required parameter: '%s.text'.", pp)
			}
			texts = append(texts, text)
			cb.WriteString("t" + text + "\x1f")
		case "input_image":
			src, aerr := parseInputImage(pp, part)
			if aerr != nil {
				return nil, 0, "", aerr
			}
			images++
			cb.WriteString("i" + src + "\x1f")
		case "refusal":
			if _, ok, aerr := oaString(pp+".refusal", part.get("refusal")); aerr != nil {
				return nil, 0, "", aerr
			} else if !ok {
				return nil, 0, "", invalidRequest(pp+".refusal", "missing_required_parameter", "Missing required parameter: '%s.refusal'.", pp)
			}
			cb.WriteString("r\x1f")
		default:
			// input_file parts are accepted and cost nothing.
			cb.WriteString(typ + "\x1f")
		}
	}
	return texts, images, cb.String(), nil
}

// parseInputImage checks an input_image part: an image_url that is an
// http(s) URL or a base64 data URL of an image, or a file_id; detail is
// low, high or auto. It returns a canonical form of the source.
func parseInputImage(pp string, part *jsonObject) (string, *apiError) {
	if _, _, aerr := oaEnum(pp+".detail", part.get("detail"), "low", "high", "auto"); aerr != nil {
		return "", aerr
	}
	u, ok, aerr := oaString(pp+".image_url", part.get("image_url"))
	if aerr != nil {
		return "", aerr
	}
	if !ok {
		id, ok, aerr := oaString(pp+".file_id", part.get("file_id"))
		if aerr != nil {
			return "", aerr
		}
		if !ok {
			return "", invalidRequest(pp+".image_url", "missing_required_parameter", "Missing required parameter: '%s.image_url'.", pp)
		}
		return "f" + id, nil
	}
	if !validImageURL(u) {
		return "", invalidRequest(pp+".image_url", "invalid_value", "Invalid '%s.image_url'. Expected a base64-encoded data URL with an image MIME type "+
			"(e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got a value with an invalid format.", pp)
	}
	return "u" + u, nil
}

// validImageURL accepts http(s) URLs and data:image/...;base64,... URLs.
func validImageURL(u string) bool {
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return len(u) > len("https://")
	}
	rest, ok := strings.CutPrefix(u, "data:image/")
	if !ok {
		return false
	}
	_, data, ok := strings.Cut(rest, ";base64,")
	if !ok {
		return false
	}
	_, err := base64.StdEncoding.DecodeString(data)
	return err == nil
}

// parseReasoning reads reasoning: {"effort", "summary"} or null.
func (r *responsesRequest) parseReasoning(raw json.RawMessage) *apiError {
	r.effort, r.summary = json.RawMessage("null"), json.RawMessage("null")
	if isReasoningModel(r.model) {
		r.effort = json.RawMessage(`"medium"`)
	}
	o, aerr := oaObject("reasoning", raw)
	if aerr != nil || o == nil {
		return aerr
	}
	if _, ok, aerr := oaEnum("reasoning.effort", o.get("effort"), "minimal", "low", "medium", "high"); aerr != nil {
		return aerr
	} else if ok {
		r.effort = compactJSON(o.get("effort"))
	}
	if _, ok, aerr := oaEnum("reasoning.summary", o.get("summary"), "auto", "concise", "detailed"); aerr != nil {
		return aerr
	} else if ok {
		r.summary = compactJSON(o.get("summary"))
	}
	return nil
}

// parseText reads text: {"format": {...}, "verbosity"?}.
func (r *responsesRequest) parseText(raw json.RawMessage) *apiError {
	r.textFormat = json.RawMessage(`{"type":"text"}`)
	o, aerr := oaObject("text", raw)
	if aerr != nil || o == nil {
		return aerr
	}
	if _, _, aerr := oaEnum("text.verbosity", o.get("verbosity"), "low", "medium", "high"); aerr != nil {
		return aerr
	}
	f, aerr := oaObject("text.format", o.get("format"))
	if aerr != nil || f == nil {
		return aerr
	}
	if isAbsent(f.get("type")) {
		return invalidRequest("text.format.type", "missing_required_parameter", "Missing required parameter: 'text.format.type'.")
	}
	typ, _, aerr := oaEnum("text.format.type", f.get("type"), "text", "json_schema", "json_object")
	if aerr != nil {
		return aerr
	}
	switch typ {
	case "json_object":
		r.format = &jsonFormat{answer: true}
	case "json_schema":
		// The Responses API puts the json_schema fields in the format itself.
		jf, aerr := parseJSONSchemaFormat("text.format", f, true)
		if aerr != nil {
			return aerr
		}
		r.format = jf
	}
	r.textFormat = compactJSON(o.get("format"))
	return nil
}

// parseMetadata reads metadata: an object of up to 16 string values.
func parseMetadata(raw json.RawMessage) (json.RawMessage, *apiError) {
	o, aerr := oaObject("metadata", raw)
	if aerr != nil {
		return nil, aerr
	}
	if o == nil {
		return json.RawMessage("{}"), nil
	}
	if len(o.keys) > 16 {
		return nil, invalidRequest("metadata", "object_above_max_properties", "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with %d properties instead.", len(o.keys))
	}
	for _, k := range o.keys {
		if _, ok := rawString(o.get(k)); !ok {
			p := "metadata." + k
			return nil, invalidRequest(p, "invalid_type", "Invalid type for '%s': expected a string, but got %s instead.", p, jsonKind(o.get(k)))
		}
	}
	return compactJSON(raw), nil
}
