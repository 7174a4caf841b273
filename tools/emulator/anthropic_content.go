package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Message content on /v1/messages: text, image, tool_use, tool_result,
// thinking and redacted_thinking blocks, their tokens, the cache_control
// breakpoints among them, and the pairing of tool uses with their results.

const blockTags = "'text', 'image', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'"

// messageContent is what one message's content amounts to.
type messageContent struct {
	texts   []string // the text blocks
	tokens  int64    // 4 + the blocks' tokens
	canon   string   // canonical form for the prompt hash
	empty   bool
	uses    []toolUse    // tool_use blocks
	results []toolResult // tool_result blocks
	marks   []cacheMark  // blocks with cache_control
	hash    uint64       // the prefix hash through the whole message
}

type toolUse struct {
	id, path string
}

type toolResult struct {
	id, path, text string
}

// parseMessageContent reads a message's content. ph is the prefix hash
// and before the prompt tokens up to the message, for the cache_control
// breakpoints.
func parseMessageContent(p string, raw json.RawMessage, ph uint64, before int64) (messageContent, *apiError) {
	mc := messageContent{tokens: tokensPerMessage}
	if raw == nil {
		return mc, invalidMessages(p, msgRequired)
	}
	switch jsonKind(raw) {
	case "a string":
		s, _ := rawString(raw)
		mc.texts, mc.canon, mc.empty = []string{s}, "t"+s, s == ""
		mc.tokens += textTokens(s)
		mc.hash = fnvAdd(fnvAddByte(ph, 0x1f), "t"+s)
		return mc, nil
	case "an array":
	default:
		return mc, invalidMessages(p, "Input should be a valid string or a list of content blocks")
	}
	var blocks []json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return mc, invalidMessages(p, msgList)
	}
	var cb strings.Builder
	for j, braw := range blocks {
		bp := p + "." + strconv.Itoa(j)
		b, aerr := objectAt(bp, braw)
		if aerr != nil {
			return mc, aerr
		}
		typ := b.get("type")
		if typ == nil {
			return mc, invalidMessages(bp+".type", msgRequired)
		}
		var canon, ttl string
		var tokens int64
		switch s, _ := rawString(typ); s {
		case "text":
			text, t, aerr := textBlock(bp, b)
			if aerr != nil {
				return mc, aerr
			}
			mc.texts = append(mc.texts, text)
			canon, tokens, ttl = "t"+text, textTokens(text), t
		case "image":
			src, aerr := imageBlock(bp, b)
			if aerr != nil {
				return mc, aerr
			}
			canon, tokens = "i"+src, tokensPerImage
		case "tool_use":
			u, c, n, aerr := toolUseBlock(bp, b)
			if aerr != nil {
				return mc, aerr
			}
			mc.uses = append(mc.uses, u)
			canon, tokens = c, n
		case "tool_result":
			r, c, n, aerr := toolResultBlock(bp, b)
			if aerr != nil {
				return mc, aerr
			}
			mc.results = append(mc.results, r)
			canon, tokens = c, n
		case "thinking":
			if aerr := extraField(bp, b, "type", "thinking", "signature"); aerr != nil {
				return mc, aerr
			}
			for _, f := range []string{"thinking", "signature"} {
				if _, aerr := requiredString(bp, b, f); aerr != nil {
					return mc, aerr
				}
			}
			// Earlier turns' thinking is not part of the context.
			canon = "k"
		case "redacted_thinking":
			if aerr := extraField(bp, b, "type", "data"); aerr != nil {
				return mc, aerr
			}
			if _, aerr := requiredString(bp, b, "data"); aerr != nil {
				return mc, aerr
			}
			canon = "k"
		default:
			return mc, tagError(bp, typ, blockTags)
		}
		if ttl == "" {
			if ttl, aerr = checkCacheControl(bp, b); aerr != nil {
				return mc, aerr
			}
		}
		mc.tokens += tokens
		ph = fnvAdd(fnvAddByte(ph, 0x1f), canon)
		if ttl != "" {
			mc.marks = append(mc.marks, cacheMark{tokens: before + mc.tokens, hash: ph, ttl: ttl})
		}
		cb.WriteString(canon + "\x1f")
	}
	mc.canon, mc.empty, mc.hash = cb.String(), len(blocks) == 0, ph
	return mc, nil
}

// toolUseBlock checks a {"type":"tool_use","id","name","input"} block and
// returns it, its canonical form and its tokens (name and input).
func toolUseBlock(p string, b *jsonObject) (toolUse, string, int64, *apiError) {
	if aerr := extraField(p, b, "type", "id", "name", "input", "cache_control"); aerr != nil {
		return toolUse{}, "", 0, aerr
	}
	id, aerr := requiredString(p, b, "id")
	if aerr != nil {
		return toolUse{}, "", 0, aerr
	}
	name, aerr := requiredString(p, b, "name")
	if aerr != nil {
		return toolUse{}, "", 0, aerr
	}
	raw := b.get("input")
	if raw == nil {
		return toolUse{}, "", 0, invalidMessages(p+".input", msgRequired)
	}
	if _, aerr := objectAt(p+".input", raw); aerr != nil {
		return toolUse{}, "", 0, aerr
	}
	input := string(compactJSON(raw))
	return toolUse{id: id, path: p}, "u" + id + "\x00" + name + "\x00" + input, textTokens(name) + textTokens(input), nil
}

// toolResultBlock checks a {"type":"tool_result","tool_use_id","content"?,
// "is_error"?} block and returns it (with its text), its canonical form
// and its tokens. The content is a string or a list of text and image
// blocks.
func toolResultBlock(p string, b *jsonObject) (toolResult, string, int64, *apiError) {
	if aerr := extraField(p, b, "type", "tool_use_id", "content", "is_error", "cache_control"); aerr != nil {
		return toolResult{}, "", 0, aerr
	}
	id, aerr := requiredString(p, b, "tool_use_id")
	if aerr != nil {
		return toolResult{}, "", 0, aerr
	}
	if e := b.get("is_error"); !isAbsent(e) && jsonKind(e) != "a boolean" {
		return toolResult{}, "", 0, invalidMessages(p+".is_error", msgBool)
	}
	r := toolResult{id: id, path: p}
	var tokens int64
	canon := "r" + id + "\x00"
	raw := b.get("content")
	switch jsonKind(raw) {
	case "nothing", "null":
	case "a string":
		r.text, _ = rawString(raw)
		tokens, canon = textTokens(r.text), canon+"t"+r.text
	case "an array":
		var texts []string
		for j, craw := range rawList(raw) {
			cp := fmt.Sprintf("%s.content.%d", p, j)
			c, aerr := objectAt(cp, craw)
			if aerr != nil {
				return toolResult{}, "", 0, aerr
			}
			typ := c.get("type")
			if typ == nil {
				return toolResult{}, "", 0, invalidMessages(cp+".type", msgRequired)
			}
			switch s, _ := rawString(typ); s {
			case "text":
				text, _, aerr := textBlock(cp, c)
				if aerr != nil {
					return toolResult{}, "", 0, aerr
				}
				texts = append(texts, text)
				tokens += textTokens(text)
				canon += "t" + text + "\x1e"
			case "image":
				src, aerr := imageBlock(cp, c)
				if aerr != nil {
					return toolResult{}, "", 0, aerr
				}
				if _, aerr := checkCacheControl(cp, c); aerr != nil {
					return toolResult{}, "", 0, aerr
				}
				tokens += tokensPerImage
				canon += "i" + src + "\x1e"
			default:
				return toolResult{}, "", 0, tagError(cp, typ, "'text', 'image'")
			}
		}
		r.text = strings.Join(texts, "")
	default:
		return toolResult{}, "", 0, invalidMessages(p+".content", "Input should be a valid string or a list of content blocks")
	}
	return r, canon, tokens, nil
}

// toolPairing checks, message by message, that tool uses and results pair
// up as the API requires: the results of a user message answer tool uses
// of the assistant message just before it, which must all be answered
// there, and tool_use ids are unique.
type toolPairing struct {
	open  []toolUse // the previous assistant message's tool uses
	index int       // that message
	seen  map[string]bool
}

func (t *toolPairing) next(i int, role string, mc *messageContent) *apiError {
	open := t.open
	t.open = nil
	for _, r := range mc.results {
		found := false
		for _, u := range open {
			found = found || u.id == r.id
		}
		if !found || role != "user" {
			return invalidMessages(r.path, "unexpected `tool_use_id` found in `tool_result` blocks: %s. "+
				"Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", r.id)
		}
	}
	var missing []string
	for _, u := range open {
		answered := false
		for _, r := range mc.results {
			answered = answered || u.id == r.id
		}
		if !answered {
			missing = append(missing, u.id)
		}
	}
	if len(missing) > 0 {
		return invalidMessages("messages."+strconv.Itoa(t.index), "`tool_use` ids were found without `tool_result` blocks immediately after: %s. "+
			"Each `tool_use` block must have a corresponding `tool_result` block in the next message.", strings.Join(missing, ", "))
	}
	for _, u := range mc.uses {
		if t.seen[u.id] {
			return invalidMessages(u.path, "`tool_use` ids must be unique")
		}
		if t.seen == nil {
			t.seen = map[string]bool{}
		}
		t.seen[u.id] = true
	}
	if role == "assistant" {
		t.open, t.index = mc.uses, i
	}
	return nil
}
