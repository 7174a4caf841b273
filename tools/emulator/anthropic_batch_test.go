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

// batchRequests renders {"requests":[...]} from custom_id, params pairs.
func batchRequests(pairs ...string) string {
	var items []string
	for i := 0; i+1 < len(pairs); i += 2 {
		items = append(items, fmt.Sprintf(`{"custom_id":%q,"params":%s}`, pairs[i], pairs[i+1]))
	}
	return `{"requests":[` + strings.Join(items, ",") + `]}`
}

func postMessageBatch(t *testing.T, url, key, body string) answer {
	t.Helper()
	return request(t, http.MethodPost, url+"/v1/messages/batches", anthropicHeaders(key), strings.NewReader(body))
}

func mustMessageBatch(t *testing.T, url, key, body string) map[string]any {
	t.Helper()
	return okJSON(t, postMessageBatch(t, url, key, body), "create message batch")
}

func getMessageBatch(t *testing.T, url, key, id string) map[string]any {
	t.Helper()
	return okJSON(t, request(t, http.MethodGet, url+"/v1/messages/batches/"+id, anthropicHeaders(key), nil), "get message batch")
}

// batchResults fetches and decodes a message batch's results.
func batchResults(t *testing.T, url, key, id string) []map[string]any {
	t.Helper()
	a := request(t, http.MethodGet, url+"/v1/messages/batches/"+id+"/results", anthropicHeaders(key), nil)
	if a.status != 200 || a.header.Get("Content-Type") != "application/x-jsonl" {
		t.Fatalf("results: %d %q %s", a.status, a.header.Get("Content-Type"), a.body)
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(string(a.body), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func anthropicErrorOf(t *testing.T, a answer) map[string]any {
	t.Helper()
	m := a.json(t)
	e, ok := m["error"].(map[string]any)
	if !ok || m["type"] != "error" {
		t.Fatalf("no Anthropic error: %s", a.body)
	}
	return e
}

func TestMessageBatchRoundTrip(t *testing.T) {
	url := startEmulator(t, "--batch-latency-ms", "600000", "--known-models", "claude-sonnet-4-5,claude-haiku-4-5")
	const key = "ak-batch"
	bodies := []string{
		msgBody("claude-sonnet-4-5", "hello", 200, ""),
		msgBody("claude-haiku-4-5", "a short one", 8, ""),
		msgBody("claude-sonnet-4-5", "think first", 3000, `,"thinking":{"type":"enabled","budget_tokens":1024}`),
	}
	bad := []string{
		`{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[]}`,
		msgBody("claude-unknown", "hi", 10, ""),
		msgBody("claude-sonnet-4-5", "hi", 10, `,"stream":true`),
	}
	var pairs []string
	for i, b := range append(append([]string(nil), bodies...), bad...) {
		pairs = append(pairs, fmt.Sprint("req-", i), b)
	}
	b := mustMessageBatch(t, url, key, batchRequests(pairs...))
	id := b["id"].(string)
	if !strings.HasPrefix(id, "msgbatch_") {
		t.Errorf("id %q", id)
	}
	created, err := time.Parse(time.RFC3339, b["created_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	expires, _ := time.Parse(time.RFC3339, b["expires_at"].(string))
	if expires.Sub(created) != 24*time.Hour {
		t.Errorf("expires_at %v, created_at %v", expires, created)
	}
	want := map[string]any{"type": "message_batch", "processing_status": "in_progress", "ended_at": nil,
		"cancel_initiated_at": nil, "archived_at": nil, "results_url": nil,
		"request_counts": map[string]any{"processing": 6.0, "succeeded": 0.0, "errored": 0.0, "canceled": 0.0, "expired": 0.0}}
	for k, v := range want {
		if !reflect.DeepEqual(b[k], v) {
			t.Errorf("created batch %s = %v, want %v", k, b[k], v)
		}
	}
	a := request(t, http.MethodGet, url+"/v1/messages/batches/"+id+"/results", anthropicHeaders(key), nil)
	if e := anthropicErrorOf(t, a); a.status != 400 || e["type"] != "invalid_request_error" {
		t.Errorf("results before the end: %d %s", a.status, a.body)
	}

	fastForward(t, url, id)
	g := getMessageBatch(t, url, key, id)
	if g["processing_status"] != "ended" || g["ended_at"] == nil ||
		g["results_url"] != url+"/v1/messages/batches/"+id+"/results" {
		t.Fatalf("ended batch: %v", g)
	}
	if c := g["request_counts"].(map[string]any); c["succeeded"] != 3.0 || c["errored"] != 3.0 || c["processing"] != 0.0 {
		t.Errorf("counts %v", c)
	}
	results := batchResults(t, url, key, id)
	if len(results) != 6 {
		t.Fatalf("%d results", len(results))
	}
	for i, body := range bodies {
		r := results[i]
		res := r["result"].(map[string]any)
		if r["custom_id"] != fmt.Sprint("req-", i) || res["type"] != "succeeded" {
			t.Fatalf("result %d: %v", i, r)
		}
		live := mustMessages(t, url, key, body)
		if live.status != 200 {
			t.Fatalf("live: %d %s", live.status, live.body)
		}
		msg := res["message"].(map[string]any)
		if !strings.HasPrefix(msg["id"].(string), "msg_01") {
			t.Errorf("message id %v", msg["id"])
		}
		if got, want := withoutIDs(msg), withoutIDs(live.json(t)); !reflect.DeepEqual(got, want) {
			t.Errorf("result %d:\n batch %v\n live  %v", i, got, want)
		}
	}
	for i, body := range bad[:2] {
		r := results[len(bodies)+i]
		res := r["result"].(map[string]any)
		live := mustMessages(t, url, key, body)
		liveErr := live.json(t)["error"]
		want := map[string]any{"type": "errored", "error": map[string]any{"type": "error", "error": liveErr}}
		if !reflect.DeepEqual(res, want) {
			t.Errorf("errored result %d: %v, want %v", i, res, want)
		}
	}
	res := results[5]["result"].(map[string]any)
	inner := res["error"].(map[string]any)["error"].(map[string]any)
	if res["type"] != "errored" || inner["type"] != "invalid_request_error" || !strings.Contains(inner["message"].(string), "stream") {
		t.Errorf("streaming request: %v", res)
	}
	// Batch calls and lines stay out of the live counters.
	st := getStats(t, url, key)
	if st.Received != 5 || st.Batches.AnthropicCreated != 1 || st.Batches.LinesSucceeded != 3 || st.Batches.LinesFailed != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestMessageBatchLatency(t *testing.T) {
	url := startEmulator(t, "--batch-latency-ms", "200")
	id := mustMessageBatch(t, url, "ak", batchRequests("one", msgBody("claude-x", "hi", 10, "")))["id"].(string)
	if g := getMessageBatch(t, url, "ak", id); g["processing_status"] != "in_progress" {
		t.Fatalf("status %v", g["processing_status"])
	}
	time.Sleep(250 * time.Millisecond)
	if g := getMessageBatch(t, url, "ak", id); g["processing_status"] != "ended" {
		t.Fatalf("status %v after the latency", g["processing_status"])
	}
}

func TestMessageBatchValidation(t *testing.T) {
	url := startEmulator(t, "--invalid-keys", "ak-bad", "--quota-keys", "ak-broke")
	p := msgBody("claude-x", "hi", 10, "")
	for _, tc := range []struct {
		body, want string
	}{
		{`{"requests":[]}`, "requests: List should have at least 1 item"},
		{`{}`, "requests: Field required"},
		{`{"requests":{}}`, "requests: Input should be a valid list"},
		{`{"requests":[],"extra":1}`, "extra: Extra inputs are not permitted"},
		{batchRequests("has space", p), "requests.0.custom_id: String should match pattern"},
		{batchRequests(strings.Repeat("x", 65), p), "requests.0.custom_id: String should match pattern"},
		{batchRequests("a", p, "a", p), "requests.1.custom_id: Duplicate custom_id 'a'"},
		{`{"requests":[{"custom_id":"a"}]}`, "requests.0.params: Field required"},
		{`{"requests":[{"custom_id":"a","params":[]}]}`, "requests.0.params: Input should be a valid dictionary"},
		{`{"requests":[{"params":{}}]}`, "requests.0.custom_id: Field required"},
		{`{"requests":[`, "The request body is not valid JSON"},
	} {
		a := postMessageBatch(t, url, "ak", tc.body)
		e := anthropicErrorOf(t, a)
		if a.status != 400 || e["type"] != "invalid_request_error" || !strings.HasPrefix(e["message"].(string), tc.want) {
			t.Errorf("%s: %d %v", tc.body, a.status, e)
		}
	}
	// A custom_id of 64 allowed characters is fine.
	mustMessageBatch(t, url, "ak", batchRequests(strings.Repeat("a-_Z9", 12)+"abcd", p))

	good := batchRequests("a", p)
	for _, tc := range []struct {
		header map[string]string
		status int
		typ    string
	}{
		{anthropicHeaders("ak-bad"), 401, "authentication_error"},
		{anthropicHeaders(""), 401, "authentication_error"},
		{anthropicHeaders("ak-broke"), 400, "invalid_request_error"},
		{map[string]string{"x-api-key": "ak"}, 400, "invalid_request_error"},
	} {
		a := request(t, http.MethodPost, url+"/v1/messages/batches", tc.header, strings.NewReader(good))
		if e := anthropicErrorOf(t, a); a.status != tc.status || e["type"] != tc.typ || a.header.Get("Request-Id") == "" {
			t.Errorf("%v: %d %s", tc.header, a.status, a.body)
		}
	}
	if a := request(t, http.MethodGet, url+"/v1/messages/batches/msgbatch_nope", anthropicHeaders("ak"), nil); a.status != 404 ||
		anthropicErrorOf(t, a)["type"] != "not_found_error" {
		t.Errorf("unknown batch: %d %s", a.status, a.body)
	}
	if a := request(t, http.MethodDelete, url+"/v1/messages/batches", anthropicHeaders("ak"), nil); a.status != 405 {
		t.Errorf("DELETE: %d", a.status)
	}
}

func TestMessageBatchEnqueuedTokenLimit(t *testing.T) {
	// "hi" costs 3 + 4 + 1 = 8 input tokens.
	url := startEmulator(t, "--batch-enqueued-tokens", "20", "--batch-latency-ms", "600000")
	p := msgBody("claude-x", "hi", 10, "")
	first := mustMessageBatch(t, url, "ak", batchRequests("a", p, "b", p))
	a := postMessageBatch(t, url, "ak", batchRequests("c", p))
	e := anthropicErrorOf(t, a)
	if a.status != 400 || e["type"] != "invalid_request_error" || !strings.Contains(e["message"].(string), "limit of 20 enqueued tokens") {
		t.Fatalf("over the limit: %d %s", a.status, a.body)
	}
	// Another model, and another key, have their own allowance.
	mustMessageBatch(t, url, "ak", batchRequests("d", msgBody("claude-y", "hi", 10, "")))
	mustMessageBatch(t, url, "ak-2", batchRequests("c", p))
	fastForward(t, url, first["id"].(string))
	mustMessageBatch(t, url, "ak", batchRequests("c", p))
	st := getStats(t, url, "ak").Batches
	if st.TokenLimitFailures != 1 || st.AnthropicCreated != 3 || st.PeakEnqueuedTokens["claude-x"] != 16 ||
		st.EnqueuedTokens["claude-x"] != 8 || st.EnqueuedTokens["claude-y"] != 8 || st.LinesReceived != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestMessageBatchListAndCancel(t *testing.T) {
	url := startEmulator(t, "--batch-latency-ms", "600000")
	p := msgBody("claude-x", "hi", 10, "")
	var ids []string
	for i := range 5 {
		ids = append(ids, mustMessageBatch(t, url, "ak", batchRequests(fmt.Sprint("r", i), p, fmt.Sprint("s", i), p))["id"].(string))
	}
	list := func(query string) map[string]any {
		return okJSON(t, request(t, http.MethodGet, url+"/v1/messages/batches"+query, anthropicHeaders("ak"), nil), "list")
	}
	idsOf := func(l map[string]any) []string {
		var out []string
		for _, b := range dataOf(l) {
			out = append(out, b["id"].(string))
		}
		return out
	}
	l := list("?limit=2")
	if got := idsOf(l); !reflect.DeepEqual(got, []string{ids[4], ids[3]}) || l["has_more"] != true ||
		l["first_id"] != ids[4] || l["last_id"] != ids[3] {
		t.Errorf("first page %v", l)
	}
	l = list("?limit=2&after_id=" + ids[3])
	if got := idsOf(l); !reflect.DeepEqual(got, []string{ids[2], ids[1]}) || l["has_more"] != true {
		t.Errorf("second page %v", l)
	}
	l = list("?limit=2&after_id=" + ids[1])
	if got := idsOf(l); !reflect.DeepEqual(got, []string{ids[0]}) || l["has_more"] != false {
		t.Errorf("last page %v", l)
	}
	l = list("?limit=2&before_id=" + ids[0])
	if got := idsOf(l); !reflect.DeepEqual(got, []string{ids[2], ids[1]}) || l["has_more"] != true {
		t.Errorf("before_id page %v", l)
	}
	if a := request(t, http.MethodGet, url+"/v1/messages/batches?limit=1001", anthropicHeaders("ak"), nil); a.status != 400 {
		t.Errorf("limit 1001: %d", a.status)
	}
	if a := request(t, http.MethodGet, url+"/v1/messages/batches", anthropicHeaders("ak-other"), nil); a.status != 200 ||
		len(dataOf(a.json(t))) != 0 {
		t.Errorf("another key's list: %s", a.body)
	}

	a := request(t, http.MethodPost, url+"/v1/messages/batches/"+ids[2]+"/cancel", anthropicHeaders("ak"), nil)
	c := a.json(t)
	if a.status != 200 || c["processing_status"] != "canceling" || c["cancel_initiated_at"] == nil || c["ended_at"] != nil {
		t.Fatalf("cancel: %d %s", a.status, a.body)
	}
	g := getMessageBatch(t, url, "ak", ids[2])
	if g["processing_status"] != "ended" || g["ended_at"] == nil ||
		!reflect.DeepEqual(g["request_counts"], map[string]any{"processing": 0.0, "succeeded": 0.0, "errored": 0.0, "canceled": 2.0, "expired": 0.0}) {
		t.Errorf("canceled batch: %v", g)
	}
	results := batchResults(t, url, "ak", ids[2])
	want := []map[string]any{{"custom_id": "r2", "result": map[string]any{"type": "canceled"}},
		{"custom_id": "s2", "result": map[string]any{"type": "canceled"}}}
	if !reflect.DeepEqual(results, want) {
		t.Errorf("canceled results %v", results)
	}
	if a := request(t, http.MethodPost, url+"/v1/messages/batches/"+ids[2]+"/cancel", anthropicHeaders("ak"), nil); a.status != 400 {
		t.Errorf("second cancel: %d %s", a.status, a.body)
	}
	// Fast-forwarding ends the others; the canceled one stays canceled.
	fastForward(t, url, "")
	for _, b := range dataOf(list("")) {
		counts := b["request_counts"].(map[string]any)
		if b["processing_status"] != "ended" || (b["id"] == ids[2]) != (counts["canceled"] == 2.0) {
			t.Errorf("%v: %v %v", b["id"], b["processing_status"], counts)
		}
	}
}

func TestBatchDuplicateCustomIDsAcrossAPIs(t *testing.T) {
	url := startEmulator(t, "--batch-latency-ms", "600000")
	const key = "shared-key"
	chat := func(id string) string { return batchLine(id, "/v1/chat/completions", chatBody("gpt-4o", "x", "")) }
	f1 := mustUpload(t, url, key, chat("a")+chat("b"))
	f2 := mustUpload(t, url, key, chat("b")+chat("c"))
	mustCreateBatch(t, url, key, f1, "/v1/chat/completions")
	mustCreateBatch(t, url, key, f2, "/v1/chat/completions") // b again
	p := msgBody("claude-x", "hi", 10, "")
	mustMessageBatch(t, url, key, batchRequests("c", p, "d", p)) // c again
	mustMessageBatch(t, url, key, batchRequests("e", p))
	mustMessageBatch(t, url, "another-key", batchRequests("a", p))
	st := getStats(t, url, key).Batches
	if st.DuplicateCustomIDs != 2 || st.LinesReceived != 7 || st.FilesUploaded != 2 || st.OpenAICreated != 2 || st.AnthropicCreated != 2 {
		t.Errorf("stats %+v", st)
	}
	if st := getStats(t, url, "another-key").Batches; st.DuplicateCustomIDs != 0 {
		t.Errorf("another key: %+v", st)
	}
	// The whole report carries the same object per key.
	a := request(t, http.MethodGet, url+"/_emulator/stats", nil, nil)
	var all struct {
		Keys map[string]struct {
			Batches map[string]any `json:"batches"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(a.body, &all); err != nil {
		t.Fatal(err)
	}
	if all.Keys[key].Batches["duplicate_custom_ids"] != 2.0 {
		t.Errorf("stats: %s", a.body)
	}
	// A reset forgets batches and custom_ids.
	request(t, http.MethodPost, url+"/_emulator/reset", nil, nil)
	mustMessageBatch(t, url, key, batchRequests("a", p))
	if st := getStats(t, url, key).Batches; st.DuplicateCustomIDs != 0 || st.LinesReceived != 1 {
		t.Errorf("after reset: %+v", st)
	}
}
