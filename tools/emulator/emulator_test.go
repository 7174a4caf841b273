package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// startEmulator runs the emulator on a free loopback port with args and
// returns its base URL.
func startEmulator(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("emulator did not start: %v (%v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("emulator exited with %v", err)
		}
	})
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("unexpected first line %q", line)
	}
	return "http://" + addr
}

type answer struct {
	status int
	header http.Header
	body   []byte
	proto  int
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, a.body)
	}
	return m
}

func post(t *testing.T, client *http.Client, url, key, body string) (answer, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
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

func mustPost(t *testing.T, url, key, body string) answer {
	t.Helper()
	a, err := post(t, http.DefaultClient, url, key, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func getStats(t *testing.T, url, key string) keyReport {
	t.Helper()
	resp, err := http.Get(url + "/_emulator/stats?key=" + key)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r keyReport
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func chatBody(model, content string, extra string) string {
	c, _ := json.Marshal(content)
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%s}]%s}`, model, c, extra)
}

// refTarget recomputes the completion length with the standard library's FNV.
func refTarget(model, last string) int64 {
	h := fnv.New64a()
	h.Write([]byte(model + "\x00" + last))
	return 16 + int64(h.Sum64()%48)
}

func TestTokenFormula(t *testing.T) {
	for s, want := range map[string]int64{"": 0, "a": 1, "abcd": 1, "abcde": 2, "héllo": 2, "12345678": 2} {
		if got := textTokens(s); got != want {
			t.Errorf("textTokens(%q) = %d, want %d", s, got, want)
		}
	}
	for n := int64(0); n < 200; n++ {
		if got := textTokens(replyText(n)); got != n || int64(len(replyText(n))) != 4*n {
			t.Fatalf("replyText(%d) has %d tokens", n, got)
		}
	}
	for _, m := range []string{"gpt-4o", "o3-mini", "x"} {
		for _, s := range []string{"", "Hello there", "日本語"} {
			if got, want := completionTarget(m, s), refTarget(m, s); got != want {
				t.Errorf("completionTarget(%q,%q) = %d, want %d", m, s, got, want)
			}
		}
	}
	// Pinned values: the client library's estimator must agree with these.
	if got := completionTarget("gpt-4o", "Hello there"); got != 54 {
		t.Errorf("completionTarget(gpt-4o, Hello there) = %d, want 54", got)
	}
	req, aerr := parseChatRequest([]byte(`{"model":"gpt-4o","messages":[` +
		`{"role":"system","content":"You are terse."},` +
		`{"role":"assistant","content":null},` +
		`{"role":"user","content":[{"type":"text","text":"Describe this image."},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}`))
	if aerr != nil {
		t.Fatal(aerr.message)
	}
	// 3 + (4+4) + 4 + (4+5+85)
	if req.promptTokens != 109 || req.lastContent != "Describe this image." {
		t.Errorf("prompt = %d, last = %q", req.promptTokens, req.lastContent)
	}
	if !isReasoningModel("o1") || !isReasoningModel("gpt-5-mini") || isReasoningModel("gpt-4o") || isReasoningModel("xo1") {
		t.Error("isReasoningModel")
	}
	if cachedTokens(1023, true) != 0 || cachedTokens(1300, true) != 1280 || cachedTokens(2000, false) != 0 {
		t.Error("cachedTokens")
	}
}

func TestSuccessShape(t *testing.T) {
	url := startEmulator(t)
	a := mustPost(t, url, "sk-test-0001", chatBody("gpt-4o", "Hello there", `,"max_completion_tokens":20,"temperature":0.2,"user":"u1","metadata":{"a":"b"}`))
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var got struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		Model   string `json:"model"`
		Choices []struct {
			Index   int `json:"index"`
			Message struct {
				Role        string  `json:"role"`
				Content     string  `json:"content"`
				Refusal     *string `json:"refusal"`
				Annotations []any   `json:"annotations"`
			} `json:"message"`
			Logprobs     any    `json:"logprobs"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		ServiceTier       string `json:"service_tier"`
		SystemFingerprint string `json:"system_fingerprint"`
	}
	if err := json.Unmarshal(a.body, &got); err != nil {
		t.Fatal(err)
	}
	usage := a.json(t)["usage"]
	if !strings.HasPrefix(got.ID, "chatcmpl-") || len(got.ID) != 38 || got.Object != "chat.completion" || got.Model != "gpt-4o" ||
		got.ServiceTier != "default" || got.SystemFingerprint != "fp_emulator" || time.Since(time.Unix(got.Created, 0)) > time.Minute {
		t.Errorf("envelope: %s", a.body)
	}
	if len(got.Choices) != 1 || got.Choices[0].Message.Role != "assistant" || got.Choices[0].Message.Refusal != nil ||
		got.Choices[0].Message.Annotations == nil || got.Choices[0].Logprobs != nil || got.Choices[0].FinishReason != "length" {
		t.Errorf("choices: %s", a.body)
	}
	if n := textTokens(got.Choices[0].Message.Content); n != 20 {
		t.Errorf("content has %d tokens", n)
	}
	want := map[string]any{
		"prompt_tokens": 10.0, "completion_tokens": 20.0, "total_tokens": 30.0,
		"prompt_tokens_details":     map[string]any{"cached_tokens": 0.0, "audio_tokens": 0.0},
		"completion_tokens_details": map[string]any{"reasoning_tokens": 0.0, "audio_tokens": 0.0, "accepted_prediction_tokens": 0.0, "rejected_prediction_tokens": 0.0},
	}
	if fmt.Sprint(usage) != fmt.Sprint(want) {
		t.Errorf("usage = %v, want %v", usage, want)
	}
	for _, h := range []string{"X-Request-Id", "Openai-Processing-Ms"} {
		if a.header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if a.header.Get("Openai-Version") != "2020-10-01" || a.header.Get("Openai-Organization") != "org-emulator" ||
		!strings.HasPrefix(a.header.Get("X-Request-Id"), "req_") || a.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers: %v", a.header)
	}

	// Uncapped: the natural length, finish "stop"; reasoning models report half.
	a = mustPost(t, url, "sk-test-0001", chatBody("o3-mini", "Hello there", ""))
	m := a.json(t)
	u := m["usage"].(map[string]any)
	c := int64(u["completion_tokens"].(float64))
	if c != refTarget("o3-mini", "Hello there") || m["choices"].([]any)[0].(map[string]any)["finish_reason"] != "stop" {
		t.Errorf("uncapped completion: %s", a.body)
	}
	if r := u["completion_tokens_details"].(map[string]any)["reasoning_tokens"].(float64); int64(r) != c/2 {
		t.Errorf("reasoning_tokens = %v, want %d", r, c/2)
	}

	// A long prompt is cached the second time for the same key only.
	long := strings.Repeat("abcd", 1100) // 1100 tokens
	first := mustPost(t, url, "sk-test-0001", chatBody("gpt-4o", long, "")).json(t)
	second := mustPost(t, url, "sk-test-0001", chatBody("gpt-4o", long, "")).json(t)
	other := mustPost(t, url, "sk-test-0002", chatBody("gpt-4o", long, "")).json(t)
	cached := func(m map[string]any) float64 {
		return m["usage"].(map[string]any)["prompt_tokens_details"].(map[string]any)["cached_tokens"].(float64)
	}
	if p := second["usage"].(map[string]any)["prompt_tokens"].(float64); p != 1107 {
		t.Errorf("prompt_tokens = %v, want 1107", p)
	}
	if cached(first) != 0 || cached(second) != 1024 || cached(other) != 0 {
		t.Errorf("cached = %v %v %v", cached(first), cached(second), cached(other))
	}

	st := getStats(t, url, "sk-test-0001")
	if st.Received != 4 || st.OK != 4 || st.CachedTokens != 1024 || st.Models["o3-mini"].OK != 1 || st.PromptTokens != 10+10+1107+1107 {
		t.Errorf("stats: %+v", st)
	}
}

func TestErrorBodies(t *testing.T) {
	url := startEmulator(t, "--invalid-keys", "sk-revoked-key-xyz", "--quota-keys", "sk-broke-00", "--known-models", "gpt-4o,o3",
		"--should-retry-header")
	ok := chatBody("gpt-4o", "hi", "")
	cases := []struct {
		name, key, body string
		status          int
		want            string
		retry           string
	}{
		{"missing key", "", ok, 401, `{"error":{"message":"You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":null}}`, "false"},
		{"invalid key", "sk-revoked-key-xyz", ok, 401, `{"error":{"message":"Incorrect API key provided: sk-re***yz. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, "false"},
		{"quota", "sk-broke-00", ok, 429, `{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`, "false"},
		{"unknown model", "sk-good", chatBody("gpt-9", "hi", ""), 404, "{\"error\":{\"message\":\"The model `gpt-9` does not exist or you do not have access to it.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}", "false"},
		{"bad json", "sk-good", `{"model":`, 400, `{"error":{"message":"We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)","type":"invalid_request_error","param":null,"code":null}}`, "false"},
		{"no model", "sk-good", `{"messages":[{"role":"user","content":"hi"}]}`, 400, `{"error":{"message":"you must provide a model parameter","type":"invalid_request_error","param":"model","code":null}}`, "false"},
		{"no messages", "sk-good", `{"model":"gpt-4o"}`, 400, `{"error":{"message":"Missing required parameter: 'messages'.","type":"invalid_request_error","param":"messages","code":"missing_required_parameter"}}`, "false"},
		{"empty messages", "sk-good", `{"model":"gpt-4o","messages":[]}`, 400, `{"error":{"message":"Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.","type":"invalid_request_error","param":"messages","code":"empty_array"}}`, "false"},
		{"bad role", "sk-good", `{"model":"gpt-4o","messages":[{"role":"robot","content":"hi"}]}`, 400, `{"error":{"message":"Invalid value: 'robot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.","type":"invalid_request_error","param":"messages[0].role","code":"invalid_value"}}`, "false"},
		{"bad max", "sk-good", chatBody("gpt-4o", "hi", `,"max_tokens":0`), 400, `{"error":{"message":"Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 instead.","type":"invalid_request_error","param":"max_tokens","code":"integer_below_min_value"}}`, "false"},
	}
	for _, c := range cases {
		a := mustPost(t, url, c.key, c.body)
		if a.status != c.status || strings.TrimSpace(string(a.body)) != c.want {
			t.Errorf("%s: got %d %s\nwant %d %s", c.name, a.status, a.body, c.status, c.want)
		}
		if a.header.Get("X-Should-Retry") != c.retry || a.header.Get("X-Request-Id") == "" {
			t.Errorf("%s: headers %v", c.name, a.header)
		}
	}
	a := mustPost(t, url, "sk-good", chatBody("gpt-4o", "hi", `,"stream":"yes"`))
	if a.status != 400 || !strings.Contains(string(a.body), "Invalid type for 'stream': expected a boolean, but got a string instead.") {
		t.Errorf("stream: %d %s", a.status, a.body)
	}
	if st := getStats(t, url, "sk-good"); st.BadRequests != 8 || st.OK != 0 || st.Received != 8 {
		t.Errorf("stats: %+v", st)
	}
	if st := getStats(t, url, "sk-broke-00"); st.QuotaErrors != 1 {
		t.Errorf("quota stats: %+v", st)
	}
	resp, err := http.Get(url + "/v1/chat/completions")
	if err != nil || resp.StatusCode != 405 {
		t.Errorf("GET: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestRateLimitRequests(t *testing.T) {
	// 240 RPM over a 500 ms window: 2 requests per window.
	url := startEmulator(t, "--rpm", "240", "--window-ms", "500", "--should-retry-header")
	key := "sk-rate-requests"
	for i := 0; i < 2; i++ {
		a := mustPost(t, url, key, chatBody("gpt-4o", fmt.Sprint("n", i), ""))
		if a.status != 200 {
			t.Fatalf("request %d: %d %s", i, a.status, a.body)
		}
		if a.header.Get("X-Ratelimit-Limit-Requests") != "2" || a.header.Get("X-Ratelimit-Remaining-Requests") != strconv.Itoa(1-i) {
			t.Errorf("request %d headers: %v", i, a.header)
		}
		if a.header.Get("X-Ratelimit-Limit-Tokens") != "" {
			t.Errorf("token headers without --tpm: %v", a.header)
		}
	}
	a := mustPost(t, url, key, chatBody("gpt-4o", "n2", ""))
	if a.status != 429 {
		t.Fatalf("third request: %d %s", a.status, a.body)
	}
	e := a.json(t)["error"].(map[string]any)
	if e["type"] != "requests" || e["code"] != "rate_limit_exceeded" || e["param"] != nil ||
		!strings.HasPrefix(e["message"].(string), "Rate limit reached for gpt-4o in organization org-emulator on requests per min (RPM): Limit 2, Used 2, Requested 1. Please try again in ") {
		t.Errorf("429 body: %s", a.body)
	}
	ms, err := strconv.Atoi(a.header.Get("Retry-After-Ms"))
	if err != nil || ms < 1 || ms > 500 || a.header.Get("Retry-After") != "1" || a.header.Get("X-Should-Retry") != "true" {
		t.Fatalf("retry headers: %v", a.header)
	}
	if a.header.Get("X-Ratelimit-Remaining-Requests") != "0" {
		t.Errorf("remaining after 429: %v", a.header)
	}
	if _, err := time.ParseDuration(a.header.Get("X-Ratelimit-Reset-Requests")); err != nil {
		t.Errorf("reset header: %v", a.header)
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
	if a := mustPost(t, url, key, chatBody("gpt-4o", "n3", "")); a.status != 200 {
		t.Fatalf("after waiting retry-after-ms: %d %s", a.status, a.body)
	}
	st := getStats(t, url, key)
	if st.OK != 3 || st.RateLimited != 1 || st.PeakWindowRequests != 2 || st.ReqCap != 2 {
		t.Errorf("stats: %+v", st)
	}
}

func TestRateLimitTokens(t *testing.T) {
	// 12000 TPM over 500 ms: 100 tokens per window.
	url := startEmulator(t, "--tpm", "12000", "--window-ms", "500")
	key := "sk-rate-tokens"
	// "hi": prompt 3 + 4 + 1 = 8; charge 8 + 92 = 100 fits exactly.
	a := mustPost(t, url, key, chatBody("gpt-4o", "hi", `,"max_completion_tokens":92`))
	if a.status != 200 || a.header.Get("X-Ratelimit-Limit-Tokens") != "100" {
		t.Fatalf("first: %d %v %s", a.status, a.header, a.body)
	}
	used := 8 + refTarget("gpt-4o", "hi") // reconciled to the actual usage
	if a.header.Get("X-Ratelimit-Remaining-Tokens") != strconv.FormatInt(100-used, 10) {
		t.Errorf("remaining tokens %s, want %d", a.header.Get("X-Ratelimit-Remaining-Tokens"), 100-used)
	}
	a = mustPost(t, url, key, chatBody("gpt-4o", "hi", `,"max_completion_tokens":92`))
	if a.status != 429 {
		t.Fatalf("second: %d %s", a.status, a.body)
	}
	e := a.json(t)["error"].(map[string]any)
	wantMsg := fmt.Sprintf("Rate limit reached for gpt-4o in organization org-emulator on tokens per min (TPM): Limit 100, Used %d, Requested 100.", used)
	if e["type"] != "tokens" || e["code"] != "rate_limit_exceeded" || !strings.HasPrefix(e["message"].(string), wantMsg) {
		t.Errorf("429 body: %s", a.body)
	}
	ms, err := strconv.Atoi(a.header.Get("Retry-After-Ms"))
	if err != nil || ms < 1 || ms > 500 {
		t.Fatalf("retry-after-ms: %v", a.header)
	}
	// A request that can never fit is refused without a retry hint.
	a = mustPost(t, url, key, chatBody("gpt-4o", "hi", `,"max_tokens":500`))
	if a.status != 429 || a.header.Get("Retry-After-Ms") != "" || !strings.Contains(string(a.body), "Request too large for gpt-4o") {
		t.Errorf("too large: %d %v %s", a.status, a.header, a.body)
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
	if a := mustPost(t, url, key, chatBody("gpt-4o", "hi", `,"max_completion_tokens":92`)); a.status != 200 {
		t.Fatalf("after waiting: %d %s", a.status, a.body)
	}
	st := getStats(t, url, key)
	if st.OK != 2 || st.RateLimited != 2 || st.PeakWindowTokens > st.TokCap || st.TokCap != 100 {
		t.Errorf("stats: %+v", st)
	}
}

func TestNoRetryAfter(t *testing.T) {
	url := startEmulator(t, "--rpm", "60", "--window-ms", "1000", "--no-retry-after")
	mustPost(t, url, "sk-k", chatBody("m", "a", ""))
	a := mustPost(t, url, "sk-k", chatBody("m", "b", ""))
	if a.status != 429 || a.header.Get("Retry-After") != "" || a.header.Get("Retry-After-Ms") != "" {
		t.Errorf("got %d %v", a.status, a.header)
	}
	if a.header.Get("X-Ratelimit-Reset-Requests") == "" {
		t.Errorf("rate-limit headers missing: %v", a.header)
	}
}

func TestWindowAccounting(t *testing.T) {
	l := newLimits(120, 600, time.Second) // 2 requests, 10 tokens
	var w window
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	if a := w.admit(at(0), l, 4); a.kind != admitted {
		t.Fatal("first")
	}
	a2 := w.admit(at(100), l, 4)
	if a2.kind != admitted {
		t.Fatal("second")
	}
	if a := w.admit(at(200), l, 1); a.kind != limitRequests || a.wait != 800*time.Millisecond || a.used != 2 {
		t.Fatalf("third: %+v", a)
	}
	if a := w.admit(at(1000), l, 7); a.kind != limitTokens || a.wait != 100*time.Millisecond || a.used != 4 {
		t.Fatalf("tokens: %+v", a)
	}
	w.reconcile(a2.seq, 2)
	if a := w.admit(at(1000), l, 8); a.kind != admitted {
		t.Fatalf("after reconcile: %+v", a)
	}
	if a := w.admit(at(1000), l, 11); a.kind != limitTooLarge {
		t.Fatalf("too large: %+v", a)
	}
	s := w.snapshot(at(1050), l)
	if s.remainingRequests != 0 || s.remainingTokens != 0 || s.reset != 50*time.Millisecond {
		t.Fatalf("snapshot: %+v", s)
	}
	if w.peakRequests != 2 || w.peakTokens != 10 {
		t.Fatalf("peaks %d %d", w.peakRequests, w.peakTokens)
	}
	if got := formatReset(s.reset); got != "50ms" {
		t.Errorf("formatReset = %s", got)
	}
	if l := newLimits(1, 0, 200*time.Millisecond); l.reqCap != 1 || l.tokCap != 0 {
		t.Errorf("scaled caps: %+v", l)
	}
}

func TestFailFirst(t *testing.T) {
	url := startEmulator(t, "--fail-first", "2", "--should-retry-header")
	body := chatBody("gpt-4o", "retry me", "")
	var statuses []int
	for i := 0; i < 3; i++ {
		a := mustPost(t, url, "sk-ff", body)
		statuses = append(statuses, a.status)
		if a.status == 500 {
			if strings.TrimSpace(string(a.body)) != `{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}` ||
				a.header.Get("X-Should-Retry") != "true" {
				t.Errorf("500: %v %s", a.header, a.body)
			}
		}
	}
	if fmt.Sprint(statuses) != "[500 500 200]" {
		t.Errorf("statuses %v", statuses)
	}
	// Counting is per body and per key.
	if a := mustPost(t, url, "sk-ff2", body); a.status != 500 {
		t.Errorf("other key: %d", a.status)
	}
	if a := mustPost(t, url, "sk-ff", chatBody("gpt-4o", "other", "")); a.status != 500 {
		t.Errorf("other body: %d", a.status)
	}
	if st := getStats(t, url, "sk-ff"); st.ServerErrors != 3 || st.OK != 1 || st.Received != 4 {
		t.Errorf("stats: %+v", st)
	}
	// After a reset the counting starts over.
	resp, err := http.Post(url+"/_emulator/reset", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a := mustPost(t, url, "sk-ff", body); a.status != 500 {
		t.Errorf("after reset: %d", a.status)
	}
}

func TestErrorRateDeterministic(t *testing.T) {
	outcomes := func(seed string) string {
		url := startEmulator(t, "--seed", seed, "--error-rate", "0.4")
		res := make([]int, 60)
		var wg sync.WaitGroup
		for i := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := post(t, http.DefaultClient, url, "sk-det", chatBody("gpt-4o", fmt.Sprint("body ", i), ""))
				if err != nil {
					t.Error(err)
					return
				}
				res[i] = a.status
				if a.status == 503 && !strings.Contains(string(a.body), "The engine is currently overloaded, please try again later") {
					t.Errorf("503 body: %s", a.body)
				}
			}()
		}
		wg.Wait()
		return fmt.Sprint(res)
	}
	a, b, c := outcomes("7"), outcomes("7"), outcomes("8")
	if a != b {
		t.Errorf("same seed, different outcomes:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("different seeds, same outcomes: %s", a)
	}
	if !strings.Contains(a, "500") || !strings.Contains(a, "200") {
		t.Errorf("expected a mix of outcomes: %s", a)
	}
}

func h2cClient() *http.Client {
	return &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func TestReset(t *testing.T) {
	url := startEmulator(t, "--reset-rate", "1")
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	if a, err := post(t, &http.Client{Transport: tr}, url, "sk-reset", chatBody("gpt-4o", "x", "")); err == nil {
		t.Fatalf("HTTP/1.1: expected a transport error, got %d", a.status)
	}
	if a, err := post(t, h2cClient(), url, "sk-reset", chatBody("gpt-4o", "x", "")); err == nil {
		t.Fatalf("HTTP/2: expected a stream error, got %d", a.status)
	}
	if st := getStats(t, url, "sk-reset"); st.Resets != 2 || st.OK != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestStallEndsWithClient(t *testing.T) {
	url := startEmulator(t, "--stall-rate", "1", "--stall-ms", "20000")
	client := &http.Client{Timeout: 150 * time.Millisecond}
	start := time.Now()
	if _, err := post(t, client, url, "sk-stall", chatBody("gpt-4o", "x", "")); err == nil {
		t.Fatal("expected a client timeout")
	}
	for time.Since(start) < 3*time.Second {
		if st := getStats(t, url, "sk-stall"); st.Stalls == 1 {
			if st.OK != 0 {
				t.Errorf("stats: %+v", st)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("stalled handler did not notice the client leaving")
}

func TestLatency(t *testing.T) {
	url := startEmulator(t, "--latency-ms", "60", "--jitter-ms", "20")
	start := time.Now()
	a := mustPost(t, url, "sk-lat", chatBody("gpt-4o", "x", ""))
	if d := time.Since(start); a.status != 200 || d < 60*time.Millisecond {
		t.Errorf("status %d after %v", a.status, d)
	}
}

func TestH2C(t *testing.T) {
	url := startEmulator(t)
	a, err := post(t, h2cClient(), url, "sk-h2", chatBody("gpt-4o", "Hello there", ""))
	if err != nil {
		t.Fatal(err)
	}
	if a.proto != 2 || a.status != 200 || a.header.Get("X-Request-Id") == "" {
		t.Fatalf("proto %d status %d", a.proto, a.status)
	}
	if u := a.json(t)["usage"].(map[string]any); u["prompt_tokens"] != 10.0 {
		t.Errorf("usage %v", u)
	}
}

func TestH2CUpgrade(t *testing.T) {
	url := startEmulator(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	body := chatBody("gpt-4o", "Hello there", "")
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"+
		"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nAuthorization: Bearer sk-up\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	br := bufio.NewReader(conn)
	line, _ := br.ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 101") {
		t.Fatalf("status line %q", line)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "\r\n" {
			break
		}
	}
	io.WriteString(conn, http2.ClientPreface)
	fr := http2.NewFramer(conn, br)
	fr.WriteSettings()
	var status string
	var data []byte
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			dec.Write(f.HeaderBlockFragment())
		case *http2.DataFrame:
			if f.StreamID == 1 {
				data = append(data, f.Data()...)
				if f.StreamEnded() {
					if status != "200" || !bytes.Contains(data, []byte(`"prompt_tokens":10`)) {
						t.Fatalf("status %s body %s", status, data)
					}
					return
				}
			}
		}
	}
}

func TestSpecValidation(t *testing.T) {
	spec, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "specs", "openai-openapi.json"))
	if _, err := os.Stat(spec); err != nil {
		t.Skipf("spec not available: %v", err)
	}
	url := startEmulator(t, "--validate-spec", spec)
	good := []string{
		chatBody("gpt-4o", "hi", `,"max_completion_tokens":5,"temperature":0.5,"top_p":1,"stop":["x"],"user":"u","metadata":{"k":"v"}`),
		chatBody("gpt-4o", "hi", `,"max_tokens":null,"temperature":null`),
		`{"model":"gpt-4o","messages":[{"role":"developer","content":"d"},{"role":"user","content":[{"type":"text","text":"t"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]},{"role":"assistant","content":"a"}]}`,
	}
	for _, b := range good {
		if a := mustPost(t, url, "sk-spec", b); a.status != 200 {
			t.Errorf("valid body refused: %s\n%s", b, a.body)
		}
	}
	bad := map[string]string{
		`{"model":"gpt-4o","messages":"hi"}`:                                          "messages",
		chatBody("gpt-4o", "hi", `,"temperature":"x"`):                                "temperature",
		`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text"}]}]}`: "messages[0].content",
	}
	for b, param := range bad {
		a := mustPost(t, url, "sk-spec", b)
		e, _ := a.json(t)["error"].(map[string]any)
		if a.status != 400 || e["type"] != "invalid_request_error" || !strings.HasPrefix(fmt.Sprint(e["param"]), param) ||
			!strings.Contains(fmt.Sprint(e["message"]), "CreateChatCompletionRequest") {
			t.Errorf("invalid body %s: %d %s", b, a.status, a.body)
		}
	}
	if st := getStats(t, url, "sk-spec"); st.SpecViolations != 3 || st.BadRequests != 3 || st.OK != 3 {
		t.Errorf("stats: %+v", st)
	}
}

func TestControlEndpoints(t *testing.T) {
	url := startEmulator(t, "--rpm", "60", "--tpm", "6000")
	resp, err := http.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" {
		t.Errorf("health: %d %q", resp.StatusCode, b)
	}
	mustPost(t, url, "sk-stats-key-01", chatBody("gpt-4o", "Hello there", ""))
	resp, err = http.Get(url + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	var all struct {
		Keys     map[string]keyReport `json:"keys"`
		Received []recentCall         `json:"received"`
	}
	json.NewDecoder(resp.Body).Decode(&all)
	resp.Body.Close()
	if k := all.Keys["sk-stats-key-01"]; k.OK != 1 || k.ReqCap != 60 || k.TokCap != 6000 || k.PeakWindowRequests != 1 {
		t.Errorf("keys: %+v", all.Keys)
	}
	if len(all.Received) != 1 || all.Received[0].Key != "sk-st***01" || all.Received[0].Status != 200 || all.Received[0].PromptTokens != 10 {
		t.Errorf("received: %+v", all.Received)
	}
	if z := getStats(t, url, "nobody"); z.Received != 0 || z.ReqCap != 60 || z.Models == nil {
		t.Errorf("unknown key: %+v", z)
	}
	resp, _ = http.Post(url+"/_emulator/reset", "", nil)
	resp.Body.Close()
	if z := getStats(t, url, "sk-stats-key-01"); z.Received != 0 {
		t.Errorf("after reset: %+v", z)
	}
	resp, _ = http.Get(url + "/v1/nothing")
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(b), "Invalid URL (GET /v1/nothing)") {
		t.Errorf("unknown path: %d %s", resp.StatusCode, b)
	}
}

func TestConfig(t *testing.T) {
	for _, h := range []string{"0.0.0.0", "10.0.0.1", "example.com", "::"} {
		if _, err := loopbackHost(h); err == nil {
			t.Errorf("host %q accepted", h)
		}
	}
	for _, h := range []string{"127.0.0.1", "localhost", "::1", "127.0.0.2"} {
		if _, err := loopbackHost(h); err != nil {
			t.Errorf("host %q refused: %v", h, err)
		}
	}
	if _, err := parseConfig([]string{"--error-rate", "2"}, io.Discard); err == nil {
		t.Error("error rate 2 accepted")
	}
	dir := t.TempDir()
	pf := filepath.Join(dir, "port")
	url := startEmulator(t, "--port-file", pf)
	b, err := os.ReadFile(pf)
	if err != nil || !strings.HasSuffix(url, ":"+strings.TrimSpace(string(b))) {
		t.Errorf("port file %q for %s (%v)", b, url, err)
	}
}
