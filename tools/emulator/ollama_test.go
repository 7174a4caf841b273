package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ollamaBody(model, content, extra string) string {
	c, _ := json.Marshal(content)
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%s}]%s}`, model, c, extra)
}

func postOllama(t *testing.T, url, key, body string) streamAnswer {
	t.Helper()
	return postOllamaTo(t, url, "/api/chat", key, body)
}

// postOllamaTo sends body to an Ollama path, with a bearer key when key is
// set.
func postOllamaTo(t *testing.T, url, path, key, body string) streamAnswer {
	t.Helper()
	a, err := postStream(t, http.DefaultClient, url, path, oaHeaders(key), body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// parseNDJSON decodes one JSON object per line.
func parseNDJSON(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	text := string(body)
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("unterminated line: %q", text)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		out = append(out, decode(t, line))
	}
	return out
}

func TestOllamaChat(t *testing.T) {
	url := startEmulator(t)
	// Non-streaming: "Hello there" gives 10 prompt tokens and the common target.
	a := postOllama(t, url, "", ollamaBody("llama3.2", "Hello there", `,"stream":false,"options":{"temperature":0.2,"top_p":0.9,"seed":7,"stop":["x"]},"keep_alive":"5m"`))
	if a.status != 200 || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d: %v %s", a.status, a.header, a.body)
	}
	for k := range a.header {
		if strings.Contains(strings.ToLower(k), "ratelimit") || strings.HasPrefix(k, "Openai-") {
			t.Errorf("unexpected header %s", k)
		}
	}
	m := decode(t, string(a.body))
	target := refTarget("llama3.2", "Hello there")
	if target != 29 { // pinned, as in the documentation
		t.Fatalf("target %d", target)
	}
	if m["model"] != "llama3.2" || m["done"] != true || m["done_reason"] != "stop" || m["prompt_eval_count"] != 10.0 ||
		m["eval_count"] != float64(target) || !reflect.DeepEqual(m["message"], map[string]any{"role": "assistant", "content": replyText(target)}) {
		t.Errorf("body: %s", a.body)
	}
	if _, err := time.Parse(time.RFC3339Nano, m["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}
	for _, k := range []string{"total_duration", "load_duration", "prompt_eval_duration", "eval_duration"} {
		if v, ok := m[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v", k, m[k])
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) != 11 {
		t.Errorf("fields %v", keys)
	}

	// Streaming is the default: NDJSON deltas, then the final object.
	for _, c := range []struct {
		extra  string
		reason string
	}{
		{"", "stop"},
		{`,"options":{"num_predict":5}`, "length"},
		{`,"format":"json"`, "stop"},
		{`,"format":` + personSchema, "stop"},
	} {
		body := ollamaBody("llama3.2", "Hello there", c.extra)
		plain := decode(t, string(postOllama(t, url, "sk-oll", strings.Replace(body, `"messages"`, `"stream":false,"messages"`, 1)).body))
		a := postOllama(t, url, "sk-oll", body)
		if a.status != 200 || a.header.Get("Content-Type") != "application/x-ndjson" || a.readErr != nil {
			t.Fatalf("%s: %d %v %s", c.extra, a.status, a.header, a.body)
		}
		lines := parseNDJSON(t, a.body)
		var deltas []string
		for _, l := range lines[:len(lines)-1] {
			msg := l["message"].(map[string]any)
			if l["done"] != false || msg["role"] != "assistant" || l["model"] != "llama3.2" || len(l) != 4 {
				t.Errorf("line %v", l)
			}
			deltas = append(deltas, msg["content"].(string))
		}
		checkDeltaSizes(t, deltas)
		last := lines[len(lines)-1]
		text := plain["message"].(map[string]any)["content"]
		if strings.Join(deltas, "") != text || last["done"] != true || last["done_reason"] != c.reason || plain["done_reason"] != c.reason ||
			!reflect.DeepEqual(last["message"], map[string]any{"role": "assistant", "content": ""}) ||
			last["prompt_eval_count"] != plain["prompt_eval_count"] || last["eval_count"] != plain["eval_count"] {
			t.Errorf("%s: stream %s\nplain %v", c.extra, a.body, plain)
		}
		switch c.extra {
		case `,"format":"json"`:
			if text != string(answerDocument(replyText(refTarget("llama3.2", "Hello there")))) {
				t.Errorf("json: %v", text)
			}
		case `,"format":` + personSchema:
			if text != `{"name":"aaa","age":18}` || plain["eval_count"] != float64(textTokens(`{"name":"aaa","age":18}`)) {
				t.Errorf("schema: %v", plain)
			}
		}
	}

	// Images cost 85 tokens each.
	a = postOllama(t, url, "", `{"model":"llava","stream":false,"messages":[{"role":"system","content":"Be brief."},`+
		`{"role":"user","content":"What is this?","images":["iVBORw0KGgo=","iVBORw0KGgo="]}]}`)
	// 3 + (4+3) + (4+4+170)
	if m := decode(t, string(a.body)); m["prompt_eval_count"] != 188.0 {
		t.Errorf("images: %s", a.body)
	}

	if st := getStats(t, url, "ollama"); st.OK != 2 || st.PromptTokens != 10+188 || st.Models["llava"].OK != 1 {
		t.Errorf("keyless stats: %+v", st)
	}
	if st := getStats(t, url, "sk-oll"); st.OK != 8 || st.InvalidJSON != 0 {
		t.Errorf("keyed stats: %+v", st)
	}
}

func TestOllamaErrors(t *testing.T) {
	url := startEmulator(t, "--known-models", "llama3.2", "--rpm", "240", "--window-ms", "500")
	cases := []struct {
		body   string
		status int
		msg    string
	}{
		{ollamaBody("mistral", "x", ""), 404, `model "mistral" not found, try pulling it first`},
		{`{"model":`, 400, "unexpected end of JSON input"},
		{`{"messages":[]}`, 400, "model is required"},
		{`{"model":"llama3.2"}`, 400, "messages is required"},
		{`{"model":"llama3.2","messages":[{"role":"robot","content":"x"}]}`, 400, `messages[0]: invalid role "robot"`},
		{`{"model":"llama3.2","messages":[{"role":"user","content":"x","images":["!!"]}]}`, 400, "illegal base64 data at input byte 0"},
		{ollamaBody("llama3.2", "x", `,"format":"yaml"`), 400, `invalid format: "yaml"; expected "json" or a valid JSON Schema`},
		{ollamaBody("llama3.2", "x", `,"options":{"num_predict":"5"}`), 400, `option "num_predict" must be of type integer`},
		{ollamaBody("llama3.2", "x", `,"stream":"no"`), 400, "json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool"},
		{ollamaBody("llama3.2", "x", `,"keep_alive":"forever"`), 400, `time: invalid duration "forever"`},
	}
	for _, c := range cases {
		a := postOllama(t, url, "sk-oll-err", c.body)
		want, _ := json.Marshal(map[string]string{"error": c.msg})
		if a.status != c.status || string(a.body) != string(want) {
			t.Errorf("%s: %d %s, want %d %s", c.body, a.status, a.body, c.status, want)
		}
	}
	// Rate limits apply (2 requests per 500 ms window), without headers.
	body := ollamaBody("llama3.2", "x", `,"stream":false`)
	for i, want := range []int{200, 200, 429} {
		a := postOllama(t, url, "sk-oll-rate", body)
		if a.status != want || (want == 429 && string(a.body) != `{"error":"rate limited"}`) || a.header.Get("Retry-After") != "" ||
			a.header.Get("X-Ratelimit-Limit-Requests") != "" {
			t.Errorf("request %d: %d %v %s", i, a.status, a.header, a.body)
		}
	}
	if st := getStats(t, url, "sk-oll-err"); st.BadRequests != len64(cases) {
		t.Errorf("stats: %+v", st)
	}
	if st := getStats(t, url, "sk-oll-rate"); st.RateLimited != 1 || st.OK != 2 {
		t.Errorf("rate stats: %+v", st)
	}
	resp, err := http.Get(url + "/api/chat")
	if err != nil || resp.StatusCode != 405 {
		t.Errorf("GET: %v %v", resp, err)
	}
	resp.Body.Close()
}

func len64[T any](s []T) int64 { return int64(len(s)) }

func TestOllamaFaults(t *testing.T) {
	url := startEmulator(t, "--error-rate", "1", "--seed", "5")
	seen := map[int]bool{}
	for i := 0; i < 12; i++ {
		a := postOllama(t, url, "", ollamaBody("llama3.2", fmt.Sprint("body ", i), ""))
		seen[a.status] = true
		if a.status == 503 && string(a.body) != `{"error":"server busy, please try again.  maximum pending requests exceeded"}` ||
			a.status == 500 && !strings.HasPrefix(string(a.body), `{"error":"`) {
			t.Errorf("%d %s", a.status, a.body)
		}
	}
	if !seen[500] || !seen[503] || len(seen) != 2 {
		t.Errorf("statuses %v", seen)
	}

	// Mid-stream errors end the NDJSON stream with an error line.
	url = startEmulator(t, "--midstream-error-rate", "1", "--invalid-json-first", "1")
	a := postOllama(t, url, "", ollamaBody("llama3.2", "Hello there", ""))
	lines := parseNDJSON(t, a.body)
	if last := lines[len(lines)-1]; last["error"] != ollamaMidError || len(lines) != 1+len(streamDeltas(replyText(refTarget("llama3.2", "Hello there"))))/2 {
		t.Errorf("mid-stream error: %s", a.body)
	}
	// Non-streaming: the first arrival of a body asking for a schema gets an
	// invalid document.
	body := ollamaBody("llama3.2", "Who?", `,"stream":false,"format":`+personSchema)
	for i, want := range []string{`{"age":18}`, `{"name":"aaa","age":18}`} {
		m := decode(t, string(postOllama(t, url, "", body).body))
		if got := m["message"].(map[string]any)["content"]; got != want {
			t.Errorf("arrival %d: %v", i, got)
		}
	}
	if st := getStats(t, url, "ollama"); st.ServerErrors != 1 || st.InvalidJSON != 1 || st.OK != 2 {
		t.Errorf("stats: %+v", st)
	}
}
