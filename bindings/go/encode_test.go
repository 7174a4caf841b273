package llmsvc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The request document the core receives is the Request's own JSON encoding.
func TestEncodeRequestMatchesMarshal(t *testing.T) {
	reqs := []Request{
		{},
		{Prompt: "<b>&</b>", Metadata: map[string]any{"k": []int{1, 2}}},
		{Messages: []Message{SystemMessage("You classify."), UserMessage("Sharp.")}, MaxOutputTokens: 64,
			Operation: "classify", Metadata: map[string]any{"row": "17"}},
		{Messages: []Message{{Role: RoleUser, Parts: []ContentPart{TextPart("a"), ImagePart("https://x/y.png", "auto")}}}},
		{
			Tools: []Tool{{Name: "f", Parameters: map[string]any{"type": "object"}, Strict: true}},
			Messages: []Message{UserMessage("f?"), {Role: RoleAssistant, ToolCalls: []ToolCall{{ID: "c", Name: "f",
				Arguments: "{}"}}}, ToolMessage("c", "<ok>")},
			ToolChoice: &ToolChoice{Mode: ToolChoiceAuto},
		},
	}
	for _, req := range reqs {
		want, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		buf, err := encodeRequest(&req)
		if err != nil {
			t.Fatal(err)
		}
		got := buf.Bytes()
		if got[len(got)-1] != 0 {
			t.Fatal("the document is not NUL-terminated")
		}
		// Equal once both are re-encoded the same way (HTML escaping differs).
		if !bytes.Equal(normalize(t, got[:len(got)-1]), normalize(t, want)) {
			t.Errorf("encodeRequest %s\njson.Marshal  %s", got[:len(got)-1], want)
		}
		releaseDocument(buf)
	}
}

func normalize(t *testing.T, doc []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// What only a result document has is read from its members, the others skipped unparsed.
func TestReadMembers(t *testing.T) {
	doc := []byte(`{"id":3,"ok":true,"model":"m\\\"}{[","metadata":{"a":[1,{"b":"]}\\\""}],"c":null},` +
		`"text":"","finish_reason":"tool_calls",` +
		`"tool_calls":[{"id":"c1","name":"get_weather","arguments":"{\"city\":\"Paris\"}","arguments_json":{"city":"Paris"}},` +
		`{"id":"c2","name":"nope","arguments":"{oops","arguments_error":"arguments: bad JSON","unknown_tool":true}],` +
		`"choices":[{"index":0,"text":"","finish_reason":"tool_calls","tool_calls":[{"id":"c1","name":"get_weather","arguments":"{}"}],` +
		`"logprobs":[{"token":"a","logprob":-0.1}]},{"index":1,"text":"b"}],` +
		`"logprobs":[{"token":"a","logprob":-0.1}],"service_tier":"flex","thinking":"t","thinking_signature":"s",` +
		`"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6,"cached_tokens":0,` +
		`"cache_write_tokens":4,"cache_write_1h_tokens":4,"reasoning_tokens":0},` +
		`"usage_unreadable":true,"cost_nano_usd":null,"attempts":[],"timing":{},"error":{"provider_param":"p"}}`)
	var r Response
	var e errorDoc
	r.Usage = &Usage{}
	err := readMembers(doc, []member{{"tool_calls", &r.ToolCalls}, {"choices", &r.Choices},
		{"logprobs", &r.Logprobs}, {"thinking_signature", &r.ThinkingSignature}, {"usage", r.Usage},
		{"metadata", &r.Metadata}, {"error", &e}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ToolCalls) != 2 || r.ThinkingSignature != "s" || r.Usage.CacheWrite1hTokens != 4 ||
		r.Usage.TotalTokens != 6 || e.ProviderParam != "p" || r.Metadata["c"] != nil || len(r.Metadata) != 2 {
		t.Fatalf("%+v, %+v", r, e)
	}
	c1, c2 := r.ToolCalls[0], r.ToolCalls[1]
	var args struct{ City string }
	if c1.ID != "c1" || c1.Name != "get_weather" || string(c1.ArgumentsJSON) != `{"city":"Paris"}` ||
		c1.DecodeArguments(&args) != nil || args.City != "Paris" || c1.UnknownTool || c1.ArgumentsError != "" {
		t.Errorf("call 1 %+v", c1)
	}
	if !c2.UnknownTool || c2.ArgumentsError == "" || c2.ArgumentsJSON != nil || c2.DecodeArguments(&args) == nil {
		t.Errorf("call 2 %+v", c2)
	}
	if len(r.Choices) != 2 || r.Choices[1].Index != 1 || r.Choices[1].Text != "b" ||
		len(r.Choices[0].ToolCalls) != 1 || len(r.Choices[0].Logprobs) == 0 || len(r.Logprobs) == 0 {
		t.Errorf("choices %+v, logprobs %s", r.Choices, r.Logprobs)
	}
	// Nothing asked, nothing read; a document cut short reads what is whole.
	if err := readMembers(doc, nil); err != nil {
		t.Error(err)
	}
	var id int
	if err := readMembers(doc[:60], []member{{"id", &id}, {"metadata", &r.Metadata}}); id != 3 || err == nil {
		t.Errorf("cut short: id %d, %v", id, err)
	}
	if eventType([]byte(`{"type":"retry_scheduled","request_id":1}`)) != EventRetryScheduled {
		t.Error("event type")
	}
}
