package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// specFile is the OpenAPI document of the spec tests; the test is skipped
// without it.
func specFile(t *testing.T) string {
	t.Helper()
	spec, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "specs", "openai-openapi.json"))
	if _, err := os.Stat(spec); err != nil {
		t.Skipf("spec not available: %v", err)
	}
	return spec
}

var replySchemas sync.Map // schema name -> *jsonschema.Schema

// checkReply validates an answer (or one event of a stream) against a
// schema of the OpenAPI document.
func checkReply(t *testing.T, schema string, doc []byte) {
	t.Helper()
	v, ok := replySchemas.Load(schema)
	if !ok {
		data, err := os.ReadFile(specFile(t))
		if err != nil {
			t.Fatal(err)
		}
		// The output item variants of the Responses API overlap, as its
		// input items do, so oneOf is read as anyOf there.
		sch, err := compileSpecSchema(data, schema, !strings.HasPrefix(schema, "CreateChatCompletion"))
		if err != nil {
			t.Fatal(err)
		}
		v, _ = replySchemas.LoadOrStore(schema, sch)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(doc)))
	if err != nil {
		t.Fatalf("not JSON: %v: %s", err, doc)
	}
	if err := v.(*jsonschema.Schema).Validate(inst); err != nil {
		t.Errorf("%s does not match %s: %v", doc, schema, err)
	}
}

func TestToolPick(t *testing.T) {
	weather, clock := toolDef{name: "get_weather"}, toolDef{name: "get_time"}
	both := []toolDef{weather, clock}
	for _, c := range []struct {
		name string
		req  toolRequest
		want []string
	}{
		{"auto, named", toolRequest{tools: both, lastUser: "Ask GET_WEATHER"}, []string{"get_weather"}},
		{"auto, both in tool order", toolRequest{tools: both, lastUser: "get_time then get_weather"}, []string{"get_weather", "get_time"}},
		{"auto, none named", toolRequest{tools: both, lastUser: "Hello"}, nil},
		{"none", toolRequest{tools: both, lastUser: "get_weather", choice: toolChoice{mode: choiceNone}}, nil},
		{"required, none named", toolRequest{tools: both, lastUser: "Hello", choice: toolChoice{mode: choiceRequired}}, []string{"get_weather"}},
		{"required, named", toolRequest{tools: both, lastUser: "get_time", choice: toolChoice{mode: choiceRequired}}, []string{"get_time"}},
		{"named", toolRequest{tools: both, lastUser: "get_weather", choice: toolChoice{mode: choiceNamed, name: "get_time"}}, []string{"get_time"}},
		{"sequential", toolRequest{tools: both, lastUser: "get_weather, get_time", sequential: true}, []string{"get_weather"}},
		{"ends in a result", toolRequest{tools: both, lastUser: "get_weather", endsInTool: true, choice: toolChoice{mode: choiceRequired}}, nil},
		{"no tools", toolRequest{lastUser: "get_weather", choice: toolChoice{mode: choiceRequired}}, nil},
	} {
		var got []string
		for _, d := range c.req.pick() {
			got = append(got, d.name)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPlanCalls(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","properties":{"city":{"type":"string","minLength":2},"days":{"type":"integer","minimum":1}},"required":["city","days"]}`)
	defs := []toolDef{{name: "a", schema: schema}, {name: "b"}}
	p := planCalls(defs, 0, false, false)
	if len(p.calls) != 2 || p.calls[0].args != `{"city":"aa","days":1}` || p.calls[1].args != "{}" || p.tokens != 6+1 || p.capped {
		t.Errorf("uncapped: %+v", p)
	}
	if p := planCalls(defs, 0, false, true); p.calls[0].args != `{"days":1}` || p.calls[1].args != "{}" || !p.invalid {
		t.Errorf("violating: %+v", p)
	}
	// The cap cuts the first call's arguments and drops the second.
	if p := planCalls(defs, 2, true, false); len(p.calls) != 1 || p.calls[0].args != `{"city":` || !p.calls[0].cut || p.tokens != 2 || !p.capped {
		t.Errorf("capped: %+v", p)
	}
	if p := planCalls(defs, 6, true, false); len(p.calls) != 1 || p.calls[0].cut || p.tokens != 6 || !p.capped {
		t.Errorf("capped after the first: %+v", p)
	}

	for _, s := range []string{`{"city":"aa","days":1}`, `{"q":"héllo wörld ünïcode"}`, "", "{}"} {
		pieces := argumentPieces(s)
		if strings.Join(pieces, "") != s {
			t.Errorf("%q: pieces %q", s, pieces)
		}
		for _, p := range pieces {
			if len(p) == 0 || len(p) > 8 || !utf8.ValidString(p) {
				t.Errorf("%q: piece %q", s, p)
			}
		}
	}
	a, b := callID("call_", 7, 0, 0, 24), callID("call_", 7, 0, 1, 24)
	if a != callID("call_", 7, 0, 0, 24) || a == b || a == callID("call_", 7, 1, 0, 24) || len(a) != 29 || !strings.HasPrefix(a, "call_") {
		t.Errorf("ids %s %s", a, b)
	}
	if got := resultsText([]string{"sunny", "21C"}); got != "Tool results: sunny; 21C" {
		t.Errorf("results %q", got)
	}
}

// logprobEntry is one entry of a logprobs content list.
type logprobEntry struct {
	Token       string  `json:"token"`
	Logprob     float64 `json:"logprob"`
	Bytes       []int   `json:"bytes"`
	TopLogprobs []struct {
		Token   string  `json:"token"`
		Logprob float64 `json:"logprob"`
		Bytes   []int   `json:"bytes"`
	} `json:"top_logprobs"`
}

// checkLogprobs checks that entries cover text token by token, each with
// top alternatives that are less likely.
func checkLogprobs(t *testing.T, text string, entries []logprobEntry, top int) {
	t.Helper()
	if int64(len(entries)) != textTokens(text) {
		t.Errorf("%d entries for %d tokens", len(entries), textTokens(text))
	}
	var joined []byte
	for i, e := range entries {
		for _, c := range e.Bytes {
			joined = append(joined, byte(c))
		}
		if e.Logprob >= 0 || len(e.TopLogprobs) != top {
			t.Errorf("entry %d: %+v", i, e)
		}
		for j, alt := range e.TopLogprobs {
			if j == 0 && (alt.Token != e.Token || alt.Logprob != e.Logprob) || j > 0 && alt.Logprob >= e.TopLogprobs[j-1].Logprob {
				t.Errorf("entry %d alternative %d: %+v", i, j, alt)
			}
		}
	}
	if string(joined) != text {
		t.Errorf("logprob bytes %q, want %q", joined, text)
	}
}

func TestLogprobEntries(t *testing.T) {
	text := "Lorem ipsum dolor"
	var entries []logprobEntry
	b := append(appendLogprobEntries([]byte("["), text, 0, len(text), 3), ']')
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	checkLogprobs(t, text, entries, 3)
	// Pieces of the text carry the tokens that start in them.
	first := appendLogprobEntries(nil, text, 0, 8, 0)
	rest := appendLogprobEntries(nil, text, 8, len(text), 0)
	if whole := appendLogprobEntries(nil, text, 0, len(text), 0); string(first)+","+string(rest) != string(whole) {
		t.Errorf("pieces %s | %s, whole %s", first, rest, whole)
	}
}

func TestToolStreamMidstreamErrors(t *testing.T) {
	url := startEmulator(t, "--midstream-error-rate", "1")
	// The error comes after half of the argument pieces.
	a := mustStream(t, url, "/v1/chat/completions", bearer("sk-tool-mid"),
		chatBody("gpt-4o", "get_weather and get_time", `,"tools":`+chatTools+`,"stream":true`))
	body := string(a.body)
	pieces := len(argumentPieces(weatherArgs)) + len(argumentPieces("{}"))
	if got := strings.Count(body, `"function":{"arguments":"`); got != pieces/2 || !strings.Contains(body, `"type":"server_error"`) ||
		strings.Contains(body, "[DONE]") || strings.Contains(body, `"finish_reason":"tool_calls"`) {
		t.Errorf("chat: %d pieces of %d: %s", got, pieces, body)
	}
	a = mustStream(t, url, "/v1/responses", bearer("sk-tool-mid"), respBody("gpt-4o", "get_weather and get_time", `,"tools":`+respTools+`,"stream":true`))
	evs := parseSSE(t, a.body)
	if last := evs[len(evs)-1]; last.name != "error" || strings.Count(string(a.body), "event: response.function_call_arguments.delta") != pieces/2 {
		t.Errorf("responses: %s", a.body)
	}
	a = mustStream(t, url, "/v1/messages", anthropicHeaders("sk-tool-mid"),
		msgBody("claude-sonnet-4-5", "get_weather and get_time", 1024, `,"tools":`+msgTools+`,"stream":true`))
	evs = parseSSE(t, a.body)
	if last := evs[len(evs)-1]; last.name != "error" || strings.Count(string(a.body), `"input_json_delta"`) != pieces/2 {
		t.Errorf("messages: %s", a.body)
	}
	if st := getStats(t, url, "sk-tool-mid"); st.ServerErrors != 3 || st.OK != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestToolInvalidJSON(t *testing.T) {
	url := startEmulator(t, "--invalid-json-first", "1")
	// A forced call asks for JSON: its first arrival gets arguments that
	// violate the schema.
	forced := chatBody("gpt-4o", "Hello there", `,"tools":`+chatTools+`,"tool_choice":{"type":"function","function":{"name":"get_weather"}}`)
	var args []string
	for range 2 {
		r := parseChat(t, mustPost(t, url, "sk-tool-bad", forced))
		args = append(args, r.Choices[0].Message.ToolCalls[0].Function.Arguments)
	}
	if args[0] != `{"unit":"c"}` || args[1] != weatherArgs {
		t.Errorf("forced: %q", args)
	}
	// A call the user asked for does not.
	auto := chatBody("gpt-4o", "get_weather", `,"tools":`+chatTools)
	if r := parseChat(t, mustPost(t, url, "sk-tool-bad", auto)); r.Choices[0].Message.ToolCalls[0].Function.Arguments != weatherArgs {
		t.Errorf("auto: %+v", r)
	}
	resp := respBody("gpt-4o", "Hello there", `,"tools":`+respTools+`,"tool_choice":"required"`)
	if r := parseResp(t, mustResponses(t, url, "sk-tool-bad", resp)); r.Output[0].Arguments != `{"unit":"c"}` {
		t.Errorf("responses: %+v", r)
	}
	if st := getStats(t, url, "sk-tool-bad"); st.InvalidJSON != 2 {
		t.Errorf("stats: %+v", st)
	}
}

// decodeOK decodes a 200 answer's body, failing the test on any other status.
func decodeOK[T any](t *testing.T, a answer) T {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var r T
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("%v: %s", err, a.body)
	}
	return r
}
