package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const respTools = `[{"type":"function","name":"get_weather","description":"Current weather.","parameters":` + weatherParams + `,"strict":true},` +
	`{"type":"function","name":"get_time","parameters":null,"strict":false}]`

var fcIDRe = regexp.MustCompile(`^fc_[0-9a-f]{48}$`)

type respItem struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	Status    string `json:"status"`
	Content   []struct {
		Type     string         `json:"type"`
		Text     string         `json:"text"`
		Logprobs []logprobEntry `json:"logprobs"`
	} `json:"content"`
}

type respReply struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	Output      []respItem `json:"output"`
	ServiceTier string     `json:"service_tier"`
	ToolChoice  any        `json:"tool_choice"`
	Tools       []any      `json:"tools"`
	Usage       responsesUsage
}

func parseResp(t *testing.T, a answer) respReply {
	t.Helper()
	return decodeOK[respReply](t, a)
}

func TestResponsesToolCalls(t *testing.T) {
	url := startEmulator(t)
	toolTokens := toolsTokens(rawList(json.RawMessage(respTools)))
	for _, c := range []struct {
		name, input, extra string
		want               []string
	}{
		{"auto", "What does get_weather say?", "", []string{"get_weather"}},
		{"auto, none named", "Hello there", "", nil},
		{"none", "get_weather", `,"tool_choice":"none"`, nil},
		{"required", "Hello there", `,"tool_choice":"required"`, []string{"get_weather"}},
		{"named", "Hello there", `,"tool_choice":{"type":"function","name":"get_time"}`, []string{"get_time"}},
		{"both", "get_weather and get_time", "", []string{"get_weather", "get_time"}},
		{"not parallel", "get_weather and get_time", `,"parallel_tool_calls":false`, []string{"get_weather"}},
		{"allowed tools", "get_weather and get_time", `,"tool_choice":{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"get_time"}]}`,
			[]string{"get_time"}},
	} {
		a := mustResponses(t, url, "sk-rtools", respBody("gpt-4o", c.input, `,"tools":`+respTools+c.extra))
		r := parseResp(t, a)
		if want := 3 + 4 + textTokens(c.input) + toolTokens; r.Usage.InputTokens != want {
			t.Errorf("%s: input tokens %d, want %d", c.name, r.Usage.InputTokens, want)
		}
		if len(r.Tools) != 2 || r.Status != "completed" {
			t.Errorf("%s: %s", c.name, a.body)
		}
		if c.want == nil {
			if len(r.Output) != 1 || r.Output[0].Type != "message" || r.Output[0].Content[0].Text != replyText(refTarget("gpt-4o", c.input)) {
				t.Errorf("%s: %s", c.name, a.body)
			}
			continue
		}
		var names []string
		var output int64
		for _, it := range r.Output {
			names = append(names, it.Name)
			output += textTokens(it.Arguments)
			want := "{}"
			if it.Name == "get_weather" {
				want = weatherArgs
			}
			if it.Type != "function_call" || !fcIDRe.MatchString(it.ID) || !callIDRe.MatchString(it.CallID) || it.Arguments != want || it.Status != "completed" {
				t.Errorf("%s: item %+v", c.name, it)
			}
		}
		if !reflect.DeepEqual(names, c.want) || r.Usage.OutputTokens != output {
			t.Errorf("%s: %s", c.name, a.body)
		}
	}
	// Capped: the call is cut and the response incomplete.
	r := parseResp(t, mustResponses(t, url, "sk-rtools", respBody("gpt-4o", "get_weather", `,"tools":`+respTools+`,"max_output_tokens":16`)))
	if r.Status != "completed" || len(r.Output) != 1 {
		t.Errorf("cap above the arguments: %+v", r)
	}
}

func TestResponsesToolLoop(t *testing.T) {
	url := startEmulator(t)
	const key = "sk-rloop"
	tools := `,"tools":` + respTools
	first := parseResp(t, mustResponses(t, url, key, respBody("gpt-4o", "Check get_weather and get_time.", tools)))
	if len(first.Output) != 2 {
		t.Fatalf("first: %+v", first)
	}
	outputs := fmt.Sprintf(`{"type":"function_call_output","call_id":%q,"output":"sunny"},`+
		`{"type":"function_call_output","call_id":%q,"output":[{"type":"input_text","text":"noon"}]}`, first.Output[0].CallID, first.Output[1].CallID)
	const text = "Tool results: sunny; noon"

	// Continued from the stored response.
	a := mustResponses(t, url, key, `{"model":"gpt-4o","previous_response_id":"`+first.ID+`","input":[`+outputs+`]`+tools+`}`)
	second := parseResp(t, a)
	if len(second.Output) != 1 || second.Output[0].Content[0].Text != text || second.Usage.OutputTokens != textTokens(text) ||
		second.Usage.InputTokens != first.Usage.TotalTokens+(4+2)+(4+1)+3+toolsTokens(rawList(json.RawMessage(respTools))) {
		t.Errorf("chained: %s", a.body)
	}
	// Or with the calls sent back as input items.
	callsJSON, _ := json.Marshal([]map[string]string{
		{"type": "function_call", "call_id": first.Output[0].CallID, "name": first.Output[0].Name, "arguments": first.Output[0].Arguments},
		{"type": "function_call", "id": first.Output[1].ID, "call_id": first.Output[1].CallID, "name": first.Output[1].Name, "arguments": first.Output[1].Arguments},
	})
	items := `{"role":"user","content":"Check get_weather and get_time."},` + strings.Trim(string(callsJSON), "[]") + "," + outputs
	a = mustResponses(t, url, key, `{"model":"gpt-4o","input":[`+items+`]`+tools+`,"tool_choice":"required"}`)
	if r := parseResp(t, a); r.Output[0].Content[0].Text != text {
		t.Errorf("stateless: %s", a.body)
	}

	for _, c := range []struct{ name, body, msg string }{
		{"unknown call", `{"model":"gpt-4o","input":[{"type":"function_call_output","call_id":"call_nope","output":"x"}]` + tools + `}`,
			"No tool call found for function call output with call_id call_nope."},
		{"no output", `{"model":"gpt-4o","previous_response_id":"` + first.ID + `","input":"and now?"` + tools + `}`,
			"No tool output found for function call " + first.Output[0].CallID + "."},
		{"call without output", `{"model":"gpt-4o","input":[` + strings.Trim(string(callsJSON), "[]") + `,{"role":"user","content":"hi"}]` + tools + `}`,
			"No tool output found for function call"},
	} {
		a := mustResponses(t, url, key, c.body)
		if e, _ := a.json(t)["error"].(map[string]any); a.status != 400 || e["param"] != "input" || !strings.Contains(fmt.Sprint(e["message"]), c.msg) {
			t.Errorf("%s: %d %s", c.name, a.status, a.body)
		}
	}
	for _, c := range []struct{ name, extra, param, code string }{
		{"tool name", `,"tools":[{"type":"function","name":"a b","parameters":{},"strict":true}]`, "tools[0].name", "invalid_value"},
		{"tool type", `,"tools":[{"name":"x"}]`, "tools[0].type", "missing_required_parameter"},
		{"unknown tool", tools + `,"tool_choice":{"type":"function","name":"nope"}`, "tool_choice.name", "invalid_value"},
		{"choice", tools + `,"tool_choice":"always"`, "tool_choice", "invalid_value"},
		{"tier", `,"service_tier":"turbo"`, "service_tier", "invalid_value"},
		{"include", `,"include":["everything"]`, "include[0]", "invalid_value"},
		{"top_logprobs", `,"top_logprobs":21`, "top_logprobs", "integer_above_max_value"},
		{"json mode", `,"text":{"format":{"type":"json_object"}}`, "text.format", ""},
	} {
		a := mustResponses(t, url, key, respBody("gpt-4o", "x", c.extra))
		e, _ := a.json(t)["error"].(map[string]any)
		code, _ := e["code"].(string)
		if a.status != 400 || e["param"] != c.param || code != c.code {
			t.Errorf("%s: %d %s", c.name, a.status, a.body)
		}
	}
	if st := getStats(t, url, key); st.BadRequests != 11 {
		t.Errorf("stats: %+v", st)
	}
}

// reassembleResponse rebuilds the output items of a streamed response
// from its events and returns them with the final response.
func reassembleResponse(t *testing.T, body []byte, validate bool) ([]respItem, respReply) {
	t.Helper()
	var items []respItem
	var final respReply
	args := map[string]string{}
	for i, ev := range parseSSE(t, body) {
		m := decode(t, ev.data)
		if validate {
			if r, ok := m["response"]; ok {
				b, _ := json.Marshal(r)
				checkResponseObject(t, b)
			} else {
				checkReply(t, "ResponseStreamEvent", []byte(ev.data))
			}
		}
		if m["type"] != ev.name || m["sequence_number"] != float64(i) {
			t.Errorf("event %d: %s", i, ev.data)
		}
		switch ev.name {
		case "response.output_item.added":
			var it struct{ Item respItem }
			json.Unmarshal([]byte(ev.data), &it)
			if int(m["output_index"].(float64)) != len(items) || it.Item.Type == "function_call" && (it.Item.Arguments != "" || it.Item.Status != "in_progress") {
				t.Errorf("added: %s", ev.data)
			}
			items = append(items, it.Item)
		case "response.function_call_arguments.delta":
			d := m["delta"].(string)
			if len(d) > 8 || m["item_id"] != items[int(m["output_index"].(float64))].ID {
				t.Errorf("delta: %s", ev.data)
			}
			args[m["item_id"].(string)] += d
		case "response.function_call_arguments.done":
			id := m["item_id"].(string)
			if m["arguments"] != args[id] || m["name"] != items[int(m["output_index"].(float64))].Name {
				t.Errorf("arguments done: %s, deltas %q", ev.data, args[id])
			}
		case "response.output_item.done":
			var it struct{ Item respItem }
			json.Unmarshal([]byte(ev.data), &it)
			items[int(m["output_index"].(float64))] = it.Item
			if it.Item.Type == "function_call" && it.Item.Arguments != args[it.Item.ID] {
				t.Errorf("item done: %s", ev.data)
			}
		case "response.completed", "response.incomplete":
			var r struct{ Response respReply }
			json.Unmarshal([]byte(ev.data), &r)
			final = r.Response
		}
	}
	return items, final
}

func TestResponsesToolStream(t *testing.T) {
	url := startEmulator(t)
	body := respBody("gpt-4o", "get_weather and get_time", `,"tools":`+respTools)
	plain := parseResp(t, mustResponses(t, url, "sk-rstream", body))
	a := mustStream(t, url, "/v1/responses", bearer("sk-rstream"), strings.TrimSuffix(body, "}")+`,"stream":true}`)
	items, final := reassembleResponse(t, a.body, false)
	if !reflect.DeepEqual(items, plain.Output) || !reflect.DeepEqual(final.Output, plain.Output) || final.Usage != plain.Usage {
		t.Errorf("streamed %+v\nfinal %+v\nwant %+v", items, final, plain)
	}
	// The streamed calls were stored: their outputs continue the chain.
	outputs := fmt.Sprintf(`[{"type":"function_call_output","call_id":%q,"output":"a"},{"type":"function_call_output","call_id":%q,"output":"b"}]`,
		final.Output[0].CallID, final.Output[1].CallID)
	r := parseResp(t, mustResponses(t, url, "sk-rstream", `{"model":"gpt-4o","previous_response_id":"`+final.ID+`","input":`+outputs+`}`))
	if r.Output[0].Content[0].Text != "Tool results: a; b" {
		t.Errorf("chained after a stream: %+v", r)
	}
}

func TestResponsesLogprobsTierJSON(t *testing.T) {
	url := startEmulator(t, "--flex-unavailable")
	const input = "Hello there"
	text := replyText(refTarget("gpt-4o", input))
	a := mustResponses(t, url, "sk-rlp", respBody("gpt-4o", input, `,"include":["message.output_text.logprobs"],"top_logprobs":2,"service_tier":"priority"`))
	r := parseResp(t, a)
	part := r.Output[0].Content[0]
	checkLogprobs(t, text, part.Logprobs, 2)
	if r.ServiceTier != "priority" {
		t.Errorf("tier: %s", a.body)
	}
	// Without include there are none.
	if r := parseResp(t, mustResponses(t, url, "sk-rlp", respBody("gpt-4o", input, `,"top_logprobs":2`))); len(r.Output[0].Content[0].Logprobs) != 0 ||
		r.ServiceTier != "default" {
		t.Errorf("no include: %+v", r)
	}
	// Streamed, each delta carries the logprobs of its tokens.
	s := mustStream(t, url, "/v1/responses", bearer("sk-rlp"), respBody("gpt-4o", input, `,"include":["message.output_text.logprobs"],"top_logprobs":2,"stream":true`))
	var streamed []logprobEntry
	for _, ev := range parseSSE(t, s.body) {
		if ev.name == "response.output_text.delta" {
			var d struct{ Logprobs []logprobEntry }
			json.Unmarshal([]byte(ev.data), &d)
			streamed = append(streamed, d.Logprobs...)
		}
	}
	if !reflect.DeepEqual(streamed, part.Logprobs) {
		t.Errorf("streamed logprobs differ")
	}

	// JSON mode needs the word in the input messages.
	a = mustResponses(t, url, "sk-rlp", respBody("gpt-4o", "Who? Reply in json.", `,"text":{"format":{"type":"json_object"}}`))
	var doc struct{ Answer string }
	if err := json.Unmarshal([]byte(parseResp(t, a).Output[0].Content[0].Text), &doc); err != nil || doc.Answer != replyText(refTarget("gpt-4o", "Who? Reply in json.")) {
		t.Errorf("json mode: %v %s", err, a.body)
	}
	a = mustResponses(t, url, "sk-rlp", `{"model":"gpt-4o","instructions":"Answer in JSON.","input":"Who?","text":{"format":{"type":"json_object"}}}`)
	if e, _ := a.json(t)["error"].(map[string]any); a.status != 400 || e["param"] != "text.format" ||
		e["message"] != "Response input messages must contain the word 'json' in some form to use 'text.format' of type 'json_object'." {
		t.Errorf("json only in the instructions: %d %s", a.status, a.body)
	}

	a = mustResponses(t, url, "sk-rlp", respBody("gpt-4o", input, `,"service_tier":"flex"`))
	if e, _ := a.json(t)["error"].(map[string]any); a.status != 429 || e["code"] != "resource_unavailable" || a.header.Get("Retry-After") != "1" {
		t.Errorf("flex: %d %s", a.status, a.body)
	}
	if a := mustResponses(t, url, "sk-rlp", respBody("gpt-4o", input, `,"prompt_cache_key":"k","safety_identifier":"s","service_tier":"auto"`)); a.status != 200 {
		t.Errorf("options: %s", a.body)
	}
}

// checkResponseObject validates the parts of a response object that
// carry tools and their calls: the output items, the tools and the tool
// choice. (The document's Response schema also wants fields, such as
// usage.input_tokens_details.cache_write_tokens, that the emulator's
// answers have never carried.)
func checkResponseObject(t *testing.T, doc []byte) {
	t.Helper()
	var r struct {
		Output     []json.RawMessage `json:"output"`
		Tools      []json.RawMessage `json:"tools"`
		ToolChoice json.RawMessage   `json:"tool_choice"`
	}
	if err := json.Unmarshal(doc, &r); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	for _, item := range r.Output {
		checkReply(t, "OutputItem", item)
	}
	for _, tool := range r.Tools {
		checkReply(t, "Tool", tool)
	}
	checkReply(t, "ToolChoiceParam", r.ToolChoice)
}

func TestResponsesToolsSpec(t *testing.T) {
	url := startEmulator(t, "--validate-spec", specFile(t))
	const key = "sk-rspec"
	tools := `,"tools":` + respTools
	first := mustResponses(t, url, key, respBody("gpt-4o", "Use get_weather and get_time.", tools+`,"tool_choice":"auto","parallel_tool_calls":true`))
	checkResponseObject(t, first.body)
	r := parseResp(t, first)
	outputs := fmt.Sprintf(`{"type":"function_call_output","call_id":%q,"output":"sunny"},{"type":"function_call_output","call_id":%q,"output":"noon"}`,
		r.Output[0].CallID, r.Output[1].CallID)
	calls := fmt.Sprintf(`{"type":"function_call","id":%q,"call_id":%q,"name":%q,"arguments":%q,"status":"completed"}`,
		r.Output[0].ID, r.Output[0].CallID, r.Output[0].Name, r.Output[0].Arguments) +
		fmt.Sprintf(`,{"type":"function_call","call_id":%q,"name":%q,"arguments":%q}`, r.Output[1].CallID, r.Output[1].Name, r.Output[1].Arguments)
	bodies := []string{
		`{"model":"gpt-4o","previous_response_id":"` + r.ID + `","input":[` + outputs + `]` + tools + `}`,
		`{"model":"gpt-4o","input":[{"role":"user","content":"Use get_weather and get_time."},` + calls + `,` + outputs + `]` + tools +
			`,"tool_choice":{"type":"function","name":"get_time"},"service_tier":"priority","include":["message.output_text.logprobs"],"top_logprobs":3}`,
		respBody("gpt-4o", "get_time, in json", tools+`,"tool_choice":"required","service_tier":"default","text":{"format":{"type":"json_object"}}`),
		respBody("gpt-4o", "Hello there", `,"include":["message.output_text.logprobs"],"top_logprobs":1,"max_output_tokens":16,"prompt_cache_key":"k"`),
	}
	for _, b := range bodies {
		a := mustResponses(t, url, key, b)
		if a.status != 200 {
			t.Errorf("valid body refused: %s\n%s", b, a.body)
			continue
		}
		checkResponseObject(t, a.body)
		s := mustStream(t, url, "/v1/responses", bearer(key), strings.TrimSuffix(b, "}")+`,"stream":true}`)
		reassembleResponse(t, s.body, true)
	}
	if st := getStats(t, url, key); st.SpecViolations != 0 {
		t.Errorf("stats: %+v", st)
	}
}
