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
	b, err = json.Marshal(llmsvc.DeploymentUpdate{Name: "a", Enabled: llmsvc.Ptr(false)})
	if want := `{"name":"a","enabled":false}`; err != nil || string(b) != want {
		t.Errorf("got  %s\nwant %s (%v)", b, want, err)
	}
}
