package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const (
	weatherParams = `{"type":"object","properties":{"city":{"type":"string","minLength":2},"unit":{"type":"string","enum":["c","f"]}},` +
		`"required":["city","unit"],"additionalProperties":false}`
	weatherArgs = `{"city":"aa","unit":"c"}`
	chatTools   = `[{"type":"function","function":{"name":"get_weather","description":"Current weather.","parameters":` + weatherParams + `,"strict":true}},` +
		`{"type":"function","function":{"name":"get_time"}}]`
)

var callIDRe = regexp.MustCompile(`^call_[0-9A-Za-z]{24}$`)

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatReply struct {
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role      string         `json:"role"`
			Content   *string        `json:"content"`
			ToolCalls []chatToolCall `json:"tool_calls"`
		} `json:"message"`
		Logprobs *struct {
			Content []logprobEntry `json:"content"`
		} `json:"logprobs"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
	ServiceTier string `json:"service_tier"`
}

func parseChat(t *testing.T, a answer) chatReply {
	t.Helper()
	return decodeOK[chatReply](t, a)
}

// chatMessagesBody is a chat completions body with the given messages.
func chatMessagesBody(messages string, extra string) string {
	return `{"model":"gpt-4o","messages":[` + messages + `]` + extra + `}`
}

func TestChatToolCalls(t *testing.T) {
	url := startEmulator(t)
	toolTokens := toolsTokens(rawList(json.RawMessage(chatTools)))
	for _, c := range []struct {
		name, content, extra string
		want                 []string // the tools called; none for a text reply
	}{
		{"auto names a tool", "What does get_weather say for Paris?", "", []string{"get_weather"}},
		{"auto names both", "Use GET_TIME and get_weather.", "", []string{"get_weather", "get_time"}},
		{"auto names none", "Hello there", "", nil},
		{"none", "What does get_weather say?", `,"tool_choice":"none"`, nil},
		{"required, none named", "Hello there", `,"tool_choice":"required"`, []string{"get_weather"}},
		{"required, one named", "get_time?", `,"tool_choice":"required"`, []string{"get_time"}},
		{"named", "Hello there", `,"tool_choice":{"type":"function","function":{"name":"get_time"}}`, []string{"get_time"}},
		{"not parallel", "Use get_time and get_weather.", `,"parallel_tool_calls":false`, []string{"get_weather"}},
		{"allowed tools", "Use get_time and get_weather.",
			`,"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"get_time"}}]}}`, []string{"get_time"}},
	} {
		body := chatBody("gpt-4o", c.content, `,"tools":`+chatTools+c.extra)
		a := mustPost(t, url, "sk-tools", body)
		r := parseChat(t, a)
		ch := r.Choices[0]
		if want := 3 + 4 + textTokens(c.content) + toolTokens; r.Usage.PromptTokens != want {
			t.Errorf("%s: prompt tokens %d, want %d", c.name, r.Usage.PromptTokens, want)
		}
		if c.want == nil {
			if ch.Message.Content == nil || *ch.Message.Content != replyText(refTarget("gpt-4o", c.content)) || ch.Message.ToolCalls != nil ||
				ch.FinishReason != "stop" {
				t.Errorf("%s: %s", c.name, a.body)
			}
			continue
		}
		var names []string
		var completion int64
		for _, call := range ch.Message.ToolCalls {
			names = append(names, call.Function.Name)
			completion += textTokens(call.Function.Arguments)
			want := "{}"
			if call.Function.Name == "get_weather" {
				want = weatherArgs
				if !schemaAccepts(t, weatherParams, call.Function.Arguments) {
					t.Errorf("%s: arguments %s", c.name, call.Function.Arguments)
				}
			}
			if !callIDRe.MatchString(call.ID) || call.Type != "function" || call.Function.Arguments != want {
				t.Errorf("%s: call %+v", c.name, call)
			}
		}
		if !reflect.DeepEqual(names, c.want) || ch.Message.Content != nil || ch.Message.Role != "assistant" || ch.FinishReason != "tool_calls" ||
			r.Usage.CompletionTokens != completion {
			t.Errorf("%s: %s", c.name, a.body)
		}
		// The same request gets the same ids.
		if again := parseChat(t, mustPost(t, url, "sk-tools", body)); !reflect.DeepEqual(again.Choices[0].Message.ToolCalls, ch.Message.ToolCalls) {
			t.Errorf("%s: ids differ: %s", c.name, a.body)
		}
	}

	// A cap shorter than the arguments cuts them: finish_reason length.
	r := parseChat(t, mustPost(t, url, "sk-tools", chatBody("gpt-4o", "get_weather", `,"tools":`+chatTools+`,"max_completion_tokens":2`)))
	if calls := r.Choices[0].Message.ToolCalls; len(calls) != 1 || calls[0].Function.Arguments != weatherArgs[:8] || r.Choices[0].FinishReason != "length" ||
		r.Usage.CompletionTokens != 2 {
		t.Errorf("capped: %+v", r)
	}
}

func TestChatToolLoop(t *testing.T) {
	url := startEmulator(t)
	user := `{"role":"user","content":"Check get_weather and get_time."}`
	first := parseChat(t, mustPost(t, url, "sk-loop", chatMessagesBody(user, `,"tools":`+chatTools)))
	calls := first.Choices[0].Message.ToolCalls
	if len(calls) != 2 {
		t.Fatalf("first round: %+v", first)
	}
	callsJSON, _ := json.Marshal(calls)
	assistant := `{"role":"assistant","content":null,"tool_calls":` + string(callsJSON) + `}`
	results := fmt.Sprintf(`{"role":"tool","tool_call_id":%q,"content":"sunny, 21C"},{"role":"tool","tool_call_id":%q,"content":[{"type":"text","text":"noon"}]}`,
		calls[0].ID, calls[1].ID)
	a := mustPost(t, url, "sk-loop", chatMessagesBody(user+","+assistant+","+results, `,"tools":`+chatTools))
	second := parseChat(t, a)
	text := "Tool results: sunny, 21C; noon"
	var callTokens int64
	for _, c := range calls {
		callTokens += textTokens(c.Function.Name) + textTokens(c.Function.Arguments)
	}
	prompt := 3 + (4 + textTokens("Check get_weather and get_time.")) + (4 + callTokens) + (4 + textTokens("sunny, 21C")) + (4 + 1) +
		toolsTokens(rawList(json.RawMessage(chatTools)))
	if ch := second.Choices[0]; ch.Message.Content == nil || *ch.Message.Content != text || ch.FinishReason != "stop" ||
		second.Usage.CompletionTokens != textTokens(text) || second.Usage.PromptTokens != prompt {
		t.Errorf("second round: %s (prompt %d)", a.body, prompt)
	}
	// Tool results end the turn even when a tool is required.
	a = mustPost(t, url, "sk-loop", chatMessagesBody(user+","+assistant+","+results, `,"tools":`+chatTools+`,"tool_choice":"required"`))
	if r := parseChat(t, a); r.Choices[0].Message.Content == nil || *r.Choices[0].Message.Content != text {
		t.Errorf("required: %s", a.body)
	}
	// Streamed, the text comes as content deltas.
	s := mustStream(t, url, "/v1/chat/completions", bearer("sk-loop"), chatMessagesBody(user+","+assistant+","+results, `,"tools":`+chatTools+`,"stream":true`))
	var got string
	for _, ev := range parseSSE(t, s.body) {
		if ev.data == "[DONE]" {
			continue
		}
		for _, ch := range decode(t, ev.data)["choices"].([]any) {
			if c, ok := ch.(map[string]any)["delta"].(map[string]any)["content"].(string); ok {
				got += c
			}
		}
	}
	if got != text {
		t.Errorf("streamed %q", got)
	}
}

func TestChatToolErrors(t *testing.T) {
	url := startEmulator(t)
	user := `{"role":"user","content":"Check get_weather."}`
	call := `{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}},` +
		`{"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]}`
	tools := `,"tools":` + chatTools
	for _, c := range []struct {
		name, body, param, code, msg string
	}{
		{"tool without calls", chatMessagesBody(user+`,{"role":"tool","tool_call_id":"call_1","content":"x"}`, tools), "messages.[1].role", "",
			"Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."},
		{"unknown id", chatMessagesBody(user+","+call+`,{"role":"tool","tool_call_id":"call_9","content":"x"}`, tools), "messages.[2].role", "",
			"must be a response to a preceeding message with 'tool_calls'"},
		{"after another message", chatMessagesBody(user+","+call+`,{"role":"tool","tool_call_id":"call_1","content":"x"},{"role":"tool","tool_call_id":"call_2","content":"y"},`+
			user+`,{"role":"tool","tool_call_id":"call_1","content":"x"}`, tools), "messages.[5].role", "", "must be a response to a preceeding message"},
		{"unanswered call", chatMessagesBody(user+","+call+`,{"role":"tool","tool_call_id":"call_1","content":"x"},`+user, tools), "messages.[1].role", "",
			"The following tool_call_ids did not have response messages: call_2"},
		{"no tool_call_id", chatMessagesBody(user+","+call+`,{"role":"tool","content":"x"}`, tools), "messages[2].tool_call_id", "missing_required_parameter", ""},
		{"call without id", chatMessagesBody(user+`,{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"a","arguments":"{}"}}]}`, tools),
			"messages[1].tool_calls[0].id", "missing_required_parameter", ""},
		{"empty tools", chatBody("gpt-4o", "x", `,"tools":[]`), "tools", "empty_array", ""},
		{"tool name", chatBody("gpt-4o", "x", `,"tools":[{"type":"function","function":{"name":"a b"}}]`), "tools[0].function.name", "invalid_value", ""},
		{"no function", chatBody("gpt-4o", "x", `,"tools":[{"type":"function"}]`), "tools[0].function", "missing_required_parameter", ""},
		{"parameters", chatBody("gpt-4o", "x", `,"tools":[{"type":"function","function":{"name":"a","parameters":[]}}]`), "tools[0].function.parameters", "invalid_type", ""},
		{"tool type", chatBody("gpt-4o", "x", `,"tools":[{"type":"search"}]`), "tools[0].type", "invalid_value", ""},
		{"choice without tools", chatBody("gpt-4o", "x", `,"tool_choice":"auto"`), "tool_choice", "",
			"Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."},
		{"parallel without tools", chatBody("gpt-4o", "x", `,"parallel_tool_calls":false`), "parallel_tool_calls", "", "only allowed when 'tools' are specified"},
		{"choice value", chatBody("gpt-4o", "x", tools+`,"tool_choice":"always"`), "tool_choice", "invalid_value", ""},
		{"unknown tool", chatBody("gpt-4o", "x", tools+`,"tool_choice":{"type":"function","function":{"name":"nope"}}`), "tool_choice.function.name", "invalid_value", ""},
	} {
		a := mustPost(t, url, "sk-tool-err", c.body)
		e, _ := a.json(t)["error"].(map[string]any)
		code, _ := e["code"].(string)
		if a.status != 400 || e["type"] != "invalid_request_error" || e["param"] != c.param || code != c.code ||
			!strings.Contains(fmt.Sprint(e["message"]), c.msg) {
			t.Errorf("%s: %d %s", c.name, a.status, a.body)
		}
	}
	// An assistant message with tool calls and no content is accepted.
	ok := chatMessagesBody(user+","+call+`,{"role":"tool","tool_call_id":"call_2","content":"x"},{"role":"tool","tool_call_id":"call_1","content":"y"}`, tools)
	if a := mustPost(t, url, "sk-tool-err", ok); a.status != 200 {
		t.Errorf("answered calls: %s", a.body)
	}
}

// chatStreamChoice is one choice reassembled from a chat stream.
type chatStreamChoice struct {
	content  string
	calls    []chatToolCall
	finish   string
	logprobs []logprobEntry
}

// reassembleChat joins the chunks of a chat stream by choice index; the
// tool calls by their index, with the id and name from their first chunk.
func reassembleChat(t *testing.T, body []byte, validate bool) (map[int]*chatStreamChoice, map[string]any) {
	t.Helper()
	choices := map[int]*chatStreamChoice{}
	var usage map[string]any
	for _, ev := range parseSSE(t, body) {
		if ev.data == "[DONE]" {
			continue
		}
		if validate {
			checkReply(t, "CreateChatCompletionStreamResponse", []byte(ev.data))
		}
		var chunk struct {
			Choices []struct {
				Index int `json:"index"`
				Delta struct {
					Content   *string `json:"content"`
					ToolCalls []struct {
						Index    *int   `json:"index"`
						ID       string `json:"id"`
						Type     string `json:"type"`
						Function struct {
							Name      string `json:"name"`
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
				Logprobs *struct {
					Content []logprobEntry `json:"content"`
				} `json:"logprobs"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage map[string]any `json:"usage"`
		}
		if err := json.Unmarshal([]byte(ev.data), &chunk); err != nil {
			t.Fatalf("%v: %s", err, ev.data)
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
		for _, ch := range chunk.Choices {
			c := choices[ch.Index]
			if c == nil {
				c = &chatStreamChoice{}
				choices[ch.Index] = c
			}
			if ch.Delta.Content != nil {
				c.content += *ch.Delta.Content
			}
			if ch.Logprobs != nil {
				c.logprobs = append(c.logprobs, ch.Logprobs.Content...)
			}
			if ch.FinishReason != nil {
				c.finish = *ch.FinishReason
			}
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index == nil {
					t.Fatalf("tool call chunk without index: %s", ev.data)
				}
				if len(tc.Function.Arguments) > 8 {
					t.Errorf("arguments piece of %d bytes", len(tc.Function.Arguments))
				}
				if *tc.Index == len(c.calls) {
					if tc.ID == "" || tc.Type != "function" || tc.Function.Name == "" || tc.Function.Arguments != "" {
						t.Errorf("first chunk of a call: %s", ev.data)
					}
					c.calls = append(c.calls, chatToolCall{ID: tc.ID, Type: tc.Type})
					c.calls[*tc.Index].Function.Name = tc.Function.Name
				} else if tc.ID != "" || tc.Function.Name != "" {
					t.Errorf("later chunk of a call: %s", ev.data)
				}
				c.calls[*tc.Index].Function.Arguments += tc.Function.Arguments
			}
		}
	}
	return choices, usage
}

func TestChatToolStream(t *testing.T) {
	url := startEmulator(t)
	for _, extra := range []string{"", `,"n":2`, `,"max_completion_tokens":3`} {
		body := chatBody("gpt-4o", "Use get_weather and get_time.", `,"tools":`+chatTools+extra)
		plain := parseChat(t, mustPost(t, url, "sk-tool-stream", body))
		a := mustStream(t, url, "/v1/chat/completions", bearer("sk-tool-stream"),
			chatBody("gpt-4o", "Use get_weather and get_time.", `,"tools":`+chatTools+extra+`,"stream":true,"stream_options":{"include_usage":true}`))
		choices, usage := reassembleChat(t, a.body, false)
		if len(choices) != len(plain.Choices) || usage["completion_tokens"] != float64(plain.Usage.CompletionTokens) {
			t.Errorf("%s: %d choices, usage %v: %s", extra, len(choices), usage, a.body)
		}
		for i, want := range plain.Choices {
			got := choices[i]
			if got == nil || !reflect.DeepEqual(got.calls, want.Message.ToolCalls) || got.finish != want.FinishReason || got.content != "" {
				t.Errorf("%s: choice %d %+v, want %+v", extra, i, got, want)
			}
		}
	}
}

func TestChatChoicesAndLogprobs(t *testing.T) {
	url := startEmulator(t)
	const content = "Hello there"
	natural := replyText(refTarget("gpt-4o", content))
	r := parseChat(t, mustPost(t, url, "sk-n", chatBody("gpt-4o", content, `,"n":3,"logprobs":true,"top_logprobs":2`)))
	var total int64
	for i, ch := range r.Choices {
		want := natural + choiceSuffix(i)
		if ch.Index != i || ch.Message.Content == nil || *ch.Message.Content != want || ch.FinishReason != "stop" || ch.Logprobs == nil {
			t.Fatalf("choice %d: %+v", i, ch)
		}
		checkLogprobs(t, want, ch.Logprobs.Content, 2)
		total += textTokens(want)
	}
	if len(r.Choices) != 3 || r.Usage.CompletionTokens != total || *r.Choices[0].Message.Content != natural {
		t.Errorf("choices: %+v", r)
	}

	// Streamed: every chunk names its choice and carries the logprobs of
	// its own piece.
	a := mustStream(t, url, "/v1/chat/completions", bearer("sk-n"),
		chatBody("gpt-4o", content, `,"n":3,"logprobs":true,"top_logprobs":2,"stream":true,"stream_options":{"include_usage":true}`))
	choices, usage := reassembleChat(t, a.body, false)
	for i, want := range r.Choices {
		got := choices[i]
		if got == nil || got.content != *want.Message.Content || got.finish != "stop" || !reflect.DeepEqual(got.logprobs, want.Logprobs.Content) {
			t.Errorf("streamed choice %d: %+v", i, got)
		}
	}
	if usage["completion_tokens"] != float64(total) {
		t.Errorf("streamed usage %v", usage)
	}

	// Capped choices are cut alike.
	r = parseChat(t, mustPost(t, url, "sk-n", chatBody("gpt-4o", content, `,"n":2,"max_tokens":5`)))
	if len(r.Choices) != 2 || *r.Choices[1].Message.Content != replyText(5) || r.Choices[1].FinishReason != "length" || r.Usage.CompletionTokens != 10 {
		t.Errorf("capped: %+v", r)
	}
	// No logprobs unless asked for.
	if r := parseChat(t, mustPost(t, url, "sk-n", chatBody("gpt-4o", content, `,"logprobs":false`))); r.Choices[0].Logprobs != nil {
		t.Errorf("logprobs: %+v", r)
	}

	for _, c := range []struct{ extra, param, code string }{
		{`,"n":0`, "n", "integer_below_min_value"},
		{`,"n":129`, "n", "integer_above_max_value"},
		{`,"n":1.5`, "n", "invalid_type"},
		{`,"top_logprobs":2`, "top_logprobs", "invalid_value"},
		{`,"logprobs":true,"top_logprobs":21`, "top_logprobs", "integer_above_max_value"},
		{`,"logprobs":"yes"`, "logprobs", "invalid_type"},
	} {
		a := mustPost(t, url, "sk-n", chatBody("gpt-4o", content, c.extra))
		if e, _ := a.json(t)["error"].(map[string]any); a.status != 400 || e["param"] != c.param || e["code"] != c.code {
			t.Errorf("%s: %d %s", c.extra, a.status, a.body)
		}
	}
}

func TestChatJSONModeAndOptions(t *testing.T) {
	url := startEmulator(t, "--flex-unavailable")
	// JSON mode needs the word somewhere in the messages.
	a := mustPost(t, url, "sk-opt", chatBody("gpt-4o", "Who?", `,"response_format":{"type":"json_object"}`))
	if e, _ := a.json(t)["error"].(map[string]any); a.status != 400 || e["param"] != "response_format" ||
		e["message"] != "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'." {
		t.Errorf("json mode without json: %d %s", a.status, a.body)
	}
	body := chatMessagesBody(`{"role":"system","content":"Reply in JSON."},{"role":"user","content":"Who?"}`, `,"response_format":{"type":"json_object"}`)
	r := parseChat(t, mustPost(t, url, "sk-opt", body))
	var doc struct{ Answer string }
	if err := json.Unmarshal([]byte(*r.Choices[0].Message.Content), &doc); err != nil || doc.Answer != replyText(refTarget("gpt-4o", "Who?")) {
		t.Errorf("json mode: %v %+v", err, r)
	}

	for _, c := range []struct{ tier, served string }{{"", "default"}, {"auto", "default"}, {"default", "default"}, {"priority", "priority"},
		{"fast", "priority"}, {"scale", "scale"}} {
		extra := ""
		if c.tier != "" {
			extra = `,"service_tier":"` + c.tier + `"`
		}
		if r := parseChat(t, mustPost(t, url, "sk-opt", chatBody("gpt-4o", "x", extra))); r.ServiceTier != c.served {
			t.Errorf("tier %q served as %q", c.tier, r.ServiceTier)
		}
		s := mustStream(t, url, "/v1/chat/completions", bearer("sk-opt"), chatBody("gpt-4o", "x", extra+`,"stream":true`))
		if !strings.Contains(string(s.body), `"service_tier":"`+c.served+`"`) {
			t.Errorf("tier %q streamed: %s", c.tier, s.body)
		}
	}
	// --flex-unavailable: flex gets 429 resource_unavailable, retryable in a second.
	a = mustPost(t, url, "sk-flex", chatBody("gpt-4o", "x", `,"service_tier":"flex"`))
	if e, _ := a.json(t)["error"].(map[string]any); a.status != 429 || e["code"] != "resource_unavailable" || a.header.Get("Retry-After") != "1" ||
		e["message"] != "Resource unavailable. Please try again later." {
		t.Errorf("flex: %d %v %s", a.status, a.header, a.body)
	}
	if st := getStats(t, url, "sk-flex"); st.RateLimited != 1 || st.OK != 0 {
		t.Errorf("flex stats: %+v", st)
	}

	accepted := `,"frequency_penalty":-2,"presence_penalty":1.5,"logit_bias":{"50256":-100,"42":7.5},"seed":-3,"stop":["a","b","c","d"],` +
		`"prompt_cache_key":"k","safety_identifier":"s","user":"u","metadata":{"m":"v"},"store":true,"reasoning_effort":"low","temperature":2,"top_p":0`
	if a := mustPost(t, url, "sk-opt", chatBody("gpt-4o", "x", accepted)); a.status != 200 {
		t.Errorf("options: %s", a.body)
	}
	for _, c := range []struct{ extra, param, code string }{
		{`,"service_tier":"turbo"`, "service_tier", "invalid_value"},
		{`,"frequency_penalty":2.5`, "frequency_penalty", "decimal_above_max_value"},
		{`,"presence_penalty":-3`, "presence_penalty", "decimal_below_min_value"},
		{`,"logit_bias":{"42":101}`, "logit_bias.42", "decimal_above_max_value"},
		{`,"logit_bias":{"x":1}`, "logit_bias", "invalid_value"},
		{`,"seed":1.5`, "seed", "invalid_type"},
		{`,"stop":["a","b","c","d","e"]`, "stop", "array_above_max_length"},
		{`,"stop":7`, "stop", "invalid_type"},
		{`,"safety_identifier":"` + strings.Repeat("s", 65) + `"`, "safety_identifier", "string_above_max_length"},
		{`,"reasoning_effort":"extreme"`, "reasoning_effort", "invalid_value"},
		{`,"store":"yes"`, "store", "invalid_type"},
		{`,"temperature":2.5`, "temperature", "decimal_above_max_value"},
	} {
		a := mustPost(t, url, "sk-opt", chatBody("gpt-4o", "x", c.extra))
		if e, _ := a.json(t)["error"].(map[string]any); a.status != 400 || e["param"] != c.param || e["code"] != c.code {
			t.Errorf("%s: %d %s", c.extra, a.status, a.body)
		}
	}
}

func TestChatToolsSpec(t *testing.T) {
	url := startEmulator(t, "--validate-spec", specFile(t))
	user := `{"role":"user","content":"Use get_weather and get_time, in JSON."}`
	first := mustPost(t, url, "sk-spec-tools", chatMessagesBody(user, `,"tools":`+chatTools+`,"tool_choice":"auto","parallel_tool_calls":true,"logprobs":true,"top_logprobs":1`))
	checkReply(t, "CreateChatCompletionResponse", first.body)
	calls := parseChat(t, first).Choices[0].Message.ToolCalls
	callsJSON, _ := json.Marshal(calls)
	conversation := user + `,{"role":"assistant","content":null,"tool_calls":` + string(callsJSON) + `}` +
		fmt.Sprintf(`,{"role":"tool","tool_call_id":%q,"content":"sunny"},{"role":"tool","tool_call_id":%q,"content":"noon"}`, calls[0].ID, calls[1].ID)
	bodies := []string{
		chatMessagesBody(conversation, `,"tools":`+chatTools+`,"tool_choice":{"type":"function","function":{"name":"get_time"}}`),
		chatMessagesBody(conversation, `,"tools":`+chatTools+`,"tool_choice":"required","n":2,"logprobs":true,"top_logprobs":3,"service_tier":"priority"`),
		chatMessagesBody(user, `,"tools":`+chatTools+`,"n":2,"response_format":{"type":"json_object"},"service_tier":"auto","seed":7,"frequency_penalty":0.5,"logit_bias":{"42":-5}`),
		chatMessagesBody(user, `,"n":3,"logprobs":true,"top_logprobs":2,"max_completion_tokens":4`),
	}
	for _, b := range bodies {
		a := mustPost(t, url, "sk-spec-tools", b)
		if a.status != 200 {
			t.Errorf("valid body refused: %s\n%s", b, a.body)
			continue
		}
		checkReply(t, "CreateChatCompletionResponse", a.body)
		s := mustStream(t, url, "/v1/chat/completions", bearer("sk-spec-tools"), strings.TrimSuffix(b, "}")+`,"stream":true,"stream_options":{"include_usage":true}}`)
		reassembleChat(t, s.body, true)
	}
	if st := getStats(t, url, "sk-spec-tools"); st.SpecViolations != 0 {
		t.Errorf("stats: %+v", st)
	}
}
