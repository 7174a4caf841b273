package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// postPath sends body to path with an optional bearer key.
func postPath(t *testing.T, client *http.Client, url, path, key, body string) (answer, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b, proto: resp.ProtoMajor}, nil
}

func mustResponses(t *testing.T, url, key, body string) answer {
	t.Helper()
	a, err := postPath(t, http.DefaultClient, url, "/v1/responses", key, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func respBody(model, input, extra string) string {
	in, _ := json.Marshal(input)
	return fmt.Sprintf(`{"model":%q,"input":%s%s}`, model, in, extra)
}

type responsesUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int64 `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int64 `json:"total_tokens"`
}

type responseEnvelope struct {
	ID                string          `json:"id"`
	Status            string          `json:"status"`
	IncompleteDetails json.RawMessage `json:"incomplete_details"`
	Output            []struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	} `json:"output"`
	Usage responsesUsage `json:"usage"`
}

func (r responseEnvelope) text() string {
	if len(r.Output) != 1 || len(r.Output[0].Content) != 1 {
		return "<no text>"
	}
	return r.Output[0].Content[0].Text
}

func parseResponse(t *testing.T, a answer) responseEnvelope {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var r responseEnvelope
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, a.body)
	}
	return r
}

var (
	respIDRe    = regexp.MustCompile(`^resp_[0-9a-f]{48}$`)
	respMsgIDRe = regexp.MustCompile(`^msg_[0-9a-f]{48}$`)
	createdAtRe = regexp.MustCompile(`"created_at":\d+,`)
)

func TestResponsesSuccessShape(t *testing.T) {
	url := startEmulator(t)
	a := mustResponses(t, url, "sk-resp-0001", respBody("gpt-4o", "Hello there", ""))
	r := parseResponse(t, a)
	if !respIDRe.MatchString(r.ID) || len(r.Output) != 1 || !respMsgIDRe.MatchString(r.Output[0].ID) {
		t.Fatalf("ids: %s", a.body)
	}
	// "Hello there": input 3 + 4 + 3 = 10; the same target as chat, 54.
	want := `{"id":"` + r.ID + `","object":"response","status":"completed","error":null,"incomplete_details":null,` +
		`"instructions":null,"max_output_tokens":null,"model":"gpt-4o","output":[{"type":"message","id":"` + r.Output[0].ID +
		`","status":"completed","role":"assistant","content":[{"type":"output_text","text":"` + replyText(54) + `","annotations":[],"logprobs":[]}]}],` +
		`"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"service_tier":"default","store":true,` +
		`"temperature":1,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1,"truncation":"disabled",` +
		`"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":54,` +
		`"output_tokens_details":{"reasoning_tokens":0},"total_tokens":64},"user":null,"metadata":{}}`
	if got := createdAtRe.ReplaceAllString(strings.TrimSpace(string(a.body)), ""); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	if !createdAtRe.Match(a.body) {
		t.Errorf("created_at missing: %s", a.body)
	}
	if a.header.Get("Openai-Version") != "2020-10-01" || !strings.HasPrefix(a.header.Get("X-Request-Id"), "req_") ||
		a.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers: %v", a.header)
	}

	// Echoes, instructions, parts and images; capped by max_output_tokens.
	body := `{"model":"o3-mini","instructions":"Be terse.","max_output_tokens":16,"temperature":0.5,"top_p":0.9,` +
		`"reasoning":{"effort":"low"},"store":false,"user":"u-1","metadata":{"k":"v"},"parallel_tool_calls":false,"truncation":"auto",` +
		`"input":[{"role":"developer","content":"Answer in English."},` +
		`{"type":"message","role":"user","content":[{"type":"input_text","text":"Describe this image."},` +
		`{"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"},{"type":"input_image","image_url":"https://example.com/a.png"}]},` +
		`{"role":"assistant","content":[{"type":"output_text","text":"It is a cat."}]},{"role":"user","content":"And its colour?"}]}`
	a = mustResponses(t, url, "sk-resp-0001", body)
	r = parseResponse(t, a)
	// 3 + instructions (4+3) + (4+5) + (4+5+170) + (4+3) + (4+4) = 213
	const input = 213
	target := refTarget("o3-mini", "And its colour?")
	out, status := min(target, 16), "completed"
	if target > 16 {
		status = "incomplete"
	}
	if r.Usage.InputTokens != input || r.Usage.OutputTokens != out || r.Usage.OutputTokensDetails.ReasoningTokens != out/2 ||
		r.Usage.TotalTokens != input+out || r.Status != status || r.text() != replyText(out) {
		t.Errorf("tokens: %s", a.body)
	}
	m := a.json(t)
	for k, v := range map[string]string{"instructions": `"Be terse."`, "max_output_tokens": "16", "temperature": "0.5", "top_p": "0.9",
		"reasoning": `{"effort":"low","summary":null}`, "store": "false", "user": `"u-1"`, "metadata": `{"k":"v"}`,
		"parallel_tool_calls": "false", "truncation": `"auto"`} {
		if got, _ := json.Marshal(m[k]); string(got) != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}

	// Capped: status incomplete with the reason.
	a = mustResponses(t, url, "sk-resp-0001", respBody("gpt-4o", "Hello there", `,"max_output_tokens":16`))
	r = parseResponse(t, a)
	if r.Status != "incomplete" || string(r.IncompleteDetails) != `{"reason":"max_output_tokens"}` || r.Output[0].Status != "incomplete" ||
		r.Usage.OutputTokens != 16 || r.text() != replyText(16) {
		t.Errorf("capped: %s", a.body)
	}

	// Reasoning models default to medium effort.
	m = mustResponses(t, url, "sk-resp-0001", respBody("gpt-5-mini", "x", "")).json(t)
	if got, _ := json.Marshal(m["reasoning"]); string(got) != `{"effort":"medium","summary":null}` {
		t.Errorf("reasoning = %s", got)
	}

	// A long input is cached the second time.
	long := strings.Repeat("abcd", 1100)
	first := parseResponse(t, mustResponses(t, url, "sk-resp-0001", respBody("gpt-4o", long, "")))
	second := parseResponse(t, mustResponses(t, url, "sk-resp-0001", respBody("gpt-4o", long, "")))
	if first.Usage.InputTokens != 1107 || first.Usage.InputTokensDetails.CachedTokens != 0 || second.Usage.InputTokensDetails.CachedTokens != 1024 {
		t.Errorf("cache: %+v %+v", first.Usage, second.Usage)
	}

	st := getStats(t, url, "sk-resp-0001")
	if st.Received != 6 || st.OK != 6 || st.CachedTokens != 1024 || st.PromptTokens != 10+input+10+8+1107+1107 || st.Models["o3-mini"].OK != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestResponsesChaining(t *testing.T) {
	url := startEmulator(t)
	const key = "sk-resp-chain"
	r1 := parseResponse(t, mustResponses(t, url, key, respBody("gpt-4o", "Hello there", "")))
	ctx1 := r1.Usage.InputTokens + r1.Usage.OutputTokens // 10 + 54
	r2 := parseResponse(t, mustResponses(t, url, key, respBody("gpt-4o", "And then?", `,"previous_response_id":"`+r1.ID+`"`)))
	// Own input 3 + 4 + 3 = 10, plus the whole first exchange.
	if r2.Usage.InputTokens != 10+ctx1 || r2.Usage.OutputTokens != refTarget("gpt-4o", "And then?") {
		t.Errorf("second: %+v", r2.Usage)
	}
	ctx2 := r2.Usage.InputTokens + r2.Usage.OutputTokens
	a := mustResponses(t, url, key, respBody("gpt-4o", "More.", `,"previous_response_id":"`+r2.ID+`","instructions":"abcd"`))
	r3 := parseResponse(t, a)
	if r3.Usage.InputTokens != 3+4+2+4+1+ctx2 {
		t.Errorf("third: %+v", r3.Usage)
	}
	if m := a.json(t); m["previous_response_id"] != r2.ID {
		t.Errorf("previous_response_id echo: %v", m["previous_response_id"])
	}
	// The first response can be continued again.
	if r := parseResponse(t, mustResponses(t, url, key, respBody("gpt-4o", "And then?", `,"previous_response_id":"`+r1.ID+`"`))); r.Usage.InputTokens != r2.Usage.InputTokens {
		t.Errorf("branch: %+v", r.Usage)
	}

	unknown := func(k, id string) {
		t.Helper()
		a := mustResponses(t, url, k, respBody("gpt-4o", "x", `,"previous_response_id":"`+id+`"`))
		want := `{"error":{"message":"Previous response with id '` + id + `' not found.","type":"invalid_request_error",` +
			`"param":"previous_response_id","code":"previous_response_not_found"}}`
		if a.status != 400 || strings.TrimSpace(string(a.body)) != want {
			t.Errorf("unknown id %s: %d %s", id, a.status, a.body)
		}
	}
	unknown(key, "resp_nope")
	unknown("sk-resp-other", r1.ID) // stored per key
	// store:false responses are not remembered.
	r4 := parseResponse(t, mustResponses(t, url, key, respBody("gpt-4o", "x", `,"store":false`)))
	unknown(key, r4.ID)
	if st := getStats(t, url, key); st.OK != 5 || st.BadRequests != 2 {
		t.Errorf("stats: %+v", st)
	}
}

func TestResponsesStoreEviction(t *testing.T) {
	var s responseStore
	for i := 0; i < responseStoreSize; i++ {
		s.put(strconv.Itoa(i), storedResponse{context: int64(i)})
	}
	if _, ok := s.get("0"); !ok { // touch: 1 is now the least recently used
		t.Fatal("0 missing")
	}
	s.put("new", storedResponse{})
	if _, ok := s.get("1"); ok {
		t.Error("1 not evicted")
	}
	if r, ok := s.get("0"); !ok || r.context != 0 || s.len() != responseStoreSize {
		t.Errorf("0: %v %v, len %d", r, ok, s.len())
	}
}

func TestResponsesErrors(t *testing.T) {
	url := startEmulator(t, "--known-models", "gpt-4o", "--invalid-keys", "sk-revoked-key-xyz")
	cases := []struct {
		name, key, body string
		status          int
		param, code     string
	}{
		{"missing key", "", respBody("gpt-4o", "x", ""), 401, "", ""},
		{"invalid key", "sk-revoked-key-xyz", respBody("gpt-4o", "x", ""), 401, "", "invalid_api_key"},
		{"bad json", "sk-r", `{"model":`, 400, "", ""},
		{"no model", "sk-r", `{"input":"x"}`, 400, "model", "missing_required_parameter"},
		{"no input", "sk-r", `{"model":"gpt-4o"}`, 400, "input", "missing_required_parameter"},
		{"input type", "sk-r", `{"model":"gpt-4o","input":3}`, 400, "input", "invalid_type"},
		{"bad role", "sk-r", `{"model":"gpt-4o","input":[{"role":"robot","content":"x"}]}`, 400, "input[0].role", "invalid_value"},
		{"bad item", "sk-r", `{"model":"gpt-4o","input":[{"type":"computer_call","role":"user","content":"x"}]}`, 400, "input[0].type", "invalid_value"},
		{"part for role", "sk-r", `{"model":"gpt-4o","input":[{"role":"user","content":[{"type":"output_text","text":"x"}]}]}`, 400, "input[0].content[0].type", "invalid_value"},
		{"no text", "sk-r", `{"model":"gpt-4o","input":[{"role":"user","content":[{"type":"input_text"}]}]}`, 400, "input[0].content[0].text", "missing_required_parameter"},
		{"bad image", "sk-r", `{"model":"gpt-4o","input":[{"role":"user","content":[{"type":"input_image","image_url":"ftp://x"}]}]}`, 400, "input[0].content[0].image_url", "invalid_value"},
		{"max below 16", "sk-r", respBody("gpt-4o", "x", `,"max_output_tokens":15`), 400, "max_output_tokens", "integer_below_min_value"},
		{"temperature", "sk-r", respBody("gpt-4o", "x", `,"temperature":3`), 400, "temperature", "decimal_above_max_value"},
		{"effort", "sk-r", respBody("gpt-4o", "x", `,"reasoning":{"effort":"max"}`), 400, "reasoning.effort", "invalid_value"},
		{"format", "sk-r", respBody("gpt-4o", "x", `,"text":{"format":{"type":"xml"}}`), 400, "text.format.type", "invalid_value"},
		{"schema name", "sk-r", respBody("gpt-4o", "x", `,"text":{"format":{"type":"json_schema","schema":{}}}`), 400, "text.format.name", "missing_required_parameter"},
		{"metadata", "sk-r", respBody("gpt-4o", "x", `,"metadata":{"a":1}`), 400, "metadata.a", "invalid_type"},
		{"unknown model", "sk-r", respBody("gpt-9", "x", ""), 404, "", "model_not_found"},
	}
	for _, c := range cases {
		a := mustResponses(t, url, c.key, c.body)
		var e struct {
			Error struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Param   *string `json:"param"`
				Code    *string `json:"code"`
			} `json:"error"`
		}
		json.Unmarshal(a.body, &e)
		param, code := "", ""
		if e.Error.Param != nil {
			param = *e.Error.Param
		}
		if e.Error.Code != nil {
			code = *e.Error.Code
		}
		if a.status != c.status || param != c.param || code != c.code || e.Error.Type != "invalid_request_error" || e.Error.Message == "" {
			t.Errorf("%s: %d %s", c.name, a.status, a.body)
		}
	}
	if a := mustResponses(t, url, "sk-r", respBody("gpt-4o", "x", `,"max_output_tokens":15`)); !strings.Contains(string(a.body),
		"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 15 instead.") {
		t.Errorf("max message: %s", a.body)
	}
	resp, err := http.Get(url + "/v1/responses")
	if err != nil || resp.StatusCode != 405 {
		t.Errorf("GET: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestResponsesRateLimitsAndFaults(t *testing.T) {
	// 12000 TPM and 240 RPM over 500 ms: 100 tokens and 2 requests per window.
	url := startEmulator(t, "--tpm", "12000", "--rpm", "240", "--window-ms", "500")
	const key = "sk-resp-rate"
	// "hi": input 3 + 4 + 1 = 8; charge 8 + 92 = 100 fits exactly.
	a := mustResponses(t, url, key, respBody("gpt-4o", "hi", `,"max_output_tokens":92`))
	used := 8 + refTarget("gpt-4o", "hi")
	if a.status != 200 || a.header.Get("X-Ratelimit-Limit-Tokens") != "100" ||
		a.header.Get("X-Ratelimit-Remaining-Tokens") != strconv.FormatInt(100-used, 10) || a.header.Get("X-Ratelimit-Remaining-Requests") != "1" {
		t.Fatalf("first: %d %v %s", a.status, a.header, a.body)
	}
	// The window is shared with chat completions.
	a = mustPost(t, url, key, chatBody("gpt-4o", "hi", `,"max_completion_tokens":92`))
	e := a.json(t)["error"].(map[string]any)
	if a.status != 429 || e["type"] != "tokens" || a.header.Get("Retry-After-Ms") == "" ||
		!strings.HasPrefix(e["message"].(string), fmt.Sprintf("Rate limit reached for gpt-4o in organization org-emulator on tokens per min (TPM): Limit 100, Used %d, Requested 100.", used)) {
		t.Fatalf("chat after responses: %d %s", a.status, a.body)
	}
	a = mustResponses(t, url, key, respBody("gpt-4o", "hi", `,"max_output_tokens":500`))
	if a.status != 429 || !strings.Contains(string(a.body), "Request too large for gpt-4o") || a.header.Get("Retry-After") != "" {
		t.Fatalf("too large: %d %v %s", a.status, a.header, a.body)
	}
	if st := getStats(t, url, key); st.OK != 1 || st.RateLimited != 2 {
		t.Errorf("stats: %+v", st)
	}

	// --fail-first counts per body and key.
	url = startEmulator(t, "--fail-first", "1", "--should-retry-header")
	body := respBody("gpt-4o", "retry me", "")
	var statuses []int
	for i := 0; i < 2; i++ {
		a := mustResponses(t, url, key, body)
		statuses = append(statuses, a.status)
		if a.status == 500 && (a.header.Get("X-Should-Retry") != "true" || !strings.Contains(string(a.body), `"type":"server_error"`)) {
			t.Errorf("500: %v %s", a.header, a.body)
		}
	}
	statuses = append(statuses, mustResponses(t, url, "sk-other", body).status)
	if fmt.Sprint(statuses) != "[500 200 500]" {
		t.Errorf("statuses %v", statuses)
	}
}

func TestResponsesSpecValidation(t *testing.T) {
	spec, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "specs", "openai-openapi.json"))
	if _, err := os.Stat(spec); err != nil {
		t.Skipf("spec not available: %v", err)
	}
	url := startEmulator(t, "--validate-spec", spec)
	good := []string{
		respBody("gpt-4o", "hi", `,"max_output_tokens":16,"temperature":0.5,"store":true,"metadata":{"k":"v"}`),
		`{"model":"gpt-4o","instructions":"i","input":[{"role":"system","content":[{"type":"input_text","text":"s"}]},` +
			`{"type":"message","role":"user","content":[{"type":"input_text","text":"t"},{"type":"input_image","image_url":"https://example.com/a.png","detail":"auto"}]},` +
			`{"role":"assistant","content":"a"}],"reasoning":{"effort":"low"},` +
			`"text":{"format":{"type":"json_schema","name":"n","schema":{"type":"object"},"strict":true}}}`,
	}
	for _, b := range good {
		if a := mustResponses(t, url, "sk-spec", b); a.status != 200 {
			t.Errorf("valid body refused: %s\n%s", b, a.body)
		}
	}
	bad := map[string]string{
		`{"model":"gpt-4o","input":7}`:                                                   "input",
		respBody("gpt-4o", "hi", `,"temperature":"x"`):                                   "temperature",
		`{"model":"gpt-4o","input":[{"role":"user","content":[{"type":"input_text"}]}]}`: "input[0].content[0]",
	}
	for b, param := range bad {
		a := mustResponses(t, url, "sk-spec", b)
		e, _ := a.json(t)["error"].(map[string]any)
		if a.status != 400 || !strings.HasPrefix(fmt.Sprint(e["param"]), param) || !strings.Contains(fmt.Sprint(e["message"]), "CreateResponse") {
			t.Errorf("invalid body %s: %d %s", b, a.status, a.body)
		}
	}
	if st := getStats(t, url, "sk-spec"); st.SpecViolations != 3 || st.OK != 2 {
		t.Errorf("stats: %+v", st)
	}
}
