package main

import (
	"encoding/json"
	"strings"
)

// Tools and thinking on /api/chat. Ollama has no tool_choice: the reply
// calls the tools whose names the last user message mentions (as "auto"
// does elsewhere), and with think the message carries its thinking.

// ollamaToolCalls checks an assistant message's tool_calls,
// [{"function":{"name","arguments":{...}}}], and returns the tokens of
// their names and arguments.
func ollamaToolCalls(raw json.RawMessage) (int64, *apiError) {
	if isAbsent(raw) {
		return 0, nil
	}
	const field = "Go struct field Message.messages.tool_calls"
	if jsonKind(raw) != "an array" {
		return 0, ollamaBadRequest("json: cannot unmarshal %s into %s of type []api.ToolCall", jsonType(raw), field)
	}
	var tokens int64
	for _, craw := range rawList(raw) {
		c, ok := parseObject(craw)
		if !ok {
			return 0, ollamaBadRequest("json: cannot unmarshal %s into %s of type api.ToolCall", jsonType(craw), field)
		}
		fn, ok := parseObject(c.get("function"))
		if !ok {
			return 0, ollamaBadRequest("json: cannot unmarshal %s into %s.function of type api.ToolCallFunction", jsonType(c.get("function")), field)
		}
		name, ok := rawString(fn.get("name"))
		if !ok && !isAbsent(fn.get("name")) {
			return 0, ollamaBadRequest("json: cannot unmarshal %s into %s.function.name of type string", jsonType(fn.get("name")), field)
		}
		args := fn.get("arguments")
		if !isAbsent(args) && jsonKind(args) != "an object" {
			return 0, ollamaBadRequest("json: cannot unmarshal %s into %s.function.arguments of type api.ToolCallFunctionArguments", jsonType(args), field)
		}
		tokens += textTokens(name)
		if !isAbsent(args) {
			tokens += textTokens(string(compactJSON(args)))
		}
	}
	return tokens, nil
}

// parseOllamaTools reads tools, [{"type":"function","function":{"name",
// "description","parameters"}}], and adds their tokens to the prompt.
func (r *ollamaRequest) parseOllamaTools(raw json.RawMessage) *apiError {
	if isAbsent(raw) {
		return nil
	}
	const field = "Go struct field ChatRequest.tools"
	if jsonKind(raw) != "an array" {
		return ollamaBadRequest("json: cannot unmarshal %s into %s of type api.Tools", jsonType(raw), field)
	}
	raws := rawList(raw)
	for _, traw := range raws {
		t, ok := parseObject(traw)
		if !ok {
			return ollamaBadRequest("json: cannot unmarshal %s into %s of type api.Tool", jsonType(traw), field)
		}
		fn, ok := parseObject(t.get("function"))
		if !ok {
			if isAbsent(t.get("function")) {
				continue
			}
			return ollamaBadRequest("json: cannot unmarshal %s into %s.function of type api.ToolFunction", jsonType(t.get("function")), field)
		}
		name, ok := rawString(fn.get("name"))
		if !ok {
			if isAbsent(fn.get("name")) {
				continue
			}
			return ollamaBadRequest("json: cannot unmarshal %s into %s.function.name of type string", jsonType(fn.get("name")), field)
		}
		d := toolDef{name: name}
		if params := fn.get("parameters"); !isAbsent(params) {
			if jsonKind(params) != "an object" {
				return ollamaBadRequest("json: cannot unmarshal %s into %s.function.parameters of type api.ToolFunctionParameters", jsonType(params), field)
			}
			d.schema = compactJSON(params)
		}
		r.tools.tools = append(r.tools.tools, d)
	}
	r.promptTokens += toolsTokens(raws)
	return nil
}

// parseThink reads think: a boolean, or "low", "medium" or "high".
func (r *ollamaRequest) parseThink(raw json.RawMessage) *apiError {
	if isAbsent(raw) {
		return nil
	}
	switch strings.TrimSpace(string(raw)) {
	case "true", `"low"`, `"medium"`, `"high"`:
		r.think = true
		return nil
	case "false":
		return nil
	}
	return ollamaBadRequest("invalid think value: %s (must be a boolean or \"high\", \"medium\", \"low\")", strings.TrimSpace(string(raw)))
}
