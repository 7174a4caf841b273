package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// streamAnswer is a streaming answer read to its end (or to a failure).
type streamAnswer struct {
	status  int
	header  http.Header
	body    []byte
	readErr error
}

// postStream sends body to path with the given headers and reads the
// answer; err is set when no answer arrived at all.
func postStream(t *testing.T, client *http.Client, url, path string, header map[string]string, body string) (streamAnswer, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return streamAnswer{}, err
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	return streamAnswer{status: resp.StatusCode, header: resp.Header, body: b, readErr: rerr}, nil
}

func bearer(key string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}
}

func mustStream(t *testing.T, url, path string, header map[string]string, body string) streamAnswer {
	t.Helper()
	a, err := postStream(t, http.DefaultClient, url, path, header, body)
	if err != nil {
		t.Fatal(err)
	}
	if a.status != 200 || a.readErr != nil {
		t.Fatalf("status %d (%v): %s", a.status, a.readErr, a.body)
	}
	if a.header.Get("Content-Type") != "text/event-stream" || a.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("stream headers: %v", a.header)
	}
	return a
}

type sseEvent struct {
	name string
	data string
}

// parseSSE splits an event stream into its events.
func parseSSE(t *testing.T, body []byte) []sseEvent {
	t.Helper()
	var out []sseEvent
	text := string(body)
	for text != "" {
		block, rest, ok := strings.Cut(text, "\n\n")
		if !ok {
			t.Fatalf("unterminated event %q", text)
		}
		text = rest
		var ev sseEvent
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			default:
				t.Fatalf("unexpected line %q", line)
			}
		}
		out = append(out, ev)
	}
	return out
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, s)
	}
	return m
}

// checkDeltaSizes checks that every delta but the last is 1 to 3 chunks of
// 4 bytes.
func checkDeltaSizes(t *testing.T, deltas []string) {
	t.Helper()
	for i, d := range deltas {
		if n := len(d); i < len(deltas)-1 && n != 4 && n != 8 && n != 12 || n == 0 || n > 12 {
			t.Errorf("delta %d has %d bytes: %q", i, n, d)
		}
	}
}

func TestStreamDeltas(t *testing.T) {
	text := replyText(63)
	d := streamDeltas(text)
	if strings.Join(d, "") != text || !reflect.DeepEqual(d, streamDeltas(text)) {
		t.Fatal("deltas do not reassemble deterministically")
	}
	checkDeltaSizes(t, d)
	sizes := map[int]bool{}
	for _, s := range d[:len(d)-1] {
		sizes[len(s)] = true
	}
	if len(sizes) != 3 {
		t.Errorf("sizes %v", sizes)
	}
	u := strings.Repeat("é", 20)
	for _, s := range streamDeltas(u) {
		if !strings.HasPrefix(u, s) && len(s)%2 != 0 {
			t.Errorf("delta splits a character: %q", s)
		}
	}
	if strings.Join(streamDeltas(u), "") != u || streamDeltas("") != nil {
		t.Error("unicode or empty")
	}
}

func TestStreamChat(t *testing.T) {
	url := startEmulator(t)
	for _, extra := range []string{"", `,"max_completion_tokens":7`,
		`,"response_format":{"type":"json_schema","json_schema":{"name":"p","schema":` + personSchema + `}}`} {
		plain := mustPost(t, url, "sk-stream", chatBody("o3-mini", "Hello there", extra)).json(t)
		want := plain["choices"].([]any)[0].(map[string]any)
		a := mustStream(t, url, "/v1/chat/completions", bearer("sk-stream"),
			chatBody("o3-mini", "Hello there", extra+`,"stream":true,"stream_options":{"include_usage":true}`))
		if a.header.Get("X-Request-Id") == "" || a.header.Get("Openai-Version") == "" {
			t.Errorf("headers: %v", a.header)
		}
		evs := parseSSE(t, a.body)
		if len(evs) < 5 || evs[len(evs)-1].data != "[DONE]" {
			t.Fatalf("events: %s", a.body)
		}
		var deltas []string
		var id string
		for i, ev := range evs[:len(evs)-1] {
			m := decode(t, ev.data)
			if m["object"] != "chat.completion.chunk" || m["system_fingerprint"] != "fp_emulator" || m["model"] != "o3-mini" {
				t.Errorf("chunk %d: %s", i, ev.data)
			}
			if id == "" {
				id = m["id"].(string)
			} else if m["id"] != id {
				t.Errorf("chunk %d id %v", i, m["id"])
			}
			choices := m["choices"].([]any)
			if i == len(evs)-2 { // the usage chunk
				if len(choices) != 0 || !reflect.DeepEqual(m["usage"], plain["usage"]) {
					t.Errorf("usage chunk %s, want usage %v", ev.data, plain["usage"])
				}
				continue
			}
			if u, ok := m["usage"]; !ok || u != nil {
				t.Errorf("chunk %d usage: %s", i, ev.data)
			}
			ch := choices[0].(map[string]any)
			delta := ch["delta"].(map[string]any)
			switch {
			case i == 0:
				if !reflect.DeepEqual(delta, map[string]any{"role": "assistant", "content": "", "refusal": nil}) || ch["finish_reason"] != nil {
					t.Errorf("first chunk %s", ev.data)
				}
			case i == len(evs)-3:
				if len(delta) != 0 || ch["finish_reason"] != want["finish_reason"] {
					t.Errorf("finish chunk %s", ev.data)
				}
			default:
				deltas = append(deltas, delta["content"].(string))
			}
		}
		checkDeltaSizes(t, deltas)
		if got := strings.Join(deltas, ""); got != want["message"].(map[string]any)["content"] {
			t.Errorf("reassembled %q, want %q", got, want["message"].(map[string]any)["content"])
		}
	}

	// Without include_usage: no usage anywhere.
	a := mustStream(t, url, "/v1/chat/completions", bearer("sk-stream"), chatBody("gpt-4o", "Hello there", `,"stream":true`))
	if strings.Contains(string(a.body), `"usage"`) || !strings.HasSuffix(string(a.body), "data: [DONE]\n\n") {
		t.Errorf("plain stream: %s", a.body)
	}
	// Over HTTP/2 as well.
	h2, err := postStream(t, h2cClient(), url, "/v1/chat/completions", bearer("sk-stream"), chatBody("gpt-4o", "Hello there", `,"stream":true`))
	if err != nil || h2.readErr != nil || !strings.Contains(string(h2.body), `"finish_reason":"stop"`) ||
		!strings.HasSuffix(string(h2.body), "data: [DONE]\n\n") {
		t.Errorf("HTTP/2 stream: %v %v %s", err, h2.readErr, h2.body)
	}
	if st := getStats(t, url, "sk-stream"); st.OK != 8 || st.Received != 8 {
		t.Errorf("stats: %+v", st)
	}
	if a := mustPost(t, url, "sk-stream", chatBody("gpt-4o", "x", `,"stream_options":{"include_usage":true}`)); a.status != 400 ||
		!strings.Contains(string(a.body), "only allowed when 'stream' is enabled") {
		t.Errorf("stream_options without stream: %d %s", a.status, a.body)
	}
}

func TestStreamResponses(t *testing.T) {
	url := startEmulator(t)
	const key = "sk-stream-r"
	for _, extra := range []string{"", `,"max_output_tokens":16`,
		`,"text":{"format":{"type":"json_schema","name":"p","strict":true,"schema":` + personSchema + `}}`} {
		plain := mustResponses(t, url, key, respBody("gpt-5", "Hello there", extra)).json(t)
		a := mustStream(t, url, "/v1/responses", bearer(key), respBody("gpt-5", "Hello there", extra+`,"stream":true`))
		evs := parseSSE(t, a.body)
		final := "response.completed"
		if plain["status"] == "incomplete" {
			final = "response.incomplete"
		}
		var names []string
		var deltas []string
		var done map[string]any
		for i, ev := range evs {
			m := decode(t, ev.data)
			if m["type"] != ev.name || m["sequence_number"] != float64(i) {
				t.Errorf("event %d %s: %s", i, ev.name, ev.data)
			}
			if len(names) == 0 || names[len(names)-1] != ev.name {
				names = append(names, ev.name)
			}
			switch ev.name {
			case "response.created", "response.in_progress":
				r := m["response"].(map[string]any)
				if r["status"] != "in_progress" || r["usage"] != nil || len(r["output"].([]any)) != 0 {
					t.Errorf("%s: %s", ev.name, ev.data)
				}
			case "response.output_text.delta":
				if m["output_index"] != 0.0 || m["content_index"] != 0.0 || m["item_id"] == "" {
					t.Errorf("delta: %s", ev.data)
				}
				deltas = append(deltas, m["delta"].(string))
			case "response.output_text.done":
				if m["text"] != strings.Join(deltas, "") {
					t.Errorf("done text: %s", ev.data)
				}
			case final:
				done = m["response"].(map[string]any)
			}
		}
		want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
			"response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done", final}
		if !reflect.DeepEqual(names, want) {
			t.Errorf("events %v", names)
		}
		checkDeltaSizes(t, deltas)
		text := plain["output"].([]any)[0].(map[string]any)["content"].([]any)[0].(map[string]any)["text"]
		if strings.Join(deltas, "") != text || done == nil || !reflect.DeepEqual(done["usage"], plain["usage"]) ||
			done["status"] != plain["status"] || !reflect.DeepEqual(done["incomplete_details"], plain["incomplete_details"]) {
			t.Errorf("final %v, want usage %v and text %q", done, plain["usage"], text)
		}
		// A streamed response can be continued.
		r := parseResponse(t, mustResponses(t, url, key, respBody("gpt-5", "More", `,"previous_response_id":"`+done["id"].(string)+`"`)))
		u := plain["usage"].(map[string]any)
		if r.Usage.InputTokens != 8+int64(u["total_tokens"].(float64)) {
			t.Errorf("chained input %d", r.Usage.InputTokens)
		}
	}
}

func TestStreamMessages(t *testing.T) {
	url := startEmulator(t)
	const key = "sk-stream-a"
	tools := `,"tools":[{"name":"record","input_schema":` + personSchema + `}],"tool_choice":{"type":"tool","name":"record"}`
	for _, c := range []struct {
		max   int
		extra string
	}{{1024, ""}, {5, ""}, {1024, tools}, {4, tools}} {
		plainAns := mustMessages(t, url, key, msgBody("claude-sonnet-4-5", "Hello there", c.max, c.extra))
		plain := plainAns.json(t)
		a := mustStream(t, url, "/v1/messages", anthropicHeaders(key), msgBody("claude-sonnet-4-5", "Hello there", c.max, c.extra+`,"stream":true`))
		if a.header.Get("Request-Id") == "" || a.header.Get("Anthropic-Organization-Id") != "org-emulator" {
			t.Errorf("headers: %v", a.header)
		}
		evs := parseSSE(t, a.body)
		var names []string
		var deltas []string
		var start, delta map[string]any
		for _, ev := range evs {
			m := decode(t, ev.data)
			if m["type"] != ev.name {
				t.Errorf("event %s: %s", ev.name, ev.data)
			}
			if len(names) == 0 || names[len(names)-1] != ev.name {
				names = append(names, ev.name)
			}
			switch ev.name {
			case "message_start":
				start = m["message"].(map[string]any)
			case "content_block_start":
				cb := m["content_block"].(map[string]any)
				if c.extra == "" && !reflect.DeepEqual(cb, map[string]any{"type": "text", "text": ""}) ||
					c.extra != "" && (cb["type"] != "tool_use" || cb["name"] != "record" || !reflect.DeepEqual(cb["input"], map[string]any{})) {
					t.Errorf("block start: %s", ev.data)
				}
			case "content_block_delta":
				d := m["delta"].(map[string]any)
				if c.extra == "" {
					deltas = append(deltas, d["text"].(string))
				} else {
					deltas = append(deltas, d["partial_json"].(string))
				}
			case "message_delta":
				delta = m
			}
		}
		want := []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
		if !reflect.DeepEqual(names, want) {
			t.Errorf("events %v", names)
		}
		checkDeltaSizes(t, deltas)
		block := plain["content"].([]any)[0].(map[string]any)
		got := strings.Join(deltas, "")
		if c.extra == "" && got != block["text"] {
			t.Errorf("text %q, want %q", got, block["text"])
		}
		if c.extra != "" && plain["stop_reason"] == "tool_use" {
			var raw struct {
				Content []struct {
					Input json.RawMessage `json:"input"`
				} `json:"content"`
			}
			json.Unmarshal(plainAns.body, &raw)
			if got != string(raw.Content[0].Input) {
				t.Errorf("partial_json %q, want %s", got, raw.Content[0].Input)
			}
		}
		pu := plain["usage"].(map[string]any)
		su := start["usage"].(map[string]any)
		if len(start["content"].([]any)) != 0 || start["stop_reason"] != nil || su["input_tokens"] != pu["input_tokens"] || su["output_tokens"] != 1.0 ||
			su["cache_read_input_tokens"] != pu["cache_read_input_tokens"] || start["model"] != "claude-sonnet-4-5" {
			t.Errorf("message_start %v", start)
		}
		wantDelta := map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": plain["stop_reason"], "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": pu["output_tokens"]}}
		if !reflect.DeepEqual(delta, wantDelta) {
			t.Errorf("message_delta %v, want %v", delta, wantDelta)
		}
	}
}

func TestStreamDelay(t *testing.T) {
	url := startEmulator(t, "--stream-delay-ms", "15")
	start := time.Now()
	a := mustStream(t, url, "/v1/chat/completions", bearer("sk-delay"), chatBody("gpt-4o", "x", `,"stream":true,"max_tokens":4`))
	n := len(parseSSE(t, a.body)) // role, 1 or 2 deltas, finish, [DONE]
	if d := time.Since(start); d < time.Duration(n-1)*15*time.Millisecond {
		t.Errorf("%d events in %v", n, d)
	}
}

// midstreamAnswer sends streaming bodies until it has seen both a reset before
// the stream and a failure within it, and returns the latter's answer.
func midstreamAnswer(t *testing.T, url, path string, header map[string]string, body func(i int) string) (streamAnswer, string) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var before, within bool
	var mid streamAnswer
	var midBody string
	for i := 0; i < 40 && !(before && within); i++ {
		b := body(i)
		a, err := postStream(t, client, url, path, header, b)
		switch {
		case err != nil:
			before = true
		case !within:
			within, mid, midBody = true, a, b
		}
	}
	if !before || !within {
		t.Fatalf("resets before the stream %v, within it %v", before, within)
	}
	return mid, midBody
}

func TestStreamMidstreamReset(t *testing.T) {
	url := startEmulator(t, "--reset-rate", "1", "--seed", "3")
	body := func(i int) string { return chatBody("gpt-4o", fmt.Sprint("reset ", i), `,"stream":true`) }
	a, b := midstreamAnswer(t, url, "/v1/chat/completions", bearer("sk-mid"), body)
	if a.status != 200 || a.readErr == nil || strings.Contains(string(a.body), "[DONE]") {
		t.Fatalf("mid-stream reset: %d %v %s", a.status, a.readErr, a.body)
	}
	// Half of the deltas arrived, then the connection was cut.
	var req struct {
		Messages []struct{ Content string } `json:"messages"`
	}
	json.Unmarshal([]byte(b), &req)
	full := streamDeltas(replyText(refTarget("gpt-4o", req.Messages[0].Content)))
	got := strings.Count(string(a.body), `"delta":{"content":`)
	if got != len(full)/2 {
		t.Errorf("%d deltas before the cut, want %d: %s", got, len(full)/2, a.body)
	}
	st := getStats(t, url, "sk-mid")
	if st.OK != 0 || st.Resets != st.Received {
		t.Errorf("stats: %+v", st)
	}

	// Over HTTP/2 the stream is reset.
	h2 := h2cClient()
	var h2cut bool
	for i := 0; i < 40 && !h2cut; i++ {
		a, err := postStream(t, h2, url, "/v1/chat/completions", bearer("sk-mid"), body(i))
		h2cut = err == nil && a.status == 200 && a.readErr != nil
	}
	if !h2cut {
		t.Error("no mid-stream reset over HTTP/2")
	}

	// Responses too.
	a, _ = midstreamAnswer(t, url, "/v1/responses", bearer("sk-mid"), func(i int) string {
		return respBody("gpt-4o", fmt.Sprint("reset ", i), `,"stream":true`)
	})
	if a.readErr == nil || strings.Contains(string(a.body), "response.completed") || !strings.Contains(string(a.body), "response.output_text.delta") {
		t.Errorf("responses mid-stream reset: %v %s", a.readErr, a.body)
	}
}

func TestStreamMidstreamErrors(t *testing.T) {
	url := startEmulator(t, "--midstream-error-rate", "1")
	a := mustStream(t, url, "/v1/chat/completions", bearer("sk-mid-err"), chatBody("gpt-4o", "Hello there", `,"stream":true`))
	evs := parseSSE(t, a.body)
	last := evs[len(evs)-1]
	if last.data != `{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}` ||
		len(evs) != 2+len(streamDeltas(replyText(54)))/2 {
		t.Errorf("chat: %s", a.body)
	}
	a = mustStream(t, url, "/v1/responses", bearer("sk-mid-err"), respBody("gpt-4o", "Hello there", `,"stream":true`))
	evs = parseSSE(t, a.body)
	last = evs[len(evs)-1]
	if m := decode(t, last.data); last.name != "error" || m["code"] != "server_error" || m["sequence_number"] != float64(len(evs)-1) {
		t.Errorf("responses: %s", a.body)
	}
	a = mustStream(t, url, "/v1/messages", anthropicHeaders("sk-mid-err"), msgBody("claude-sonnet-4-5", "Hello there", 100, `,"stream":true`))
	evs = parseSSE(t, a.body)
	last = evs[len(evs)-1]
	if last.name != "error" || last.data != `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}` ||
		strings.Count(string(a.body), "event: content_block_delta\n") != len(streamDeltas(replyText(28)))/2 {
		t.Errorf("messages: %s", a.body)
	}
	// Non-streaming requests are not affected.
	if a := mustPost(t, url, "sk-mid-err", chatBody("gpt-4o", "Hello there", "")); a.status != 200 {
		t.Errorf("non-stream: %d", a.status)
	}
	if st := getStats(t, url, "sk-mid-err"); st.ServerErrors != 3 || st.OK != 1 {
		t.Errorf("stats: %+v", st)
	}

	// On /v1/messages, with --midstream-error-rate set, a mid-stream reset
	// is an error event instead.
	url = startEmulator(t, "--reset-rate", "1", "--midstream-error-rate", "0.000001", "--seed", "3")
	var errors, resets int
	for i := 0; i < 12; i++ {
		a, err := postStream(t, http.DefaultClient, url, "/v1/messages", anthropicHeaders("sk-mid-err"),
			msgBody("claude-sonnet-4-5", fmt.Sprint("reset ", i), 100, `,"stream":true`))
		switch {
		case err != nil:
			resets++
		case a.readErr == nil && strings.Contains(string(a.body), "event: error\n"):
			errors++
		default:
			t.Errorf("unexpected: %d %v %s", a.status, a.readErr, a.body)
		}
	}
	if errors == 0 || resets == 0 {
		t.Errorf("errors %d, resets %d", errors, resets)
	}
}
