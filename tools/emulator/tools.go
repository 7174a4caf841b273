package main

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Tool calling, shared by the four wire formats. Whether a reply calls
// tools, which ones and with what arguments is decided from the request
// alone, so the same request always gets the same answer:
//
//   - a conversation that ends in tool results is answered with text that
//     quotes them ("Tool results: a; b");
//   - otherwise tool_choice decides: none answers with text, a named tool
//     is called, required (Anthropic: any) calls the tools named in the
//     last user text or else the first tool, and auto calls the tools named
//     in the last user text or answers with text when it names none;
//   - without parallel tool calls only the first of them is called.
//
// The arguments are the smallest document valid for the tool's parameters
// schema, made by the structured-output generator.

// toolDef is a function tool the request offers.
type toolDef struct {
	name   string
	schema json.RawMessage // the parameters schema; nil when the tool takes none
	strict bool
}

// choiceMode is how tool_choice lets the reply use the tools.
type choiceMode int

const (
	choiceAuto     choiceMode = iota // call the tools the user names, else answer with text
	choiceNone                       // never call a tool
	choiceRequired                   // call at least one tool (Anthropic: any)
	choiceNamed                      // call the named tool
)

// toolChoice is a request's tool_choice.
type toolChoice struct {
	mode choiceMode
	name string // choiceNamed: the tool to call
}

// forced reports whether the choice makes the reply call a tool.
func (tc toolChoice) forced() bool { return tc.mode == choiceRequired || tc.mode == choiceNamed }

// toolRequest is what a request says about tools, in any wire format.
type toolRequest struct {
	tools      []toolDef
	choice     toolChoice
	sequential bool     // only one call per reply (parallel tool calls off)
	lastUser   string   // the text of the last user message, for auto and required
	results    []string // the tool results the conversation ends with
	endsInTool bool     // the last message or item is a tool result
}

// pick returns the tools the reply calls; none means a text reply.
func (t *toolRequest) pick() []toolDef {
	if t.endsInTool || len(t.tools) == 0 {
		return nil
	}
	var picked []toolDef
	switch t.choice.mode {
	case choiceNone:
		return nil
	case choiceNamed:
		for _, d := range t.tools {
			if d.name == t.choice.name {
				return []toolDef{d}
			}
		}
		return nil
	case choiceAuto, choiceRequired:
		text := strings.ToLower(t.lastUser)
		for _, d := range t.tools {
			if strings.Contains(text, strings.ToLower(d.name)) {
				picked = append(picked, d)
			}
		}
		if len(picked) == 0 && t.choice.mode == choiceRequired {
			picked = t.tools[:1]
		}
	}
	if t.sequential && len(picked) > 1 {
		picked = picked[:1]
	}
	return picked
}

// resultsText is the text reply to a conversation that ends in tool results.
func resultsText(results []string) string {
	return "Tool results: " + strings.Join(results, "; ")
}

// toolsTokens is what tool definitions add to the prompt: the tokens of
// each tool's JSON text, compacted.
func toolsTokens(tools []json.RawMessage) int64 {
	var n int64
	for _, t := range tools {
		n += textTokens(string(compactJSON(t)))
	}
	return n
}

// plannedCall is one tool call of a reply.
type plannedCall struct {
	name string
	args string // the arguments as JSON text; cut short when the cap struck
	cut  bool   // the output cap cut the arguments short
}

// appendArgs appends the call's arguments as a JSON object: {} for
// arguments the cap cut short.
func (p plannedCall) appendArgs(b []byte) []byte {
	if p.cut {
		return append(b, "{}"...)
	}
	return append(b, p.args...)
}

// callPlan is a reply that calls tools.
type callPlan struct {
	calls   []plannedCall
	tokens  int64 // output tokens: the arguments' tokens
	capped  bool  // the output cap cut the calls short
	invalid bool  // the first call's arguments deliberately violate the schema
}

// planCalls generates the calls of defs. Each call's arguments are the
// minimal document for its schema ({} without one); with violate the first
// call's arguments violate the schema instead. The output cap, when set,
// cuts the arguments (and drops later calls) once the tokens reach it.
func planCalls(defs []toolDef, maxOut int64, hasMax, violate bool) callPlan {
	p := callPlan{invalid: violate && len(defs) > 0}
	for i, d := range defs {
		var args []byte
		if i == 0 && violate {
			args = violatingDocument(d.schema, d.strict)
		} else {
			args = generateDocument(d.schema, d.strict)
		}
		c := plannedCall{name: d.name, args: string(args)}
		n := textTokens(c.args)
		if hasMax && p.tokens+n > maxOut {
			left := maxOut - p.tokens
			if left <= 0 {
				p.capped = true
				break
			}
			c.args, c.cut, n = cutUTF8(c.args, 4*left), true, left
			p.calls, p.tokens, p.capped = append(p.calls, c), p.tokens+n, true
			break
		}
		p.calls, p.tokens = append(p.calls, c), p.tokens+n
	}
	return p
}

// argumentPieces cuts arguments into the pieces a stream sends: at most
// 8 bytes each, never inside a UTF-8 character.
func argumentPieces(args string) []string {
	var out []string
	for i := 0; i < len(args); {
		end := min(i+8, len(args))
		for end < len(args) && end > i+1 && !utf8.RuneStart(args[end]) {
			end--
		}
		out = append(out, args[i:end])
		i = end
	}
	return out
}

// callID is a tool-call id: prefix and base62 digits derived from the
// request (seed), the choice and the call's position, so that the same
// request always gets the same ids.
func callID(prefix string, seed uint64, choice, call int, digits int) string {
	b := append(make([]byte, 0, len(prefix)+digits), prefix...)
	h := mix64(seed ^ uint64(choice)<<32 ^ uint64(call)*0x9e3779b97f4a7c15)
	for len(b) < len(prefix)+digits {
		b = appendBase62(b, h, min(11, len(prefix)+digits-len(b)))
		h = mix64(h + 1)
	}
	return string(b)
}

// answerDocument is the JSON-mode reply for text: {"answer": text}.
func answerDocument(text string) []byte {
	return append(appendJSONString([]byte(`{"answer":`), text), '}')
}

// mentionsJSON reports whether any of texts contains the word "json" in
// any case, which JSON mode requires of the prompt.
func mentionsJSON(texts []string) bool {
	for _, t := range texts {
		if strings.Contains(strings.ToLower(t), "json") {
			return true
		}
	}
	return false
}
