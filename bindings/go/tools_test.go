package llmsvc_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	llmsvc "llmsvc/bindings/go"
)

// providers are the four wire formats, each with a model of its own and the emulator's
// base URL for it (Ollama's chat API is not under /v1).
func providers(emu *emulator) []struct{ provider, baseURL, model string } {
	return []struct{ provider, baseURL, model string }{
		{"openai_chat", emu.BaseURL, "gpt-4o-mini"},
		{"openai_responses", emu.BaseURL, "gpt-4o-mini"},
		{"anthropic", emu.BaseURL, "claude-haiku-4-5"},
		{"ollama", emu.root, "llama3.2"},
	}
}

var weatherTools = []llmsvc.Tool{
	{
		Name:        "get_weather",
		Description: "The weather in a city",
		Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},` +
			`"required":["city"],"additionalProperties":false}`),
	},
	{
		Name: "get_time",
		Parameters: map[string]any{"type": "object",
			"properties": map[string]any{"zone": map[string]any{"type": "string"}},
			"required":   []string{"zone"}},
	},
}

// A tool round trip on every provider: the call comes back typed, its result goes back as
// a tool message after the reply's own assistant message, and the model answers.
func TestToolRoundTrip(t *testing.T) {
	emu := startEmulator(t)
	ctx := testContext(t)
	for _, p := range providers(emu) {
		t.Run(p.provider, func(t *testing.T) {
			c, err := llmsvc.NewClient(llmsvc.Config{Provider: p.provider, BaseURL: p.baseURL,
				APIKey: "k-tools-" + p.provider, Model: p.model})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			msgs := []llmsvc.Message{llmsvc.UserMessage("What is the weather in Paris? Use get_weather.")}
			first, err := c.Generate(ctx, llmsvc.Request{Tools: weatherTools, Messages: msgs})
			if err != nil {
				t.Fatal(err)
			}
			sameAsDocument(t, first, err)
			if first.FinishReason != "tool_calls" || len(first.ToolCalls) != 1 {
				t.Fatalf("finish_reason %q, tool calls %+v\n%s", first.FinishReason, first.ToolCalls, first.Raw)
			}
			call := first.ToolCalls[0]
			var args map[string]string
			if err := call.DecodeArguments(&args); err != nil || len(args) != 1 || call.ID == "" ||
				call.Name != "get_weather" || call.ArgumentsError != "" || call.UnknownTool {
				t.Fatalf("call %+v, arguments %+v (%v)", call, args, err)
			}
			if !json.Valid([]byte(call.Arguments)) || len(call.ArgumentsJSON) == 0 {
				t.Errorf("arguments %q, arguments_json %s", call.Arguments, call.ArgumentsJSON)
			}

			msgs = append(msgs, first.Message(), llmsvc.ToolMessage(call.ID, "18 C and clear"))
			second, err := c.Generate(ctx, llmsvc.Request{Tools: weatherTools, Messages: msgs})
			if err != nil {
				t.Fatal(err)
			}
			if second.Text != "Tool results: 18 C and clear" || len(second.ToolCalls) != 0 ||
				second.FinishReason == "tool_calls" {
				t.Errorf("second round: %q, %q, %+v", second.Text, second.FinishReason, second.ToolCalls)
			}
		})
	}
}

// tool_choice, parallel_tool_calls and both tool calls of one reply.
func TestToolChoice(t *testing.T) {
	emu := startEmulator(t)
	ctx := testContext(t)
	c := emu.client(t, "k-tool-choice", llmsvc.Config{})
	resp, err := c.Generate(ctx, llmsvc.Request{Tools: weatherTools, Prompt: "Anything new?",
		ToolChoice: &llmsvc.ToolChoice{Function: "get_time"}, ParallelToolCalls: llmsvc.Ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Name != "get_time" {
		t.Errorf("named tool: %+v", resp.ToolCalls)
	}
	resp, err = c.Generate(ctx, llmsvc.Request{Tools: weatherTools, Prompt: "Anything new?",
		ToolChoice: &llmsvc.ToolChoice{Mode: llmsvc.ToolChoiceRequired}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Name != "get_weather" {
		t.Errorf("required: %+v", resp.ToolCalls)
	}
	resp, err = c.Generate(ctx, llmsvc.Request{Tools: weatherTools, Prompt: "Use get_weather and get_time for Paris."})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ToolCalls) != 2 || resp.ToolCalls[0].Name != "get_weather" || resp.ToolCalls[1].Name != "get_time" {
		t.Errorf("two calls: %+v", resp.ToolCalls)
	}
	resp, err = c.Generate(ctx, llmsvc.Request{Tools: weatherTools, Prompt: "Use get_weather for Paris.",
		ToolChoice: &llmsvc.ToolChoice{Mode: llmsvc.ToolChoiceNone}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ToolCalls) != 0 || resp.Text == "" {
		t.Errorf("none: %q, %+v", resp.Text, resp.ToolCalls)
	}
}

// collectPieces iterates a piece stream to its end: its text, the calls assembled from
// their pieces, and how many argument pieces came.
func collectPieces(t *testing.T, s *llmsvc.PieceStream) (string, []llmsvc.ToolCall, int) {
	t.Helper()
	var text strings.Builder
	var calls []llmsvc.ToolCall
	argPieces := 0
	for p, err := range s.Pieces() {
		if err != nil {
			t.Fatal(err)
		}
		switch p.Kind {
		case llmsvc.PieceText:
			text.WriteString(p.Text)
		case llmsvc.PieceToolCall:
			if p.Index != len(calls) || p.Text != "" {
				t.Fatalf("call %d begins as piece %+v", len(calls), p)
			}
			calls = append(calls, llmsvc.ToolCall{ID: p.CallID, Name: p.Name})
		case llmsvc.PieceToolArguments:
			if p.Index >= len(calls) || p.CallID != "" || p.Name != "" {
				t.Fatalf("arguments piece %+v with %d calls begun", p, len(calls))
			}
			calls[p.Index].Arguments += p.Text
			argPieces++
		default:
			t.Fatalf("piece of kind %v", p.Kind)
		}
	}
	return text.String(), calls, argPieces
}

// Streamed tool calls arrive as typed pieces that assemble into the completion's calls,
// on every provider; the text-only Stream still delivers text only.
func TestStreamPiecesAssembleToolCalls(t *testing.T) {
	emu := startEmulator(t)
	ctx := testContext(t)
	for _, p := range providers(emu) {
		t.Run(p.provider, func(t *testing.T) {
			c, err := llmsvc.NewClient(llmsvc.Config{Provider: p.provider, BaseURL: p.baseURL,
				APIKey: "k-pieces-" + p.provider, Model: p.model})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := llmsvc.Request{Tools: weatherTools, Prompt: "Use get_weather and get_time for Oslo."}
			s, err := c.StreamPieces(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			text, calls, argPieces := collectPieces(t, s)
			resp, err := s.Response()
			if err != nil {
				t.Fatal(err)
			}
			if resp.ID != s.ID() || resp.FinishReason != "tool_calls" || text != resp.Text {
				t.Errorf("id %d/%d, finish_reason %q, text %q/%q", resp.ID, s.ID(), resp.FinishReason, text, resp.Text)
			}
			if len(calls) != 2 || len(resp.ToolCalls) != len(calls) {
				t.Fatalf("pieces %+v, completion %+v", calls, resp.ToolCalls)
			}
			for i, call := range calls {
				want := resp.ToolCalls[i]
				if call.ID != want.ID || call.Name != want.Name || call.Arguments != want.Arguments {
					t.Errorf("call %d: pieces %+v, completion %+v", i, call, want)
				}
			}
			if p.provider != "ollama" && argPieces <= len(calls) { // Ollama sends each call whole
				t.Errorf("%d argument pieces for %d calls: the arguments were not streamed", argPieces, len(calls))
			}

			// The text-only stream of the same request: no piece of the calls, the calls
			// in the completion.
			old, err := c.Stream(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			deltas, err := collect(old)
			if err != nil {
				t.Fatal(err)
			}
			oldResp, _ := old.Response()
			if strings.Join(deltas, "") != oldResp.Text || len(oldResp.ToolCalls) != 2 {
				t.Errorf("text stream: %q, completion %q with %+v", deltas, oldResp.Text, oldResp.ToolCalls)
			}
		})
	}
}

// A text reply streams as text pieces, joining to Generate's text; break cancels; a
// refused request leaves no handle behind.
func TestStreamPiecesText(t *testing.T) {
	emu := startEmulator(t)
	ctx := testContext(t)
	c := emu.client(t, "k-pieces-text", llmsvc.Config{})
	req := llmsvc.Request{Prompt: "Tell me about pieces.", MaxOutputTokens: 64}
	want, err := c.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.StreamPieces(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	text, calls, _ := collectPieces(t, s)
	if text != want.Text || len(calls) != 0 {
		t.Errorf("streamed %q and %+v, generated %q", text, calls, want.Text)
	}
	for _, err := range s.Pieces() {
		if err == nil {
			t.Error("a second iteration yielded a piece")
		}
	}

	slow := startEmulator(t, "--stream-delay-ms", "200")
	sc := slow.client(t, "k-pieces-break", llmsvc.Config{})
	s, err = sc.StreamPieces(ctx, llmsvc.Request{Prompt: "Take your time."})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range s.Pieces() {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if _, err := s.Response(); !errors.Is(err, llmsvc.ErrCancelled) {
		t.Errorf("after break: %v", err)
	}

	bad := llmsvc.Request{Tools: weatherTools, ToolChoice: &llmsvc.ToolChoice{Function: "get_news"}, Prompt: "x"}
	if _, err := c.StreamPieces(ctx, bad); !errors.Is(err, llmsvc.StatusSchema) {
		t.Errorf("bad tool choice: %v", err)
	}
	if h := llmsvc.LiveHandles(); h != 0 {
		t.Errorf("%d live handles", h)
	}
}

func TestChoicesLogprobsServiceTier(t *testing.T) {
	emu := startEmulator(t)
	ctx := testContext(t)
	c := emu.client(t, "k-choices", llmsvc.Config{})
	resp, err := c.Generate(ctx, llmsvc.Request{Prompt: "say hi", N: 3, Logprobs: true, TopLogprobs: 2,
		ServiceTier: "flex", FrequencyPenalty: llmsvc.Ptr(0.1), PresencePenalty: llmsvc.Ptr(0.0),
		LogitBias: map[int]float64{50256: -100}})
	if err != nil {
		t.Fatal(err)
	}
	sameAsDocument(t, resp, err)
	if len(resp.Choices) != 3 {
		t.Fatalf("%d choices\n%s", len(resp.Choices), resp.Raw)
	}
	for i, ch := range resp.Choices {
		if ch.Index != i || ch.Text == "" || ch.FinishReason == "" {
			t.Errorf("choice %d: %+v", i, ch)
		}
	}
	if resp.Choices[0].Text != resp.Text || resp.Choices[1].Text == resp.Choices[0].Text {
		t.Errorf("choices %+v, text %q", resp.Choices, resp.Text)
	}
	var logprobs []struct {
		Token       string  `json:"token"`
		Logprob     float64 `json:"logprob"`
		TopLogprobs []any   `json:"top_logprobs"`
	}
	if err := json.Unmarshal(resp.Logprobs, &logprobs); err != nil || len(logprobs) == 0 ||
		len(logprobs[0].TopLogprobs) != 2 {
		t.Errorf("logprobs %s (%v)", resp.Logprobs, err)
	}
	if resp.ServiceTier != "flex" {
		t.Errorf("service tier %q", resp.ServiceTier)
	}
	// Choices are not streamed: refused at submission.
	if _, err := c.StreamPieces(ctx, llmsvc.Request{Prompt: "say hi", N: 2}); !errors.Is(err, llmsvc.StatusSchema) {
		t.Errorf("streamed n 2: %v", err)
	}
}

func TestJSONMode(t *testing.T) {
	emu := startEmulator(t)
	ctx := testContext(t)
	for _, p := range providers(emu) {
		if p.provider == "anthropic" { // no JSON mode: a schema is its form of JSON output
			continue
		}
		t.Run(p.provider, func(t *testing.T) {
			c, err := llmsvc.NewClient(llmsvc.Config{Provider: p.provider, BaseURL: p.baseURL,
				APIKey: "k-json-" + p.provider, Model: p.model})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			resp, err := c.Generate(ctx, llmsvc.Request{Prompt: "Answer in JSON: a colour.",
				ResponseFormat: &llmsvc.ResponseFormat{Type: "json_object"}})
			if err != nil {
				t.Fatal(err)
			}
			sameAsDocument(t, resp, err)
			var doc map[string]any
			if err := json.Unmarshal(resp.JSON, &doc); err != nil || len(doc) == 0 {
				t.Errorf("json %s (%v), text %q", resp.JSON, err, resp.Text)
			}
		})
	}
}

// Anthropic's thinking comes back apart from the answer, and Response.Message sends it
// back, signed, in the tool round.
func TestThinkingGoesBackInTheToolRound(t *testing.T) {
	emu := startEmulator(t)
	ctx := testContext(t)
	c := emu.client(t, "k-thinking", llmsvc.Config{Provider: "anthropic", Model: "claude-haiku-4-5"})
	req := llmsvc.Request{Tools: weatherTools, MaxOutputTokens: 4000,
		Thinking: &llmsvc.Thinking{Type: "enabled", BudgetTokens: 2048},
		Messages: []llmsvc.Message{llmsvc.UserMessage("Use get_weather for Paris.")}}
	first, err := c.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	sameAsDocument(t, first, err)
	if first.Thinking == "" || first.ThinkingSignature == "" || len(first.ToolCalls) != 1 {
		t.Fatalf("thinking %q, signature %q, calls %+v", first.Thinking, first.ThinkingSignature, first.ToolCalls)
	}
	m := first.Message()
	if len(m.Parts) == 0 || m.Parts[0].Type != "thinking" || m.Parts[0].Signature != first.ThinkingSignature {
		t.Fatalf("assistant message %+v", m)
	}
	req.Messages = append(req.Messages, m, llmsvc.ToolMessage(first.ToolCalls[0].ID, "18 C"))
	second, err := c.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if second.FinishReason != "end_turn" || !strings.Contains(second.Text, "18 C") {
		t.Errorf("second round: %q, %q", second.FinishReason, second.Text)
	}
}

// A text part's cache_control (in a system message) writes the prompt cache for an hour,
// then reads it.
func TestPromptCacheWrite1h(t *testing.T) {
	emu := startEmulator(t)
	ctx := testContext(t)
	c := emu.client(t, "k-cache-1h", llmsvc.Config{Provider: "anthropic", Model: "claude-haiku-4-5"})
	part := llmsvc.TextPart(strings.Repeat("r", 8000)) // 2000 tokens: caches take 1024 and more
	part.CacheControl = &llmsvc.CacheControl{Type: "ephemeral", TTL: "1h"}
	req := llmsvc.Request{Messages: []llmsvc.Message{
		{Role: llmsvc.RoleSystem, Parts: []llmsvc.ContentPart{part}}, llmsvc.UserMessage("hi")}}
	first, err := c.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	sameAsDocument(t, first, err)
	if u := first.Usage; u.CacheWriteTokens == 0 || u.CacheWrite1hTokens != u.CacheWriteTokens {
		t.Errorf("first usage %+v", *u)
	}
	second, err := c.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if second.Usage.CachedTokens != first.Usage.CacheWriteTokens || second.Usage.CacheWrite1hTokens != 0 {
		t.Errorf("second usage %+v", *second.Usage)
	}
}

// Configured headers, extra headers and an extra body reach the provider; headers that
// would replace the credentials are refused, naming the field.
func TestExtraBodyAndHeaders(t *testing.T) {
	emu := startEmulator(t)
	ctx := testContext(t)
	c := emu.client(t, "k-extra", llmsvc.Config{Headers: map[string]string{"x-team": "search"}})
	resp, err := c.Generate(ctx, llmsvc.Request{Prompt: "hi", PromptCacheKey: "pk-1",
		ExtraBody: map[string]any{"store": true}, ExtraHeaders: map[string]string{"x-request-tag": "t1"}})
	if err != nil || !resp.OK {
		t.Fatal(err)
	}
	_, err = c.Generate(ctx, llmsvc.Request{Prompt: "hi", ExtraHeaders: map[string]string{"Authorization": "Bearer other"}})
	var se *llmsvc.StatusError
	if !errors.As(err, &se) || se.Status != llmsvc.StatusSchema || !strings.Contains(se.Message, "request.extra_headers") {
		t.Errorf("authorization in extra_headers: %v", err)
	}
	_, err = llmsvc.NewClient(llmsvc.Config{Headers: map[string]string{"x-api-key": "k2"}})
	if !errors.As(err, &se) || se.Status != llmsvc.StatusSchema || !strings.Contains(se.Message, "headers") {
		t.Errorf("x-api-key in headers: %v", err)
	}
}

// Bad tool input is refused at submission with the core's message naming the field, and
// nothing is sent.
func TestToolRequestsRefused(t *testing.T) {
	emu := startEmulator(t)
	ctx := testContext(t)
	c := emu.client(t, "k-tools-refused", llmsvc.Config{})
	cases := []struct {
		name  string
		req   llmsvc.Request
		field string
	}{
		{"a tool message answering no call", llmsvc.Request{Tools: weatherTools, Messages: []llmsvc.Message{
			llmsvc.UserMessage("Weather?"), llmsvc.ToolMessage("call_nobody", "18 C")}},
			"request.messages[1].tool_call_id"},
		{"a tool choice naming no offered tool", llmsvc.Request{Tools: weatherTools, Prompt: "x",
			ToolChoice: &llmsvc.ToolChoice{Function: "get_news"}}, "request.tool_choice"},
		{"a tool choice without tools", llmsvc.Request{Prompt: "x",
			ToolChoice: &llmsvc.ToolChoice{Mode: llmsvc.ToolChoiceRequired}}, "request.tool_choice"},
		{"a tool name with a space", llmsvc.Request{Prompt: "x", Tools: []llmsvc.Tool{{Name: "get weather"}}},
			"request.tools[0].function.name"},
		{"parameters that are no schema", llmsvc.Request{Prompt: "x", Tools: []llmsvc.Tool{
			{Name: "f", Parameters: json.RawMessage(`{"properties":{"city":"a string"}}`)}}},
			"request.tools[0].function.parameters"},
		{"top_logprobs without logprobs", llmsvc.Request{Prompt: "x", TopLogprobs: 3}, "request.top_logprobs"},
		{"n out of range", llmsvc.Request{Prompt: "x", N: 500}, "request.n"},
		{"an unknown service tier", llmsvc.Request{Prompt: "x", ServiceTier: "gold"}, "request.service_tier"},
		{"a thinking budget too small", llmsvc.Request{Prompt: "x",
			Thinking: &llmsvc.Thinking{Type: "enabled", BudgetTokens: 10}}, "request.thinking.budget_tokens"},
	}
	for _, tc := range cases {
		_, err := c.Generate(ctx, tc.req)
		var se *llmsvc.StatusError
		if !errors.As(err, &se) || !errors.Is(err, llmsvc.StatusSchema) || !strings.HasPrefix(se.Message, tc.field) {
			t.Errorf("%s: %v (want a schema error naming %s)", tc.name, err, tc.field)
		}
	}
	if s := emu.stats(t, "k-tools-refused"); s.Received != 0 {
		t.Errorf("%d requests reached the emulator", s.Received)
	}
}

// The example's two-round tool loop runs on every provider.
func TestToolsExample(t *testing.T) {
	emu := startEmulator(t)
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot build the example")
	}
	bin := filepath.Join(t.TempDir(), "tools")
	build := exec.Command(gobin, "build", "-o", bin, "./examples/tools")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the example: %v\n%s", err, out)
	}
	for _, p := range providers(emu) {
		for _, mode := range []string{"-stream=false", "-stream=true"} {
			cmd := exec.Command(bin, "-provider", p.provider, "-base-url", p.baseURL, "-key", "k-example",
				"-model", p.model, mode)
			cmd.Env = append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=")
			out, err := cmd.CombinedOutput()
			text := string(out)
			if err != nil || !strings.Contains(text, "round 1: 1 tool call(s)") ||
				!strings.Contains(text, `get_weather({"city":`) ||
				!strings.Contains(text, "round 2: Tool results: 18 C and clear") {
				t.Errorf("%s %s: %v\n%s", p.provider, mode, err, text)
			}
		}
	}
}

func TestNewClientFromFileReadsYamlLayouts(t *testing.T) {
	emu := startEmulator(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "llm.yaml")
	t.Setenv("LLMSVC_GO_POOL_KEY", "sk-go-pool-1")
	yaml := "providers:\n  openai:\n    base_url: " + emu.BaseURL + "\n    api_keys: [\"${LLMSVC_GO_POOL_KEY}\", sk-go-pool-2]\n    models: [gpt-4o-mini]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := llmsvc.NewClientFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 4; i++ {
		if _, err := c.Generate(context.Background(), llmsvc.Request{Prompt: "pool"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"sk-go-pool-1", "sk-go-pool-2"} {
		if got := emu.stats(t, key).OK; got != 2 {
			t.Errorf("%s served %d requests, want 2", key, got)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("model: m\nlimits: {rpm: x}\n"), 0o600)
	_, err = llmsvc.NewClientFromFile(bad)
	var se *llmsvc.StatusError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "bad.yaml:2:15: config.limits.rpm") {
		t.Errorf("want a StatusError naming the line, got %v", err)
	}
}
