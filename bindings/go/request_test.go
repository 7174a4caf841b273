package llmsvc_test

import (
	"encoding/json"
	"reflect"
	"testing"

	llmsvc "llmsvc/bindings/go"
)

func TestRequestDocument(t *testing.T) {
	req := llmsvc.Request{
		Model: "gpt-4o",
		Messages: []llmsvc.Message{
			llmsvc.SystemMessage("Be brief."),
			{Role: llmsvc.RoleUser, Name: "ann", Parts: []llmsvc.ContentPart{
				llmsvc.TextPart("What is this?"),
				llmsvc.ImagePart("data:image/png;base64,AAAA", "low"),
			}},
			llmsvc.AssistantMessage(""),
		},
		Temperature: llmsvc.Ptr(0.0),
		Stop:        []string{"\n"},
		Priority:    llmsvc.PriorityHigh,
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"gpt-4o","messages":[` +
		`{"role":"system","content":"Be brief."},` +
		`{"role":"user","content":[{"type":"text","text":"What is this?"},` +
		`{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}],"name":"ann"},` +
		`{"role":"assistant","content":""}],` +
		`"temperature":0,"stop":["\n"],"priority":"high"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back llmsvc.Request
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, req) {
		t.Errorf("round trip: %+v", back)
	}
	var m llmsvc.Message
	if err := json.Unmarshal([]byte(`{"role":"assistant","content":null}`), &m); err != nil ||
		m.Content != "" || m.Parts != nil {
		t.Errorf("null content: %+v, %v", m, err)
	}
	if err := json.Unmarshal([]byte(`{"role":"user","content":7}`), &m); err == nil {
		t.Error("a numeric content was accepted")
	}
}

func TestConfigDocument(t *testing.T) {
	b, err := json.Marshal(llmsvc.Config{})
	if err != nil || string(b) != "{}" {
		t.Errorf("empty config: %s, %v", b, err)
	}
	b, err = json.Marshal(llmsvc.Config{
		Limits: &llmsvc.Limits{RPM: 500},
		Retry:  &llmsvc.Retry{BaseDelayMS: llmsvc.Ptr[int64](0), Jitter: llmsvc.Ptr(0.0)},
		HTTP:   &llmsvc.HTTPOptions{HTTP2: llmsvc.Ptr(false)},
		Prices: map[string]llmsvc.Price{"m": {InputCostPerToken: 1e-7}},
	})
	want := `{"limits":{"rpm":500,"tpm":0,"itpm":0,"otpm":0,"concurrency":0},"retry":{"base_delay_ms":0,"jitter":0},` +
		`"http":{"http2":false},"prices":{"m":{"input_cost_per_token":1e-7,"output_cost_per_token":0}}}`
	if err != nil || string(b) != want {
		t.Errorf("got  %s\nwant %s (%v)", b, want, err)
	}
	b, err = json.Marshal(llmsvc.Config{
		Deployments: []llmsvc.Deployment{
			{Name: "a", Model: "gpt-4o", APIKeyEnv: "KEY_A", Weight: llmsvc.Ptr[int64](0)},
			{Name: "b", Group: "gpt-4o", Provider: "anthropic", Model: "claude-3-5-haiku-latest",
				Limits: &llmsvc.Limits{RPM: 50}},
		},
		Routing: &llmsvc.Routing{Strategy: "weighted", Fallbacks: map[string][]string{"*": {"b"}}},
	})
	want = `{"deployments":[{"name":"a","weight":0,"model":"gpt-4o","api_key_env":"KEY_A"},` +
		`{"name":"b","group":"gpt-4o","provider":"anthropic","model":"claude-3-5-haiku-latest",` +
		`"limits":{"rpm":50,"tpm":0,"itpm":0,"otpm":0,"concurrency":0}}],` +
		`"routing":{"strategy":"weighted","fallbacks":{"*":["b"]}}}`
	if err != nil || string(b) != want {
		t.Errorf("got  %s\nwant %s (%v)", b, want, err)
	}
	b, err = json.Marshal(llmsvc.Limits{RPM: 60, RPD: 1000, TPD: 90000})
	want = `{"rpm":60,"tpm":0,"itpm":0,"otpm":0,"concurrency":0,"rpd":1000,"tpd":90000}`
	if err != nil || string(b) != want {
		t.Errorf("got  %s\nwant %s (%v)", b, want, err)
	}
	b, err = json.Marshal(llmsvc.DeploymentUpdate{Name: "a", Enabled: llmsvc.Ptr(false)})
	if want := `{"name":"a","enabled":false}`; err != nil || string(b) != want {
		t.Errorf("got  %s\nwant %s (%v)", b, want, err)
	}
}

func TestToolRequestDocument(t *testing.T) {
	req := llmsvc.Request{
		Tools: []llmsvc.Tool{
			{Name: "get_weather", Description: "Weather", Strict: true,
				Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)},
			{Name: "ping", CacheControl: &llmsvc.CacheControl{Type: "ephemeral"}},
		},
		ToolChoice:        &llmsvc.ToolChoice{Function: "get_weather"},
		ParallelToolCalls: llmsvc.Ptr(false),
		Messages: []llmsvc.Message{
			{Role: llmsvc.RoleSystem, Parts: []llmsvc.ContentPart{{Type: "text", Text: "Rules.",
				CacheControl: &llmsvc.CacheControl{Type: "ephemeral", TTL: "1h"}}}},
			llmsvc.UserMessage("Weather in Paris?"),
			{Role: llmsvc.RoleAssistant, ToolCalls: []llmsvc.ToolCall{
				{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}}},
			llmsvc.ToolMessage("call_1", "18 C"),
			{Role: llmsvc.RoleAssistant, Parts: []llmsvc.ContentPart{llmsvc.ThinkingPart("hmm", "sig")},
				ToolCalls: []llmsvc.ToolCall{{ID: "call_2", Name: "ping", Arguments: "{}"}}},
			llmsvc.ToolMessage("call_2", "pong"),
		},
		FrequencyPenalty: llmsvc.Ptr(0.0),
		PresencePenalty:  llmsvc.Ptr(0.5),
		LogitBias:        map[int]float64{50256: -100},
		N:                2,
		Logprobs:         true,
		TopLogprobs:      3,
		ResponseFormat:   &llmsvc.ResponseFormat{Type: "json_object"},
		ServiceTier:      "flex",
		TopK:             40,
		StopSequences:    []string{"END"},
		Thinking:         &llmsvc.Thinking{Type: "enabled", BudgetTokens: 2048},
		PromptCacheKey:   "pk",
		ExtraBody:        map[string]any{"store": true},
		ExtraHeaders:     map[string]string{"x-tag": "t"},
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"messages":[` +
		`{"role":"system","content":[{"type":"text","text":"Rules.","cache_control":{"type":"ephemeral","ttl":"1h"}}]},` +
		`{"role":"user","content":"Weather in Paris?"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",` +
		`"function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
		`{"role":"tool","content":"18 C","tool_call_id":"call_1"},` +
		`{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"}],` +
		`"tool_calls":[{"id":"call_2","type":"function","function":{"name":"ping","arguments":"{}"}}]},` +
		`{"role":"tool","content":"pong","tool_call_id":"call_2"}],` +
		`"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",` +
		`"parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true}},` +
		`{"type":"function","function":{"name":"ping"},"cache_control":{"type":"ephemeral"}}],` +
		`"tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false,` +
		`"frequency_penalty":0,"presence_penalty":0.5,"logit_bias":{"50256":-100},"n":2,"logprobs":true,` +
		`"top_logprobs":3,"response_format":{"type":"json_object"},"service_tier":"flex","top_k":40,` +
		`"stop_sequences":["END"],"thinking":{"type":"enabled","budget_tokens":2048},"prompt_cache_key":"pk",` +
		`"extra_body":{"store":true},"extra_headers":{"x-tag":"t"}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back llmsvc.Request
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, req) {
		t.Errorf("round trip:\n%+v\n%+v", back, req)
	}

	for _, tc := range []struct {
		choice llmsvc.ToolChoice
		doc    string
	}{
		{llmsvc.ToolChoice{Mode: llmsvc.ToolChoiceRequired}, `"required"`},
		{llmsvc.ToolChoice{Mode: llmsvc.ToolChoiceNone}, `"none"`},
		{llmsvc.ToolChoice{Function: "f"}, `{"type":"function","function":{"name":"f"}}`},
	} {
		b, err := json.Marshal(tc.choice)
		var back llmsvc.ToolChoice
		if err != nil || string(b) != tc.doc || json.Unmarshal(b, &back) != nil || back != tc.choice {
			t.Errorf("%+v: %s (%v), back %+v", tc.choice, b, err, back)
		}
	}
	var flat llmsvc.ToolChoice
	if err := json.Unmarshal([]byte(`{"type":"function","name":"g"}`), &flat); err != nil || flat.Function != "g" {
		t.Errorf("flat tool choice: %+v, %v", flat, err)
	}
}

// Response.Message carries a reply back into the conversation: text, calls, and signed
// thinking before the text.
func TestResponseMessage(t *testing.T) {
	calls := []llmsvc.ToolCall{{ID: "c1", Name: "f", Arguments: "{}", ArgumentsJSON: json.RawMessage("{}")}}
	m := (&llmsvc.Response{ToolCalls: calls}).Message()
	b, _ := json.Marshal(m)
	if want := `{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",` +
		`"function":{"name":"f","arguments":"{}"}}]}`; string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	m = (&llmsvc.Response{Text: "Let me look.", Thinking: "t", ThinkingSignature: "s", ToolCalls: calls}).Message()
	b, _ = json.Marshal(m)
	if want := `{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},` +
		`{"type":"text","text":"Let me look."}],"tool_calls":[{"id":"c1","type":"function",` +
		`"function":{"name":"f","arguments":"{}"}}]}`; string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	m = (&llmsvc.Response{Text: "Done."}).Message()
	if m.Role != llmsvc.RoleAssistant || m.Content != "Done." || m.Parts != nil || m.ToolCalls != nil {
		t.Errorf("text reply: %+v", m)
	}
}
