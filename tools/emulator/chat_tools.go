package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Tools on /v1/chat/completions: the tools and tool_choice parameters,
// assistant messages with tool_calls and the tool messages answering them.

// functionNameRe is what OpenAI accepts as a function name.
var functionNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// toolCallTurn is an assistant message's tool calls while the tool
// messages answering them are read.
type toolCallTurn struct {
	index    int // the assistant message
	ids      []string
	answered map[string]bool
}

// answer records a tool message for id; false when the turn did not issue
// that id.
func (t *toolCallTurn) answer(id string) bool {
	if !contains(t.ids, id) {
		return false
	}
	t.answered[id] = true
	return true
}

// check refuses a turn some of whose calls were left unanswered when the
// conversation moved on. A nil turn is fine.
func (t *toolCallTurn) check() *apiError {
	if t == nil {
		return nil
	}
	var missing []string
	for _, id := range t.ids {
		if !t.answered[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return invalidRequest(fmt.Sprintf("messages.[%d].role", t.index), "",
		"An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "+
			"The following tool_call_ids did not have response messages: %s", strings.Join(missing, ", "))
}

// toolCallIDOf reads a tool message's required tool_call_id.
func toolCallIDOf(p string, raw json.RawMessage) (string, *apiError) {
	if isAbsent(raw) {
		return "", invalidRequest(p+".tool_call_id", "missing_required_parameter", "Missing required parameter: '%s.tool_call_id'.", p)
	}
	id, _, aerr := oaString(p+".tool_call_id", raw)
	return id, aerr
}

// parseToolCalls reads an assistant message's tool_calls: their ids, the
// tokens of their names and arguments, and a canonical form for hashing.
func parseToolCalls(p string, raw json.RawMessage) (ids []string, tokens int64, canon string, aerr *apiError) {
	if isAbsent(raw) {
		return nil, 0, "", nil
	}
	if jsonKind(raw) != "an array" {
		return nil, 0, "", invalidRequest(p, "invalid_type", "Invalid type for '%s': expected an array of objects, but got %s instead.", p, jsonKind(raw))
	}
	var cb strings.Builder
	for j, craw := range rawList(raw) {
		cp := fmt.Sprintf("%s[%d]", p, j)
		c, ok := parseObject(craw)
		if !ok {
			return nil, 0, "", invalidRequest(cp, "invalid_type", "Invalid type for '%s': expected an object, but got %s instead.", cp, jsonKind(craw))
		}
		id, aerr := requiredOAString(cp+".id", c.get("id"))
		if aerr != nil {
			return nil, 0, "", aerr
		}
		if isAbsent(c.get("type")) {
			return nil, 0, "", invalidRequest(cp+".type", "missing_required_parameter", "Missing required parameter: '%s.type'.", cp)
		}
		if _, _, aerr := oaEnum(cp+".type", c.get("type"), "function"); aerr != nil {
			return nil, 0, "", aerr
		}
		fn, aerr := oaObject(cp+".function", c.get("function"))
		if aerr != nil {
			return nil, 0, "", aerr
		}
		if fn == nil {
			return nil, 0, "", invalidRequest(cp+".function", "missing_required_parameter", "Missing required parameter: '%s.function'.", cp)
		}
		name, aerr := requiredOAString(cp+".function.name", fn.get("name"))
		if aerr != nil {
			return nil, 0, "", aerr
		}
		args, aerr := requiredOAString(cp+".function.arguments", fn.get("arguments"))
		if aerr != nil {
			return nil, 0, "", aerr
		}
		ids = append(ids, id)
		tokens += textTokens(name) + textTokens(args)
		cb.WriteString(id + "\x00" + name + "\x00" + args + "\x1f")
	}
	return ids, tokens, cb.String(), nil
}

// requiredOAString reads a required string parameter.
func requiredOAString(param string, raw json.RawMessage) (string, *apiError) {
	if isAbsent(raw) {
		return "", invalidRequest(param, "missing_required_parameter", "Missing required parameter: '%s'.", param)
	}
	s, _, aerr := oaString(param, raw)
	return s, aerr
}

// parseFunctionDef reads the name, description, parameters and strict of
// a function definition held by o at path p (p.name, ...).
func parseFunctionDef(p string, o *jsonObject) (toolDef, *apiError) {
	name, aerr := requiredOAString(p+".name", o.get("name"))
	if aerr != nil {
		return toolDef{}, aerr
	}
	if !functionNameRe.MatchString(name) {
		return toolDef{}, invalidRequest(p+".name", "invalid_value", "Invalid '%s.name': string does not match pattern. "+
			"Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' with at most 64 characters.", p)
	}
	if _, _, aerr := oaString(p+".description", o.get("description")); aerr != nil {
		return toolDef{}, aerr
	}
	d := toolDef{name: name}
	if params, aerr := oaObject(p+".parameters", o.get("parameters")); aerr != nil {
		return toolDef{}, aerr
	} else if params != nil {
		d.schema = compactJSON(o.get("parameters"))
	}
	if d.strict, _, aerr = oaBool(p+".strict", o.get("strict")); aerr != nil {
		return toolDef{}, aerr
	}
	return d, nil
}

// parseChatTools reads tools, tool_choice and parallel_tool_calls, adds the
// tools' tokens to the prompt and hashes them into h.
func (req *chatRequest) parseChatTools(wr *wireRequest, h *uint64) *apiError {
	hasTools := !isAbsent(wr.Tools)
	if hasTools {
		if jsonKind(wr.Tools) != "an array" {
			return invalidRequest("tools", "invalid_type", "Invalid type for 'tools': expected an array of objects, but got %s instead.", jsonKind(wr.Tools))
		}
		raws := rawList(wr.Tools)
		if len(raws) == 0 {
			return invalidRequest("tools", "empty_array", "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.")
		}
		for i, raw := range raws {
			p := fmt.Sprintf("tools[%d]", i)
			t, ok := parseObject(raw)
			if !ok {
				return invalidRequest(p, "invalid_type", "Invalid type for '%s': expected an object, but got %s instead.", p, jsonKind(raw))
			}
			if isAbsent(t.get("type")) {
				return invalidRequest(p+".type", "missing_required_parameter", "Missing required parameter: '%s.type'.", p)
			}
			typ, _, aerr := oaEnum(p+".type", t.get("type"), "function", "custom")
			if aerr != nil {
				return aerr
			}
			if typ == "custom" {
				// Custom (free-form) tools are accepted but never called.
				continue
			}
			fn, aerr := oaObject(p+".function", t.get("function"))
			if aerr != nil {
				return aerr
			}
			if fn == nil {
				return invalidRequest(p+".function", "missing_required_parameter", "Missing required parameter: '%s.function'.", p)
			}
			d, aerr := parseFunctionDef(p+".function", fn)
			if aerr != nil {
				return aerr
			}
			req.tools.tools = append(req.tools.tools, d)
		}
		req.promptTokens += toolsTokens(raws)
		*h = fnvAdd(fnvAddByte(*h, 0x1a), string(compactJSON(wr.Tools)))
	}

	if !isAbsent(wr.ToolChoice) {
		if !hasTools {
			return invalidRequest("tool_choice", "", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
		}
		tc, allowed, aerr := parseChatToolChoice(wr.ToolChoice, req.tools.tools)
		if aerr != nil {
			return aerr
		}
		req.tools.choice = tc
		if allowed != nil {
			req.tools.tools = allowed
		}
	}
	if parallel, ok, aerr := oaBool("parallel_tool_calls", wr.ParallelToolCalls); aerr != nil {
		return aerr
	} else if ok {
		if !hasTools {
			return invalidRequest("parallel_tool_calls", "", "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.")
		}
		req.tools.sequential = !parallel
	}
	return nil
}

// parseChatToolChoice reads tool_choice: "none", "auto", "required",
// {"type":"function","function":{"name"}}, {"type":"allowed_tools",
// "allowed_tools":{"mode","tools"}} or {"type":"custom",...}. allowed is
// the tools an allowed_tools choice leaves, nil for the others.
func parseChatToolChoice(raw json.RawMessage, tools []toolDef) (tc toolChoice, allowed []toolDef, aerr *apiError) {
	if jsonKind(raw) == "a string" {
		mode, _, aerr := oaEnum("tool_choice", raw, "none", "auto", "required")
		if aerr != nil {
			return tc, nil, aerr
		}
		return toolChoice{mode: modeOf(mode)}, nil, nil
	}
	o, ok := parseObject(raw)
	if !ok {
		return tc, nil, invalidRequest("tool_choice", "invalid_type", "Invalid type for 'tool_choice': expected one of a string or object, but got %s instead.", jsonKind(raw))
	}
	if isAbsent(o.get("type")) {
		return tc, nil, invalidRequest("tool_choice.type", "missing_required_parameter", "Missing required parameter: 'tool_choice.type'.")
	}
	typ, _, aerr := oaEnum("tool_choice.type", o.get("type"), "function", "allowed_tools", "custom")
	if aerr != nil {
		return tc, nil, aerr
	}
	switch typ {
	case "function":
		fn, aerr := oaObject("tool_choice.function", o.get("function"))
		if aerr != nil {
			return tc, nil, aerr
		}
		if fn == nil {
			return tc, nil, invalidRequest("tool_choice.function", "missing_required_parameter", "Missing required parameter: 'tool_choice.function'.")
		}
		name, aerr := requiredOAString("tool_choice.function.name", fn.get("name"))
		if aerr != nil {
			return tc, nil, aerr
		}
		if aerr := toolNamed("tool_choice.function.name", name, tools); aerr != nil {
			return tc, nil, aerr
		}
		return toolChoice{mode: choiceNamed, name: name}, nil, nil
	case "allowed_tools":
		at, aerr := oaObject("tool_choice.allowed_tools", o.get("allowed_tools"))
		if aerr != nil {
			return tc, nil, aerr
		}
		if at == nil {
			return tc, nil, invalidRequest("tool_choice.allowed_tools", "missing_required_parameter", "Missing required parameter: 'tool_choice.allowed_tools'.")
		}
		return parseAllowedTools("tool_choice.allowed_tools", at, tools, func(p string, t *jsonObject) (string, *apiError) {
			fn, aerr := oaObject(p+".function", t.get("function"))
			if aerr != nil || fn == nil {
				if aerr == nil {
					aerr = invalidRequest(p+".function", "missing_required_parameter", "Missing required parameter: '%s.function'.", p)
				}
				return "", aerr
			}
			return requiredOAString(p+".function.name", fn.get("name"))
		})
	}
	// A custom tool is never called: the reply is text.
	return toolChoice{mode: choiceNone}, nil, nil
}

// parseAllowedTools reads {"mode","tools"} of an allowed_tools choice;
// nameOf reads the name of one of its tools.
func parseAllowedTools(p string, o *jsonObject, tools []toolDef, nameOf func(string, *jsonObject) (string, *apiError)) (toolChoice, []toolDef, *apiError) {
	if isAbsent(o.get("mode")) {
		return toolChoice{}, nil, invalidRequest(p+".mode", "missing_required_parameter", "Missing required parameter: '%s.mode'.", p)
	}
	mode, _, aerr := oaEnum(p+".mode", o.get("mode"), "auto", "required")
	if aerr != nil {
		return toolChoice{}, nil, aerr
	}
	if jsonKind(o.get("tools")) != "an array" {
		return toolChoice{}, nil, invalidRequest(p+".tools", "missing_required_parameter", "Missing required parameter: '%s.tools'.", p)
	}
	allowed := []toolDef{}
	for i, raw := range rawList(o.get("tools")) {
		tp := fmt.Sprintf("%s.tools[%d]", p, i)
		t, ok := parseObject(raw)
		if !ok {
			return toolChoice{}, nil, invalidRequest(tp, "invalid_type", "Invalid type for '%s': expected an object, but got %s instead.", tp, jsonKind(raw))
		}
		name, aerr := nameOf(tp, t)
		if aerr != nil {
			return toolChoice{}, nil, aerr
		}
		for _, d := range tools {
			if d.name == name {
				allowed = append(allowed, d)
			}
		}
	}
	return toolChoice{mode: modeOf(mode)}, allowed, nil
}

// toolNamed checks that a forced tool is among the offered ones.
func toolNamed(param, name string, tools []toolDef) *apiError {
	for _, d := range tools {
		if d.name == name {
			return nil
		}
	}
	return invalidRequest(param, "invalid_value", "Invalid value for '%s': no function named '%s' was specified in 'tools'.", param, name)
}

func modeOf(s string) choiceMode {
	switch s {
	case "none":
		return choiceNone
	case "required":
		return choiceRequired
	}
	return choiceAuto
}
