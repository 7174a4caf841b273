package main

import (
	"encoding/json"
	"regexp"
	"strconv"
)

// Tools on /v1/messages: the emulator never decides to call a tool on its
// own, but a forced tool choice ({"type":"tool"} or {"type":"any"}) is
// answered with a tool_use block whose input is a JSON document for the
// tool's input_schema.

// forcedTool is the tool a request forces the reply to use.
type forcedTool struct {
	name   string
	format *jsonFormat
}

var toolNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

// parseTools reads tools and tool_choice and returns the forced tool, if
// any.
func parseTools(top *jsonObject) (*forcedTool, *apiError) {
	type tool struct {
		name   string
		schema json.RawMessage
	}
	var tools []tool
	if raw := top.get("tools"); !isAbsent(raw) {
		list := rawList(raw)
		if jsonKind(raw) != "an array" {
			return nil, invalidMessages("tools", msgList)
		}
		for i, traw := range list {
			p := "tools." + strconv.Itoa(i)
			t, aerr := objectAt(p, traw)
			if aerr != nil {
				return nil, aerr
			}
			if aerr := extraField(p, t, "type", "name", "description", "input_schema", "cache_control"); aerr != nil {
				return nil, aerr
			}
			if typ := t.get("type"); !isAbsent(typ) {
				if s, _ := rawString(typ); s != "custom" {
					return nil, tagError(p, typ, "'custom'")
				}
			}
			name, aerr := requiredString(p, t, "name")
			if aerr != nil {
				return nil, aerr
			}
			if !toolNameRe.MatchString(name) {
				return nil, invalidMessages(p+".name", "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'")
			}
			for _, prev := range tools {
				if prev.name == name {
					return nil, invalidMessages("tools", "Tool names must be unique.")
				}
			}
			if d := t.get("description"); !isAbsent(d) {
				if _, ok := rawString(d); !ok {
					return nil, invalidMessages(p+".description", msgString)
				}
			}
			schema := t.get("input_schema")
			if schema == nil {
				return nil, invalidMessages(p+".input_schema", msgRequired)
			}
			if _, aerr := objectAt(p+".input_schema", schema); aerr != nil {
				return nil, aerr
			}
			if aerr := checkCacheControl(p, t); aerr != nil {
				return nil, aerr
			}
			tools = append(tools, tool{name, compactJSON(schema)})
		}
	}

	raw := top.get("tool_choice")
	if isAbsent(raw) {
		return nil, nil
	}
	tc, aerr := objectAt("tool_choice", raw)
	if aerr != nil {
		return nil, aerr
	}
	typ := tc.get("type")
	if typ == nil {
		return nil, invalidMessages("tool_choice.type", msgRequired)
	}
	kind, _ := rawString(typ)
	switch kind {
	case "auto", "any", "none":
		if aerr := extraField("tool_choice", tc, "type", "disable_parallel_tool_use"); aerr != nil {
			return nil, aerr
		}
	case "tool":
		if aerr := extraField("tool_choice", tc, "type", "name", "disable_parallel_tool_use"); aerr != nil {
			return nil, aerr
		}
	default:
		return nil, tagError("tool_choice", typ, "'auto', 'any', 'tool', 'none'")
	}
	if d := tc.get("disable_parallel_tool_use"); !isAbsent(d) {
		if k := jsonKind(d); k != "a boolean" {
			return nil, invalidMessages("tool_choice.disable_parallel_tool_use", msgBool)
		}
	}
	switch kind {
	case "any":
		if len(tools) == 0 {
			return nil, invalidMessages("", "tool_choice.type: 'any' may only be specified while providing tools")
		}
		return &forcedTool{name: tools[0].name, format: &jsonFormat{schema: tools[0].schema}}, nil
	case "tool":
		name, aerr := requiredString("tool_choice", tc, "name")
		if aerr != nil {
			return nil, aerr
		}
		for _, t := range tools {
			if t.name == name {
				return &forcedTool{name: name, format: &jsonFormat{schema: t.schema}}, nil
			}
		}
		return nil, invalidMessages("", "tool_choice: tool '%s' was not found in the provided tools", name)
	}
	return nil, nil
}
