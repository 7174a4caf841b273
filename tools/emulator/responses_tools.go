package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Tools on /v1/responses: function tools, tool_choice, the function_call
// and function_call_output input items, service_tier, include and
// top_logprobs.

// includeValues are the values include accepts.
var includeValues = []string{"file_search_call.results", "web_search_call.results", "web_search_call.action.sources",
	"message.input_image.image_url", "computer_call_output.output.image_url", "code_interpreter_call.outputs",
	"reasoning.encrypted_content", "message.output_text.logprobs"}

// parseToolItem reads a function_call or function_call_output input item
// and returns its text and a canonical form for hashing.
func (r *responsesRequest) parseToolItem(p, typ string, item *jsonObject) (text, canon string, aerr *apiError) {
	id, aerr := requiredOAString(p+".call_id", item.get("call_id"))
	if aerr != nil {
		return "", "", aerr
	}
	if _, _, aerr := oaString(p+".id", item.get("id")); aerr != nil {
		return "", "", aerr
	}
	if _, _, aerr := oaEnum(p+".status", item.get("status"), "in_progress", "completed", "incomplete"); aerr != nil {
		return "", "", aerr
	}
	if typ == "function_call" {
		name, aerr := requiredOAString(p+".name", item.get("name"))
		if aerr != nil {
			return "", "", aerr
		}
		args, aerr := requiredOAString(p+".arguments", item.get("arguments"))
		if aerr != nil {
			return "", "", aerr
		}
		r.issued = append(r.issued, id)
		r.inputTokens += tokensPerMessage + textTokens(name) + textTokens(args)
		r.tools.endsInTool, r.tools.results = false, nil
		return args, id + "\x00" + name + "\x00" + args, nil
	}

	raw := item.get("output")
	if isAbsent(raw) {
		return "", "", invalidRequest(p+".output", "missing_required_parameter", "Missing required parameter: '%s.output'.", p)
	}
	var texts []string
	images := 0
	canon = id + "\x00"
	switch jsonKind(raw) {
	case "a string":
		s, _ := rawString(raw)
		texts, canon = []string{s}, canon+"t"+s
	case "an array":
		var c string
		if texts, images, c, aerr = parseItemContent(p+".output", "user", raw); aerr != nil {
			return "", "", aerr
		}
		canon += c
	default:
		return "", "", invalidRequest(p+".output", "invalid_type", "Invalid type for '%s.output': expected one of a string or array of content parts, but got %s instead.", p, jsonKind(raw))
	}
	r.answered = append(r.answered, id)
	r.inputTokens += messageTokens(texts, images)
	if !r.tools.endsInTool {
		r.tools.results = nil
	}
	text = strings.Join(texts, "")
	r.tools.endsInTool = true
	r.tools.results = append(r.tools.results, text)
	return text, canon, nil
}

// checkCallOutputs pairs function calls with their outputs, counting the
// calls known from the previous response: every output must answer a
// known call, and every call of the input or left open by the previous
// response must be answered.
func (r *responsesRequest) checkCallOutputs(prev storedResponse) *apiError {
	for _, id := range r.answered {
		if !contains(r.issued, id) && !contains(prev.known, id) {
			return invalidRequest("input", "", "No tool call found for function call output with call_id %s.", id)
		}
	}
	for _, ids := range [][]string{prev.pending, r.issued} {
		for _, id := range ids {
			if !contains(r.answered, id) {
				return invalidRequest("input", "", "No tool output found for function call %s.", id)
			}
		}
	}
	return nil
}

// parseResponsesTools reads tools and tool_choice, adds the tools' tokens
// to the input and hashes them into h. Function tools can be called;
// other (hosted) tools are accepted and never run.
func (r *responsesRequest) parseResponsesTools(wr *wireResponsesRequest, h *uint64) *apiError {
	r.toolsEcho, r.toolChoiceEcho = json.RawMessage("[]"), json.RawMessage(`"auto"`)
	if !isAbsent(wr.Tools) {
		if jsonKind(wr.Tools) != "an array" {
			return invalidRequest("tools", "invalid_type", "Invalid type for 'tools': expected an array of objects, but got %s instead.", jsonKind(wr.Tools))
		}
		raws := rawList(wr.Tools)
		echo := []byte{'['}
		for i, raw := range raws {
			p := fmt.Sprintf("tools[%d]", i)
			t, ok := parseObject(raw)
			if !ok {
				return invalidRequest(p, "invalid_type", "Invalid type for '%s': expected an object, but got %s instead.", p, jsonKind(raw))
			}
			typ, aerr := requiredOAString(p+".type", t.get("type"))
			if aerr != nil {
				return aerr
			}
			if i > 0 {
				echo = append(echo, ',')
			}
			if typ != "function" {
				echo = append(echo, compactJSON(raw)...)
				continue
			}
			d, aerr := parseFunctionDef(p, t)
			if aerr != nil {
				return aerr
			}
			// Function tools are strict unless the request says otherwise.
			if isAbsent(t.get("strict")) {
				d.strict = true
			}
			r.tools.tools = append(r.tools.tools, d)
			echo = appendFunctionToolEcho(echo, d, t)
		}
		r.toolsEcho = append(echo, ']')
		r.inputTokens += toolsTokens(raws)
		*h = fnvAdd(fnvAddByte(*h, 0x1a), string(compactJSON(wr.Tools)))
	}

	raw := wr.ToolChoice
	if isAbsent(raw) {
		return nil
	}
	r.toolChoiceEcho = compactJSON(raw)
	if jsonKind(raw) == "a string" {
		mode, _, aerr := oaEnum("tool_choice", raw, "none", "auto", "required")
		if aerr != nil {
			return aerr
		}
		r.tools.choice = toolChoice{mode: modeOf(mode)}
		return nil
	}
	o, ok := parseObject(raw)
	if !ok {
		return invalidRequest("tool_choice", "invalid_type", "Invalid type for 'tool_choice': expected one of a string or object, but got %s instead.", jsonKind(raw))
	}
	typ, aerr := requiredOAString("tool_choice.type", o.get("type"))
	if aerr != nil {
		return aerr
	}
	switch typ {
	case "function":
		name, aerr := requiredOAString("tool_choice.name", o.get("name"))
		if aerr != nil {
			return aerr
		}
		if aerr := toolNamed("tool_choice.name", name, r.tools.tools); aerr != nil {
			return aerr
		}
		r.tools.choice = toolChoice{mode: choiceNamed, name: name}
	case "allowed_tools":
		tc, allowed, aerr := parseAllowedTools("tool_choice", o, r.tools.tools, func(p string, t *jsonObject) (string, *apiError) {
			return requiredOAString(p+".name", t.get("name"))
		})
		if aerr != nil {
			return aerr
		}
		r.tools.choice, r.tools.tools = tc, allowed
	default:
		// A hosted tool is never run here: the reply is text.
		r.tools.choice = toolChoice{mode: choiceNone}
	}
	return nil
}

// appendFunctionToolEcho appends a function tool as the response object
// reports it: type, name, description, parameters and strict.
func appendFunctionToolEcho(b []byte, d toolDef, t *jsonObject) []byte {
	b = append(b, `{"type":"function","name":`...)
	b = appendJSONString(b, d.name)
	b = append(b, `,"description":`...)
	if desc := t.get("description"); !isAbsent(desc) {
		b = append(b, compactJSON(desc)...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"parameters":`...)
	if d.schema != nil {
		b = append(b, d.schema...)
	} else {
		b = append(b, "null"...)
	}
	b = fmt.Appendf(b, `,"strict":%t}`, d.strict)
	return b
}

// parseResponsesOptions reads service_tier, include, top_logprobs and the
// parameters that are only checked.
func (r *responsesRequest) parseResponsesOptions(wr *wireResponsesRequest) *apiError {
	tier, _, aerr := oaEnum("service_tier", wr.ServiceTier, responsesServiceTiers...)
	if aerr != nil {
		return aerr
	}
	r.serviceTier = tier
	if !isAbsent(wr.Include) {
		if jsonKind(wr.Include) != "an array" {
			return invalidRequest("include", "invalid_type", "Invalid type for 'include': expected an array of strings, but got %s instead.", jsonKind(wr.Include))
		}
		for i, v := range rawList(wr.Include) {
			s, _, aerr := oaEnum(fmt.Sprintf("include[%d]", i), v, includeValues...)
			if aerr != nil {
				return aerr
			}
			if s == "message.output_text.logprobs" {
				r.logprobs = true
			}
		}
	}
	if r.topLogprobs, _, aerr = oaIntRange("top_logprobs", wr.TopLogprobs, 0, 20); aerr != nil {
		return aerr
	}
	if _, _, aerr := oaString("prompt_cache_key", wr.PromptCacheKey); aerr != nil {
		return aerr
	}
	return oaMaxLength("safety_identifier", wr.SafetyIdentifier, 64)
}
