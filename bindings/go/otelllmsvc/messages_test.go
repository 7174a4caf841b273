package otelllmsvc

import (
	"testing"

	llmsvc "llmsvc/bindings/go"
)

// TestMessagesShape: the conversation and the reply in the conventions' parts shape.
func TestMessagesShape(t *testing.T) {
	req := &llmsvc.Request{Instructions: "Be brief.", Messages: []llmsvc.Message{
		llmsvc.UserMessage("Weather in <Paris>?"),
		{Role: llmsvc.RoleUser, Parts: []llmsvc.ContentPart{llmsvc.TextPart("And this?"),
			llmsvc.ImagePart("https://example.com/a.png", "low"), llmsvc.ImageDataPart("image/png", "AAAA", "")}},
		{Role: llmsvc.RoleAssistant, ToolCalls: []llmsvc.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}}},
		llmsvc.ToolMessage("call_1", "sunny"),
	}}
	got, ok := inputMessages(req)
	want := `[{"role":"system","parts":[{"type":"text","content":"Be brief."}]},` +
		`{"role":"user","parts":[{"type":"text","content":"Weather in <Paris>?"}]},` +
		`{"role":"user","parts":[{"type":"text","content":"And this?"},{"type":"uri","modality":"image","uri":"https://example.com/a.png"},` +
		`{"type":"blob","modality":"image","mime_type":"image/png","content":"AAAA"}]},` +
		`{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}]},` +
		`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":"sunny"}]}]`
	if !ok || got != want {
		t.Errorf("input messages\n%s\nexpected\n%s", got, want)
	}

	resp := &llmsvc.Response{OK: true, Text: "Let me look.", FinishReason: "tool_calls", Thinking: "hmm",
		ToolCalls: []llmsvc.ToolCall{{ID: "call_2", Name: "get_weather", Arguments: `not json`}}}
	got, ok = outputMessages(resp)
	want = `[{"role":"assistant","parts":[{"type":"reasoning","content":"hmm"},{"type":"text","content":"Let me look."},` +
		`{"type":"tool_call","id":"call_2","name":"get_weather","arguments":"not json"}],"finish_reason":"tool_calls"}]`
	if !ok || got != want {
		t.Errorf("output messages\n%s\nexpected\n%s", got, want)
	}

	resp = &llmsvc.Response{OK: true, Text: "a", FinishReason: "stop",
		Choices: []llmsvc.Choice{{Text: "a", FinishReason: "stop"}, {Index: 1, Text: "b", FinishReason: "length"}}}
	got, _ = outputMessages(resp)
	want = `[{"role":"assistant","parts":[{"type":"text","content":"a"}],"finish_reason":"stop"},` +
		`{"role":"assistant","parts":[{"type":"text","content":"b"}],"finish_reason":"length"}]`
	if got != want {
		t.Errorf("choices\n%s\nexpected\n%s", got, want)
	}
	if r := finishReasons(resp); len(r) != 2 || r[1] != "length" {
		t.Errorf("finish reasons %v", r)
	}
}
