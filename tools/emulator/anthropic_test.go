package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// postMessages sends a body to /v1/messages with the given headers.
func postMessages(t *testing.T, client *http.Client, url string, header map[string]string, body string) (answer, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/messages", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
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

func anthropicHeaders(key string) map[string]string {
	h := map[string]string{"anthropic-version": "2023-06-01", "content-type": "application/json"}
	if key != "" {
		h["x-api-key"] = key
	}
	return h
}

func mustMessages(t *testing.T, url, key, body string) answer {
	t.Helper()
	a, err := postMessages(t, http.DefaultClient, url, anthropicHeaders(key), body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func msgBody(model, content string, maxTokens int, extra string) string {
	c, _ := json.Marshal(content)
	return fmt.Sprintf(`{"model":%q,"max_tokens":%d,"messages":[{"role":"user","content":%s}]%s}`, model, maxTokens, c, extra)
}

type messagesUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
}

func usageOf(t *testing.T, a answer) messagesUsage {
	t.Helper()
	var m struct {
		Usage messagesUsage `json:"usage"`
	}
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, a.body)
	}
	return m.Usage
}

var (
	requestIDRe = regexp.MustCompile(`^req_[0-9a-f]{32}$`)
	messageIDRe = regexp.MustCompile(`^msg_01[0-9A-Za-z]{22}$`)
)

func TestMessagesSuccessShape(t *testing.T) {
	url := startEmulator(t)
	const model = "claude-sonnet-4-5"
	// Pinned: the client library's estimator must agree.
	if got := completionTarget(model, "Hello there"); got != refTarget(model, "Hello there") || got != 28 {
		t.Fatalf("completionTarget(%s, Hello there) = %d", model, got)
	}
	a := mustMessages(t, url, "sk-ant-0001", msgBody(model, "Hello there", 1024, ""))
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var env struct {
		ID string `json:"id"`
	}
	json.Unmarshal(a.body, &env)
	if !messageIDRe.MatchString(env.ID) {
		t.Errorf("id %q", env.ID)
	}
	// "Hello there": prompt 3 + 4 + 3 = 10, natural output 28 tokens.
	want := `{"id":"` + env.ID + `","type":"message","role":"assistant","model":"claude-sonnet-4-5",` +
		`"content":[{"type":"text","text":"` + replyText(28) + `"}],"stop_reason":"end_turn","stop_sequence":null,` +
		`"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":28}}`
	if string(a.body) != want {
		t.Errorf("body\n got %s\nwant %s", a.body, want)
	}
	if !requestIDRe.MatchString(a.header.Get("Request-Id")) || a.header.Get("Anthropic-Organization-Id") != "org-emulator" ||
		a.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers: %v", a.header)
	}
	for k := range a.header {
		if strings.HasPrefix(k, "Anthropic-Ratelimit-") || strings.HasPrefix(k, "Openai-") || k == "X-Request-Id" {
			t.Errorf("unexpected header %s without limits", k)
		}
	}

	// Capped by max_tokens.
	a = mustMessages(t, url, "sk-ant-0001", msgBody(model, "Hello there", 5, ""))
	var capped struct {
		ID         string `json:"id"`
		StopReason string `json:"stop_reason"`
		Content    []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	json.Unmarshal(a.body, &capped)
	if u := usageOf(t, a); u.OutputTokens != 5 || capped.StopReason != "max_tokens" || len(capped.Content) != 1 ||
		capped.Content[0].Text != replyText(5) || capped.ID == env.ID {
		t.Errorf("capped: %s", a.body)
	}

	// A long prompt reads from the cache the second time, for the same key only.
	long := strings.Repeat("abcd", 1100) // 1100 tokens; prompt 1107
	first := usageOf(t, mustMessages(t, url, "sk-ant-0001", msgBody(model, long, 16, "")))
	second := usageOf(t, mustMessages(t, url, "sk-ant-0001", msgBody(model, long, 16, "")))
	other := usageOf(t, mustMessages(t, url, "sk-ant-0002", msgBody(model, long, 16, "")))
	if first != (messagesUsage{1107, 0, 0, 16}) || second != (messagesUsage{83, 0, 1024, 16}) || other != first {
		t.Errorf("cache: %+v %+v %+v", first, second, other)
	}
	// The same prompt on the chat completions endpoint is a different prompt.
	chat := mustPost(t, url, "sk-ant-0001", chatBody(model, long, "")).json(t)
	if c := chat["usage"].(map[string]any)["prompt_tokens_details"].(map[string]any)["cached_tokens"]; c != 0.0 {
		t.Errorf("chat cached_tokens = %v", c)
	}

	st := getStats(t, url, "sk-ant-0001")
	if st.Received != 5 || st.OK != 5 || st.PromptTokens != 10+10+1107+1107+1107 || st.CachedTokens != 1024 ||
		st.CompletionTokens != 28+5+16+16+refTarget(model, long) || st.Models[model].OK != 5 {
		t.Errorf("stats: %+v", st)
	}
}

func TestMessagesSystemAndImages(t *testing.T) {
	url := startEmulator(t)
	body := `{"model":"claude-haiku-4-5","max_tokens":2048,` +
		`"system":[{"type":"text","text":"You are terse."},{"type":"text","text":" Answer briefly.","cache_control":{"type":"ephemeral"}}],` +
		`"messages":[{"role":"user","content":[{"type":"text","text":"Describe these images."},` +
		`{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},` +
		`{"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"},"cache_control":{"type":"ephemeral"}}]},` +
		`{"role":"assistant","content":"Sure."},{"role":"user","content":[{"type":"text","text":"Go on."}]}],` +
		`"temperature":0.5,"top_p":0.9,"top_k":40,"stop_sequences":["\n\nHuman:"],"metadata":{"user_id":"u-1"},"stream":false}`
	a := mustMessages(t, url, "sk-ant-img", body)
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	// 3 + system (4 + 8: the joined text has 30 bytes) + (4 + 6 + 2×85) + (4 + 2) + (4 + 2)
	want := messagesUsage{InputTokens: 207, OutputTokens: refTarget("claude-haiku-4-5", "Go on.")}
	if u := usageOf(t, a); u != want {
		t.Errorf("usage %+v, want %+v", u, want)
	}
	// A system string counts as one message; a final assistant message may be empty.
	a = mustMessages(t, url, "sk-ant-img", `{"model":"m","max_tokens":1,"system":"You are terse.",`+
		`"messages":[{"role":"user","content":"Hello there"},{"role":"assistant","content":""}]}`)
	if u := usageOf(t, a); a.status != 200 || u.InputTokens != 3+8+7+4 || u.OutputTokens != 1 {
		t.Errorf("system string: %d %s", a.status, a.body)
	}
}

func TestMessagesErrors(t *testing.T) {
	url := startEmulator(t, "--invalid-keys", "sk-ant-revoked", "--quota-keys", "sk-ant-broke", "--known-models",
		"claude-sonnet-4-5", "--should-retry-header")
	ok := msgBody("claude-sonnet-4-5", "hi", 64, "")
	img := func(source string) string {
		return `{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":[{"type":"text","text":"x"},` +
			`{"type":"image","source":` + source + `}]}]}`
	}
	cases := []struct {
		name   string
		header map[string]string
		body   string
		status int
		typ    string
		msg    string
	}{
		{"missing key", anthropicHeaders(""), ok, 401, "authentication_error", "x-api-key header is required"},
		{"invalid key", anthropicHeaders("sk-ant-revoked"), ok, 401, "authentication_error", "invalid x-api-key"},
		{"no credit", anthropicHeaders("sk-ant-broke"), ok, 400, "invalid_request_error",
			"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},
		{"missing version", map[string]string{"x-api-key": "sk-ant-good"}, ok, 400, "invalid_request_error", "anthropic-version: header is required"},
		{"unknown model", anthropicHeaders("sk-ant-good"), msgBody("claude-9", "hi", 64, ""), 404, "not_found_error", "model: claude-9"},
		{"bad json", anthropicHeaders("sk-ant-good"), `{"model":`, 400, "invalid_request_error", "The request body is not valid JSON: unexpected end of JSON input"},
		{"not an object", anthropicHeaders("sk-ant-good"), `[1]`, 400, "invalid_request_error", "Input should be a valid dictionary or object to extract fields from"},
		{"extra field", anthropicHeaders("sk-ant-good"), msgBody("claude-sonnet-4-5", "hi", 64, `,"frequency_penalty":1`), 400, "invalid_request_error",
			"frequency_penalty: Extra inputs are not permitted"},
		{"no model", anthropicHeaders("sk-ant-good"), `{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error", "model: Field required"},
		{"no max_tokens", anthropicHeaders("sk-ant-good"), `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`, 400,
			"invalid_request_error", "max_tokens: Field required"},
		{"max_tokens 0", anthropicHeaders("sk-ant-good"), msgBody("claude-sonnet-4-5", "hi", 0, ""), 400, "invalid_request_error",
			"max_tokens: Input should be greater than or equal to 1"},
		{"max_tokens string", anthropicHeaders("sk-ant-good"), `{"model":"claude-sonnet-4-5","max_tokens":"5","messages":[{"role":"user","content":"hi"}]}`, 400,
			"invalid_request_error", "max_tokens: Input should be a valid integer"},
		{"no messages", anthropicHeaders("sk-ant-good"), `{"model":"claude-sonnet-4-5","max_tokens":5}`, 400, "invalid_request_error", "messages: Field required"},
		{"empty messages", anthropicHeaders("sk-ant-good"), `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}`, 400, "invalid_request_error",
			"messages: at least one message is required"},
		{"bad role", anthropicHeaders("sk-ant-good"), `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"system","content":"hi"}]}`, 400,
			"invalid_request_error", "messages.0.role: Input should be 'user' or 'assistant'"},
		{"message extra", anthropicHeaders("sk-ant-good"), `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi","name":"x"}]}`, 400,
			"invalid_request_error", "messages.0.name: Extra inputs are not permitted"},
		{"first assistant", anthropicHeaders("sk-ant-good"), `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"assistant","content":"hi"}]}`, 400,
			"invalid_request_error", `messages: first message must use the "user" role`},
		{"empty content", anthropicHeaders("sk-ant-good"), `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":""}]}`, 400,
			"invalid_request_error", "messages.0: all messages must have non-empty content except for the optional final assistant message"},
		{"block type", anthropicHeaders("sk-ant-good"), `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":[{"type":"audio"}]}]}`, 400,
			"invalid_request_error", "messages.0.content.0: Input tag 'audio' found using 'type' does not match any of the expected tags: " + blockTags},
		{"media type", anthropicHeaders("sk-ant-good"), img(`{"type":"base64","media_type":"image/bmp","data":"AA=="}`), 400, "invalid_request_error",
			"messages.0.content.1.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"},
		{"no data", anthropicHeaders("sk-ant-good"), img(`{"type":"base64","media_type":"image/png"}`), 400, "invalid_request_error",
			"messages.0.content.1.source.data: Field required"},
		{"bad base64", anthropicHeaders("sk-ant-good"), img(`{"type":"base64","media_type":"image/png","data":"!!"}`), 400, "invalid_request_error",
			"messages.0.content.1.source.data: invalid base64 data"},
		{"no url", anthropicHeaders("sk-ant-good"), img(`{"type":"url"}`), 400, "invalid_request_error", "messages.0.content.1.source.url: Field required"},
		{"source type", anthropicHeaders("sk-ant-good"), img(`{"type":"file","file_id":"f"}`), 400, "invalid_request_error",
			"messages.0.content.1.source: Input tag 'file' found using 'type' does not match any of the expected tags: 'base64', 'url'"},
		{"system block", anthropicHeaders("sk-ant-good"), msgBody("claude-sonnet-4-5", "hi", 5, `,"system":[{"type":"image"}]`), 400,
			"invalid_request_error", "system.0.type: Input should be 'text'"},
		{"temperature", anthropicHeaders("sk-ant-good"), msgBody("claude-sonnet-4-5", "hi", 5, `,"temperature":1.5`), 400, "invalid_request_error",
			"temperature: Input should be less than or equal to 1"},
		{"stop_sequences", anthropicHeaders("sk-ant-good"), msgBody("claude-sonnet-4-5", "hi", 5, `,"stop_sequences":["a",1]`), 400, "invalid_request_error",
			"stop_sequences.1: Input should be a valid string"},
		{"metadata", anthropicHeaders("sk-ant-good"), msgBody("claude-sonnet-4-5", "hi", 5, `,"metadata":{"user":"x"}`), 400, "invalid_request_error",
			"metadata.user: Extra inputs are not permitted"},
		{"stream", anthropicHeaders("sk-ant-good"), msgBody("claude-sonnet-4-5", "hi", 5, `,"stream":"yes"`), 400, "invalid_request_error",
			"stream: Input should be a valid boolean"},
	}
	for _, c := range cases {
		a, err := postMessages(t, http.DefaultClient, url, c.header, c.body)
		if err != nil {
			t.Fatal(err)
		}
		id := a.header.Get("Request-Id")
		want := fmt.Sprintf(`{"type":"error","error":{"type":%q,"message":%s},"request_id":%q}`, c.typ, mustJSON(c.msg), id)
		if a.status != c.status || string(a.body) != want || !requestIDRe.MatchString(id) {
			t.Errorf("%s: got %d %s\nwant %d %s", c.name, a.status, a.body, c.status, want)
		}
		if a.header.Get("X-Should-Retry") != "false" || a.header.Get("Anthropic-Organization-Id") != "org-emulator" ||
			a.header.Get("Retry-After") != "" {
			t.Errorf("%s: headers %v", c.name, a.header)
		}
	}
	if st := getStats(t, url, "sk-ant-good"); st.BadRequests != 26 || st.Received != 26 || st.OK != 0 {
		t.Errorf("stats: %+v", st)
	}
	if st := getStats(t, url, "sk-ant-broke"); st.QuotaErrors != 1 {
		t.Errorf("quota stats: %+v", st)
	}
	if st := getStats(t, url, ""); st.AuthErrors != 1 {
		t.Errorf("keyless stats: %+v", st)
	}
	resp, err := http.Get(url + "/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 405 || !strings.HasPrefix(string(b), `{"type":"error","error":{"type":"invalid_request_error"`) {
		t.Errorf("GET: %d %s", resp.StatusCode, b)
	}
}

// mustJSON renders s as a JSON string the way the emulator does.
func mustJSON(s string) string {
	return string(appendJSONString(nil, s))
}

// parseReset checks an anthropic-ratelimit-*-reset header.
func parseReset(t *testing.T, h http.Header, name string) time.Time {
	t.Helper()
	v := h.Get("Anthropic-Ratelimit-" + name + "-Reset")
	at, err := time.Parse(time.RFC3339, v)
	if err != nil || !strings.HasSuffix(v, "Z") || at.Nanosecond() != 0 {
		t.Fatalf("%s reset %q: %v", name, v, err)
	}
	return at
}

func TestMessagesRateLimitRequests(t *testing.T) {
	// 600 RPM over a 200 ms window: 2 requests per window.
	url := startEmulator(t, "--rpm", "600", "--window-ms", "200", "--should-retry-header")
	key := "sk-ant-rate"
	for i := 0; i < 2; i++ {
		a := mustMessages(t, url, key, msgBody("claude-sonnet-4-5", fmt.Sprint("n", i), 32, ""))
		if a.status != 200 {
			t.Fatalf("request %d: %d %s", i, a.status, a.body)
		}
		if a.header.Get("Anthropic-Ratelimit-Requests-Limit") != "2" || a.header.Get("Anthropic-Ratelimit-Requests-Remaining") != strconv.Itoa(1-i) {
			t.Errorf("request %d headers: %v", i, a.header)
		}
		if a.header.Get("Anthropic-Ratelimit-Input-Tokens-Limit") != "" || a.header.Get("Anthropic-Ratelimit-Tokens-Limit") != "" {
			t.Errorf("token headers without token limits: %v", a.header)
		}
	}
	before := time.Now()
	a := mustMessages(t, url, key, msgBody("claude-sonnet-4-5", "n2", 32, ""))
	if a.status != 429 {
		t.Fatalf("third request: %d %s", a.status, a.body)
	}
	want := `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization (org-emulator) ` +
		`of 2 requests per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. ` +
		`Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales ` +
		`to discuss your options for a rate limit increase."},"request_id":"` + a.header.Get("Request-Id") + `"}`
	if string(a.body) != want {
		t.Errorf("429 body:\n got %s\nwant %s", a.body, want)
	}
	if a.header.Get("Retry-After") != "1" || a.header.Get("Retry-After-Ms") != "" || a.header.Get("X-Should-Retry") != "true" ||
		a.header.Get("Anthropic-Ratelimit-Requests-Remaining") != "0" {
		t.Errorf("429 headers: %v", a.header)
	}
	// The window has room again within 200 ms; the reset is that moment
	// rounded up to the second.
	reset := parseReset(t, a.header, "Requests")
	if reset.Before(before.Truncate(time.Second)) || reset.After(before.Add(1200*time.Millisecond)) {
		t.Errorf("reset %v, request at %v", reset, before)
	}
	time.Sleep(250 * time.Millisecond)
	if a := mustMessages(t, url, key, msgBody("claude-sonnet-4-5", "n3", 32, "")); a.status != 200 {
		t.Fatalf("after the window: %d %s", a.status, a.body)
	}
	st := getStats(t, url, key)
	if st.OK != 3 || st.RateLimited != 1 || st.PeakWindowRequests != 2 || st.ReqCap != 2 || st.ITPMCap != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestMessagesTokenLimits(t *testing.T) {
	// Over the default 60 s window the caps equal the per-minute figures.
	url := startEmulator(t, "--itpm", "2300", "--otpm", "100")
	const model = "claude-sonnet-4-5"
	target := refTarget(model, "Hello there") // 28

	// Output: max_tokens is charged on arrival, the actual output afterwards.
	a := mustMessages(t, url, "sk-ant-out", msgBody(model, "Hello there", 100, ""))
	if a.status != 200 || a.header.Get("Anthropic-Ratelimit-Output-Tokens-Limit") != "100" ||
		a.header.Get("Anthropic-Ratelimit-Output-Tokens-Remaining") != strconv.FormatInt(100-target, 10) ||
		a.header.Get("Anthropic-Ratelimit-Input-Tokens-Remaining") != "2290" {
		t.Fatalf("first: %d %v %s", a.status, a.header, a.body)
	}
	// The most restrictive token limit is the output one.
	if a.header.Get("Anthropic-Ratelimit-Tokens-Limit") != "100" || a.header.Get("Anthropic-Ratelimit-Tokens-Remaining") != strconv.FormatInt(100-target, 10) {
		t.Errorf("tokens headers: %v", a.header)
	}
	parseReset(t, a.header, "Output-Tokens")
	parseReset(t, a.header, "Tokens")
	a = mustMessages(t, url, "sk-ant-out", msgBody(model, "x", int(100-target+1), ""))
	if a.status != 429 || !strings.Contains(string(a.body), "of 100 output tokens per minute.") || a.header.Get("Retry-After") == "" {
		t.Fatalf("over the output cap: %d %v %s", a.status, a.header, a.body)
	}
	if a = mustMessages(t, url, "sk-ant-out", msgBody(model, "x", int(100-target), "")); a.status != 200 {
		t.Fatalf("freed output capacity: %d %s", a.status, a.body)
	}

	// Input: cached reads are taken off the charge once the reply is made.
	long := msgBody(model, strings.Repeat("abcd", 1100), 1, "") // prompt 1107
	for i, want := range []int64{2300 - 1107, 2300 - 1107 - 83, 2300 - 1107 - 2*83} {
		a := mustMessages(t, url, "sk-ant-in", long)
		if a.status != 200 || a.header.Get("Anthropic-Ratelimit-Input-Tokens-Remaining") != strconv.FormatInt(want, 10) {
			t.Fatalf("long prompt %d: %d %v %s", i, a.status, a.header, a.body)
		}
	}
	// 1273 in the window + 1107 > 2300. Without reconciliation the third
	// request (2214 + 1107) would already have been refused.
	a = mustMessages(t, url, "sk-ant-in", long)
	if a.status != 429 || !strings.Contains(string(a.body), "of 2300 input tokens per minute.") {
		t.Fatalf("over the input cap: %d %s", a.status, a.body)
	}
	if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 59 || ra > 60 {
		t.Errorf("retry-after %q", a.header.Get("Retry-After"))
	}
	st := getStats(t, url, "sk-ant-in")
	if st.OK != 3 || st.RateLimited != 1 || st.PromptTokens != 3*1107 || st.CachedTokens != 2048 ||
		st.PeakWindowInputTokens != 1107+83+1107 || st.PeakWindowOutputTokens != 3 || st.ITPMCap != 2300 || st.OTPMCap != 100 {
		t.Errorf("stats: %+v", st)
	}

	// Every key's stats carry the new fields.
	resp, err := http.Get(url + "/_emulator/stats?key=nobody")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	for _, f := range []string{"peak_window_input_tokens", "peak_window_output_tokens", "itpm_cap", "otpm_cap"} {
		if _, ok := raw[f]; !ok {
			t.Errorf("stats lack %s: %v", f, raw)
		}
	}
}

func TestMessagesCombinedTokenLimit(t *testing.T) {
	url := startEmulator(t, "--tpm", "120")
	// "hi": prompt 8; charge 8 + 100 fits, then is reconciled to 8 + 100 at most.
	a := mustMessages(t, url, "sk-ant-tpm", msgBody("m", "hi", 100, ""))
	used := 8 + min(100, refTarget("m", "hi"))
	if a.status != 200 || a.header.Get("Anthropic-Ratelimit-Tokens-Limit") != "120" ||
		a.header.Get("Anthropic-Ratelimit-Tokens-Remaining") != strconv.FormatInt(120-used, 10) ||
		a.header.Get("Anthropic-Ratelimit-Input-Tokens-Limit") != "" {
		t.Fatalf("first: %d %v %s", a.status, a.header, a.body)
	}
	a = mustMessages(t, url, "sk-ant-tpm", msgBody("m", "hi", int(120-used-8+1), ""))
	if a.status != 429 || !strings.Contains(string(a.body), "of 120 tokens per minute.") {
		t.Fatalf("over the combined cap: %d %s", a.status, a.body)
	}
	// A request larger than a cap is refused like any other.
	a = mustMessages(t, url, "sk-ant-tpm-2", msgBody("m", "hi", 500, ""))
	if a.status != 429 || a.header.Get("Retry-After") != "1" || !strings.Contains(string(a.body), `"type":"rate_limit_error"`) {
		t.Fatalf("larger than the cap: %d %v %s", a.status, a.header, a.body)
	}
	if st := getStats(t, url, "sk-ant-tpm"); st.PeakWindowTokens != 108 || st.TokCap != 120 {
		t.Errorf("stats: %+v", st)
	}
}

func TestMessagesFaults(t *testing.T) {
	url := startEmulator(t, "--error-rate", "1", "--seed", "5", "--should-retry-header")
	var mu sync.Mutex
	seen := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := postMessages(t, http.DefaultClient, url, anthropicHeaders("sk-ant-err"), msgBody("m", fmt.Sprint("body ", i), 8, ""))
			if err != nil {
				t.Error(err)
				return
			}
			typ, msg := "api_error", "Internal server error"
			if a.status == 529 {
				typ, msg = "overloaded_error", "Overloaded"
			}
			want := fmt.Sprintf(`{"type":"error","error":{"type":%q,"message":%q},"request_id":%q}`, typ, msg, a.header.Get("Request-Id"))
			if (a.status != 500 && a.status != 529) || string(a.body) != want || a.header.Get("X-Should-Retry") != "true" {
				t.Errorf("fault: %d %v %s", a.status, a.header, a.body)
			}
			mu.Lock()
			seen[a.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if seen[500] == 0 || seen[529] == 0 {
		t.Errorf("statuses %v", seen)
	}
	if st := getStats(t, url, "sk-ant-err"); st.ServerErrors != 24 || st.OK != 0 {
		t.Errorf("stats: %+v", st)
	}

	// --fail-first counts arrivals per body, per key and per endpoint.
	url = startEmulator(t, "--fail-first", "1", "--rpm", "60")
	body := msgBody("m", "retry me", 8, "")
	var statuses []int
	for i := 0; i < 2; i++ {
		statuses = append(statuses, mustMessages(t, url, "sk-ant-ff", body).status)
	}
	statuses = append(statuses, mustPost(t, url, "sk-ant-ff", body).status)
	if fmt.Sprint(statuses) != "[500 200 500]" {
		t.Errorf("statuses %v", statuses)
	}
	// Server errors are not counted in the window.
	if st := getStats(t, url, "sk-ant-ff"); st.PeakWindowRequests != 1 || st.ServerErrors != 2 {
		t.Errorf("stats: %+v", st)
	}

	url = startEmulator(t, "--reset-rate", "1")
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	if a, err := postMessages(t, &http.Client{Transport: tr}, url, anthropicHeaders("sk-ant-rst"), body); err == nil {
		t.Fatalf("expected a transport error, got %d", a.status)
	}
	if st := getStats(t, url, "sk-ant-rst"); st.Resets != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestMessagesWindowAccounting(t *testing.T) {
	l := newMessagesLimits(120, 600, 300, 0, time.Second) // 2 requests, 10 input, 5 output
	var w messagesWindow
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	a1 := w.admit(at(0), l, tokenVec{4, 5, 9})
	if a1.refused != refusedNone {
		t.Fatalf("first: %+v", a1)
	}
	if a := w.admit(at(100), l, tokenVec{4, 1, 5}); a.refused != refusedOutput || a.wait != 900*time.Millisecond {
		t.Fatalf("output: %+v", a)
	}
	w.reconcile(a1.seq, tokenVec{4, 2, 6})
	if a := w.admit(at(100), l, tokenVec{7, 1, 8}); a.refused != refusedInput || a.wait != 900*time.Millisecond {
		t.Fatalf("input: %+v", a)
	}
	if a := w.admit(at(100), l, tokenVec{6, 3, 9}); a.refused != refusedNone {
		t.Fatalf("after reconcile: %+v", a)
	}
	if a := w.admit(at(200), l, tokenVec{1, 1, 2}); a.refused != refusedRequests || a.wait != 800*time.Millisecond {
		t.Fatalf("requests: %+v", a)
	}
	if a := w.admit(at(1000), l, tokenVec{11, 1, 12}); a.refused != refusedInput || a.wait != 100*time.Millisecond {
		t.Fatalf("larger than the cap: %+v", a)
	}
	s := w.snapshot(at(1050), l)
	if s.remainingRequests != 1 || s.remainingTokens != (tokenVec{4, 2, 0}) || s.reset != 50*time.Millisecond {
		t.Fatalf("snapshot: %+v", s)
	}
	if w.peakRequests != 2 || w.peakTokens != (tokenVec{10, 5, 15}) {
		t.Fatalf("peaks %d %v", w.peakRequests, w.peakTokens)
	}
	if got := formatResetTime(at(1050), s.reset); got != "2025-01-02T03:04:07Z" {
		t.Errorf("formatResetTime = %s", got)
	}
	if got := formatResetTime(t0, 0); got != "2025-01-02T03:04:05Z" {
		t.Errorf("formatResetTime on a whole second = %s", got)
	}
	if got := formatResetTime(t0.In(time.FixedZone("X", 3600)), time.Nanosecond); got != "2025-01-02T03:04:06Z" {
		t.Errorf("formatResetTime = %s", got)
	}
}
