package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// messagesRequest is what the emulator needs from a /v1/messages body.
type messagesRequest struct {
	model        string
	maxTokens    int64
	stream       bool
	promptTokens int64
	lastText     string // text of the last message, blocks joined
	promptHash   uint64 // identifies the prompt for the cache
	tools        toolRequest
	thinking     int64       // thinking.budget_tokens; 0 when thinking is off
	marks        []cacheMark // the cache_control breakpoints, in processing order
}

// maxOutputCharge bounds the output charge of one request so that window
// sums cannot overflow; it is far above any cap in practical use.
const maxOutputCharge = 1 << 40

// charge is what a request costs the window on arrival: its whole prompt
// as input (the cache is not known yet) and max_tokens as output.
func (r *messagesRequest) charge() tokenVec {
	out := min(r.maxTokens, maxOutputCharge)
	return tokenVec{r.promptTokens, out, r.promptTokens + out}
}

// invalidMessages is a 400 invalid_request_error; path names the field.
func invalidMessages(path, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", outcome: outBadRequest, message: msg}
}

const (
	msgRequired   = "Field required"
	msgExtra      = "Extra inputs are not permitted"
	msgDict       = "Input should be a valid dictionary or object to extract fields from"
	msgString     = "Input should be a valid string"
	msgList       = "Input should be a valid list"
	msgInt        = "Input should be a valid integer"
	msgNumber     = "Input should be a valid number"
	msgBool       = "Input should be a valid boolean"
	msgMediaTypes = "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
)

// jsonObject is a JSON object with its keys in document order. A repeated
// key keeps its last value and its first position.
type jsonObject struct {
	keys   []string
	values map[string]json.RawMessage
}

func (o *jsonObject) get(k string) json.RawMessage { return o.values[k] }

// parseObject decodes raw as an object; ok is false if it is not one.
func parseObject(raw json.RawMessage) (*jsonObject, bool) {
	if jsonKind(raw) != "an object" {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	o := &jsonObject{values: map[string]json.RawMessage{}}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		if _, dup := o.values[k]; !dup {
			o.keys = append(o.keys, k)
		}
		o.values[k] = v
	}
	return o, true
}

// extraField reports the first key of o not in allowed.
func extraField(path string, o *jsonObject, allowed ...string) *apiError {
	for _, k := range o.keys {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
				break
			}
		}
		if !found {
			return invalidMessages(joinPath(path, k), msgExtra)
		}
	}
	return nil
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// objectAt decodes the object at path or explains why it is not one.
func objectAt(path string, raw json.RawMessage) (*jsonObject, *apiError) {
	o, ok := parseObject(raw)
	if !ok {
		return nil, invalidMessages(path, msgDict)
	}
	return o, nil
}

// requiredString reads a required string field of o.
func requiredString(path string, o *jsonObject, field string) (string, *apiError) {
	raw, p := o.get(field), joinPath(path, field)
	if raw == nil {
		return "", invalidMessages(p, msgRequired)
	}
	s, ok := rawString(raw)
	if !ok {
		return "", invalidMessages(p, msgString)
	}
	return s, nil
}

// tagError is the message of a discriminated union given an unknown tag.
func tagError(path string, raw json.RawMessage, tags string) *apiError {
	tag := strings.TrimSpace(string(raw))
	if s, ok := rawString(raw); ok {
		tag = s
	}
	return invalidMessages(path, "Input tag '%s' found using 'type' does not match any of the expected tags: %s", tag, tags)
}

var messagesFields = []string{"model", "max_tokens", "messages", "system", "temperature", "top_p", "top_k",
	"stop_sequences", "metadata", "stream", "tools", "tool_choice", "thinking"}

var imageMediaTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// parseMessagesRequest checks a /v1/messages body and computes its token
// figures.
func parseMessagesRequest(body []byte) (*messagesRequest, *apiError) {
	var probe any
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, invalidMessages("", "The request body is not valid JSON: %v", err)
	}
	top, ok := parseObject(body)
	if !ok {
		return nil, invalidMessages("", msgDict)
	}
	if aerr := extraField("", top, messagesFields...); aerr != nil {
		return nil, aerr
	}
	req := &messagesRequest{}

	model, aerr := requiredString("", top, "model")
	if aerr != nil {
		return nil, aerr
	}
	if model == "" {
		return nil, invalidMessages("model", "String should have at least 1 character")
	}
	req.model = model

	if req.maxTokens, aerr = parseMaxTokens(top.get("max_tokens")); aerr != nil {
		return nil, aerr
	}

	h := fnvAdd(fnvAddByte(fnvAdd(fnvOffset64, "messages"), 0), model)
	req.promptTokens = tokensPerPrompt
	// ph identifies the prompt so far without the tools, for the prefixes
	// that cache_control marks; the tools are added in front at the end.
	ph := uint64(fnvOffset64)

	// The system prompt, when present, counts as one more message whose
	// text is its blocks joined.
	if raw := top.get("system"); !isAbsent(raw) {
		texts, marked, aerr := parseSystem(raw)
		if aerr != nil {
			return nil, aerr
		}
		for j, text := range texts {
			ph = fnvAdd(fnvAddByte(ph, 0x1c), text)
			if ttl, ok := marked[j]; ok {
				prefix := tokensPerPrompt + messageTokens([]string{strings.Join(texts[:j+1], "")}, 0)
				req.marks = append(req.marks, cacheMark{tokens: prefix, hash: ph, ttl: ttl})
			}
		}
		joined := strings.Join(texts, "")
		req.promptTokens += messageTokens([]string{joined}, 0)
		h = fnvAdd(fnvAddByte(h, 0x1c), joined)
	}

	raw := top.get("messages")
	if raw == nil {
		return nil, invalidMessages("messages", msgRequired)
	}
	if jsonKind(raw) != "an array" {
		return nil, invalidMessages("messages", msgList)
	}
	var msgs []json.RawMessage
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return nil, invalidMessages("messages", msgList)
	}
	if len(msgs) == 0 {
		return nil, invalidMessages("messages", "at least one message is required")
	}
	var pairs toolPairing
	for i, mraw := range msgs {
		p := "messages." + strconv.Itoa(i)
		m, aerr := objectAt(p, mraw)
		if aerr != nil {
			return nil, aerr
		}
		if aerr := extraField(p, m, "role", "content"); aerr != nil {
			return nil, aerr
		}
		role, aerr := requiredString(p, m, "role")
		if aerr != nil {
			return nil, aerr
		}
		if role != "user" && role != "assistant" {
			return nil, invalidMessages(p+".role", "Input should be 'user' or 'assistant'")
		}
		ph = fnvAdd(fnvAddByte(ph, 0x1e), role)
		mc, aerr := parseMessageContent(p+".content", m.get("content"), ph, req.promptTokens)
		if aerr != nil {
			return nil, aerr
		}
		if i == 0 && role != "user" {
			return nil, invalidMessages("messages", `first message must use the "user" role`)
		}
		if mc.empty && !(i == len(msgs)-1 && role == "assistant") {
			return nil, invalidMessages(p, "all messages must have non-empty content except for the optional final assistant message")
		}
		if aerr := pairs.next(i, role, &mc); aerr != nil {
			return nil, aerr
		}
		ph = mc.hash
		req.marks = append(req.marks, mc.marks...)
		req.promptTokens += mc.tokens
		h = fnvAddByte(fnvAdd(fnvAddByte(h, 0x1e), role), 0x1d)
		h = fnvAdd(h, mc.canon)
		text := strings.Join(mc.texts, "")
		if role == "user" {
			req.tools.lastUser = text
		}
		if i == len(msgs)-1 {
			req.lastText = text
			req.tools.endsInTool = role == "user" && len(mc.results) > 0
			for _, r := range mc.results {
				req.tools.results = append(req.tools.results, r.text)
			}
		}
	}

	for _, f := range []string{"temperature", "top_p"} {
		if aerr := checkUnitNumber(f, top.get(f)); aerr != nil {
			return nil, aerr
		}
	}
	if raw := top.get("top_k"); !isAbsent(raw) {
		v, aerr := parseInteger("top_k", raw)
		if aerr != nil {
			return nil, aerr
		}
		if v < 0 {
			return nil, invalidMessages("top_k", "Input should be greater than or equal to 0")
		}
	}
	if raw := top.get("stop_sequences"); !isAbsent(raw) {
		var seqs []json.RawMessage
		if jsonKind(raw) != "an array" || json.Unmarshal(raw, &seqs) != nil {
			return nil, invalidMessages("stop_sequences", msgList)
		}
		for j, s := range seqs {
			if _, ok := rawString(s); !ok {
				return nil, invalidMessages("stop_sequences."+strconv.Itoa(j), msgString)
			}
		}
	}
	if raw := top.get("metadata"); !isAbsent(raw) {
		md, aerr := objectAt("metadata", raw)
		if aerr != nil {
			return nil, aerr
		}
		if aerr := extraField("metadata", md, "user_id"); aerr != nil {
			return nil, aerr
		}
		if u := md.get("user_id"); !isAbsent(u) {
			if _, ok := rawString(u); !ok {
				return nil, invalidMessages("metadata.user_id", msgString)
			}
		}
	}
	if raw := top.get("stream"); !isAbsent(raw) {
		switch strings.TrimSpace(string(raw)) {
		case "true":
			req.stream = true
		case "false":
		default:
			return nil, invalidMessages("stream", msgBool)
		}
	}
	if aerr := req.parseMessagesTools(top, &h); aerr != nil {
		return nil, aerr
	}
	req.promptHash = h
	if aerr := req.parseThinking(top); aerr != nil {
		return nil, aerr
	}
	return req, nil
}

// parseMaxTokens reads the required max_tokens, an integer >= 1.
func parseMaxTokens(raw json.RawMessage) (int64, *apiError) {
	if raw == nil {
		return 0, invalidMessages("max_tokens", msgRequired)
	}
	v, aerr := parseInteger("max_tokens", raw)
	if aerr != nil {
		return 0, aerr
	}
	if v < 1 {
		return 0, invalidMessages("max_tokens", "Input should be greater than or equal to 1")
	}
	return v, nil
}

// parseInteger reads an integer literal, saturating at the int64 range.
func parseInteger(name string, raw json.RawMessage) (int64, *apiError) {
	if jsonKind(raw) != "an integer" {
		return 0, invalidMessages(name, msgInt)
	}
	s := strings.TrimSpace(string(raw))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if strings.HasPrefix(s, "-") {
			return math.MinInt64, nil
		}
		return math.MaxInt64, nil
	}
	return v, nil
}

// checkUnitNumber checks an optional number within [0, 1].
func checkUnitNumber(name string, raw json.RawMessage) *apiError {
	if isAbsent(raw) {
		return nil
	}
	k := jsonKind(raw)
	if k != "an integer" && k != "a decimal number" {
		return invalidMessages(name, msgNumber)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
	switch {
	case err != nil && !math.IsInf(v, 0):
		return invalidMessages(name, msgNumber)
	case v < 0:
		return invalidMessages(name, "Input should be greater than or equal to 0")
	case v > 1:
		return invalidMessages(name, "Input should be less than or equal to 1")
	}
	return nil
}

// parseSystem reads the system prompt: a string or a list of text blocks.
// marked maps the blocks that carry cache_control to their ttl.
func parseSystem(raw json.RawMessage) (texts []string, marked map[int]string, aerr *apiError) {
	switch jsonKind(raw) {
	case "a string":
		s, _ := rawString(raw)
		return []string{s}, nil, nil
	case "an array":
	default:
		return nil, nil, invalidMessages("system", "Input should be a valid string or a list of text blocks")
	}
	var blocks []json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, nil, invalidMessages("system", msgList)
	}
	texts = make([]string, 0, len(blocks))
	for j, braw := range blocks {
		p := "system." + strconv.Itoa(j)
		b, aerr := objectAt(p, braw)
		if aerr != nil {
			return nil, nil, aerr
		}
		typ := b.get("type")
		if typ == nil {
			return nil, nil, invalidMessages(p+".type", msgRequired)
		}
		if s, ok := rawString(typ); !ok || s != "text" {
			return nil, nil, invalidMessages(p+".type", "Input should be 'text'")
		}
		text, ttl, aerr := textBlock(p, b)
		if aerr != nil {
			return nil, nil, aerr
		}
		if ttl != "" {
			if marked == nil {
				marked = map[int]string{}
			}
			marked[j] = ttl
		}
		texts = append(texts, text)
	}
	return texts, marked, nil
}

// textBlock checks a {"type":"text"} block and returns its text and the
// ttl of its cache_control ("" without one).
func textBlock(p string, b *jsonObject) (string, string, *apiError) {
	if aerr := extraField(p, b, "type", "text", "cache_control"); aerr != nil {
		return "", "", aerr
	}
	text, aerr := requiredString(p, b, "text")
	if aerr != nil {
		return "", "", aerr
	}
	if text == "" {
		return "", "", invalidMessages(p+".text", "text content blocks must be non-empty")
	}
	ttl, aerr := checkCacheControl(p, b)
	if aerr != nil {
		return "", "", aerr
	}
	return text, ttl, nil
}

// checkCacheControl reads an optional cache_control,
// {"type":"ephemeral","ttl"?: "5m"|"1h"}, and returns its ttl ("5m" when
// not given), or "" when the block has none.
func checkCacheControl(p string, b *jsonObject) (string, *apiError) {
	raw := b.get("cache_control")
	if isAbsent(raw) {
		return "", nil
	}
	cp := p + ".cache_control"
	cc, aerr := objectAt(cp, raw)
	if aerr != nil {
		return "", aerr
	}
	if aerr := extraField(cp, cc, "type", "ttl"); aerr != nil {
		return "", aerr
	}
	typ, aerr := requiredString(cp, cc, "type")
	if aerr != nil {
		return "", aerr
	}
	if typ != "ephemeral" {
		return "", invalidMessages(cp+".type", "Input should be 'ephemeral'")
	}
	ttl := "5m"
	if t := cc.get("ttl"); !isAbsent(t) {
		if s, ok := rawString(t); ok && (s == "5m" || s == "1h") {
			ttl = s
		} else {
			return "", invalidMessages(cp+".ttl", "Input should be '5m' or '1h'")
		}
	}
	return ttl, nil
}

// imageBlock checks a {"type":"image"} block and returns a canonical form
// of its source.
func imageBlock(p string, b *jsonObject) (string, *apiError) {
	if aerr := extraField(p, b, "type", "source", "cache_control"); aerr != nil {
		return "", aerr
	}
	sp := p + ".source"
	raw := b.get("source")
	if raw == nil {
		return "", invalidMessages(sp, msgRequired)
	}
	src, aerr := objectAt(sp, raw)
	if aerr != nil {
		return "", aerr
	}
	typ := src.get("type")
	if typ == nil {
		return "", invalidMessages(sp+".type", msgRequired)
	}
	var canon string
	switch s, _ := rawString(typ); s {
	case "base64":
		if aerr := extraField(sp, src, "type", "media_type", "data"); aerr != nil {
			return "", aerr
		}
		mt, aerr := requiredString(sp, src, "media_type")
		if aerr != nil {
			return "", aerr
		}
		if !imageMediaTypes[mt] {
			return "", invalidMessages(sp+".media_type", msgMediaTypes)
		}
		data, aerr := requiredString(sp, src, "data")
		if aerr != nil {
			return "", aerr
		}
		if _, err := base64.StdEncoding.DecodeString(data); err != nil {
			return "", invalidMessages(sp+".data", "invalid base64 data")
		}
		canon = "b" + mt + "\x00" + data
	case "url":
		if aerr := extraField(sp, src, "type", "url"); aerr != nil {
			return "", aerr
		}
		u, aerr := requiredString(sp, src, "url")
		if aerr != nil {
			return "", aerr
		}
		canon = "u" + u
	default:
		return "", tagError(sp, typ, "'base64', 'url'")
	}
	return canon, nil
}
