package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const msgTools = `[{"name":"get_weather","description":"Current weather.","input_schema":` + weatherParams + `},` +
	`{"name":"get_time","input_schema":{"type":"object","properties":{"zone":{"type":"string"}}}}]`

var toolUseIDRe = regexp.MustCompile(`^toolu_01[0-9A-Za-z]{22}$`)

type msgBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"`
}

type msgReply struct {
	Content    []msgBlock `json:"content"`
	StopReason string     `json:"stop_reason"`
	Usage      struct {
		messagesUsage
		CacheCreation *struct {
			Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
			Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
		} `json:"cache_creation"`
	} `json:"usage"`
}

func parseMsg(t *testing.T, a answer) msgReply {
	t.Helper()
	return decodeOK[msgReply](t, a)
}

// msgsBody is a /v1/messages body with the given messages.
func msgsBody(maxTokens int, messages, extra string) string {
	return fmt.Sprintf(`{"model":"claude-sonnet-4-5","max_tokens":%d,"messages":[%s]%s}`, maxTokens, messages, extra)
}

func TestMessagesToolUse(t *testing.T) {
	url := startEmulator(t)
	toolTokens := toolsTokens(rawList(json.RawMessage(msgTools)))
	for _, c := range []struct {
		name, content, extra string
		want                 []string
	}{
		{"auto names a tool", "What does get_weather say?", "", []string{"get_weather"}},
		{"auto names both", "get_time and GET_WEATHER", `,"tool_choice":{"type":"auto"}`, []string{"get_weather", "get_time"}},
		{"auto names none", "Hello there", "", nil},
		{"none", "get_weather", `,"tool_choice":{"type":"none"}`, nil},
		{"any, none named", "Hello there", `,"tool_choice":{"type":"any"}`, []string{"get_weather"}},
		{"any, one named", "get_time please", `,"tool_choice":{"type":"any"}`, []string{"get_time"}},
		{"tool", "Hello there", `,"tool_choice":{"type":"tool","name":"get_time"}`, []string{"get_time"}},
		{"not parallel", "get_time and get_weather", `,"tool_choice":{"type":"auto","disable_parallel_tool_use":true}`, []string{"get_weather"}},
	} {
		a := mustMessages(t, url, "sk-ant-tools", msgBody("claude-sonnet-4-5", c.content, 1024, `,"tools":`+msgTools+c.extra))
		r := parseMsg(t, a)
		if want := 3 + 4 + textTokens(c.content) + toolTokens; r.Usage.InputTokens != want {
			t.Errorf("%s: input tokens %d, want %d", c.name, r.Usage.InputTokens, want)
		}
		if c.want == nil {
			if len(r.Content) != 1 || r.Content[0].Type != "text" || r.Content[0].Text != replyText(refTarget("claude-sonnet-4-5", c.content)) ||
				r.StopReason != "end_turn" {
				t.Errorf("%s: %s", c.name, a.body)
			}
			continue
		}
		var names []string
		var output int64
		for _, b := range r.Content {
			names = append(names, b.Name)
			output += textTokens(string(b.Input))
			want := "{}"
			if b.Name == "get_weather" {
				want = weatherArgs
			}
			if b.Type != "tool_use" || !toolUseIDRe.MatchString(b.ID) || string(b.Input) != want {
				t.Errorf("%s: block %+v", c.name, b)
			}
		}
		if !reflect.DeepEqual(names, c.want) || r.StopReason != "tool_use" || r.Usage.OutputTokens != output {
			t.Errorf("%s: %s", c.name, a.body)
		}
	}
}

func TestMessagesToolLoop(t *testing.T) {
	url := startEmulator(t)
	user := `{"role":"user","content":"Check get_weather and get_time."}`
	tools := `,"tools":` + msgTools
	firstAnswer := mustMessages(t, url, "sk-ant-loop", msgsBody(1024, user, tools))
	first := parseMsg(t, firstAnswer)
	if len(first.Content) != 2 {
		t.Fatalf("first: %+v", first)
	}
	// The assistant's content goes back as it came.
	var raw struct{ Content json.RawMessage }
	json.Unmarshal(firstAnswer.body, &raw)
	assistant := `{"role":"assistant","content":` + string(raw.Content) + `}`
	results := fmt.Sprintf(`{"role":"user","content":[{"type":"tool_result","tool_use_id":%q,"content":"sunny"},`+
		`{"type":"tool_result","tool_use_id":%q,"content":[{"type":"text","text":"noon"}],"is_error":false}]}`, first.Content[0].ID, first.Content[1].ID)
	body := msgsBody(1024, user+","+assistant+","+results, tools)
	a := mustMessages(t, url, "sk-ant-loop", body)
	second := parseMsg(t, a)
	const text = "Tool results: sunny; noon"
	var uses int64
	for _, b := range first.Content {
		uses += textTokens(b.Name) + textTokens(string(b.Input))
	}
	input := 3 + (4 + textTokens("Check get_weather and get_time.")) + (4 + uses) + (4 + 2 + 1) + toolsTokens(rawList(json.RawMessage(msgTools)))
	if len(second.Content) != 1 || second.Content[0].Text != text || second.StopReason != "end_turn" || second.Usage.OutputTokens != textTokens(text) ||
		second.Usage.InputTokens != input {
		t.Errorf("second: %s (input %d)", a.body, input)
	}
	// Streamed, the answer is a text block.
	s := mustStream(t, url, "/v1/messages", anthropicHeaders("sk-ant-loop"), strings.TrimSuffix(body, "}")+`,"stream":true}`)
	if blocks, stop, _ := reassembleMessage(t, s.body); len(blocks) != 1 || blocks[0].Text != text || stop != "end_turn" {
		t.Errorf("streamed: %+v", blocks)
	}
}

func TestMessagesToolErrors(t *testing.T) {
	url := startEmulator(t)
	user := `{"role":"user","content":"Check get_weather."}`
	use := `{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]}`
	result := `{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"}]}`
	tools := `,"tools":` + msgTools
	long := strings.Repeat("abcd", 300)
	marked := func(ttl string) string {
		return `{"type":"text","text":"` + long + `","cache_control":{"type":"ephemeral"` + ttl + `}}`
	}
	for _, c := range []struct{ name, body, msg string }{
		{"result without use", msgsBody(64, `{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_9","content":"x"}]}`, tools),
			"messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_9. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."},
		{"result for another use", msgsBody(64, user+","+use+`,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_2","content":"x"}]}`, tools),
			"messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_2."},
		{"use without result", msgsBody(64, user+","+use+","+user, tools),
			"messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` block in the next message."},
		{"repeated id", msgsBody(64, user+","+use+","+result+","+use, tools), "messages.3.content.1: `tool_use` ids must be unique"},
		{"use without input", msgsBody(64, user+`,{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n"}]}`, tools),
			"messages.1.content.0.input: Field required"},
		{"result content", msgsBody(64, user+","+use+`,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"audio"}]}]}`, tools),
			"messages.2.content.0.content.0: Input tag 'audio'"},
		{"thinking without signature", msgsBody(64, user+`,{"role":"assistant","content":[{"type":"thinking","thinking":"x"}]}`, ""),
			"messages.1.content.0.signature: Field required"},
		{"budget too small", msgBody("claude-sonnet-4-5", "x", 4096, `,"thinking":{"type":"enabled","budget_tokens":1000}`),
			"thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"},
		{"budget not below max", msgBody("claude-sonnet-4-5", "x", 2048, `,"thinking":{"type":"enabled","budget_tokens":2048}`),
			"`max_tokens` must be greater than `thinking.budget_tokens`."},
		{"no budget", msgBody("claude-sonnet-4-5", "x", 2048, `,"thinking":{"type":"enabled"}`), "thinking.enabled.budget_tokens: Field required"},
		{"thinking type", msgBody("claude-sonnet-4-5", "x", 2048, `,"thinking":{"type":"on"}`), "thinking: Input tag 'on'"},
		{"thinking temperature", msgBody("claude-sonnet-4-5", "x", 2048, `,"thinking":{"type":"enabled","budget_tokens":1024},"temperature":0.5`),
			"`temperature` may only be set to 1 when thinking is enabled."},
		{"thinking forced tool", msgBody("claude-sonnet-4-5", "x", 2048, tools+`,"tool_choice":{"type":"any"},"thinking":{"type":"enabled","budget_tokens":1024}`),
			"Thinking may not be enabled when tool_choice forces tool use."},
		{"five breakpoints", msgsBody(64, `{"role":"user","content":[`+strings.Repeat(marked("")+",", 4)+marked("")+`]}`, ""),
			"A maximum of 4 blocks with cache_control may be provided. Found 5."},
		{"1h after 5m", msgBody("claude-sonnet-4-5", "x", 64, `,"system":[`+marked("")+`,`+marked(`,"ttl":"1h"`)+`]`),
			"a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block."},
		{"cache type", msgBody("claude-sonnet-4-5", "x", 64, `,"system":[{"type":"text","text":"s","cache_control":{"type":"forever"}}]`),
			"system.0.cache_control.type: Input should be 'ephemeral'"},
		{"cache ttl", msgBody("claude-sonnet-4-5", "x", 64, `,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral","ttl":"2h"}}]`),
			"system.0.cache_control.ttl: Input should be '5m' or '1h'"},
		{"tool cache", msgBody("claude-sonnet-4-5", "x", 64, `,"tools":[{"name":"a","input_schema":{},"cache_control":{"type":"ephemeral","x":1}}]`),
			"tools.0.cache_control.x: Extra inputs are not permitted"},
		{"top_k", msgBody("claude-sonnet-4-5", "x", 64, `,"top_k":-1`), "top_k: Input should be greater than or equal to 0"},
	} {
		a := mustMessages(t, url, "sk-ant-tool-err", c.body)
		var e struct {
			Error struct{ Type, Message string }
		}
		json.Unmarshal(a.body, &e)
		if a.status != 400 || e.Error.Type != "invalid_request_error" || !strings.HasPrefix(e.Error.Message, c.msg) {
			t.Errorf("%s: %d %s", c.name, a.status, a.body)
		}
	}
	// Answered uses, earlier thinking, top_k and stop sequences are fine.
	thinking := `{"role":"assistant","content":[{"type":"thinking","thinking":"Hmm.","signature":"c2ln"},{"type":"redacted_thinking","data":"ZGF0YQ=="},` +
		`{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Oslo","unit":"c"}}]}`
	ok := msgsBody(2048, user+","+thinking+","+result, tools+`,"top_k":5,"stop_sequences":["END"],"thinking":{"type":"enabled","budget_tokens":1024},"temperature":1`)
	if a := mustMessages(t, url, "sk-ant-tool-err", ok); a.status != 200 {
		t.Errorf("valid: %s", a.body)
	}
}

// reassembleMessage rebuilds the content blocks of a streamed message
// from their start and delta events; it returns them with the stop reason
// and the message_start usage.
func reassembleMessage(t *testing.T, body []byte) ([]msgBlock, string, map[string]any) {
	t.Helper()
	var blocks []msgBlock
	partial := map[int]string{}
	var stop string
	var usage map[string]any
	for _, ev := range parseSSE(t, body) {
		m := decode(t, ev.data)
		switch ev.name {
		case "message_start":
			usage = m["message"].(map[string]any)["usage"].(map[string]any)
		case "content_block_start":
			var s struct {
				Index        int      `json:"index"`
				ContentBlock msgBlock `json:"content_block"`
			}
			json.Unmarshal([]byte(ev.data), &s)
			if s.Index != len(blocks) || s.ContentBlock.Type == "tool_use" && string(s.ContentBlock.Input) != "{}" {
				t.Errorf("block start: %s", ev.data)
			}
			blocks = append(blocks, s.ContentBlock)
		case "content_block_delta":
			i := int(m["index"].(float64))
			d := m["delta"].(map[string]any)
			switch d["type"] {
			case "text_delta":
				blocks[i].Text += d["text"].(string)
			case "thinking_delta":
				blocks[i].Thinking += d["thinking"].(string)
			case "signature_delta":
				blocks[i].Signature += d["signature"].(string)
			case "input_json_delta":
				piece := d["partial_json"].(string)
				if len(piece) > 8 {
					t.Errorf("partial_json of %d bytes", len(piece))
				}
				partial[i] += piece
			}
		case "content_block_stop":
			i := int(m["index"].(float64))
			if blocks[i].Type == "tool_use" {
				blocks[i].Input = json.RawMessage(partial[i])
			}
		case "message_delta":
			stop = m["delta"].(map[string]any)["stop_reason"].(string)
		}
	}
	return blocks, stop, usage
}

func TestMessagesToolStream(t *testing.T) {
	url := startEmulator(t)
	for _, extra := range []string{"", `,"thinking":{"type":"enabled","budget_tokens":1024}`} {
		body := msgBody("claude-sonnet-4-5", "get_weather and get_time", 2048, `,"tools":`+msgTools+extra)
		plain := parseMsg(t, mustMessages(t, url, "sk-ant-tstream", body))
		a := mustStream(t, url, "/v1/messages", anthropicHeaders("sk-ant-tstream"), strings.TrimSuffix(body, "}")+`,"stream":true}`)
		blocks, stop, _ := reassembleMessage(t, a.body)
		if !reflect.DeepEqual(blocks, plain.Content) || stop != "tool_use" {
			t.Errorf("%s: streamed %+v, want %+v", extra, blocks, plain.Content)
		}
	}
}

func TestMessagesThinking(t *testing.T) {
	url := startEmulator(t)
	const content = "Hello there"
	body := msgBody("claude-sonnet-4-5", content, 2048, `,"thinking":{"type":"enabled","budget_tokens":1024}`)
	r := parseMsg(t, mustMessages(t, url, "sk-ant-think", body))
	if len(r.Content) != 2 || r.Content[0].Type != "thinking" || r.Content[1].Type != "text" {
		t.Fatalf("content: %+v", r.Content)
	}
	th := r.Content[0]
	sig, err := base64.StdEncoding.DecodeString(th.Signature)
	if th.Thinking == "" || err != nil || len(sig) == 0 || !strings.HasPrefix(thinkingSource+thinkingSource, th.Thinking[:len(thinkingSource)]) {
		t.Errorf("thinking %+v (%v)", th, err)
	}
	text := replyText(refTarget("claude-sonnet-4-5", content))
	if r.Content[1].Text != text || r.Usage.OutputTokens != textTokens(th.Thinking)+textTokens(text) || r.StopReason != "end_turn" {
		t.Errorf("reply: %+v", r)
	}
	// The same request thinks the same.
	if again := parseMsg(t, mustMessages(t, url, "sk-ant-think", body)); !reflect.DeepEqual(again.Content, r.Content) {
		t.Errorf("thinking differs: %+v", again.Content)
	}
	// Streamed: thinking_delta pieces, then the signature, then the text.
	a := mustStream(t, url, "/v1/messages", anthropicHeaders("sk-ant-think"), strings.TrimSuffix(body, "}")+`,"stream":true}`)
	blocks, stop, _ := reassembleMessage(t, a.body)
	if !reflect.DeepEqual(blocks, r.Content) || stop != "end_turn" {
		t.Errorf("streamed %+v", blocks)
	}
	// Disabled thinking is plain text.
	if r := parseMsg(t, mustMessages(t, url, "sk-ant-think", msgBody("claude-sonnet-4-5", content, 2048, `,"thinking":{"type":"disabled"}`))); len(r.Content) != 1 {
		t.Errorf("disabled: %+v", r)
	}
}

func TestMessagesPromptCaching(t *testing.T) {
	url := startEmulator(t)
	const key = "sk-ant-cache"
	system := strings.Repeat("abcd", 1100) // 1100 tokens
	context := strings.Repeat("efgh", 100) // 100 tokens
	body := func(ctx, question string) string {
		return `{"model":"claude-sonnet-4-5","max_tokens":64,` +
			`"system":[{"type":"text","text":"` + system + `","cache_control":{"type":"ephemeral","ttl":"1h"}}],` +
			`"messages":[{"role":"user","content":[{"type":"text","text":"` + ctx + `","cache_control":{"type":"ephemeral"}},` +
			`{"type":"text","text":"` + question + `"}]}]}`
	}
	const sysPrefix = 3 + 4 + 1100        // through the system block
	const msgPrefix = sysPrefix + 4 + 100 // through the marked message block
	const prompt = msgPrefix + 3          // "Question?" adds 3
	type usage struct{ input, create, read, c5m, c1h int64 }
	get := func(b string) usage {
		t.Helper()
		r := parseMsg(t, mustMessages(t, url, key, b))
		u := r.Usage
		if u.CacheCreation == nil {
			t.Fatalf("no cache_creation: %+v", r)
		}
		return usage{u.InputTokens, u.CacheCreationInputTokens, u.CacheReadInputTokens, u.CacheCreation.Ephemeral5m, u.CacheCreation.Ephemeral1h}
	}
	// First: the whole marked prefix is written, by the ttl of each stretch.
	if u := get(body(context, "Question?")); u != (usage{prompt - msgPrefix, msgPrefix, 0, msgPrefix - sysPrefix, sysPrefix}) {
		t.Errorf("first: %+v", u)
	}
	// Again: read.
	if u := get(body(context, "Another question?")); u != (usage{prompt - msgPrefix + 2, 0, msgPrefix, 0, 0}) {
		t.Errorf("second: %+v", u)
	}
	// Another context: the system prefix is read, the rest written.
	other := strings.Repeat("ijkl", 100)
	if u := get(body(other, "Question?")); u != (usage{prompt - msgPrefix, msgPrefix - sysPrefix, sysPrefix, msgPrefix - sysPrefix, 0}) {
		t.Errorf("third: %+v", u)
	}
	// Streamed, message_start carries the same usage.
	s := mustStream(t, url, "/v1/messages", anthropicHeaders(key), strings.TrimSuffix(body(other, "Question?"), "}")+`,"stream":true}`)
	if _, _, u := reassembleMessage(t, s.body); u["cache_read_input_tokens"] != float64(msgPrefix) || u["input_tokens"] != float64(prompt-msgPrefix) ||
		!reflect.DeepEqual(u["cache_creation"], map[string]any{"ephemeral_5m_input_tokens": 0.0, "ephemeral_1h_input_tokens": 0.0}) {
		t.Errorf("streamed usage %v", u)
	}
	// Another key has its own cache.
	r := parseMsg(t, mustMessages(t, url, "sk-ant-cache-2", body(context, "Question?")))
	if r.Usage.CacheCreationInputTokens != msgPrefix || r.Usage.CacheReadInputTokens != 0 {
		t.Errorf("other key: %+v", r.Usage)
	}
	if st := getStats(t, url, key); st.CachedTokens != msgPrefix+sysPrefix+msgPrefix || st.PromptTokens != prompt+prompt+2+prompt+prompt {
		t.Errorf("stats: %+v", st)
	}

	// Tools come first: a marked tool is a prefix of its own.
	tool := `[{"name":"lookup","description":"` + strings.Repeat("mnop", 1100) + `","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}]`
	toolPrefix := 3 + toolsTokens(rawList(json.RawMessage(tool)))
	first := parseMsg(t, mustMessages(t, url, key, msgBody("claude-sonnet-4-5", "Hello there", 64, `,"tools":`+tool)))
	second := parseMsg(t, mustMessages(t, url, key, msgBody("claude-sonnet-4-5", "Something else", 64, `,"tools":`+tool)))
	if first.Usage.CacheCreationInputTokens != toolPrefix || first.Usage.InputTokens != 4+3 ||
		second.Usage.CacheReadInputTokens != toolPrefix || second.Usage.CacheCreationInputTokens != 0 {
		t.Errorf("tools: %+v %+v", first.Usage, second.Usage)
	}
	// A marked prefix under 1024 tokens is not cached.
	short := msgBody("claude-sonnet-4-5", "Hello there", 64, `,"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}]`)
	for i := 0; i < 2; i++ {
		if r := parseMsg(t, mustMessages(t, url, key, short)); r.Usage.CacheCreationInputTokens != 0 || r.Usage.CacheReadInputTokens != 0 || r.Usage.InputTokens != 3+7+7 {
			t.Errorf("short %d: %+v", i, r.Usage)
		}
	}
}
