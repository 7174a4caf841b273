package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// everySchema uses every keyword the document generator honours.
const everySchema = `{"type":"object",
 "properties":{
  "name":{"type":"string","minLength":4,"format":"hostname"},
  "kind":{"type":"string","enum":["alpha","beta"]},
  "version":{"const":"v1"},
  "count":{"type":"integer","minimum":3},
  "ratio":{"type":"number","exclusiveMinimum":0,"maximum":0.5},
  "neg":{"type":"integer","exclusiveMaximum":-1},
  "step":{"type":"integer","exclusiveMinimum":4,"multipleOf":3},
  "flag":{"type":"boolean"},
  "tags":{"type":"array","items":{"type":"string","minLength":1},"minItems":2},
  "pair":{"type":"array","prefixItems":[{"type":"integer"},{"type":"boolean"}],"items":{"type":"null"},"minItems":3},
  "choice":{"anyOf":[{"type":"integer","minimum":1},{"type":"string"}]},
  "pick":{"oneOf":[{"type":"boolean"},{"type":"null"}]},
  "both":{"allOf":[{"properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"b":{"type":"string"}},"required":["b"]}]},
  "item":{"$ref":"#/$defs/Item"},
  "legacy":{"$ref":"#/definitions/Legacy"},
  "nothing":{"type":"null"},
  "optional":{"type":"string"}
 },
 "required":["name","kind","version","count","ratio","neg","step","flag","tags","pair","choice","pick","both","item","legacy","nothing"],
 "$defs":{"Item":{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":["string","null"]},"next":{"$ref":"#/$defs/Item"}},"required":["id"]}},
 "definitions":{"Legacy":{"type":"object","properties":{"x":{"type":"number","minimum":1.5}},"required":["x"]}}}`

const everyDoc = `{"name":"aaaa","kind":"alpha","version":"v1","count":3,"ratio":0.25,"neg":-2,"step":6,"flag":false,` +
	`"tags":["a","a"],"pair":[0,false,null],"choice":1,"pick":false,"both":{"a":0,"b":""},"item":{"id":0},"legacy":{"x":1.5},"nothing":null}`

// schemaAccepts validates doc against schema with an independent validator.
func schemaAccepts(t *testing.T, schema, doc string) bool {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	s, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("file:///schema.json", s); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("file:///schema.json")
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("document is not JSON: %v: %s", err, doc)
	}
	return sch.Validate(v) == nil
}

func TestSchemaDocument(t *testing.T) {
	schema := json.RawMessage(compactJSON([]byte(everySchema)))
	doc := string(generateDocument(schema, false))
	if doc != everyDoc {
		t.Errorf("document\n got %s\nwant %s", doc, everyDoc)
	}
	if !schemaAccepts(t, everySchema, doc) {
		t.Errorf("document does not validate: %s", doc)
	}
	strict := string(generateDocument(schema, true))
	wantStrict := strings.Replace(strings.Replace(everyDoc, `"item":{"id":0}`, `"item":{"id":0,"note":"","next":null}`, 1),
		`"nothing":null}`, `"nothing":null,"optional":""}`, 1)
	// In strict mode the recursive "next" is generated too, down to the
	// depth limit, where it ends in null.
	if !strings.HasPrefix(strict, wantStrict[:strings.Index(wantStrict, `"item"`)]) || !strings.HasSuffix(strict, `"legacy":{"x":1.5},"nothing":null,"optional":""}`) ||
		!schemaAccepts(t, strings.Replace(everySchema, `"next":{"$ref":"#/$defs/Item"}`, `"next":{"anyOf":[{"$ref":"#/$defs/Item"},{"type":"null"}]}`, 1), strict) {
		t.Errorf("strict document: %s", strict)
	}
	bad := string(violatingDocument(schema, false))
	if bad != strings.Replace(everyDoc, `"name":"aaaa",`, "", 1) || schemaAccepts(t, everySchema, bad) {
		t.Errorf("violating document: %s", bad)
	}

	for _, c := range []struct{ schema, doc, bad string }{
		{`{"type":"object","properties":{"a":{"type":"string"}}}`, `{}`, `{"a":false}`},
		{`{"type":"object"}`, `{}`, `[]`},
		{`{"type":"string","enum":["x","y"]}`, `"x"`, `false`},
		{`{"type":"integer","minimum":-5}`, `-5`, `"invalid"`},
		{`{"type":"number","maximum":-0.5}`, `-0.5`, `"invalid"`},
		{`{"type":"integer","minimum":1,"multipleOf":4}`, `4`, `"invalid"`},
		{`{"type":["null","string"]}`, `null`, `false`},
		{`{}`, `{}`, `[]`},
		{`{"$ref":"#/$defs/A","$defs":{"A":{"type":"array","minItems":1,"items":{"type":"boolean"}}}}`, `[false]`, `"invalid"`},
	} {
		doc := string(generateDocument(json.RawMessage(c.schema), false))
		bad := string(violatingDocument(json.RawMessage(c.schema), false))
		if doc != c.doc || bad != c.bad {
			t.Errorf("%s: document %s (want %s), violation %s (want %s)", c.schema, doc, c.doc, bad, c.bad)
		}
		if !schemaAccepts(t, c.schema, doc) || (c.schema != `{}` && schemaAccepts(t, c.schema, bad)) {
			t.Errorf("%s: validation of %s / %s", c.schema, doc, bad)
		}
	}
	if d := generateDocument(nil, false); string(d) != "{}" {
		t.Errorf("json_object document %s", d)
	}
	if got := cutUTF8("aé", 2); got != "a" {
		t.Errorf("cutUTF8 = %q", got)
	}
}

const personSchema = `{"type":"object","properties":{"name":{"type":"string","minLength":3},"age":{"type":"integer","minimum":18},` +
	`"email":{"type":"string"}},"required":["name","age"],"additionalProperties":false}`

func TestStructuredChat(t *testing.T) {
	url := startEmulator(t, "--invalid-json-first", "1")
	format := `,"response_format":{"type":"json_schema","json_schema":{"name":"person","schema":` + personSchema + `}}`
	const doc, bad = `{"name":"aaa","age":18}`, `{"age":18}`
	content := func(a answer) (string, string, float64) {
		t.Helper()
		if a.status != 200 {
			t.Fatalf("status %d: %s", a.status, a.body)
		}
		m := a.json(t)
		ch := m["choices"].([]any)[0].(map[string]any)
		return ch["message"].(map[string]any)["content"].(string), ch["finish_reason"].(string),
			m["usage"].(map[string]any)["completion_tokens"].(float64)
	}
	body := chatBody("gpt-4o", "Who?", format)
	// The first arrival of the body gets a document without "name".
	if c, f, n := content(mustPost(t, url, "sk-json", body)); c != bad || f != "stop" || n != float64(textTokens(bad)) {
		t.Errorf("first: %q %s %v", c, f, n)
	}
	if c, f, n := content(mustPost(t, url, "sk-json", body)); c != doc || f != "stop" || n != float64(textTokens(doc)) {
		t.Errorf("second: %q %s %v", c, f, n)
	}
	// Strict: every property; capped: the document is cut.
	strict := strings.Replace(format, `"schema":`, `"strict":true,"schema":`, 1)
	mustPost(t, url, "sk-json", chatBody("gpt-4o", "Who?", strict+`,"max_completion_tokens":3`))
	if c, f, n := content(mustPost(t, url, "sk-json", chatBody("gpt-4o", "Who?", strict+`,"max_completion_tokens":3`))); c != `{"name":"aaa` || f != "length" || n != 3 {
		t.Errorf("capped: %q %s %v", c, f, n)
	}
	mustPost(t, url, "sk-json", chatBody("gpt-4o", "Who?", strict))
	if c, _, _ := content(mustPost(t, url, "sk-json", chatBody("gpt-4o", "Who?", strict))); c != `{"name":"aaa","age":18,"email":""}` {
		t.Errorf("strict: %q", c)
	}
	// JSON mode wraps the usual text: {"answer": text}.
	jsonMode := chatBody("gpt-4o", "Who? Answer in JSON.", `,"response_format":{"type":"json_object"}`)
	mustPost(t, url, "sk-json", jsonMode)
	answer := string(answerDocument(replyText(refTarget("gpt-4o", "Who? Answer in JSON."))))
	if c, _, n := content(mustPost(t, url, "sk-json", jsonMode)); c != answer || n != float64(textTokens(answer)) {
		t.Errorf("json_object: %q %v", c, n)
	}
	if c, _, _ := content(mustPost(t, url, "sk-json", chatBody("gpt-4o", "Who?", `,"response_format":{"type":"text"}`))); c != replyText(refTarget("gpt-4o", "Who?")) {
		t.Errorf("text: %q", c)
	}
	// The first arrivals of the four bodies asking for JSON got invalid documents.
	if st := getStats(t, url, "sk-json"); st.InvalidJSON != 4 || st.OK != 9 {
		t.Errorf("stats: %+v", st)
	}
	for _, c := range []struct{ extra, param string }{
		{`,"response_format":{"type":"xml"}`, "response_format.type"},
		{`,"response_format":{"type":"json_schema"}`, "response_format.json_schema"},
		{`,"response_format":{"type":"json_schema","json_schema":{"schema":{}}}`, "response_format.json_schema.name"},
		{`,"response_format":{"type":"json_schema","json_schema":{"name":"a b"}}`, "response_format.json_schema.name"},
		{`,"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":3}}`, "response_format.json_schema.schema"},
	} {
		a := mustPost(t, url, "sk-json", chatBody("gpt-4o", "x", c.extra))
		if e, _ := a.json(t)["error"].(map[string]any); a.status != 400 || e["param"] != c.param {
			t.Errorf("%s: %d %s", c.extra, a.status, a.body)
		}
	}
}

func TestStructuredResponsesAndRate(t *testing.T) {
	url := startEmulator(t, "--invalid-json-rate", "1")
	format := `,"text":{"format":{"type":"json_schema","name":"person","strict":true,"schema":` + personSchema + `}}`
	a := mustResponses(t, url, "sk-json-r", respBody("gpt-4o", "Who?", format))
	r := parseResponse(t, a)
	// Rate 1: every answer violates the schema.
	if r.text() != `{"age":18,"email":""}` || r.Usage.OutputTokens != textTokens(r.text()) || r.Status != "completed" {
		t.Errorf("responses: %s", a.body)
	}
	if m := a.json(t); !strings.Contains(string(must(json.Marshal(m["text"]))), `"type":"json_schema"`) {
		t.Errorf("text echo: %v", m["text"])
	}

	url = startEmulator(t)
	r = parseResponse(t, mustResponses(t, url, "sk-json-r", respBody("gpt-4o", "Who?", format+`,"max_output_tokens":16`)))
	if r.text() != `{"name":"aaa","age":18,"email":""}` || r.Usage.OutputTokens != 9 || r.Status != "completed" {
		t.Errorf("responses valid: %+v", r)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestStructuredAnthropicTools(t *testing.T) {
	url := startEmulator(t, "--invalid-json-first", "1")
	tools := `,"tools":[{"name":"get_weather","description":"Weather.","input_schema":{"type":"object","properties":{"city":{"type":"string","minLength":2}},"required":["city"]}},` +
		`{"name":"record","input_schema":` + personSchema + `}]`
	type block struct {
		Type  string          `json:"type"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
		Text  string          `json:"text"`
	}
	var reply struct {
		Content    []block `json:"content"`
		StopReason string  `json:"stop_reason"`
	}
	send := func(body string) messagesUsage {
		t.Helper()
		a := mustMessages(t, url, "sk-ant-json", body)
		if a.status != 200 {
			t.Fatalf("status %d: %s", a.status, a.body)
		}
		reply.Content = nil
		if err := json.Unmarshal(a.body, &reply); err != nil || len(reply.Content) != 1 {
			t.Fatalf("body: %s", a.body)
		}
		return usageOf(t, a)
	}
	forced := msgBody("claude-sonnet-4-5", "Record Ann.", 1024, tools+`,"tool_choice":{"type":"tool","name":"record"}`)
	u := send(forced) // the first arrival violates the schema
	if b := reply.Content[0]; b.Type != "tool_use" || string(b.Input) != `{"age":18}` || reply.StopReason != "tool_use" {
		t.Errorf("first: %+v %s", b, b.Input)
	}
	u = send(forced)
	b := reply.Content[0]
	if b.Type != "tool_use" || b.Name != "record" || !strings.HasPrefix(b.ID, "toolu_01") || len(b.ID) != 30 ||
		string(b.Input) != `{"name":"aaa","age":18}` || reply.StopReason != "tool_use" || u.OutputTokens != textTokens(`{"name":"aaa","age":18}`) {
		t.Errorf("forced: %+v %s %+v", b, b.Input, u)
	}
	// "any" uses the first tool.
	send(msgBody("claude-sonnet-4-5", "Weather?", 1024, tools+`,"tool_choice":{"type":"any"}`))
	u = send(msgBody("claude-sonnet-4-5", "Weather?", 1024, tools+`,"tool_choice":{"type":"any"}`))
	if b := reply.Content[0]; b.Name != "get_weather" || string(b.Input) != `{"city":"aa"}` || u.OutputTokens != 4 {
		t.Errorf("any: %+v %s", b, b.Input)
	}
	// Capped: the input is cut, so it is sent as {}.
	send(msgBody("claude-sonnet-4-5", "Record Ann.", 2, tools+`,"tool_choice":{"type":"tool","name":"record"}`))
	u = send(msgBody("claude-sonnet-4-5", "Record Ann.", 2, tools+`,"tool_choice":{"type":"tool","name":"record"}`))
	if b := reply.Content[0]; b.Type != "tool_use" || string(b.Input) != `{}` || reply.StopReason != "max_tokens" || u.OutputTokens != 2 {
		t.Errorf("capped: %+v %s", b, b.Input)
	}
	// auto (or none) answers with text.
	u = send(msgBody("claude-sonnet-4-5", "Hello there", 1024, tools+`,"tool_choice":{"type":"auto"}`))
	// The tool definitions count in the prompt.
	toolTokens := toolsTokens(rawList(json.RawMessage(strings.TrimPrefix(tools, `,"tools":`))))
	if b := reply.Content[0]; b.Type != "text" || b.Text != replyText(28) || reply.StopReason != "end_turn" || u.InputTokens != 10+toolTokens {
		t.Errorf("auto: %+v %+v", b, u)
	}

	for _, c := range []struct{ extra, msg string }{
		{`,"tools":[{"name":"x"}]`, "tools.0.input_schema: Field required"},
		{`,"tools":[{"name":"x y","input_schema":{}}]`, "tools.0.name: String should match pattern"},
		{`,"tools":[{"name":"x","input_schema":3}]`, "tools.0.input_schema: Input should be a valid dictionary"},
		{`,"tools":[{"name":"x","input_schema":{},"strict":true}]`, "tools.0.strict: Extra inputs are not permitted"},
		{tools + `,"tool_choice":{"type":"tool","name":"nope"}`, "tool 'nope' was not found"},
		{tools + `,"tool_choice":{"type":"tool"}`, "tool_choice.name: Field required"},
		{tools + `,"tool_choice":{"type":"maybe"}`, "tool_choice: Input tag 'maybe'"},
		{`,"tool_choice":{"type":"any"}`, "'any' may only be specified while providing tools"},
	} {
		a := mustMessages(t, url, "sk-ant-json", msgBody("m", "x", 8, c.extra))
		if a.status != 400 || !bytes.Contains(a.body, []byte(c.msg)) {
			t.Errorf("%s: %d %s", c.extra, a.status, a.body)
		}
	}
	if st := getStats(t, url, "sk-ant-json"); st.InvalidJSON != 3 {
		t.Errorf("stats: %+v", st)
	}
}
