package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const ollamaTools = `[{"type":"function","function":{"name":"get_weather","description":"Current weather.","parameters":` + weatherParams + `}},` +
	`{"type":"function","function":{"name":"get_time"}}]`

func TestOllamaTools(t *testing.T) {
	url := startEmulator(t)
	toolTokens := toolsTokens(rawList(json.RawMessage(ollamaTools)))
	for _, c := range []struct {
		content string
		want    []any // the tool_calls; nil for a text reply
	}{
		{"What does get_weather say?", []any{map[string]any{"function": map[string]any{"name": "get_weather", "arguments": map[string]any{"city": "aa", "unit": "c"}}}}},
		{"get_time and get_weather", []any{
			map[string]any{"function": map[string]any{"name": "get_weather", "arguments": map[string]any{"city": "aa", "unit": "c"}}},
			map[string]any{"function": map[string]any{"name": "get_time", "arguments": map[string]any{}}}}},
		{"Hello there", nil},
	} {
		body := ollamaBody("llama3.2", c.content, `,"stream":false,"tools":`+ollamaTools)
		m := decode(t, string(postOllama(t, url, "", body).body))
		msg := m["message"].(map[string]any)
		if m["prompt_eval_count"] != float64(3+4+textTokens(c.content)+toolTokens) || m["done_reason"] != "stop" {
			t.Errorf("%s: %v", c.content, m)
		}
		if c.want == nil {
			if msg["content"] != replyText(refTarget("llama3.2", c.content)) || msg["tool_calls"] != nil {
				t.Errorf("%s: %v", c.content, msg)
			}
			continue
		}
		var args int64
		for _, tc := range c.want {
			b, _ := json.Marshal(tc.(map[string]any)["function"].(map[string]any)["arguments"])
			args += textTokens(string(b))
		}
		if msg["content"] != "" || !reflect.DeepEqual(msg["tool_calls"], c.want) || m["eval_count"] != float64(args) {
			t.Errorf("%s: %v", c.content, m)
		}

		// Streamed: one line carries the calls, then the final line.
		lines := parseNDJSON(t, postOllama(t, url, "", strings.Replace(body, `"stream":false`, `"stream":true`, 1)).body)
		if len(lines) != 2 || !reflect.DeepEqual(lines[0]["message"].(map[string]any)["tool_calls"], c.want) || lines[0]["done"] != false ||
			lines[1]["done"] != true || lines[1]["eval_count"] != m["eval_count"] {
			t.Errorf("%s: stream %v", c.content, lines)
		}
	}

	// The second round: the tool results come back as tool messages.
	body := `{"model":"llama3.2","stream":false,"tools":` + ollamaTools + `,"messages":[{"role":"user","content":"get_weather and get_time"},` +
		`{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Oslo","unit":"c"}}},{"function":{"name":"get_time","arguments":{}}}]},` +
		`{"role":"tool","content":"sunny","tool_name":"get_weather"},{"role":"tool","content":"noon","tool_name":"get_time"}]}`
	m := decode(t, string(postOllama(t, url, "", body).body))
	calls := textTokens("get_weather") + textTokens(`{"city":"Oslo","unit":"c"}`) + textTokens("get_time") + textTokens("{}")
	if msg := m["message"].(map[string]any); msg["content"] != "Tool results: sunny; noon" || msg["tool_calls"] != nil ||
		m["prompt_eval_count"] != float64(3+(4+textTokens("get_weather and get_time"))+(4+calls)+(4+2)+(4+1)+toolTokens) {
		t.Errorf("second round: %v", m)
	}

	for _, c := range []struct{ body, msg string }{
		{ollamaBody("llama3.2", "x", `,"tools":{}`), "cannot unmarshal object into Go struct field ChatRequest.tools"},
		{ollamaBody("llama3.2", "x", `,"tools":[{"type":"function","function":{"name":"a","parameters":[]}}]`), "function.parameters"},
		{`{"model":"llama3.2","messages":[{"role":"assistant","content":"","tool_calls":[{"function":{"name":"a","arguments":"{}"}}]}]}`, "function.arguments"},
		{ollamaBody("llama3.2", "x", `,"think":"very"`), `invalid think value: "very"`},
		{ollamaBody("llama3.2", "x", `,"options":{"top_k":"many"}`), `option "top_k" must be of type integer`},
		{ollamaBody("llama3.2", "x", `,"options":{"presence_penalty":"x"}`), `option "presence_penalty" must be of type float32`},
	} {
		if a := postOllama(t, url, "", c.body); a.status != 400 || !strings.Contains(decode(t, string(a.body))["error"].(string), c.msg) {
			t.Errorf("%s: %d %s", c.body, a.status, a.body)
		}
	}
}

func TestOllamaThinkAndOptions(t *testing.T) {
	url := startEmulator(t)
	const content = "Hello there"
	for _, think := range []string{"true", `"high"`} {
		body := ollamaBody("llama3.2", content, `,"stream":false,"think":`+think)
		m := decode(t, string(postOllama(t, url, "", body).body))
		msg := m["message"].(map[string]any)
		thinking, _ := msg["thinking"].(string)
		text := replyText(refTarget("llama3.2", content))
		if thinking == "" || !strings.HasPrefix(thinkingSource+thinkingSource, thinking[:16]) || msg["content"] != text ||
			m["eval_count"] != float64(textTokens(thinking)+textTokens(text)) {
			t.Errorf("think %s: %v", think, m)
		}
		// Streamed: the thinking first, then the text, then the final line.
		lines := parseNDJSON(t, postOllama(t, url, "", strings.Replace(body, `"stream":false`, `"stream":true`, 1)).body)
		var gotThinking, gotText string
		for _, l := range lines[:len(lines)-1] {
			lm := l["message"].(map[string]any)
			if th, ok := lm["thinking"].(string); ok {
				if gotText != "" {
					t.Errorf("thinking after the text: %v", l)
				}
				gotThinking += th
			}
			gotText += lm["content"].(string)
		}
		if gotThinking != thinking || gotText != text || lines[len(lines)-1]["eval_count"] != m["eval_count"] {
			t.Errorf("think %s streamed: %q %q", think, gotThinking, gotText)
		}
	}
	// No thinking without think.
	if m := decode(t, string(postOllama(t, url, "", ollamaBody("llama3.2", content, `,"stream":false,"think":false`)).body)); m["message"].(map[string]any)["thinking"] != nil {
		t.Errorf("think false: %v", m)
	}
	// num_predict caps thinking and text together.
	m := decode(t, string(postOllama(t, url, "", ollamaBody("llama3.2", content, `,"stream":false,"think":true,"options":{"num_predict":20}`)).body))
	if m["eval_count"] != 20.0 || m["done_reason"] != "length" {
		t.Errorf("capped: %v", m)
	}
	options := `,"stream":false,"options":{"temperature":0.2,"top_p":0.9,"top_k":40,"seed":7,"stop":["\n"],"num_predict":100,` +
		`"frequency_penalty":0.5,"presence_penalty":-0.5,"mirostat":1}`
	if a := postOllama(t, url, "", ollamaBody("llama3.2", content, options)); a.status != 200 {
		t.Errorf("options: %s", a.body)
	}
}
