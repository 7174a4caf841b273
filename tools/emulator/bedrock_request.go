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

// The body of a Converse or ConverseStream request, checked strictly: an
// unknown member, a value of the wrong type or a union (a content block,
// an image source, a tool choice, ...) without exactly one member is a
// 400 ValidationException naming the member.
//
// Messages name members in two ways, as Bedrock's do: its own checks with
// 0-based dotted paths ("messages.0.content.1"), and the model's
// constraint checks with 1-based list indices followed by ".member"
// ("1 validation error detected: Value at 'messages.1.member.content'
// failed to satisfy constraint: ...").

// bedrockError is an error answer: its status, the exception name sent in
// x-amzn-ErrorType and the body {"message": ...}.
type bedrockError struct {
	status  int
	typ     string
	message string
	outcome outcome
}

// bedrockInvalid is a 400 ValidationException.
func bedrockInvalid(format string, args ...any) *bedrockError {
	return &bedrockError{status: http.StatusBadRequest, typ: "ValidationException", outcome: outBadRequest,
		message: fmt.Sprintf(format, args...)}
}

// bedrockMalformed is the 400 of a body that does not have the request's
// shape at path p.
func bedrockMalformed(format string, args ...any) *bedrockError {
	return bedrockInvalid("Malformed input request: %s, please reformat your input and try again.", fmt.Sprintf(format, args...))
}

// bedrockConstraint is the 400 of a value at p that breaks a constraint.
func bedrockConstraint(p string, raw json.RawMessage, rule string) *bedrockError {
	value := "Value"
	switch jsonKind(raw) {
	case "nothing", "null":
		value = "Value null"
	case "a string", "an integer", "a decimal number", "a boolean":
		v := strings.TrimSpace(string(raw))
		if s, ok := rawString(raw); ok {
			v = s
		}
		value = "Value '" + v + "'"
	}
	return bedrockInvalid("1 validation error detected: %s at '%s' failed to satisfy constraint: %s", value, coralPath(p), rule)
}

// coralPath turns a dotted path with 0-based indices into the model's
// form: "messages.0.content" becomes "messages.1.member.content".
func coralPath(p string) string {
	segs := strings.Split(p, ".")
	for i, s := range segs {
		if n, err := strconv.Atoi(s); err == nil && s != "" && s[0] != '+' && s[0] != '-' {
			segs[i] = strconv.Itoa(n+1) + ".member"
		}
	}
	return strings.Join(segs, ".")
}

func joinBPath(p, name string) string {
	if p == "" {
		return name
	}
	return p + "." + name
}

func indexPath(p string, i int) string { return p + "." + strconv.Itoa(i) }

// bObject reads the structure at p, refusing members outside names.
func bObject(p string, raw json.RawMessage, names ...string) (*jsonObject, *bedrockError) {
	o, ok := parseObject(raw)
	if !ok {
		if p == "" {
			return nil, bedrockMalformed("the body must be a JSON object, got %s", jsonKind(raw))
		}
		return nil, bedrockMalformed("'%s' must be an object, got %s", p, jsonKind(raw))
	}
	for _, k := range o.keys {
		if !contains(names, k) {
			return nil, bedrockMalformed("unknown member '%s'", joinBPath(p, k))
		}
	}
	return o, nil
}

// bRequired checks that member name of o is there and not null.
func bRequired(p string, o *jsonObject, name string) (json.RawMessage, *bedrockError) {
	raw := o.get(name)
	if isAbsent(raw) {
		return nil, bedrockConstraint(joinBPath(p, name), raw, "Member must not be null")
	}
	return raw, nil
}

// bString reads a string at p.
func bString(p string, raw json.RawMessage) (string, *bedrockError) {
	s, ok := rawString(raw)
	if !ok {
		return "", bedrockMalformed("'%s' must be a string, got %s", p, jsonKind(raw))
	}
	return s, nil
}

// bList reads an array at p.
func bList(p string, raw json.RawMessage) ([]json.RawMessage, *bedrockError) {
	if jsonKind(raw) != "an array" {
		return nil, bedrockMalformed("'%s' must be an array, got %s", p, jsonKind(raw))
	}
	return rawList(raw), nil
}

// bEnum reads a string at p that must be one of values.
func bEnum(p string, raw json.RawMessage, values ...string) (string, *bedrockError) {
	s, be := bString(p, raw)
	if be != nil {
		return "", be
	}
	if !contains(values, s) {
		return "", bedrockConstraint(p, raw, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
	}
	return s, nil
}

// bUnion reads the union at p: an object with exactly one of members set.
func bUnion(p string, raw json.RawMessage, members ...string) (*jsonObject, string, *bedrockError) {
	o, be := bObject(p, raw, members...)
	if be != nil {
		return nil, "", be
	}
	var set []string
	for _, k := range o.keys {
		if !isAbsent(o.get(k)) {
			set = append(set, k)
		}
	}
	if len(set) != 1 {
		got := "none"
		if len(set) > 1 {
			got = strings.Join(set, ", ")
		}
		return nil, "", bedrockInvalid("Malformed input request: '%s' must set exactly one of %s, got %s, please reformat your input and try again.",
			p, strings.Join(members, ", "), got)
	}
	return o, set[0], nil
}

// bNumber reads a number at p within [lo, hi].
func bNumber(p string, raw json.RawMessage, lo, hi float64) (float64, *bedrockError) {
	v, ok := schemaNumber(raw)
	if !ok {
		return 0, bedrockMalformed("'%s' must be a number, got %s", p, jsonKind(raw))
	}
	if v < lo {
		return 0, bedrockConstraint(p, raw, "Member must have value greater than or equal to "+strconv.FormatFloat(lo, 'f', -1, 64))
	}
	if v > hi {
		return 0, bedrockConstraint(p, raw, "Member must have value less than or equal to "+strconv.FormatFloat(hi, 'f', -1, 64))
	}
	return v, nil
}

// bedrockNameRe is what Converse accepts as a tool name or tool use id.
var bedrockNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// bName reads a required tool name or tool use id at member name of o.
func bName(p string, o *jsonObject, name string) (string, *bedrockError) {
	raw, be := bRequired(p, o, name)
	if be != nil {
		return "", be
	}
	s, be := bString(joinBPath(p, name), raw)
	if be != nil {
		return "", be
	}
	if !bedrockNameRe.MatchString(s) {
		return "", bedrockConstraint(joinBPath(p, name), raw, "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+ and have length between 1 and 64")
	}
	return s, nil
}

var (
	bedrockFields = []string{"messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
		"additionalModelRequestFields", "additionalModelResponseFieldPaths", "promptVariables", "requestMetadata",
		"performanceConfig"}
	bedrockBlockMembers = []string{"text", "image", "document", "video", "toolUse", "toolResult", "guardContent",
		"cachePoint", "reasoningContent"}
	bedrockImageFormats    = []string{"png", "jpeg", "gif", "webp"}
	bedrockDocumentFormats = []string{"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"}
	bedrockVideoFormats    = []string{"mkv", "mov", "mp4", "webm", "flv", "mpeg", "mpg", "wmv", "three_gp"}
)

// bedrockRequest is what the emulator needs from a Converse body.
type bedrockRequest struct {
	model        string // the model id of the path, decoded
	stream       bool   // ConverseStream
	promptTokens int64
	promptHash   uint64 // identifies the request, for the tool use ids
	lastText     string // the text of the last message
	maxOut       int64  // inferenceConfig.maxTokens
	hasMax       bool
	stops        []string // inferenceConfig.stopSequences
	tools        toolRequest
}

// charge is what a request costs the token window on arrival: the prompt
// and, when capped, the cap.
func (r *bedrockRequest) charge() int64 {
	if r.hasMax {
		return r.promptTokens + min(r.maxOut, math.MaxInt64-r.promptTokens)
	}
	return r.promptTokens
}

// bedrockContent is what one message's content amounts to.
type bedrockContent struct {
	texts   []string
	tokens  int64    // 4 + the blocks' tokens
	uses    []string // the toolUse ids
	results []bedrockResult
}

// bedrockResult is a toolResult block: the id it answers and its text (its
// text parts and compact JSON parts joined).
type bedrockResult struct {
	id, text string
	index    int
}

// parseBedrockRequest checks a Converse body for model and computes its
// token figures.
func parseBedrockRequest(model string, stream bool, body []byte) (*bedrockRequest, *bedrockError) {
	if !json.Valid(body) {
		return nil, bedrockMalformed("the body is not valid JSON")
	}
	top, be := bObject("", body, bedrockFields...)
	if be != nil {
		return nil, be
	}
	req := &bedrockRequest{model: model, stream: stream, promptTokens: tokensPerPrompt}
	req.promptHash = fnvAdd(fnvAddByte(fnvAdd(fnvAdd(fnvOffset64, "bedrock"), model), 0), string(compactJSON(body)))

	if raw := top.get("system"); !isAbsent(raw) {
		texts, be := parseBedrockSystem(raw)
		if be != nil {
			return nil, be
		}
		// The system prompt counts as one more message, its texts joined.
		if len(texts) > 0 {
			req.promptTokens += messageTokens([]string{strings.Join(texts, "")}, 0)
		}
	}

	raw, be := bRequired("", top, "messages")
	if be != nil {
		return nil, be
	}
	msgs, be := bList("messages", raw)
	if be != nil {
		return nil, be
	}
	if len(msgs) == 0 {
		return nil, bedrockConstraint("messages", raw, "Member must have length greater than or equal to 1")
	}
	var prevRole string
	var prevUses []string
	toolBlocks := false
	for i, mraw := range msgs {
		p := indexPath("messages", i)
		m, be := bObject(p, mraw, "role", "content")
		if be != nil {
			return nil, be
		}
		rraw, be := bRequired(p, m, "role")
		if be != nil {
			return nil, be
		}
		role, be := bEnum(p+".role", rraw, "user", "assistant")
		if be != nil {
			return nil, be
		}
		craw, be := bRequired(p, m, "content")
		if be != nil {
			return nil, be
		}
		blocks, be := bList(p+".content", craw)
		if be != nil {
			return nil, be
		}
		if len(blocks) == 0 {
			return nil, bedrockConstraint(p+".content", craw, "Member must have length greater than or equal to 1")
		}
		switch {
		case i == 0 && role != "user":
			return nil, bedrockInvalid("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
		case i > 0 && role == prevRole:
			return nil, bedrockInvalid("A conversation must alternate between user and assistant roles. " +
				"Make sure the conversation alternates between user and assistant roles and try again.")
		}
		mc, be := parseBedrockContent(p+".content", role, blocks)
		if be != nil {
			return nil, be
		}
		toolBlocks = toolBlocks || len(mc.uses) > 0 || len(mc.results) > 0
		if role == "user" {
			if be := pairToolResults(p+".content", prevUses, mc.results); be != nil {
				return nil, be
			}
			prevUses = nil
		} else {
			prevUses = mc.uses
		}
		prevRole = role
		req.promptTokens += mc.tokens
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

	if be := req.parseInferenceConfig(top.get("inferenceConfig")); be != nil {
		return nil, be
	}
	if raw := top.get("toolConfig"); !isAbsent(raw) {
		if be := req.parseToolConfig(raw); be != nil {
			return nil, be
		}
	} else if toolBlocks {
		return nil, bedrockInvalid("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
	}
	if be := checkBedrockExtras(top, stream); be != nil {
		return nil, be
	}
	return req, nil
}

// parseBedrockSystem reads system: [{"text"} | {"guardContent"} |
// {"cachePoint"}], and returns its texts.
func parseBedrockSystem(raw json.RawMessage) ([]string, *bedrockError) {
	list, be := bList("system", raw)
	if be != nil {
		return nil, be
	}
	var texts []string
	for i, braw := range list {
		p := indexPath("system", i)
		b, kind, be := bUnion(p, braw, "text", "guardContent", "cachePoint")
		if be != nil {
			return nil, be
		}
		switch kind {
		case "text":
			s, be := bString(p+".text", b.get("text"))
			if be != nil {
				return nil, be
			}
			if strings.TrimSpace(s) == "" {
				return nil, bedrockInvalid("The text field in the SystemContentBlock object at %s is blank. Add text to the text field, and try again.", p)
			}
			texts = append(texts, s)
		case "guardContent":
			text, be := guardContentBlock(p+".guardContent", b.get("guardContent"))
			if be != nil {
				return nil, be
			}
			texts = append(texts, text)
		case "cachePoint":
			if be := cachePointBlock(p+".cachePoint", b.get("cachePoint")); be != nil {
				return nil, be
			}
		}
	}
	return texts, nil
}

// parseBedrockContent reads the content blocks of a message with role.
func parseBedrockContent(p, role string, blocks []json.RawMessage) (bedrockContent, *bedrockError) {
	mc := bedrockContent{tokens: tokensPerMessage}
	for j, braw := range blocks {
		bp := indexPath(p, j)
		b, kind, be := bUnion(bp, braw, bedrockBlockMembers...)
		if be != nil {
			return mc, be
		}
		v, vp := b.get(kind), bp+"."+kind
		switch kind {
		case "text":
			s, be := bString(vp, v)
			if be != nil {
				return mc, be
			}
			if strings.TrimSpace(s) == "" {
				return mc, bedrockInvalid("The text field in the ContentBlock object at %s is blank. Add text to the text field, and try again.", bp)
			}
			mc.texts = append(mc.texts, s)
			mc.tokens += textTokens(s)
		case "image":
			if be := mediaBlock(vp, v, bedrockImageFormats, false); be != nil {
				return mc, be
			}
			mc.tokens += tokensPerImage
		case "document":
			if be := mediaBlock(vp, v, bedrockDocumentFormats, true); be != nil {
				return mc, be
			}
			mc.tokens += tokensPerImage
		case "video":
			if be := mediaBlock(vp, v, bedrockVideoFormats, false); be != nil {
				return mc, be
			}
			mc.tokens += tokensPerImage
		case "toolUse":
			if role != "assistant" {
				return mc, bedrockInvalid("The toolUse block at %s is not allowed in a user message: only assistant messages use tools.", bp)
			}
			id, tokens, be := toolUseContent(vp, v)
			if be != nil {
				return mc, be
			}
			if contains(mc.uses, id) {
				return mc, bedrockInvalid("The toolUse blocks at %s use the toolUseId %s more than once.", p, id)
			}
			mc.uses = append(mc.uses, id)
			mc.tokens += tokens
		case "toolResult":
			if role != "user" {
				return mc, bedrockInvalid("The toolResult block at %s is not allowed in an assistant message: tool results come in user messages.", bp)
			}
			r, tokens, be := toolResultContent(vp, v)
			if be != nil {
				return mc, be
			}
			r.index = j
			mc.results = append(mc.results, r)
			mc.tokens += tokens
		case "guardContent":
			text, be := guardContentBlock(vp, v)
			if be != nil {
				return mc, be
			}
			mc.texts = append(mc.texts, text)
			mc.tokens += textTokens(text)
		case "cachePoint":
			if be := cachePointBlock(vp, v); be != nil {
				return mc, be
			}
		case "reasoningContent":
			// Earlier reasoning is not part of the prompt.
			if be := reasoningBlock(vp, v); be != nil {
				return mc, be
			}
		}
	}
	return mc, nil
}

// pairToolResults checks the toolResult blocks of a user message at p
// against the toolUse ids of the assistant message before it: each
// result answers one of them, and all of them are answered.
func pairToolResults(p string, uses []string, results []bedrockResult) *bedrockError {
	answered := map[string]bool{}
	for _, r := range results {
		if !contains(uses, r.id) {
			return bedrockInvalid("The toolResult block at %s.%d answers the toolUseId %s, which the previous assistant message did not use.", p, r.index, r.id)
		}
		if answered[r.id] {
			return bedrockInvalid("The toolResult blocks at %s answer the toolUseId %s more than once.", p, r.id)
		}
		answered[r.id] = true
	}
	var missing []string
	for _, id := range uses {
		if !answered[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return bedrockInvalid("Expected toolResult blocks at %s for the following Ids: %s", p, strings.Join(missing, ", "))
	}
	return nil
}

// toolUseContent checks {"toolUseId","name","input"} and returns the id
// and the tokens of the name and the compact input.
func toolUseContent(p string, raw json.RawMessage) (string, int64, *bedrockError) {
	o, be := bObject(p, raw, "toolUseId", "name", "input")
	if be != nil {
		return "", 0, be
	}
	id, be := bName(p, o, "toolUseId")
	if be != nil {
		return "", 0, be
	}
	name, be := bName(p, o, "name")
	if be != nil {
		return "", 0, be
	}
	input, be := bRequired(p, o, "input")
	if be != nil {
		return "", 0, be
	}
	return id, textTokens(name) + textTokens(string(compactJSON(input))), nil
}

// toolResultContent checks {"toolUseId","content":[{"text"}|{"json"}|
// {"image"}|{"document"}|{"video"}],"status"?} and returns the result and
// its tokens.
func toolResultContent(p string, raw json.RawMessage) (bedrockResult, int64, *bedrockError) {
	var r bedrockResult
	o, be := bObject(p, raw, "toolUseId", "content", "status")
	if be != nil {
		return r, 0, be
	}
	if r.id, be = bName(p, o, "toolUseId"); be != nil {
		return r, 0, be
	}
	craw, be := bRequired(p, o, "content")
	if be != nil {
		return r, 0, be
	}
	items, be := bList(p+".content", craw)
	if be != nil {
		return r, 0, be
	}
	var tokens int64
	var texts []string
	for i, iraw := range items {
		ip := indexPath(p+".content", i)
		item, kind, be := bUnion(ip, iraw, "text", "json", "image", "document", "video")
		if be != nil {
			return r, 0, be
		}
		v, vp := item.get(kind), ip+"."+kind
		switch kind {
		case "text":
			s, be := bString(vp, v)
			if be != nil {
				return r, 0, be
			}
			texts = append(texts, s)
			tokens += textTokens(s)
		case "json":
			doc := string(compactJSON(v))
			texts = append(texts, doc)
			tokens += textTokens(doc)
		case "image":
			if be := mediaBlock(vp, v, bedrockImageFormats, false); be != nil {
				return r, 0, be
			}
			tokens += tokensPerImage
		case "document":
			if be := mediaBlock(vp, v, bedrockDocumentFormats, true); be != nil {
				return r, 0, be
			}
			tokens += tokensPerImage
		case "video":
			if be := mediaBlock(vp, v, bedrockVideoFormats, false); be != nil {
				return r, 0, be
			}
			tokens += tokensPerImage
		}
	}
	if s := o.get("status"); !isAbsent(s) {
		if _, be := bEnum(p+".status", s, "success", "error"); be != nil {
			return r, 0, be
		}
	}
	r.text = strings.Join(texts, "")
	return r, tokens, nil
}

// mediaBlock checks an image, document or video block: a format among
// formats and a source, {"bytes": base64} or {"s3Location":{"uri",
// "bucketOwner"?}} (a document may also have {"text"} or {"content"}, and
// has a name, a context and citations).
func mediaBlock(p string, raw json.RawMessage, formats []string, document bool) *bedrockError {
	names := []string{"format", "source"}
	sources := []string{"bytes", "s3Location"}
	if document {
		names = append(names, "name", "context", "citations")
		sources = append(sources, "text", "content")
	}
	o, be := bObject(p, raw, names...)
	if be != nil {
		return be
	}
	f, be := bRequired(p, o, "format")
	if be != nil {
		return be
	}
	if _, be := bEnum(p+".format", f, formats...); be != nil {
		return be
	}
	if document {
		n, be := bRequired(p, o, "name")
		if be != nil {
			return be
		}
		if _, be := bString(p+".name", n); be != nil {
			return be
		}
		if c := o.get("context"); !isAbsent(c) {
			if _, be := bString(p+".context", c); be != nil {
				return be
			}
		}
		if c := o.get("citations"); !isAbsent(c) {
			if _, be := bObject(p+".citations", c, "enabled"); be != nil {
				return be
			}
		}
	}
	sraw, be := bRequired(p, o, "source")
	if be != nil {
		return be
	}
	src, kind, be := bUnion(p+".source", sraw, sources...)
	if be != nil {
		return be
	}
	v, vp := src.get(kind), p+".source."+kind
	switch kind {
	case "bytes":
		s, be := bString(vp, v)
		if be != nil {
			return be
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil || s == "" {
			return bedrockMalformed("'%s' must be non-empty base64 data", vp)
		}
	case "s3Location":
		loc, be := bObject(vp, v, "uri", "bucketOwner")
		if be != nil {
			return be
		}
		u, be := bRequired(vp, loc, "uri")
		if be != nil {
			return be
		}
		uri, be := bString(vp+".uri", u)
		if be != nil {
			return be
		}
		if !strings.HasPrefix(uri, "s3://") {
			return bedrockConstraint(vp+".uri", u, "Member must satisfy regular expression pattern: s3://.*")
		}
		if bo := loc.get("bucketOwner"); !isAbsent(bo) {
			if _, be := bString(vp+".bucketOwner", bo); be != nil {
				return be
			}
		}
	case "text":
		if _, be := bString(vp, v); be != nil {
			return be
		}
	case "content":
		if _, be := bList(vp, v); be != nil {
			return be
		}
	}
	return nil
}

// guardContentBlock checks {"text":{"text","qualifiers"?}} or
// {"image":{...}} and returns its text.
func guardContentBlock(p string, raw json.RawMessage) (string, *bedrockError) {
	o, kind, be := bUnion(p, raw, "text", "image")
	if be != nil {
		return "", be
	}
	if kind == "image" {
		return "", mediaBlock(p+".image", o.get("image"), []string{"png", "jpeg"}, false)
	}
	t, be := bObject(p+".text", o.get("text"), "text", "qualifiers")
	if be != nil {
		return "", be
	}
	traw, be := bRequired(p+".text", t, "text")
	if be != nil {
		return "", be
	}
	text, be := bString(p+".text.text", traw)
	if be != nil {
		return "", be
	}
	if q := t.get("qualifiers"); !isAbsent(q) {
		list, be := bList(p+".text.qualifiers", q)
		if be != nil {
			return "", be
		}
		for i, item := range list {
			if _, be := bEnum(indexPath(p+".text.qualifiers", i), item, "grounding_source", "query", "guard_content"); be != nil {
				return "", be
			}
		}
	}
	return text, nil
}

// cachePointBlock checks {"type":"default"}.
func cachePointBlock(p string, raw json.RawMessage) *bedrockError {
	o, be := bObject(p, raw, "type")
	if be != nil {
		return be
	}
	t, be := bRequired(p, o, "type")
	if be != nil {
		return be
	}
	_, be = bEnum(p+".type", t, "default")
	return be
}

// reasoningBlock checks {"reasoningText":{"text","signature"?}} or
// {"redactedContent": base64}.
func reasoningBlock(p string, raw json.RawMessage) *bedrockError {
	o, kind, be := bUnion(p, raw, "reasoningText", "redactedContent")
	if be != nil {
		return be
	}
	if kind == "redactedContent" {
		s, be := bString(p+".redactedContent", o.get(kind))
		if be != nil {
			return be
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return bedrockMalformed("'%s.redactedContent' must be base64 data", p)
		}
		return nil
	}
	rt, be := bObject(p+".reasoningText", o.get(kind), "text", "signature")
	if be != nil {
		return be
	}
	t, be := bRequired(p+".reasoningText", rt, "text")
	if be != nil {
		return be
	}
	if _, be := bString(p+".reasoningText.text", t); be != nil {
		return be
	}
	if s := rt.get("signature"); !isAbsent(s) {
		if _, be := bString(p+".reasoningText.signature", s); be != nil {
			return be
		}
	}
	return nil
}

// parseInferenceConfig reads inferenceConfig: maxTokens (≥ 1),
// temperature and topP (in [0, 1]) and stopSequences (non-empty strings).
func (req *bedrockRequest) parseInferenceConfig(raw json.RawMessage) *bedrockError {
	if isAbsent(raw) {
		return nil
	}
	const p = "inferenceConfig"
	o, be := bObject(p, raw, "maxTokens", "temperature", "topP", "stopSequences")
	if be != nil {
		return be
	}
	if v := o.get("maxTokens"); !isAbsent(v) {
		if jsonKind(v) != "an integer" {
			return bedrockMalformed("'%s.maxTokens' must be an integer, got %s", p, jsonKind(v))
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 32)
		switch {
		case err != nil && !strings.HasPrefix(strings.TrimSpace(string(v)), "-"):
			return bedrockConstraint(p+".maxTokens", v, "Member must have value less than or equal to 2147483647")
		case err != nil || n < 1:
			return bedrockConstraint(p+".maxTokens", v, "Member must have value greater than or equal to 1")
		}
		req.maxOut, req.hasMax = n, true
	}
	for _, name := range []string{"temperature", "topP"} {
		if v := o.get(name); !isAbsent(v) {
			if _, be := bNumber(p+"."+name, v, 0, 1); be != nil {
				return be
			}
		}
	}
	if v := o.get("stopSequences"); !isAbsent(v) {
		list, be := bList(p+".stopSequences", v)
		if be != nil {
			return be
		}
		for i, item := range list {
			ip := indexPath(p+".stopSequences", i)
			s, be := bString(ip, item)
			if be != nil {
				return be
			}
			if s == "" {
				return bedrockConstraint(ip, item, "Member must have length greater than or equal to 1")
			}
			req.stops = append(req.stops, s)
		}
	}
	return nil
}

// parseToolConfig reads toolConfig: tools ([{"toolSpec":{"name",
// "description"?,"inputSchema":{"json":{...}}}} | {"cachePoint"}],
// non-empty) and toolChoice ({"auto":{}} | {"any":{}} |
// {"tool":{"name"}}). The tools count in the prompt.
func (req *bedrockRequest) parseToolConfig(raw json.RawMessage) *bedrockError {
	const p = "toolConfig"
	o, be := bObject(p, raw, "tools", "toolChoice")
	if be != nil {
		return be
	}
	traw, be := bRequired(p, o, "tools")
	if be != nil {
		return be
	}
	tools, be := bList(p+".tools", traw)
	if be != nil {
		return be
	}
	if len(tools) == 0 {
		return bedrockConstraint(p+".tools", traw, "Member must have length greater than or equal to 1")
	}
	for i, t := range tools {
		tp := indexPath(p+".tools", i)
		to, kind, be := bUnion(tp, t, "toolSpec", "cachePoint")
		if be != nil {
			return be
		}
		if kind == "cachePoint" {
			if be := cachePointBlock(tp+".cachePoint", to.get(kind)); be != nil {
				return be
			}
			continue
		}
		sp := tp + ".toolSpec"
		spec, be := bObject(sp, to.get(kind), "name", "description", "inputSchema", "strict")
		if be != nil {
			return be
		}
		name, be := bName(sp, spec, "name")
		if be != nil {
			return be
		}
		for _, d := range req.tools.tools {
			if d.name == name {
				return bedrockInvalid("The tool name %s is defined more than once in toolConfig.tools; tool names must be unique.", name)
			}
		}
		if d := spec.get("description"); !isAbsent(d) {
			s, be := bString(sp+".description", d)
			if be != nil {
				return be
			}
			if s == "" {
				return bedrockConstraint(sp+".description", d, "Member must have length greater than or equal to 1")
			}
		}
		if s := spec.get("strict"); !isAbsent(s) && jsonKind(s) != "a boolean" {
			return bedrockMalformed("'%s.strict' must be a boolean, got %s", sp, jsonKind(s))
		}
		sraw, be := bRequired(sp, spec, "inputSchema")
		if be != nil {
			return be
		}
		schema, _, be := bUnion(sp+".inputSchema", sraw, "json")
		if be != nil {
			return be
		}
		if _, ok := parseObject(schema.get("json")); !ok {
			return bedrockMalformed("'%s.inputSchema.json' must be a JSON schema object, got %s", sp, jsonKind(schema.get("json")))
		}
		req.tools.tools = append(req.tools.tools, toolDef{name: name, schema: compactJSON(schema.get("json"))})
	}
	req.promptTokens += toolsTokens(tools)

	craw := o.get("toolChoice")
	if isAbsent(craw) {
		return nil
	}
	cp := p + ".toolChoice"
	choice, kind, be := bUnion(cp, craw, "auto", "any", "tool")
	if be != nil {
		return be
	}
	switch kind {
	case "auto", "any":
		if _, be := bObject(cp+"."+kind, choice.get(kind)); be != nil {
			return be
		}
		if kind == "any" {
			req.tools.choice = toolChoice{mode: choiceRequired}
		}
	case "tool":
		tc, be := bObject(cp+".tool", choice.get(kind), "name")
		if be != nil {
			return be
		}
		name, be := bName(cp+".tool", tc, "name")
		if be != nil {
			return be
		}
		found := false
		for _, d := range req.tools.tools {
			found = found || d.name == name
		}
		if !found {
			return bedrockInvalid("The tool %s named by toolConfig.toolChoice.tool is not in toolConfig.tools.", name)
		}
		req.tools.choice = toolChoice{mode: choiceNamed, name: name}
	}
	return nil
}

// checkBedrockExtras checks the members that do not change the answer:
// additionalModelRequestFields (an object), additionalModelResponseFieldPaths
// (JSON pointers), requestMetadata (strings), performanceConfig,
// guardrailConfig and promptVariables.
func checkBedrockExtras(top *jsonObject, stream bool) *bedrockError {
	if v := top.get("additionalModelRequestFields"); !isAbsent(v) {
		if _, ok := parseObject(v); !ok {
			return bedrockMalformed("'additionalModelRequestFields' must be an object, got %s", jsonKind(v))
		}
	}
	if v := top.get("additionalModelResponseFieldPaths"); !isAbsent(v) {
		list, be := bList("additionalModelResponseFieldPaths", v)
		if be != nil {
			return be
		}
		if len(list) > 10 {
			return bedrockConstraint("additionalModelResponseFieldPaths", v, "Member must have length less than or equal to 10")
		}
		for i, item := range list {
			ip := indexPath("additionalModelResponseFieldPaths", i)
			s, be := bString(ip, item)
			if be != nil {
				return be
			}
			if !strings.HasPrefix(s, "/") {
				return bedrockConstraint(ip, item, "Member must be a JSON pointer starting with '/'")
			}
		}
	}
	if v := top.get("requestMetadata"); !isAbsent(v) {
		md, ok := parseObject(v)
		if !ok {
			return bedrockMalformed("'requestMetadata' must be an object, got %s", jsonKind(v))
		}
		for _, k := range md.keys {
			if _, be := bString("requestMetadata."+k, md.get(k)); be != nil {
				return be
			}
		}
	}
	if v := top.get("performanceConfig"); !isAbsent(v) {
		pc, be := bObject("performanceConfig", v, "latency")
		if be != nil {
			return be
		}
		if l := pc.get("latency"); !isAbsent(l) {
			if _, be := bEnum("performanceConfig.latency", l, "standard", "optimized"); be != nil {
				return be
			}
		}
	}
	if v := top.get("guardrailConfig"); !isAbsent(v) {
		names := []string{"guardrailIdentifier", "guardrailVersion", "trace"}
		if stream {
			names = append(names, "streamProcessingMode")
		}
		gc, be := bObject("guardrailConfig", v, names...)
		if be != nil {
			return be
		}
		for _, name := range names[:2] {
			raw, be := bRequired("guardrailConfig", gc, name)
			if be != nil {
				return be
			}
			if _, be := bString("guardrailConfig."+name, raw); be != nil {
				return be
			}
		}
		if t := gc.get("trace"); !isAbsent(t) {
			if _, be := bEnum("guardrailConfig.trace", t, "enabled", "disabled", "enabled_full"); be != nil {
				return be
			}
		}
		if m := gc.get("streamProcessingMode"); !isAbsent(m) {
			if _, be := bEnum("guardrailConfig.streamProcessingMode", m, "sync", "async"); be != nil {
				return be
			}
		}
	}
	if v := top.get("promptVariables"); !isAbsent(v) {
		pv, ok := parseObject(v)
		if !ok {
			return bedrockMalformed("'promptVariables' must be an object, got %s", jsonKind(v))
		}
		for _, k := range pv.keys {
			o, kind, be := bUnion("promptVariables."+k, pv.get(k), "text")
			if be != nil {
				return be
			}
			if _, be := bString("promptVariables."+k+"."+kind, o.get(kind)); be != nil {
				return be
			}
		}
	}
	return nil
}
