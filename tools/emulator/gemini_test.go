package main

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// postGemini sends body to /v1beta/models/{model}:{method}{query} with key
// in x-goog-api-key (none when empty).
func postGemini(t *testing.T, url, key, model, method, body string) streamAnswer {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	if key != "" {
		h["X-Goog-Api-Key"] = key
	}
	a, err := postStream(t, http.DefaultClient, url, "/v1beta/models/"+model+":"+method, h, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func geminiBody(text, extra string) string {
	c, _ := json.Marshal(text)
	return `{"contents":[{"role":"user","parts":[{"text":` + string(c) + `}]}]` + extra + `}`
}

// parseGeminiSSE splits a Gemini event stream: "data: JSON\r\n\r\n" events
// and nothing else.
func parseGeminiSSE(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	text := string(body)
	for text != "" {
		block, rest, ok := strings.Cut(text, "\r\n\r\n")
		if !ok {
			t.Fatalf("unterminated event %q", text)
		}
		data, ok := strings.CutPrefix(block, "data: ")
		if !ok || strings.ContainsAny(data, "\r\n") {
			t.Fatalf("unexpected event %q", block)
		}
		out = append(out, decode(t, data))
		text = rest
	}
	return out
}

// checkGeminiError checks an error answer's status and google.rpc status name
// and returns its error object.
func checkGeminiError(t *testing.T, a streamAnswer, code int, status string) map[string]any {
	t.Helper()
	if a.status != code {
		t.Fatalf("status %d, want %d: %s", a.status, code, a.body)
	}
	m := decode(t, string(a.body))
	e, _ := m["error"].(map[string]any)
	if e == nil || e["code"] != float64(code) || e["status"] != status || e["message"] == "" || len(m) != 1 {
		t.Fatalf("error body: %s", a.body)
	}
	return e
}

// candidateText joins the text of a candidate's parts that are not thoughts.
func candidateText(cand map[string]any) string {
	var b strings.Builder
	content, _ := cand["content"].(map[string]any)
	parts, _ := content["parts"].([]any)
	for _, p := range parts {
		p := p.(map[string]any)
		if s, ok := p["text"].(string); ok && p["thought"] != true {
			b.WriteString(s)
		}
	}
	return b.String()
}

func TestGeminiGenerateContent(t *testing.T) {
	url := startEmulator(t)
	model := "gemini-2.0-flash"
	target := refTarget(model, "Hello there")
	a := postGemini(t, url, "g-key-1", model, "generateContent", geminiBody("Hello there", ""))
	if a.status != 200 || a.header.Get("Content-Type") != "application/json; charset=UTF-8" {
		t.Fatalf("status %d: %v %s", a.status, a.header, a.body)
	}
	for k := range a.header {
		if l := strings.ToLower(k); strings.Contains(l, "ratelimit") || strings.Contains(l, "retry") || strings.HasPrefix(l, "openai") {
			t.Errorf("unexpected header %s", k)
		}
	}
	m := decode(t, string(a.body))
	want := map[string]any{
		"candidates": []any{map[string]any{
			"content":      map[string]any{"role": "model", "parts": []any{map[string]any{"text": replyText(target)}}},
			"finishReason": "STOP", "index": 0.0,
		}},
		// 3 + (4 + ceil(11/4)) = 10 prompt tokens, as on every endpoint.
		"usageMetadata": map[string]any{"promptTokenCount": 10.0, "candidatesTokenCount": float64(target), "totalTokenCount": float64(10 + target)},
		"modelVersion":  model,
		"responseId":    m["responseId"],
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("body %s", a.body)
	}
	id, _ := m["responseId"].(string)
	if len(id) < 16 {
		t.Errorf("responseId %q", id)
	}

	// The key may come as ?key=; "models/" in the path is dropped; the
	// system instruction counts as a message; n candidates; the cap.
	h := map[string]string{"Content-Type": "application/json", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	body := `{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"parts":[{"text":"Hello there"}]}],` +
		`"generationConfig":{"candidateCount":2,"maxOutputTokens":5,"temperature":0.5,"topP":0.9,"topK":40,"seed":7,` +
		`"stopSequences":["x"],"presencePenalty":0.1,"frequencyPenalty":0.1,"responseMimeType":"text/plain"},` +
		`"safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]}`
	b, err := postStream(t, http.DefaultClient, url, "/v1beta/models/models/"+model+":generateContent?key=g-key-1", h, body)
	if err != nil || b.status != 200 {
		t.Fatalf("%v %d %s", err, b.status, b.body)
	}
	m = decode(t, string(b.body))
	cands := m["candidates"].([]any)
	if len(cands) != 2 {
		t.Fatalf("candidates: %s", b.body)
	}
	for i, c := range cands {
		c := c.(map[string]any)
		if c["index"] != float64(i) || c["finishReason"] != "MAX_TOKENS" || candidateText(c) != replyText(5) {
			t.Errorf("candidate %d: %v", i, c)
		}
	}
	if m["responseId"] == id {
		t.Errorf("responseId repeated")
	}
	// 10 + 4 + ceil(9/4) = 17 prompt tokens; 5 per candidate.
	if u := m["usageMetadata"].(map[string]any); u["promptTokenCount"] != 17.0 || u["candidatesTokenCount"] != 10.0 || u["totalTokenCount"] != 27.0 {
		t.Errorf("usage %v", u)
	}
	st := getStats(t, url, "g-key-1")
	if st.Received != 2 || st.OK != 2 || st.PromptTokens != 27 || st.CompletionTokens != target+10 || st.Traced != 1 || st.Models[model].OK != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestGeminiStreamMatchesGenerateContent(t *testing.T) {
	url := startEmulator(t)
	model := "gemini-2.0-flash"
	for _, extra := range []string{"", `,"generationConfig":{"maxOutputTokens":7}`, `,"generationConfig":{"candidateCount":2}`} {
		body := geminiBody("Tell me a story", extra)
		plain := decode(t, string(postGemini(t, url, "g-key", model, "generateContent", body).body))
		a := postGemini(t, url, "g-key", model, "streamGenerateContent?alt=sse", body)
		if a.status != 200 || a.header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d: %v %s", a.status, a.header, a.body)
		}
		if strings.Contains(string(a.body), "[DONE]") {
			t.Errorf("sentinel in %s", a.body)
		}
		events := parseGeminiSSE(t, a.body)
		if len(events) < 2 {
			t.Fatalf("%d events", len(events))
		}
		texts := map[float64]string{}
		finished := map[float64]string{}
		var prevTotal float64
		for i, ev := range events {
			if ev["modelVersion"] != model || ev["responseId"] != events[0]["responseId"] {
				t.Errorf("event %d: %v", i, ev)
			}
			u, ok := ev["usageMetadata"].(map[string]any)
			if !ok || u["promptTokenCount"] != plain["usageMetadata"].(map[string]any)["promptTokenCount"] || u["totalTokenCount"].(float64) < prevTotal {
				t.Errorf("event %d usage %v", i, ev["usageMetadata"])
			} else {
				prevTotal = u["totalTokenCount"].(float64)
			}
			cands := ev["candidates"].([]any)
			if len(cands) != 1 {
				t.Fatalf("event %d: %v", i, ev)
			}
			c := cands[0].(map[string]any)
			idx := c["index"].(float64)
			if _, done := finished[idx]; done {
				t.Errorf("event %d after the finish of candidate %v", i, idx)
			}
			texts[idx] += candidateText(c)
			if f, ok := c["finishReason"].(string); ok {
				finished[idx] = f
			}
		}
		if _, ok := events[len(events)-1]["candidates"].([]any)[0].(map[string]any)["finishReason"]; !ok {
			t.Errorf("last event has no finishReason")
		}
		if !reflect.DeepEqual(events[len(events)-1]["usageMetadata"], plain["usageMetadata"]) {
			t.Errorf("final usage %v, want %v", events[len(events)-1]["usageMetadata"], plain["usageMetadata"])
		}
		for i, c := range plain["candidates"].([]any) {
			c := c.(map[string]any)
			if texts[float64(i)] != candidateText(c) || finished[float64(i)] != c["finishReason"] {
				t.Errorf("%s: candidate %d streamed %q (%s), want %q (%s)", extra, i, texts[float64(i)], finished[float64(i)], candidateText(c), c["finishReason"])
			}
		}
	}
	// Only alt=sse is emulated.
	e := checkGeminiError(t, postGemini(t, url, "g-key", model, "streamGenerateContent", geminiBody("x", "")), 400, "INVALID_ARGUMENT")
	if !strings.Contains(e["message"].(string), "alt=sse") {
		t.Errorf("message %v", e["message"])
	}
}

func TestGeminiThinking(t *testing.T) {
	url := startEmulator(t)
	body := geminiBody("Why is the sky blue?", `,"generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingBudget":1024}}`)
	m := decode(t, string(postGemini(t, url, "g-key", "gemini-2.5-flash", "generateContent", body).body))
	parts := m["candidates"].([]any)[0].(map[string]any)["content"].(map[string]any)["parts"].([]any)
	u := m["usageMetadata"].(map[string]any)
	thought := parts[0].(map[string]any)
	tt, _ := u["thoughtsTokenCount"].(float64)
	if len(parts) != 2 || thought["thought"] != true || tt < 16 || float64(textTokens(thought["text"].(string))) != tt ||
		u["totalTokenCount"] != u["promptTokenCount"].(float64)+u["candidatesTokenCount"].(float64)+tt {
		t.Fatalf("body %s", m)
	}
	// Streamed, the thought comes first and the total is the same.
	events := parseGeminiSSE(t, postGemini(t, url, "g-key", "gemini-2.5-flash", "streamGenerateContent?alt=sse", body).body)
	first := events[0]["candidates"].([]any)[0].(map[string]any)["content"].(map[string]any)["parts"].([]any)[0].(map[string]any)
	if first["thought"] != true || !reflect.DeepEqual(events[len(events)-1]["usageMetadata"], m["usageMetadata"]) {
		t.Errorf("stream %v ... %v", events[0], events[len(events)-1])
	}
	// A 2.5 model thinks by default, without showing it; a budget of 0 stops it.
	m = decode(t, string(postGemini(t, url, "g-key", "gemini-2.5-flash", "generateContent", geminiBody("Hi", "")).body))
	if u := m["usageMetadata"].(map[string]any); u["thoughtsTokenCount"] == nil || len(m["candidates"].([]any)[0].(map[string]any)["content"].(map[string]any)["parts"].([]any)) != 1 {
		t.Errorf("default thinking: %v", m)
	}
	m = decode(t, string(postGemini(t, url, "g-key", "gemini-2.5-flash", "generateContent", geminiBody("Hi", `,"generationConfig":{"thinkingConfig":{"thinkingBudget":0}}`)).body))
	if u := m["usageMetadata"].(map[string]any); u["thoughtsTokenCount"] != nil {
		t.Errorf("budget 0: %v", u)
	}
	m = decode(t, string(postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent", geminiBody("Hi", "")).body))
	if u := m["usageMetadata"].(map[string]any); u["thoughtsTokenCount"] != nil {
		t.Errorf("2.0: %v", u)
	}
}

const geminiWeatherTools = `,"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather of a city",` +
	`"parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"},"days":{"type":"INTEGER","minimum":"1"},` +
	`"unit":{"type":"STRING","enum":["C","F"]}},"required":["city","days","unit"]}},` +
	`{"name":"get_time","parametersJsonSchema":{"type":"object","properties":{"zone":{"type":"string","minLength":3}},"required":["zone"]}}]}]`

func TestGeminiFunctionCalling(t *testing.T) {
	url := startEmulator(t)
	model := "gemini-2.0-flash"
	// The user names a declared function: it is called with arguments valid
	// for its parameters.
	a := postGemini(t, url, "g-key", model, "generateContent", geminiBody("Please call get_weather for Paris", geminiWeatherTools))
	m := decode(t, string(a.body))
	cand := m["candidates"].([]any)[0].(map[string]any)
	parts := cand["content"].(map[string]any)["parts"].([]any)
	wantCall := map[string]any{"name": "get_weather", "args": map[string]any{"city": "", "days": 1.0, "unit": "C"}}
	if len(parts) != 1 || !reflect.DeepEqual(parts[0], map[string]any{"functionCall": wantCall}) || cand["finishReason"] != "STOP" {
		t.Fatalf("body %s", a.body)
	}
	if u := m["usageMetadata"].(map[string]any); u["candidatesTokenCount"] != float64(textTokens(`{"city":"","days":1,"unit":"C"}`)) {
		t.Errorf("usage %v", u)
	}
	// Streamed, the call comes whole in one chunk.
	events := parseGeminiSSE(t, postGemini(t, url, "g-key", model, "streamGenerateContent?alt=sse",
		geminiBody("Please call get_weather for Paris", geminiWeatherTools)).body)
	if len(events) != 1 || !reflect.DeepEqual(events[0]["candidates"], m["candidates"]) {
		t.Errorf("stream %v", events)
	}
	// ANY with allowedFunctionNames calls the allowed one though the user names none.
	a = postGemini(t, url, "g-key", model, "generateContent", geminiBody("What time is it?", geminiWeatherTools+
		`,"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_time"]}}`))
	parts = decode(t, string(a.body))["candidates"].([]any)[0].(map[string]any)["content"].(map[string]any)["parts"].([]any)
	if !reflect.DeepEqual(parts, []any{map[string]any{"functionCall": map[string]any{"name": "get_time", "args": map[string]any{"zone": "aaa"}}}}) {
		t.Errorf("ANY: %s", a.body)
	}
	// NONE answers with text.
	a = postGemini(t, url, "g-key", model, "generateContent", geminiBody("Please call get_weather", geminiWeatherTools+
		`,"toolConfig":{"functionCallingConfig":{"mode":"NONE"}}`))
	if c := decode(t, string(a.body))["candidates"].([]any)[0].(map[string]any); candidateText(c) == "" {
		t.Errorf("NONE: %s", a.body)
	}
	// A 2.5 model signs its first call.
	a = postGemini(t, url, "g-key", "gemini-2.5-flash", "generateContent", geminiBody("Please call get_weather", geminiWeatherTools))
	part := decode(t, string(a.body))["candidates"].([]any)[0].(map[string]any)["content"].(map[string]any)["parts"].([]any)[0].(map[string]any)
	if sig, _ := part["thoughtSignature"].(string); part["functionCall"] == nil || len(sig) < 40 {
		t.Errorf("2.5: %s", a.body)
	}

	// The function response is answered with text quoting it.
	conv := `{"contents":[{"role":"user","parts":[{"text":"Please call get_weather for Paris"}]},` +
		`{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris","days":1,"unit":"C"}}}]},` +
		`{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp": 21}}}]}]` + geminiWeatherTools + `}`
	a = postGemini(t, url, "g-key", model, "generateContent", conv)
	cand = decode(t, string(a.body))["candidates"].([]any)[0].(map[string]any)
	if candidateText(cand) != `Tool results: {"temp":21}` || cand["finishReason"] != "STOP" {
		t.Errorf("after the response: %s", a.body)
	}
	// A response must answer a call of the previous model turn.
	bad := strings.Replace(conv, `"functionResponse":{"name":"get_weather"`, `"functionResponse":{"name":"get_time"`, 1)
	e := checkGeminiError(t, postGemini(t, url, "g-key", model, "generateContent", bad), 400, "INVALID_ARGUMENT")
	if !strings.Contains(e["message"].(string), "contents[2].parts[0].function_response.name") {
		t.Errorf("message %v", e["message"])
	}
	bad = `{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{}}}]}]}`
	e = checkGeminiError(t, postGemini(t, url, "g-key", model, "generateContent", bad), 400, "INVALID_ARGUMENT")
	if e["message"] != "Please ensure that function response turn comes immediately after a function call turn." {
		t.Errorf("message %v", e["message"])
	}
}

func TestGeminiJSONSchemaOutput(t *testing.T) {
	url := startEmulator(t)
	for _, cfg := range []string{
		`"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"name":{"type":"STRING"},` +
			`"tags":{"type":"ARRAY","items":{"type":"STRING"},"minItems":"2"},"score":{"type":"NUMBER","minimum":3}},"required":["name","tags","score"]}`,
		`"responseMimeType":"application/json","responseJsonSchema":{"type":"object","properties":{"name":{"type":"string"},` +
			`"tags":{"type":"array","items":{"type":"string"},"minItems":2},"score":{"type":"number","minimum":3}},"required":["name","tags","score"]}`,
	} {
		body := geminiBody("Describe a cat", `,"generationConfig":{`+cfg+`}`)
		a := postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent", body)
		cand := decode(t, string(a.body))["candidates"].([]any)[0].(map[string]any)
		var doc map[string]any
		if err := json.Unmarshal([]byte(candidateText(cand)), &doc); err != nil {
			t.Fatalf("not JSON: %s", a.body)
		}
		if !reflect.DeepEqual(doc, map[string]any{"name": "", "tags": []any{"", ""}, "score": 3.0}) || cand["finishReason"] != "STOP" {
			t.Errorf("document %v", doc)
		}
	}
	// Without a schema: a JSON object holding the text.
	a := postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent", geminiBody("Hi", `,"generationConfig":{"responseMimeType":"application/json"}`))
	var doc map[string]any
	if err := json.Unmarshal([]byte(candidateText(decode(t, string(a.body))["candidates"].([]any)[0].(map[string]any))), &doc); err != nil || doc["answer"] == nil {
		t.Errorf("JSON mode: %s", a.body)
	}
	// A schema needs a JSON (or enum) MIME type.
	checkGeminiError(t, postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent",
		geminiBody("Hi", `,"generationConfig":{"responseSchema":{"type":"STRING"}}`)), 400, "INVALID_ARGUMENT")
}

var retryDelayRe = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,3})?s$`)

func TestGeminiRateLimit(t *testing.T) {
	url := startEmulator(t, "--rpm", "120", "--window-ms", "1000") // 2 requests a second
	body := geminiBody("Hello there", "")
	for i := 0; i < 2; i++ {
		if a := postGemini(t, url, "g-rl", "gemini-2.0-flash", "generateContent", body); a.status != 200 {
			t.Fatalf("call %d: %d %s", i, a.status, a.body)
		}
	}
	a := postGemini(t, url, "g-rl", "gemini-2.0-flash", "generateContent", body)
	e := checkGeminiError(t, a, 429, "RESOURCE_EXHAUSTED")
	if a.header.Get("Retry-After") != "" || a.header.Get("Retry-After-Ms") != "" {
		t.Errorf("headers %v", a.header)
	}
	details, _ := e["details"].([]any)
	if e["message"] != "Resource has been exhausted (e.g. check quota)." || len(details) != 1 {
		t.Fatalf("body %s", a.body)
	}
	ri := details[0].(map[string]any)
	delay, _ := ri["retryDelay"].(string)
	if ri["@type"] != "type.googleapis.com/google.rpc.RetryInfo" || !retryDelayRe.MatchString(delay) {
		t.Fatalf("RetryInfo %v", ri)
	}
	secs, _ := strconv.ParseFloat(strings.TrimSuffix(delay, "s"), 64)
	if secs <= 0 || secs > 1 {
		t.Errorf("retryDelay %s", delay)
	}
	// Another key has its own window; the chat endpoint shares this one.
	if a := postGemini(t, url, "g-other", "gemini-2.0-flash", "generateContent", body); a.status != 200 {
		t.Errorf("other key: %d", a.status)
	}
	if a := mustPost(t, url, "g-rl", chatBody("gpt-4o", "hi", "")); a.status != 429 {
		t.Errorf("chat with the same key: %d", a.status)
	}
	if st := getStats(t, url, "g-rl"); st.RateLimited != 2 || st.OK != 2 || st.Received != 4 {
		t.Errorf("stats %+v", st)
	}
	// Once the window has moved on, the request passes.
	time.Sleep(time.Duration(secs*1000)*time.Millisecond + 50*time.Millisecond)
	if a := postGemini(t, url, "g-rl", "gemini-2.0-flash", "generateContent", body); a.status != 200 {
		t.Errorf("after the wait: %d %s", a.status, a.body)
	}
}

func TestGeminiRateLimitFirst(t *testing.T) {
	url := startEmulator(t, "--rate-limit-first", "1", "--rate-limit-wait-ms", "1500")
	body := geminiBody("Hello there", "")
	a := postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent", body)
	e := checkGeminiError(t, a, 429, "RESOURCE_EXHAUSTED")
	want := []any{map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}}
	if !reflect.DeepEqual(e["details"], want) || a.header.Get("Retry-After") != "" {
		t.Errorf("body %s", a.body)
	}
	if a := postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent", body); a.status != 200 {
		t.Errorf("second arrival: %d %s", a.status, a.body)
	}
	// Each body, and the streaming method, count on their own.
	if a := postGemini(t, url, "g-key", "gemini-2.0-flash", "streamGenerateContent?alt=sse", body); a.status != 429 {
		t.Errorf("first stream: %d", a.status)
	}
	if a := postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent", geminiBody("Other", "")); a.status != 429 {
		t.Errorf("other body: %d", a.status)
	}
}

func TestGeminiKeysAndModels(t *testing.T) {
	url := startEmulator(t, "--invalid-keys", "g-bad", "--quota-keys", "g-broke", "--known-models", "gemini-2.0-flash")
	body := geminiBody("Hello", "")
	e := checkGeminiError(t, postGemini(t, url, "", "gemini-2.0-flash", "generateContent", body), 403, "PERMISSION_DENIED")
	if !strings.Contains(e["message"].(string), "API Key") {
		t.Errorf("missing key: %v", e)
	}
	a := postGemini(t, url, "g-bad", "gemini-2.0-flash", "generateContent", body)
	if want := `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",` +
		`"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}` + "\n"; a.status != 400 || string(a.body) != want {
		t.Errorf("invalid key: %d %s", a.status, a.body)
	}
	e = checkGeminiError(t, postGemini(t, url, "g-broke", "gemini-2.0-flash", "generateContent", body), 429, "RESOURCE_EXHAUSTED")
	details := e["details"].([]any)
	for _, d := range details {
		if d.(map[string]any)["@type"] == "type.googleapis.com/google.rpc.RetryInfo" {
			t.Errorf("quota error with RetryInfo: %v", e)
		}
	}
	if details[0].(map[string]any)["@type"] != "type.googleapis.com/google.rpc.QuotaFailure" {
		t.Errorf("quota details %v", details)
	}
	e = checkGeminiError(t, postGemini(t, url, "g-key", "gemini-9", "generateContent", body), 404, "NOT_FOUND")
	if !strings.HasPrefix(e["message"].(string), "models/gemini-9 is not found for API version v1beta") {
		t.Errorf("unknown model: %v", e)
	}
	if st := getStats(t, url, "g-bad"); st.AuthErrors != 1 {
		t.Errorf("stats %+v", st)
	}
	if st := getStats(t, url, "g-broke"); st.QuotaErrors != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestGeminiBadBodies(t *testing.T) {
	url := startEmulator(t)
	for _, tc := range []struct {
		body, message, field string
	}{
		{`{"contents":[{"parts":[{"text":"x"}]}],"foo":1}`, `Invalid JSON payload received. Unknown name "foo": Cannot find field.`, ""},
		{`{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"maxTokens":5}}`,
			`Invalid JSON payload received. Unknown name "maxTokens" at 'generation_config': Cannot find field.`, "generation_config"},
		{`{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"temperature":"hot"}}`,
			`Invalid value at 'generation_config.temperature' (TYPE_FLOAT), "hot"`, "generation_config.temperature"},
		{`{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"maxOutputTokens":1.5}}`,
			`Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), 1.5`, "generation_config.max_output_tokens"},
		{`{"contents":[{"parts":[{"text":5}]}]}`, `Invalid value at 'contents[0].parts[0].text' (TYPE_STRING), 5`, "contents[0].parts[0].text"},
		{`{"contents":"hi"}`, `Invalid value at 'contents' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), "hi"`, "contents"},
		{`{"contents":[]}`, "* GenerateContentRequest.contents: contents is not specified\n", ""},
		{`{}`, "* GenerateContentRequest.contents: contents is not specified\n", ""},
		{`{"contents":[{"role":"user","parts":[]}]}`, "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n", ""},
		{`{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}`, "Please use a valid role: user, model.", ""},
		{`{"contents":[{"parts":[{"text":"x"}]}],"toolConfig":{"functionCallingConfig":{"mode":"SOMETIMES"}}}`,
			`Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), "SOMETIMES"`,
			"tool_config.function_calling_config.mode"},
		{`{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"candidateCount":9}}`,
			"* GenerateContentRequest.generation_config.candidate_count: candidate_count must be in the range [1, 8].\n", ""},
		{`{"contents":[{"parts":[{"text":"x"}]}`, "Invalid JSON payload received. Unexpected token.", ""},
	} {
		e := checkGeminiError(t, postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent", tc.body), 400, "INVALID_ARGUMENT")
		if e["message"] != tc.message {
			t.Errorf("%s: message %q, want %q", tc.body, e["message"], tc.message)
		}
		if tc.field != "" {
			d, _ := e["details"].([]any)
			if len(d) != 1 || d[0].(map[string]any)["fieldViolations"].([]any)[0].(map[string]any)["field"] != tc.field {
				t.Errorf("%s: details %v", tc.body, e["details"])
			}
		}
	}
	// snake_case names are accepted as well.
	a := postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent",
		`{"contents":[{"parts":[{"text":"x"}]}],"generation_config":{"max_output_tokens":2}}`)
	if a.status != 200 || decode(t, string(a.body))["usageMetadata"].(map[string]any)["candidatesTokenCount"] != 2.0 {
		t.Errorf("snake_case: %d %s", a.status, a.body)
	}
	if st := getStats(t, url, "g-key"); st.BadRequests != 13 {
		t.Errorf("stats %+v", st)
	}
}

func TestGeminiFaults(t *testing.T) {
	url := startEmulator(t, "--fail-first", "1")
	body := geminiBody("Hello there", "")
	a := postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent", body)
	want := `{"error":{"code":500,"message":"An internal error has occurred. Please retry or report in ` +
		`https://developers.generativeai.google/guide/troubleshooting","status":"INTERNAL"}}` + "\n"
	if a.status != 500 || string(a.body) != want {
		t.Errorf("first: %d %s", a.status, a.body)
	}
	if a := postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent", body); a.status != 200 {
		t.Errorf("second: %d", a.status)
	}
	if st := getStats(t, url, "g-key"); st.ServerErrors != 1 || st.OK != 1 {
		t.Errorf("stats %+v", st)
	}

	// A mid-stream error ends the stream after half of its chunks.
	url = startEmulator(t, "--midstream-error-rate", "1")
	full := decode(t, string(postGemini(t, url, "g-key", "gemini-2.0-flash", "generateContent", body).body))
	events := parseGeminiSSE(t, postGemini(t, url, "g-key", "gemini-2.0-flash", "streamGenerateContent?alt=sse", body).body)
	n := len(streamDeltas(candidateText(full["candidates"].([]any)[0].(map[string]any))))
	if len(events) != n/2+1 {
		t.Fatalf("%d events, want %d", len(events), n/2+1)
	}
	last := events[len(events)-1]
	if e, _ := last["error"].(map[string]any); e == nil || e["code"] != 500.0 || e["status"] != "INTERNAL" {
		t.Errorf("last event %v", last)
	}
	if st := getStats(t, url, "g-key"); st.ServerErrors != 1 || st.OK != 1 {
		t.Errorf("stats %+v", st)
	}
}
