package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// The body of a Gemini generateContent request. Field names are read in
// either spelling, camelCase or snake_case, as Google's JSON mapping
// accepts both; error messages name fields in snake_case, as Google's do.

// geminiType prefixes the proto message names in "Invalid value" errors.
const geminiType = "type.googleapis.com/google.ai.generativelanguage.v1beta."

// geminiRequest is what the emulator needs from a generateContent body.
type geminiRequest struct {
	model        string // from the path, without "models/"
	stream       bool   // streamGenerateContent
	promptTokens int64
	lastText     string // the text of the last content
	maxOut       int64  // generationConfig.maxOutputTokens when positive
	hasMax       bool
	n            int64       // candidateCount
	format       *jsonFormat // application/json; nil for text
	enumValue    *string     // text/x.enum: the reply is this value
	tools        toolRequest
	thinking     bool
	budget       int64 // thinkingBudget when positive, else no budget
	thoughts     bool  // includeThoughts
	cached       bool  // cachedContent names a cache
	logprobs     bool  // responseLogprobs
	topLogprobs  int64 // logprobs
}

// charge is what a request costs the token window on arrival: the prompt
// and, when capped, the cap for each candidate.
func (r *geminiRequest) charge() int64 {
	if r.hasMax {
		per := min(r.maxOut, (math.MaxInt64-r.promptTokens)/max(r.n, 1))
		return r.promptTokens + per*max(r.n, 1)
	}
	return r.promptTokens
}

// geminiError is an error answer in Google's shape,
// {"error":{"code","message","status","details"?}}.
type geminiError struct {
	status  int
	state   string // the google.rpc.Code name, e.g. INVALID_ARGUMENT
	message string
	details []byte // the details array; nil leaves it out
	outcome outcome
}

// body renders the error object.
func (ge *geminiError) body() []byte {
	b := make([]byte, 0, 96+len(ge.message)+len(ge.details))
	b = append(b, `{"error":{"code":`...)
	b = strconv.AppendInt(b, int64(ge.status), 10)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, ge.message)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, ge.state)
	if ge.details != nil {
		b = append(append(b, `,"details":`...), ge.details...)
	}
	return append(b, "}}"...)
}

// geminiBad is a 400 INVALID_ARGUMENT without details.
func geminiBad(format string, args ...any) *geminiError {
	return &geminiError{status: http.StatusBadRequest, state: "INVALID_ARGUMENT", outcome: outBadRequest,
		message: fmt.Sprintf(format, args...)}
}

// geminiRequired is the 400 of a rule on one field, worded as Google's
// request checks word it: "* GenerateContentRequest.field: rule\n".
func geminiRequired(field, format string, args ...any) *geminiError {
	return geminiBad("* GenerateContentRequest.%s: %s\n", field, fmt.Sprintf(format, args...))
}

// geminiViolation is a 400 INVALID_ARGUMENT with a BadRequest detail
// naming field ("" for the body itself).
func geminiViolation(field, message string) *geminiError {
	d := []byte(`[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{`)
	if field != "" {
		d = append(appendJSONString(append(d, `"field":`...), field), ',')
	}
	d = appendJSONString(append(d, `"description":`...), message)
	ge := geminiBad("%s", message)
	ge.details = append(d, "}]}]"...)
	return ge
}

// geminiInvalidValue is the 400 of a value of the wrong type: "Invalid
// value at 'field' (TYPE), value".
func geminiInvalidValue(field, typ string, raw json.RawMessage) *geminiError {
	v := string(compactJSON(raw))
	if len(v) > 80 {
		v = cutUTF8(v, 80) + "..."
	}
	return geminiViolation(field, fmt.Sprintf("Invalid value at '%s' (%s), %s", field, typ, v))
}

// geminiUnknownName is the 400 of a member the message does not have.
func geminiUnknownName(at, name string) *geminiError {
	q := string(appendJSONString(nil, name))
	if at == "" {
		return geminiViolation("", fmt.Sprintf("Invalid JSON payload received. Unknown name %s: Cannot find field.", q))
	}
	return geminiViolation(at, fmt.Sprintf("Invalid JSON payload received. Unknown name %s at '%s': Cannot find field.", q, at))
}

// snakeCase turns a camelCase field name into snake_case.
func snakeCase(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b.WriteByte('_')
			b.WriteByte(c + 'a' - 'A')
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// camelCase turns a snake_case field name into camelCase.
func camelCase(s string) string {
	var b strings.Builder
	up := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_':
			up = true
		case up && c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			up = false
		default:
			b.WriteByte(c)
			up = false
		}
	}
	return b.String()
}

// gObject is one message of the body, at a snake_case path.
type gObject struct {
	at string
	o  *jsonObject
}

// gOpen reads the message of proto type typ at path at; an absent value
// gives nil, a member outside names (camelCase) a 400.
func gOpen(at, typ string, raw json.RawMessage, names ...string) (*gObject, *geminiError) {
	if isAbsent(raw) {
		return nil, nil
	}
	o, ok := parseObject(raw)
	if !ok {
		return nil, geminiInvalidValue(at, geminiType+typ, raw)
	}
	for _, k := range o.keys {
		if !contains(names, camelCase(k)) {
			return nil, geminiUnknownName(at, k)
		}
	}
	return &gObject{at: at, o: o}, nil
}

// get returns member name (camelCase) in either spelling; nil when absent.
func (g *gObject) get(name string) json.RawMessage {
	if g == nil {
		return nil
	}
	if v := g.o.get(name); v != nil {
		return v
	}
	return g.o.get(snakeCase(name))
}

// path is the snake_case path of member name.
func (g *gObject) path(name string) string {
	if g.at == "" {
		return snakeCase(name)
	}
	return g.at + "." + snakeCase(name)
}

func gString(p string, raw json.RawMessage) (string, *geminiError) {
	if isAbsent(raw) {
		return "", nil
	}
	s, ok := rawString(raw)
	if !ok {
		return "", geminiInvalidValue(p, "TYPE_STRING", raw)
	}
	return s, nil
}

func gBool(p string, raw json.RawMessage) (bool, *geminiError) {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, geminiInvalidValue(p, "TYPE_BOOL", raw)
}

// gInt reads an int32: a JSON integer, or a string holding one.
func gInt(p string, raw json.RawMessage) (int64, bool, *geminiError) {
	if isAbsent(raw) {
		return 0, false, nil
	}
	s := strings.TrimSpace(string(raw))
	if q, ok := rawString(raw); ok {
		s = q
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil || jsonKind(raw) != "an integer" && jsonKind(raw) != "a string" {
		return 0, false, geminiInvalidValue(p, "TYPE_INT32", raw)
	}
	return v, true, nil
}

// gFloat reads a float: a JSON number, or a string holding one.
func gFloat(p string, raw json.RawMessage) (float64, bool, *geminiError) {
	if isAbsent(raw) {
		return 0, false, nil
	}
	s := strings.TrimSpace(string(raw))
	if q, ok := rawString(raw); ok {
		s = q
	}
	v, err := strconv.ParseFloat(s, 64)
	if k := jsonKind(raw); err != nil || k != "an integer" && k != "a decimal number" && k != "a string" {
		return 0, false, geminiInvalidValue(p, "TYPE_FLOAT", raw)
	}
	return v, true, nil
}

// gList reads a repeated field whose elements have type typ.
func gList(p, typ string, raw json.RawMessage) ([]json.RawMessage, *geminiError) {
	if isAbsent(raw) {
		return nil, nil
	}
	if jsonKind(raw) != "an array" {
		return nil, geminiInvalidValue(p, typ, raw)
	}
	return rawList(raw), nil
}

// gEnum reads an enum by name; "" when absent.
func gEnum(p, typ string, raw json.RawMessage, values ...string) (string, *geminiError) {
	if isAbsent(raw) {
		return "", nil
	}
	s, ok := rawString(raw)
	if !ok || !contains(values, s) {
		return "", geminiInvalidValue(p, geminiType+typ, raw)
	}
	return s, nil
}

// gBytes checks a bytes field: base64, standard or URL-safe, padded or not.
func gBytes(p string, raw json.RawMessage) *geminiError {
	s, ge := gString(p, raw)
	if ge != nil {
		return ge
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if _, err := enc.DecodeString(s); err == nil {
			return nil
		}
	}
	v := s
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return geminiViolation(p, fmt.Sprintf("Invalid value at '%s' (TYPE_BYTES), Base64 decoding failed for %s", p, appendJSONString(nil, v)))
}

// geminiFunctionNameRe is what Gemini accepts as a function name.
var geminiFunctionNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$`)

var (
	geminiRequestFields = []string{"model", "contents", "systemInstruction", "generationConfig", "tools", "toolConfig",
		"safetySettings", "cachedContent"}
	geminiContentFields = []string{"role", "parts"}
	geminiPartFields    = []string{"text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
		"codeExecutionResult", "thought", "thoughtSignature", "videoMetadata", "partMetadata", "mediaResolution"}
	// geminiPartData are the members of a part's data oneof.
	geminiPartData = []string{"text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
		"codeExecutionResult"}
	geminiConfigFields = []string{"stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
		"responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed",
		"presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs", "enableEnhancedCivicAnswers",
		"speechConfig", "thinkingConfig", "mediaResolution", "imageConfig"}
	geminiToolFields = []string{"functionDeclarations", "googleSearch", "googleSearchRetrieval", "codeExecution",
		"urlContext", "computerUse", "fileSearch", "googleMaps"}
	geminiDeclarationFields = []string{"name", "description", "parameters", "parametersJsonSchema", "response",
		"responseJsonSchema", "behavior"}
	geminiMimeTypes = []string{"text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum"}
)

// geminiTurn is what a content says about function calls.
type geminiTurn struct {
	role      string
	calls     []string // functionCall names
	responses int      // functionResponse parts
}

// partData is the member of the data oneof the part at pp sets, "" for
// none (or no part); setting two is refused.
func partData(pp string, part *gObject) (string, *geminiError) {
	data := ""
	if part == nil {
		return data, nil
	}
	for _, name := range geminiPartData {
		if isAbsent(part.get(name)) {
			continue
		}
		if data != "" {
			return "", geminiViolation(pp, fmt.Sprintf("Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '%s'", name))
		}
		data = name
	}
	return data, nil
}

// geminiObject checks that a body is a JSON object, as Google reads it: an
// empty body is the empty object.
func geminiObject(body []byte) ([]byte, *geminiError) {
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) {
		return nil, geminiViolation("", "Invalid JSON payload received. Unexpected token.")
	}
	if jsonKind(body) != "an object" {
		return nil, geminiViolation("", `Invalid JSON payload received. Unknown name "": Root element must be a message.`)
	}
	return body, nil
}

// parseGeminiRequest checks a generateContent body for model and computes
// its token figures.
func parseGeminiRequest(model string, stream bool, body []byte) (*geminiRequest, *geminiError) {
	body, ge := geminiObject(body)
	if ge != nil {
		return nil, ge
	}
	top, ge := gOpen("", "GenerateContentRequest", body, geminiRequestFields...)
	if ge != nil {
		return nil, ge
	}
	req := &geminiRequest{model: model, stream: stream, n: 1, promptTokens: tokensPerPrompt,
		thinking: geminiThinksByDefault(model)}
	if _, ge := gString("model", top.get("model")); ge != nil {
		return nil, ge
	}

	contents, ge := gList("contents", geminiType+"Content", top.get("contents"))
	if ge != nil {
		return nil, ge
	}
	if len(contents) == 0 {
		return nil, geminiRequired("contents", "contents is not specified")
	}
	var prev geminiTurn
	for i, raw := range contents {
		turn, ge := req.parseContent(fmt.Sprintf("contents[%d]", i), raw, &prev, i == len(contents)-1)
		if ge != nil {
			return nil, ge
		}
		prev = turn
	}
	if raw := top.get("systemInstruction"); !isAbsent(raw) {
		var none geminiTurn
		if _, ge := req.parseContent("system_instruction", raw, &none, false); ge != nil {
			return nil, ge
		}
	}
	if ge := req.parseTools(top); ge != nil {
		return nil, ge
	}
	if ge := req.parseConfig(top.get("generationConfig")); ge != nil {
		return nil, ge
	}
	if ge := checkSafetySettings(top.get("safetySettings")); ge != nil {
		return nil, ge
	}
	cache, ge := gString("cached_content", top.get("cachedContent"))
	if ge != nil {
		return nil, ge
	}
	if cache != "" {
		if !isAbsent(top.get("systemInstruction")) || !isAbsent(top.get("tools")) || !isAbsent(top.get("toolConfig")) {
			return nil, geminiBad("CachedContent can not be used with GenerateContent request setting system_instruction, tools or tool_config.\n\n" +
				"Proposed fix: move those values to CachedContent from GenerateContent request.")
		}
		req.cached = true
	}
	return req, nil
}

// parseContent reads one Content, {"role","parts"}, at path p; prev is the
// content before it (its function calls), last whether it ends the
// conversation. The system instruction is read the same way.
func (req *geminiRequest) parseContent(p string, raw json.RawMessage, prev *geminiTurn, last bool) (geminiTurn, *geminiError) {
	turn := geminiTurn{role: "user"}
	c, ge := gOpen(p, "Content", raw, geminiContentFields...)
	if ge != nil {
		return turn, ge
	}
	if c == nil {
		return turn, geminiRequired(p+".parts", "contents.parts must not be empty.")
	}
	role, ge := gString(c.path("role"), c.get("role"))
	if ge != nil {
		return turn, ge
	}
	switch role {
	case "", "user":
	case "model":
		turn.role = "model"
	default:
		if p == "system_instruction" {
			break
		}
		return turn, geminiBad("Please use a valid role: user, model.")
	}
	parts, ge := gList(c.path("parts"), geminiType+"Part", c.get("parts"))
	if ge != nil {
		return turn, ge
	}
	if len(parts) == 0 {
		return turn, geminiRequired(c.path("parts"), "contents.parts must not be empty.")
	}
	var texts, results []string
	media := 0
	var extra int64 // function call and response tokens
	for j, praw := range parts {
		pp := fmt.Sprintf("%s[%d]", c.path("parts"), j)
		part, ge := gOpen(pp, "Part", praw, geminiPartFields...)
		if ge != nil {
			return turn, ge
		}
		if part == nil {
			return turn, geminiRequired(pp+".data", "required oneof field 'data' must have one initialized field")
		}
		data, ge := partData(pp, part)
		if ge != nil {
			return turn, ge
		}
		if data == "" {
			return turn, geminiRequired(pp+".data", "required oneof field 'data' must have one initialized field")
		}
		thought, ge := gBool(part.path("thought"), part.get("thought"))
		if ge != nil {
			return turn, ge
		}
		if ge := gBytes(part.path("thoughtSignature"), part.get("thoughtSignature")); ge != nil {
			return turn, ge
		}
		switch data {
		case "text":
			s, ge := gString(part.path("text"), part.get("text"))
			if ge != nil {
				return turn, ge
			}
			if !thought {
				// Earlier thoughts are not part of the prompt.
				texts = append(texts, s)
			}
		case "inlineData":
			blob, ge := gOpen(part.path("inlineData"), "Blob", part.get("inlineData"), "mimeType", "data")
			if ge != nil {
				return turn, ge
			}
			if _, ge := gString(blob.path("mimeType"), blob.get("mimeType")); ge != nil {
				return turn, ge
			}
			if ge := gBytes(blob.path("data"), blob.get("data")); ge != nil {
				return turn, ge
			}
			media++
		case "fileData":
			fd, ge := gOpen(part.path("fileData"), "FileData", part.get("fileData"), "mimeType", "fileUri")
			if ge != nil {
				return turn, ge
			}
			if _, ge := gString(fd.path("mimeType"), fd.get("mimeType")); ge != nil {
				return turn, ge
			}
			uri, ge := gString(fd.path("fileUri"), fd.get("fileUri"))
			if ge != nil {
				return turn, ge
			}
			if uri == "" {
				return turn, geminiRequired(fd.path("fileUri"), "file_uri must be specified")
			}
			media++
		case "functionCall":
			fc, ge := gOpen(part.path("functionCall"), "FunctionCall", part.get("functionCall"), "id", "name", "args")
			if ge != nil {
				return turn, ge
			}
			name, ge := geminiCallName(fc)
			if ge != nil {
				return turn, ge
			}
			if args := fc.get("args"); !isAbsent(args) && jsonKind(args) != "an object" {
				return turn, geminiInvalidValue(fc.path("args"), "type.googleapis.com/google.protobuf.Struct", args)
			}
			if turn.role != "model" {
				return turn, geminiBad("Please ensure that function call turn comes immediately after a user turn or after a function response turn.")
			}
			turn.calls = append(turn.calls, name)
			extra += textTokens(name)
			if args := fc.get("args"); !isAbsent(args) {
				extra += textTokens(string(compactJSON(args)))
			}
		case "functionResponse":
			fr, ge := gOpen(part.path("functionResponse"), "FunctionResponse", part.get("functionResponse"),
				"id", "name", "response", "willContinue", "scheduling", "parts")
			if ge != nil {
				return turn, ge
			}
			name, ge := geminiCallName(fr)
			if ge != nil {
				return turn, ge
			}
			resp := fr.get("response")
			if !isAbsent(resp) && jsonKind(resp) != "an object" {
				return turn, geminiInvalidValue(fr.path("response"), "type.googleapis.com/google.protobuf.Struct", resp)
			}
			if turn.role != "user" || prev.role != "model" || len(prev.calls) == 0 {
				return turn, geminiBad("Please ensure that function response turn comes immediately after a function call turn.")
			}
			if !contains(prev.calls, name) {
				return turn, geminiViolation(fr.path("name"), fmt.Sprintf("%s: function response %s does not answer a function call of the previous model turn (%s).",
					fr.path("name"), appendJSONString(nil, name), strings.Join(prev.calls, ", ")))
			}
			turn.responses++
			doc := "{}"
			if !isAbsent(resp) {
				doc = string(compactJSON(resp))
			}
			results = append(results, doc)
			extra += textTokens(name) + textTokens(doc)
		default:
			// Code execution parts are accepted and cost nothing.
			if _, ok := parseObject(part.get(data)); !ok {
				return turn, geminiInvalidValue(part.path(data), geminiType+strings.ToUpper(data[:1])+data[1:], part.get(data))
			}
		}
	}
	if turn.responses > 0 && turn.responses != len(prev.calls) {
		return turn, geminiBad("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.")
	}
	req.promptTokens += messageTokens(texts, media) + extra
	if p == "system_instruction" {
		return turn, nil
	}
	if turn.responses > 0 {
		req.tools.endsInTool, req.tools.results = true, results
	} else {
		req.tools.endsInTool, req.tools.results = false, nil
		if turn.role == "user" {
			req.tools.lastUser = strings.Join(texts, "")
		}
	}
	if last {
		req.lastText = strings.Join(texts, "")
	}
	return turn, nil
}

// geminiCallName reads the required name of a functionCall or
// functionResponse.
func geminiCallName(o *gObject) (string, *geminiError) {
	if _, ge := gString(o.path("id"), o.get("id")); ge != nil {
		return "", ge
	}
	name, ge := gString(o.path("name"), o.get("name"))
	if ge != nil {
		return "", ge
	}
	if name == "" {
		return "", geminiRequired(o.path("name"), "Name cannot be empty.")
	}
	return name, nil
}

// parseTools reads tools (their function declarations) and toolConfig,
// and adds the declarations' tokens to the prompt.
func (req *geminiRequest) parseTools(top *gObject) *geminiError {
	tools, ge := gList("tools", geminiType+"Tool", top.get("tools"))
	if ge != nil {
		return ge
	}
	var decls []json.RawMessage
	for i, raw := range tools {
		t, ge := gOpen(fmt.Sprintf("tools[%d]", i), "Tool", raw, geminiToolFields...)
		if ge != nil {
			return ge
		}
		if t == nil {
			continue
		}
		fds, ge := gList(t.path("functionDeclarations"), geminiType+"FunctionDeclaration", t.get("functionDeclarations"))
		if ge != nil {
			return ge
		}
		for j, fraw := range fds {
			fd, ge := gOpen(fmt.Sprintf("%s[%d]", t.path("functionDeclarations"), j), "FunctionDeclaration", fraw, geminiDeclarationFields...)
			if ge != nil {
				return ge
			}
			if fd == nil {
				return geminiRequired(fmt.Sprintf("%s[%d].name", t.path("functionDeclarations"), j), "Name cannot be empty.")
			}
			d, ge := parseDeclaration(fd)
			if ge != nil {
				return ge
			}
			req.tools.tools = append(req.tools.tools, d)
			decls = append(decls, fraw)
		}
		for _, other := range geminiToolFields[1:] {
			if v := t.get(other); !isAbsent(v) && jsonKind(v) != "an object" {
				return geminiInvalidValue(t.path(other), geminiType+"Tool."+strings.ToUpper(other[:1])+other[1:], v)
			}
		}
	}
	req.promptTokens += toolsTokens(decls)

	tc, ge := gOpen("tool_config", "ToolConfig", top.get("toolConfig"), "functionCallingConfig", "retrievalConfig")
	if ge != nil || tc == nil {
		return ge
	}
	fcc, ge := gOpen(tc.path("functionCallingConfig"), "FunctionCallingConfig", tc.get("functionCallingConfig"), "mode", "allowedFunctionNames")
	if ge != nil || fcc == nil {
		return ge
	}
	mode, ge := gEnum(fcc.path("mode"), "FunctionCallingConfig.Mode", fcc.get("mode"), "MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")
	if ge != nil {
		return ge
	}
	switch mode {
	case "ANY":
		req.tools.choice.mode = choiceRequired
	case "NONE":
		req.tools.choice.mode = choiceNone
	}
	names, ge := gList(fcc.path("allowedFunctionNames"), "TYPE_STRING", fcc.get("allowedFunctionNames"))
	if ge != nil {
		return ge
	}
	if len(names) > 0 {
		p := fcc.path("allowedFunctionNames")
		if mode != "ANY" && mode != "VALIDATED" {
			return geminiRequired(p, "allowed_function_names should only be set when the Mode is ANY or VALIDATED.")
		}
		var allowed []toolDef
		for i, raw := range names {
			name, ge := gString(fmt.Sprintf("%s[%d]", p, i), raw)
			if ge != nil {
				return ge
			}
			found := false
			for _, d := range req.tools.tools {
				if d.name == name {
					allowed, found = append(allowed, d), true
				}
			}
			if !found {
				return geminiRequired(fmt.Sprintf("%s[%d]", p, i), "function %s is not declared in tools.", appendJSONString(nil, name))
			}
		}
		req.tools.tools = allowed
	}
	if mode != "" && mode != "NONE" && mode != "MODE_UNSPECIFIED" && len(req.tools.tools) == 0 {
		return geminiBad("Function calling config is set without function_declarations.")
	}
	return nil
}

// parseDeclaration reads a FunctionDeclaration: its name and parameters
// (an OpenAPI-style Schema in parameters, or a JSON Schema in
// parametersJsonSchema).
func parseDeclaration(fd *gObject) (toolDef, *geminiError) {
	name, ge := gString(fd.path("name"), fd.get("name"))
	if ge != nil {
		return toolDef{}, ge
	}
	if !geminiFunctionNameRe.MatchString(name) {
		return toolDef{}, geminiRequired(fd.path("name"), "Invalid function name. Must start with a letter or an underscore. "+
			"Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length of 64.")
	}
	if _, ge := gString(fd.path("description"), fd.get("description")); ge != nil {
		return toolDef{}, ge
	}
	if _, ge := gEnum(fd.path("behavior"), "Behavior", fd.get("behavior"), "UNSPECIFIED", "BLOCKING", "NON_BLOCKING"); ge != nil {
		return toolDef{}, ge
	}
	d := toolDef{name: name}
	params, jsonParams := fd.get("parameters"), fd.get("parametersJsonSchema")
	switch {
	case !isAbsent(params) && !isAbsent(jsonParams):
		return toolDef{}, geminiRequired(fd.path("parametersJsonSchema"), "parameters and parameters_json_schema cannot both be set.")
	case !isAbsent(params):
		s, ge := geminiSchema(fd.path("parameters"), params)
		if ge != nil {
			return toolDef{}, ge
		}
		d.schema = s
	case !isAbsent(jsonParams):
		if k := jsonKind(jsonParams); k != "an object" && k != "a boolean" {
			return toolDef{}, geminiInvalidValue(fd.path("parametersJsonSchema"), "type.googleapis.com/google.protobuf.Value", jsonParams)
		}
		d.schema = compactJSON(jsonParams)
	}
	for _, name := range []string{"response", "responseJsonSchema"} {
		if v := fd.get(name); !isAbsent(v) && jsonKind(v) != "an object" {
			return toolDef{}, geminiInvalidValue(fd.path(name), geminiType+"Schema", v)
		}
	}
	return d, nil
}

// geminiSchema checks a Schema (Gemini's OpenAPI subset: upper-case
// types, int64 bounds as strings) and returns it as a JSON Schema.
func geminiSchema(p string, raw json.RawMessage) (json.RawMessage, *geminiError) {
	o, ok := parseObject(raw)
	if !ok {
		return nil, geminiInvalidValue(p, geminiType+"Schema", raw)
	}
	return toJSONSchema(o, 0), nil
}

// toJSONSchema rewrites a Schema object: types in lower case
// (TYPE_UNSPECIFIED dropped), numeric strings of the bounds as numbers,
// and the same for nested schemas.
func toJSONSchema(o *jsonObject, depth int) json.RawMessage {
	if depth >= maxSchemaDepth {
		return json.RawMessage("{}")
	}
	values := make(map[string]json.RawMessage, len(o.values))
	for _, k := range o.keys {
		v := o.values[k]
		switch k {
		case "type":
			if t, ok := rawString(v); ok {
				if t = strings.ToLower(t); t == "type_unspecified" {
					continue
				}
				v = appendJSONString(nil, t)
			}
		case "items", "not", "additionalProperties":
			if s, ok := parseObject(v); ok {
				v = toJSONSchema(s, depth+1)
			}
		case "properties", "$defs", "definitions":
			if m, ok := parseObject(v); ok {
				sub := make(map[string]json.RawMessage, len(m.values))
				for _, name := range m.keys {
					sub[name] = m.values[name]
					if s, ok := parseObject(m.values[name]); ok {
						sub[name] = toJSONSchema(s, depth+1)
					}
				}
				v = orderedJSON(sub, m.keys)
			}
		case "anyOf", "oneOf", "allOf", "prefixItems":
			list := rawList(v)
			b := []byte{'['}
			for i, item := range list {
				if i > 0 {
					b = append(b, ',')
				}
				if s, ok := parseObject(item); ok {
					b = append(b, toJSONSchema(s, depth+1)...)
				} else {
					b = append(b, item...)
				}
			}
			v = append(b, ']')
		case "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties", "minimum", "maximum":
			if s, ok := rawString(v); ok {
				if f, err := strconv.ParseFloat(s, 64); err == nil {
					v = strconv.AppendFloat(nil, f, 'f', -1, 64)
				}
			}
		}
		values[k] = v
	}
	keys := o.keys
	if order := stringList(o.get("propertyOrdering")); len(order) > 0 {
		// propertyOrdering orders the generated properties.
		if props, ok := parseObject(values["properties"]); ok {
			ordered := append([]string{}, order...)
			for _, k := range props.keys {
				if !contains(ordered, k) {
					ordered = append(ordered, k)
				}
			}
			values["properties"] = orderedJSON(props.values, ordered)
		}
	}
	return orderedJSON(values, keys)
}

// parseConfig reads generationConfig.
func (req *geminiRequest) parseConfig(raw json.RawMessage) *geminiError {
	g, ge := gOpen("generation_config", "GenerationConfig", raw, geminiConfigFields...)
	if ge != nil || g == nil {
		return ge
	}
	stops, ge := gList(g.path("stopSequences"), "TYPE_STRING", g.get("stopSequences"))
	if ge != nil {
		return ge
	}
	for i, s := range stops {
		if _, ge := gString(fmt.Sprintf("%s[%d]", g.path("stopSequences"), i), s); ge != nil {
			return ge
		}
	}
	if len(stops) > 5 {
		return geminiRequired(g.path("stopSequences"), "at most 5 stop sequences are allowed, got %d.", len(stops))
	}
	for _, name := range []string{"temperature", "topP", "presencePenalty", "frequencyPenalty"} {
		v, ok, ge := gFloat(g.path(name), g.get(name))
		if ge != nil {
			return ge
		}
		switch {
		case !ok:
		case name == "temperature" && (v < 0 || v > 2):
			return geminiRequired(g.path(name), "temperature must be in the range [0.0, 2.0].")
		case name == "topP" && (v < 0 || v > 1):
			return geminiRequired(g.path(name), "top_p must be in the range [0.0, 1.0].")
		}
	}
	for _, name := range []string{"topK", "seed"} {
		if _, _, ge := gInt(g.path(name), g.get(name)); ge != nil {
			return ge
		}
	}
	if n, ok, ge := gInt(g.path("candidateCount"), g.get("candidateCount")); ge != nil {
		return ge
	} else if ok && n != 0 {
		if n < 1 || n > 8 {
			return geminiRequired(g.path("candidateCount"), "candidate_count must be in the range [1, 8].")
		}
		req.n = n
	}
	if n, ok, ge := gInt(g.path("maxOutputTokens"), g.get("maxOutputTokens")); ge != nil {
		return ge
	} else if ok && n != 0 {
		if n < 0 {
			return geminiRequired(g.path("maxOutputTokens"), "max_output_tokens must be positive.")
		}
		req.maxOut, req.hasMax = n, true
	}
	if req.logprobs, ge = gBool(g.path("responseLogprobs"), g.get("responseLogprobs")); ge != nil {
		return ge
	}
	if n, ok, ge := gInt(g.path("logprobs"), g.get("logprobs")); ge != nil {
		return ge
	} else if ok {
		switch {
		case n < 0 || n > 20:
			return geminiRequired(g.path("logprobs"), "logprobs must be in the range [0, 20].")
		case !req.logprobs && n > 0:
			return geminiRequired(g.path("logprobs"), "logprobs can only be set when response_logprobs is true.")
		}
		req.topLogprobs = n
	}
	if _, ge := gBool(g.path("enableEnhancedCivicAnswers"), g.get("enableEnhancedCivicAnswers")); ge != nil {
		return ge
	}
	mods, ge := gList(g.path("responseModalities"), geminiType+"GenerationConfig.Modality", g.get("responseModalities"))
	if ge != nil {
		return ge
	}
	for i, m := range mods {
		if _, ge := gEnum(fmt.Sprintf("%s[%d]", g.path("responseModalities"), i), "GenerationConfig.Modality", m,
			"MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"); ge != nil {
			return ge
		}
	}
	for _, name := range []string{"speechConfig", "imageConfig"} {
		if v := g.get(name); !isAbsent(v) && jsonKind(v) != "an object" {
			return geminiInvalidValue(g.path(name), geminiType+strings.ToUpper(name[:1])+name[1:], v)
		}
	}
	if _, ge := gString(g.path("mediaResolution"), g.get("mediaResolution")); ge != nil {
		return ge
	}
	if ge := req.parseFormat(g); ge != nil {
		return ge
	}
	return req.parseThinking(g)
}

// parseFormat reads responseMimeType, responseSchema and
// responseJsonSchema.
func (req *geminiRequest) parseFormat(g *gObject) *geminiError {
	mime, ge := gString(g.path("responseMimeType"), g.get("responseMimeType"))
	if ge != nil {
		return ge
	}
	if mime != "" && !contains(geminiMimeTypes, mime) {
		return geminiRequired(g.path("responseMimeType"), "allowed mimetypes are `text/plain`, `application/json`, `application/xml`, `application/yaml` and `text/x.enum`.")
	}
	schemaRaw, jsonRaw := g.get("responseSchema"), g.get("responseJsonSchema")
	var schema json.RawMessage
	switch {
	case !isAbsent(schemaRaw) && !isAbsent(jsonRaw):
		return geminiRequired(g.path("responseJsonSchema"), "response_schema and response_json_schema cannot both be set.")
	case !isAbsent(schemaRaw):
		if schema, ge = geminiSchema(g.path("responseSchema"), schemaRaw); ge != nil {
			return ge
		}
	case !isAbsent(jsonRaw):
		if k := jsonKind(jsonRaw); k != "an object" && k != "a boolean" {
			return geminiInvalidValue(g.path("responseJsonSchema"), "type.googleapis.com/google.protobuf.Value", jsonRaw)
		}
		schema = compactJSON(jsonRaw)
		if k := jsonKind(jsonRaw); k == "a boolean" {
			schema = nil
		}
	}
	hasSchema := !isAbsent(schemaRaw) || !isAbsent(jsonRaw)
	switch mime {
	case "application/json":
		if hasSchema {
			req.format = &jsonFormat{schema: schema}
		} else {
			req.format = &jsonFormat{answer: true}
		}
	case "text/x.enum":
		if !hasSchema {
			return geminiRequired(g.path("responseSchema"), "response_schema must be set when response_mime_type is text/x.enum.")
		}
		doc := generateDocument(schema, false)
		if s, ok := rawString(doc); ok {
			req.enumValue = &s
		} else {
			req.format = &jsonFormat{schema: schema}
		}
	default:
		if hasSchema {
			return geminiRequired(g.path("responseMimeType"), "response_mime_type must be application/json or text/x.enum when a response schema is set.")
		}
	}
	return nil
}

// parseThinking reads thinkingConfig. Thinking is on for the models that
// think by default (names containing "2.5" or "gemini-3"), or with a
// thinkingBudget other than 0 or a thinkingLevel; a thinkingBudget of 0
// turns it off.
func (req *geminiRequest) parseThinking(g *gObject) *geminiError {
	tc, ge := gOpen(g.path("thinkingConfig"), "ThinkingConfig", g.get("thinkingConfig"), "thinkingBudget", "includeThoughts", "thinkingLevel")
	if ge != nil || tc == nil {
		return ge
	}
	if req.thoughts, ge = gBool(tc.path("includeThoughts"), tc.get("includeThoughts")); ge != nil {
		return ge
	}
	level, ge := gEnum(tc.path("thinkingLevel"), "ThinkingConfig.ThinkingLevel", tc.get("thinkingLevel"),
		"THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH", "minimal", "low", "medium", "high")
	if ge != nil {
		return ge
	}
	budget, ok, ge := gInt(tc.path("thinkingBudget"), tc.get("thinkingBudget"))
	if ge != nil {
		return ge
	}
	switch {
	case ok && level != "":
		return geminiRequired(tc.path("thinkingLevel"), "thinking_level and thinking_budget cannot both be set.")
	case level != "":
		req.thinking = true
	case !ok:
	case budget < -1:
		return geminiRequired(tc.path("thinkingBudget"), "thinking_budget must be -1 (dynamic), 0 (off) or positive.")
	case budget == 0:
		if strings.Contains(req.model, "2.5-pro") {
			return geminiBad("Budget 0 is invalid. This model only works in thinking mode.")
		}
		req.thinking = false
	default:
		req.thinking = true
		if budget > 0 {
			req.budget = budget
		}
	}
	return nil
}

// geminiThinksByDefault reports whether a model thinks without a
// thinkingConfig.
func geminiThinksByDefault(model string) bool {
	return strings.Contains(model, "2.5") || strings.Contains(model, "gemini-3")
}

// checkSafetySettings checks safetySettings: [{"category","threshold"}].
func checkSafetySettings(raw json.RawMessage) *geminiError {
	list, ge := gList("safety_settings", geminiType+"SafetySetting", raw)
	if ge != nil {
		return ge
	}
	for i, sraw := range list {
		s, ge := gOpen(fmt.Sprintf("safety_settings[%d]", i), "SafetySetting", sraw, "category", "threshold", "method")
		if ge != nil {
			return ge
		}
		if s == nil {
			continue
		}
		for _, name := range []string{"category", "threshold", "method"} {
			if _, ge := gString(s.path(name), s.get(name)); ge != nil {
				return ge
			}
		}
	}
	return nil
}
