package main

import (
	"encoding/json"
	"regexp"
	"strconv"
)

// Tools on /v1/messages: tools (with cache_control), tool_choice and
// thinking. Which tools a reply calls is decided as on the other
// endpoints (see tools.go); a forced choice ({"type":"tool"} or
// {"type":"any"}) always calls one, which is how structured output is
// asked for.

var toolNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

// parseMessagesTools reads tools and tool_choice. The tools count in the
// prompt and its hash h, and come first in every cache prefix: the
// breakpoints found so far (system and messages) are moved behind them.
func (req *messagesRequest) parseMessagesTools(top *jsonObject, h *uint64) *apiError {
	th := fnvAdd(fnvAddByte(fnvAdd(fnvOffset64, "messages"), 0), req.model)
	var toolTokens int64
	var toolMarks []cacheMark
	if raw := top.get("tools"); !isAbsent(raw) {
		if jsonKind(raw) != "an array" {
			return invalidMessages("tools", msgList)
		}
		for i, traw := range rawList(raw) {
			p := "tools." + strconv.Itoa(i)
			t, aerr := objectAt(p, traw)
			if aerr != nil {
				return aerr
			}
			if aerr := extraField(p, t, "type", "name", "description", "input_schema", "cache_control"); aerr != nil {
				return aerr
			}
			if typ := t.get("type"); !isAbsent(typ) {
				if s, _ := rawString(typ); s != "custom" {
					return tagError(p, typ, "'custom'")
				}
			}
			name, aerr := requiredString(p, t, "name")
			if aerr != nil {
				return aerr
			}
			if !toolNameRe.MatchString(name) {
				return invalidMessages(p+".name", "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'")
			}
			for _, prev := range req.tools.tools {
				if prev.name == name {
					return invalidMessages("tools", "Tool names must be unique.")
				}
			}
			if d := t.get("description"); !isAbsent(d) {
				if _, ok := rawString(d); !ok {
					return invalidMessages(p+".description", msgString)
				}
			}
			schema := t.get("input_schema")
			if schema == nil {
				return invalidMessages(p+".input_schema", msgRequired)
			}
			if _, aerr := objectAt(p+".input_schema", schema); aerr != nil {
				return aerr
			}
			ttl, aerr := checkCacheControl(p, t)
			if aerr != nil {
				return aerr
			}
			req.tools.tools = append(req.tools.tools, toolDef{name: name, schema: compactJSON(schema)})
			toolTokens += toolsTokens([]json.RawMessage{traw})
			th = fnvAdd(fnvAddByte(th, 0x1a), string(compactJSON(traw)))
			if ttl != "" {
				toolMarks = append(toolMarks, cacheMark{tokens: tokensPerPrompt + toolTokens, hash: th, ttl: ttl})
			}
		}
		req.promptTokens += toolTokens
		*h = fnvAddUint64(fnvAddByte(*h, 0x1a), th)
	}
	for i := range req.marks {
		req.marks[i].tokens += toolTokens
		req.marks[i].hash = fnvAddUint64(th, req.marks[i].hash)
	}
	req.marks = append(toolMarks, req.marks...)
	if aerr := checkMarks(req.marks); aerr != nil {
		return aerr
	}
	return req.parseToolChoice(top)
}

// parseToolChoice reads tool_choice: {"type":"auto"|"any"|"none"} or
// {"type":"tool","name"}, with an optional disable_parallel_tool_use.
func (req *messagesRequest) parseToolChoice(top *jsonObject) *apiError {
	raw := top.get("tool_choice")
	if isAbsent(raw) {
		return nil
	}
	tc, aerr := objectAt("tool_choice", raw)
	if aerr != nil {
		return aerr
	}
	typ := tc.get("type")
	if typ == nil {
		return invalidMessages("tool_choice.type", msgRequired)
	}
	kind, _ := rawString(typ)
	switch kind {
	case "auto", "any", "none":
		if aerr := extraField("tool_choice", tc, "type", "disable_parallel_tool_use"); aerr != nil {
			return aerr
		}
	case "tool":
		if aerr := extraField("tool_choice", tc, "type", "name", "disable_parallel_tool_use"); aerr != nil {
			return aerr
		}
	default:
		return tagError("tool_choice", typ, "'auto', 'any', 'tool', 'none'")
	}
	if d := tc.get("disable_parallel_tool_use"); !isAbsent(d) {
		if jsonKind(d) != "a boolean" {
			return invalidMessages("tool_choice.disable_parallel_tool_use", msgBool)
		}
		req.tools.sequential = string(compactJSON(d)) == "true"
	}
	switch kind {
	case "none":
		req.tools.choice = toolChoice{mode: choiceNone}
	case "any":
		if len(req.tools.tools) == 0 {
			return invalidMessages("", "tool_choice.type: 'any' may only be specified while providing tools")
		}
		req.tools.choice = toolChoice{mode: choiceRequired}
	case "tool":
		name, aerr := requiredString("tool_choice", tc, "name")
		if aerr != nil {
			return aerr
		}
		for _, t := range req.tools.tools {
			if t.name == name {
				req.tools.choice = toolChoice{mode: choiceNamed, name: name}
				return nil
			}
		}
		return invalidMessages("", "tool_choice: tool '%s' was not found in the provided tools", name)
	}
	return nil
}

// minThinkingBudget is the smallest thinking.budget_tokens Anthropic accepts.
const minThinkingBudget = 1024

// parseThinking reads thinking: {"type":"enabled","budget_tokens"} or
// {"type":"disabled"}. Thinking needs a budget of at least 1024 tokens
// below max_tokens, a temperature of 1 (or none) and a tool_choice that
// does not force a tool.
func (req *messagesRequest) parseThinking(top *jsonObject) *apiError {
	raw := top.get("thinking")
	if isAbsent(raw) {
		return nil
	}
	th, aerr := objectAt("thinking", raw)
	if aerr != nil {
		return aerr
	}
	typ := th.get("type")
	if typ == nil {
		return invalidMessages("thinking.type", msgRequired)
	}
	switch s, _ := rawString(typ); s {
	case "disabled":
		return extraField("thinking.disabled", th, "type")
	case "enabled":
	default:
		return tagError("thinking", typ, "'enabled', 'disabled'")
	}
	const p = "thinking.enabled"
	if aerr := extraField(p, th, "type", "budget_tokens"); aerr != nil {
		return aerr
	}
	b := th.get("budget_tokens")
	if b == nil {
		return invalidMessages(p+".budget_tokens", msgRequired)
	}
	budget, aerr := parseInteger(p+".budget_tokens", b)
	if aerr != nil {
		return aerr
	}
	if budget < minThinkingBudget {
		return invalidMessages(p+".budget_tokens", "Input should be greater than or equal to %d", minThinkingBudget)
	}
	if req.maxTokens <= budget {
		return invalidMessages("", "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "+
			"https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
	}
	if t := top.get("temperature"); !isAbsent(t) {
		if v, ok := schemaNumber(t); ok && v != 1 {
			return invalidMessages("", "`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at "+
				"https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility")
		}
	}
	if req.tools.choice.forced() {
		return invalidMessages("", "Thinking may not be enabled when tool_choice forces tool use.")
	}
	req.thinking = budget
	return nil
}
