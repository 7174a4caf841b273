package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// request sends a request with the given headers and returns the answer.
func request(t *testing.T, method, url string, header map[string]string, body io.Reader) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b, proto: resp.ProtoMajor}
}

// okJSON decodes a 200 answer; any other status fails the test, naming what.
func okJSON(t *testing.T, a answer, what string) map[string]any {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("%s: %d %s", what, a.status, a.body)
	}
	return a.json(t)
}

// oaHeaders are an OpenAI request's headers; no key, no Authorization.
func oaHeaders(key string) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	if key != "" {
		h["Authorization"] = "Bearer " + key
	}
	return h
}

// uploadFile posts content to /v1/files as a multipart form.
func uploadFile(t *testing.T, url, key, purpose, content string) answer {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if purpose != "" {
		mw.WriteField("purpose", purpose)
	}
	fw, err := mw.CreateFormFile("file", "requests.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, content)
	mw.Close()
	h := oaHeaders(key)
	h["Content-Type"] = mw.FormDataContentType()
	return request(t, http.MethodPost, url+"/v1/files", h, &buf)
}

// mustUpload uploads content and returns the file's id.
func mustUpload(t *testing.T, url, key, content string) string {
	t.Helper()
	return okJSON(t, uploadFile(t, url, key, "batch", content), "upload")["id"].(string)
}

// batchLine renders one line of a batch input file.
func batchLine(id, url, body string) string {
	return fmt.Sprintf(`{"custom_id":%q,"method":"POST","url":%q,"body":%s}`, id, url, body) + "\n"
}

func createBatch(t *testing.T, url, key, fileID, endpoint, extra string) answer {
	t.Helper()
	body := fmt.Sprintf(`{"input_file_id":%q,"endpoint":%q,"completion_window":"24h"%s}`, fileID, endpoint, extra)
	return request(t, http.MethodPost, url+"/v1/batches", oaHeaders(key), strings.NewReader(body))
}

func mustCreateBatch(t *testing.T, url, key, fileID, endpoint string) map[string]any {
	t.Helper()
	return okJSON(t, createBatch(t, url, key, fileID, endpoint, ""), "create batch")
}

func getBatch(t *testing.T, url, key, id string) map[string]any {
	t.Helper()
	return okJSON(t, request(t, http.MethodGet, url+"/v1/batches/"+id, oaHeaders(key), nil), "get batch")
}

// fastForward ends the batch id (every batch when id is "") now.
func fastForward(t *testing.T, url, id string) {
	t.Helper()
	q := ""
	if id != "" {
		q = "?id=" + id
	}
	if a := request(t, http.MethodPost, url+"/_emulator/batches/complete"+q, nil, nil); a.status != 200 {
		t.Fatalf("complete: %d %s", a.status, a.body)
	}
}

// fileLines returns the lines of a file's content, decoded.
func fileLines(t *testing.T, url, key, id string) []map[string]any {
	t.Helper()
	a := request(t, http.MethodGet, url+"/v1/files/"+id+"/content", oaHeaders(key), nil)
	if a.status != 200 {
		t.Fatalf("file content: %d %s", a.status, a.body)
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(a.body)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// withoutIDs drops the members that differ between two answers to the
// same body: ids and creation times.
func withoutIDs(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, c := range t {
			if k != "id" && k != "created" && k != "created_at" {
				m[k] = withoutIDs(c)
			}
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = withoutIDs(c)
		}
		return out
	}
	return v
}

func errorOf(t *testing.T, a answer) map[string]any {
	t.Helper()
	e, ok := a.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object: %s", a.body)
	}
	return e
}

func TestBatchRoundTrip(t *testing.T) {
	url := startEmulator(t, "--batch-latency-ms", "600000")
	const key = "sk-batch"
	cases := []struct {
		endpoint string
		bodies   []string
		post     func(body string) answer
	}{
		{"/v1/chat/completions", []string{
			chatBody("gpt-4o", "hello", ""),
			chatBody("gpt-4o", "two choices", `,"n":2,"max_completion_tokens":5`),
			chatBody("o3-mini", "reason about it", ""),
		}, func(b string) answer { return mustPost(t, url, key, b) }},
		{"/v1/embeddings", []string{
			embBody("text-embedding-3-small", `"embed me"`, `,"dimensions":8`),
			embBody("text-embedding-3-small", `["a","b"]`, `,"dimensions":4,"encoding_format":"base64"`),
		}, func(b string) answer { return postEmbeddings(t, url, key, b) }},
		{"/v1/responses", []string{
			`{"model":"gpt-4o","input":"hello there"}`,
			`{"model":"gpt-4o","input":"short","max_output_tokens":16,"store":false}`,
		}, func(b string) answer { return mustResponses(t, url, key, b) }},
	}
	for _, tc := range cases {
		var file strings.Builder
		for i, b := range tc.bodies {
			file.WriteString(batchLine(fmt.Sprintf("%s-%d", tc.endpoint, i), tc.endpoint, b))
		}
		// A body the endpoint refuses is a failed line.
		file.WriteString(batchLine(tc.endpoint+"-bad", tc.endpoint, `{"model":"gpt-4o"}`))
		fileID := mustUpload(t, url, key, file.String())

		b := mustCreateBatch(t, url, key, fileID, tc.endpoint)
		id := b["id"].(string)
		if !strings.HasPrefix(id, "batch_") || len(id) != len("batch_")+24 {
			t.Errorf("batch id %q", id)
		}
		created := b["created_at"].(float64)
		want := map[string]any{"object": "batch", "endpoint": tc.endpoint, "errors": nil, "input_file_id": fileID,
			"completion_window": "24h", "status": "validating", "output_file_id": nil, "error_file_id": nil,
			"in_progress_at": nil, "expires_at": created + 86400, "finalizing_at": nil, "completed_at": nil,
			"failed_at": nil, "expired_at": nil, "cancelling_at": nil, "cancelled_at": nil, "metadata": nil}
		for k, v := range want {
			if !reflect.DeepEqual(b[k], v) {
				t.Errorf("%s: created batch %s = %v, want %v", tc.endpoint, k, b[k], v)
			}
		}
		counts := b["request_counts"].(map[string]any)
		if counts["total"] != float64(len(tc.bodies)+1) || counts["completed"] != 0.0 || counts["failed"] != 0.0 {
			t.Errorf("request_counts %v", counts)
		}
		if g := getBatch(t, url, key, id); g["status"] != "in_progress" || g["in_progress_at"] != created {
			t.Errorf("before completion: status %v in_progress_at %v", g["status"], g["in_progress_at"])
		}

		fastForward(t, url, id)
		g := getBatch(t, url, key, id)
		if g["status"] != "completed" || g["completed_at"] == nil || g["finalizing_at"] == nil {
			t.Fatalf("after completion: %v", g)
		}
		counts = g["request_counts"].(map[string]any)
		if counts["completed"] != float64(len(tc.bodies)) || counts["failed"] != 1.0 {
			t.Errorf("request_counts %v", counts)
		}
		out := fileLines(t, url, key, g["output_file_id"].(string))
		if len(out) != len(tc.bodies) {
			t.Fatalf("%d output lines, want %d", len(out), len(tc.bodies))
		}
		for i, line := range out {
			if line["custom_id"] != fmt.Sprintf("%s-%d", tc.endpoint, i) || line["error"] != nil ||
				!strings.HasPrefix(line["id"].(string), "batch_req_") {
				t.Errorf("output line %d: %v", i, line)
			}
			resp := line["response"].(map[string]any)
			if resp["status_code"] != 200.0 || !strings.HasPrefix(resp["request_id"].(string), "req_") {
				t.Errorf("output line %d response: %v", i, resp)
			}
			live := tc.post(tc.bodies[i])
			if live.status != 200 {
				t.Fatalf("live answer: %d %s", live.status, live.body)
			}
			if got, want := withoutIDs(resp["body"]), withoutIDs(live.json(t)); !reflect.DeepEqual(got, want) {
				t.Errorf("%s line %d:\n batch %v\n live  %v", tc.endpoint, i, got, want)
			}
		}
		errs := fileLines(t, url, key, g["error_file_id"].(string))
		if len(errs) != 1 || errs[0]["custom_id"] != tc.endpoint+"-bad" || errs[0]["error"] != nil {
			t.Fatalf("error lines: %v", errs)
		}
		resp := errs[0]["response"].(map[string]any)
		live := tc.post(`{"model":"gpt-4o"}`)
		if resp["status_code"] != float64(live.status) || !reflect.DeepEqual(resp["body"], live.json(t)) {
			t.Errorf("error line %v, live %d %s", resp, live.status, live.body)
		}
		// Output files are Files of their own.
		a := request(t, http.MethodGet, url+"/v1/files/"+g["output_file_id"].(string), oaHeaders(key), nil)
		if f := a.json(t); a.status != 200 || f["purpose"] != "batch_output" || f["object"] != "file" {
			t.Errorf("output file object: %d %s", a.status, a.body)
		}
	}
	// Batch lines and batch calls stay out of the live counters.
	st := getStats(t, url, key)
	if st.Received != 10 || st.OK != 7 || st.BadRequests != 3 {
		t.Errorf("live counters received %d ok %d bad %d, want 10 7 3", st.Received, st.OK, st.BadRequests)
	}
	if b := st.Batches; b.FilesUploaded != 3 || b.OpenAICreated != 3 || b.LinesReceived != 10 ||
		b.LinesSucceeded != 7 || b.LinesFailed != 3 || b.DuplicateCustomIDs != 0 || len(b.EnqueuedTokens) != 0 {
		t.Errorf("batch stats %+v", b)
	}
}

func TestBatchStreamingLineFails(t *testing.T) {
	url := startEmulator(t)
	fileID := mustUpload(t, url, "k", batchLine("s", "/v1/chat/completions", chatBody("gpt-4o", "hi", `,"stream":true`)))
	id := mustCreateBatch(t, url, "k", fileID, "/v1/chat/completions")["id"].(string)
	fastForward(t, url, "")
	g := getBatch(t, url, "k", id)
	if g["output_file_id"] != nil {
		t.Errorf("output file for a batch with no successful line: %v", g["output_file_id"])
	}
	errs := fileLines(t, url, "k", g["error_file_id"].(string))
	resp := errs[0]["response"].(map[string]any)
	body := resp["body"].(map[string]any)["error"].(map[string]any)
	if resp["status_code"] != 400.0 || body["param"] != "stream" || body["type"] != "invalid_request_error" {
		t.Errorf("streaming line: %v", resp)
	}
}

func TestBatchLatencyAndNoLiveLimits(t *testing.T) {
	// Faults, rate limits and the answer latency of the live endpoints do
	// not touch batch lines.
	url := startEmulator(t, "--batch-latency-ms", "300", "--fail-first", "5", "--rpm", "1", "--latency-ms", "2000",
		"--invalid-json-first", "5")
	var file strings.Builder
	for i := range 4 {
		file.WriteString(batchLine(fmt.Sprint("l", i), "/v1/chat/completions",
			chatBody("gpt-4o", fmt.Sprint("json please ", i), `,"response_format":{"type":"json_object"}`)))
	}
	fileID := mustUpload(t, url, "k", file.String())
	id := mustCreateBatch(t, url, "k", fileID, "/v1/chat/completions")["id"].(string)
	if g := getBatch(t, url, "k", id); g["status"] != "in_progress" {
		t.Fatalf("status %v right after creation", g["status"])
	}
	time.Sleep(350 * time.Millisecond)
	start := time.Now()
	g := getBatch(t, url, "k", id)
	if g["status"] != "completed" || g["error_file_id"] != nil {
		t.Fatalf("after the latency: %v", g)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("completing took %v: the live latency applied", d)
	}
	created, completed := g["created_at"].(float64), g["completed_at"].(float64)
	if completed < created || completed > created+1 {
		t.Errorf("completed_at %v, created_at %v", completed, created)
	}
	for _, line := range fileLines(t, url, "k", g["output_file_id"].(string)) {
		body := line["response"].(map[string]any)["body"].(map[string]any)
		content := body["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"].(string)
		var v map[string]any
		if err := json.Unmarshal([]byte(content), &v); err != nil {
			t.Errorf("a batch line got a deliberately invalid document: %q", content)
		}
	}
}

func TestBatchFileValidation(t *testing.T) {
	url := startEmulator(t, "--batch-max-file-bytes", "2000")
	good := batchLine("a", "/v1/chat/completions", chatBody("gpt-4o", "x", ""))
	for _, tc := range []struct {
		content string
		want    string
	}{
		{good + "not json\n", "Line 2: not a valid JSON object."},
		{good + "\n[1,2]\n", "Line 3: not a valid JSON object."},
		{`{"method":"POST","url":"/v1/embeddings","body":{}}`, "Line 1: missing required field 'custom_id'."},
		{`{"custom_id":7,"method":"POST","url":"/v1/embeddings","body":{}}`, "Line 1: 'custom_id' must be a string"},
		{good + good, "Line 2: custom_id 'a' is already used on line 1"},
		{`{"custom_id":"x","method":"GET","url":"/v1/embeddings","body":{}}`, "Line 1: 'method' must be \"POST\""},
		{`{"custom_id":"x","method":"POST","url":"/v1/completions","body":{}}`, "Line 1: 'url' must be one of"},
		{`{"custom_id":"x","method":"POST","url":"/v1/embeddings","body":"text"}`, "Line 1: 'body' must be a JSON object"},
		{`{"custom_id":"x","method":"POST","url":"/v1/embeddings"}`, "Line 1: missing required field 'body'."},
		{"\n\n", "The file has no requests"},
		{strings.Repeat(good, 40), "File is too large"},
	} {
		a := uploadFile(t, url, "k", "batch", tc.content)
		if a.status != 400 {
			t.Errorf("%q: status %d", tc.want, a.status)
			continue
		}
		e := errorOf(t, a)
		if msg, _ := e["message"].(string); !strings.HasPrefix(msg, tc.want) || e["type"] != "invalid_request_error" {
			t.Errorf("want %q, got %v", tc.want, e)
		}
	}
	a := uploadFile(t, url, "k", "fine-tune", good)
	if e := errorOf(t, a); a.status != 400 || e["param"] != "purpose" || !strings.Contains(e["message"].(string), "'fine-tune'") {
		t.Errorf("purpose: %d %s", a.status, a.body)
	}
	if a := uploadFile(t, url, "k", "", good); a.status != 400 || errorOf(t, a)["param"] != "purpose" {
		t.Errorf("no purpose: %d %s", a.status, a.body)
	}
	// CRLF line ends and blank lines are fine.
	a = uploadFile(t, url, "k", "batch", "\r\n"+strings.ReplaceAll(good, "\n", "\r\n")+"\r\n")
	f := a.json(t)
	if a.status != 200 || f["object"] != "file" || f["purpose"] != "batch" || f["status"] != "processed" ||
		f["filename"] != "requests.jsonl" || f["expires_at"] != nil || f["status_details"] != nil {
		t.Fatalf("upload: %d %s", a.status, a.body)
	}
	id := f["id"].(string)
	if !strings.HasPrefix(id, "file-") || len(id) != len("file-")+24 {
		t.Errorf("file id %q", id)
	}
	a = request(t, http.MethodGet, url+"/v1/files/"+id+"/content", oaHeaders("k"), nil)
	if a.status != 200 || string(a.body) != "\r\n"+strings.ReplaceAll(good, "\n", "\r\n")+"\r\n" {
		t.Errorf("content: %d %q", a.status, a.body)
	}
	if a := request(t, http.MethodGet, url+"/v1/files/"+id, oaHeaders("k"), nil); a.status != 200 || a.json(t)["bytes"] != f["bytes"] {
		t.Errorf("file object: %d %s", a.status, a.body)
	}
	// Unknown files, and another key's, are 404.
	for _, k := range []string{"k", "other"} {
		for _, path := range []string{"/v1/files/file-nope", "/v1/files/" + id} {
			if k == "k" && path != "/v1/files/file-nope" {
				continue
			}
			a := request(t, http.MethodGet, url+path, oaHeaders(k), nil)
			want := `{"error":{"message":"No such File object: ` + strings.TrimPrefix(path, "/v1/files/") +
				`","type":"invalid_request_error","param":"id","code":null}}` + "\n"
			if a.status != 404 || string(a.body) != want {
				t.Errorf("%s as %s: %d %s", path, k, a.status, a.body)
			}
		}
	}
}

func TestBatchCreateErrors(t *testing.T) {
	url := startEmulator(t)
	chatFile := mustUpload(t, url, "k", batchLine("a", "/v1/chat/completions", chatBody("gpt-4o", "x", ""))+
		batchLine("b", "/v1/embeddings", embBody("text-embedding-3-small", `"x"`, "")))
	embFile := mustUpload(t, url, "k", batchLine("a", "/v1/embeddings", embBody("text-embedding-3-small", `"x"`, "")))
	for _, tc := range []struct {
		body, param, want string
	}{
		{`{"input_file_id":"` + chatFile + `","endpoint":"/v1/chat/completions","completion_window":"24h"}`, "endpoint", "Line 2 of file"},
		{`{"input_file_id":"` + embFile + `","endpoint":"/v1/embeddings","completion_window":"48h"}`, "completion_window", "Invalid value: '48h'"},
		{`{"input_file_id":"` + embFile + `","endpoint":"/v1/completions","completion_window":"24h"}`, "endpoint", "Invalid value: '/v1/completions'"},
		{`{"input_file_id":"file-nope","endpoint":"/v1/embeddings","completion_window":"24h"}`, "input_file_id", "No such File object: file-nope"},
		{`{"endpoint":"/v1/embeddings","completion_window":"24h"}`, "input_file_id", "Missing required parameter"},
		{`{"input_file_id":"` + embFile + `","completion_window":"24h"}`, "endpoint", "Missing required parameter"},
		{`{"input_file_id":"` + embFile + `","endpoint":"/v1/embeddings"}`, "completion_window", "Missing required parameter"},
		{`{"input_file_id":"` + embFile + `","endpoint":"/v1/embeddings","completion_window":"24h","metadata":{"a":1}}`, "metadata.a", "Invalid type"},
		{`{"input_file_id":"` + embFile + `","endpoint":"/v1/embeddings","completion_window":"24h","colour":"red"}`, "", "Unrecognized request argument supplied: colour"},
		{`{"input_file_id":`, "", "We could not parse the JSON body"},
	} {
		a := request(t, http.MethodPost, url+"/v1/batches", oaHeaders("k"), strings.NewReader(tc.body))
		if a.status != 400 {
			t.Errorf("%s: %d %s", tc.body, a.status, a.body)
			continue
		}
		e := errorOf(t, a)
		param, _ := e["param"].(string)
		if param != tc.param || !strings.Contains(e["message"].(string), tc.want) {
			t.Errorf("%s: %v", tc.body, e)
		}
	}
	// A batch's output file is no input file; another key cannot use the file.
	b := mustCreateBatch(t, url, "k", embFile, "/v1/embeddings")
	fastForward(t, url, b["id"].(string))
	out := getBatch(t, url, "k", b["id"].(string))["output_file_id"].(string)
	if a := createBatch(t, url, "k", out, "/v1/embeddings", ""); a.status != 400 || errorOf(t, a)["param"] != "input_file_id" {
		t.Errorf("output file as input: %d %s", a.status, a.body)
	}
	if a := createBatch(t, url, "other", embFile, "/v1/embeddings", ""); a.status != 400 {
		t.Errorf("another key's file: %d %s", a.status, a.body)
	}
	// Metadata is echoed.
	a := createBatch(t, url, "k", embFile, "/v1/embeddings", `,"metadata":{"job":"nightly"}`)
	if m := a.json(t)["metadata"]; !reflect.DeepEqual(m, map[string]any{"job": "nightly"}) {
		t.Errorf("metadata %v", m)
	}
	if a := request(t, http.MethodGet, url+"/v1/batches/batch_nope", oaHeaders("k"), nil); a.status != 404 || errorOf(t, a)["param"] != "id" {
		t.Errorf("unknown batch: %d %s", a.status, a.body)
	}
}

func TestBatchEnqueuedTokenLimit(t *testing.T) {
	// "hello" costs 3 + 4 + 2 = 9 prompt tokens.
	url := startEmulator(t, "--batch-enqueued-tokens", "30", "--batch-latency-ms", "600000")
	line := func(id, model string) string {
		return batchLine(id, "/v1/chat/completions", chatBody(model, "hello", ""))
	}
	three := mustUpload(t, url, "k", line("a", "gpt-4o")+line("b", "gpt-4o")+line("c", "gpt-4o")) // 27 tokens
	one := mustUpload(t, url, "k", line("d", "gpt-4o"))                                           // 9 tokens
	other := mustUpload(t, url, "k", line("e", "gpt-4o-mini"))

	first := mustCreateBatch(t, url, "k", three, "/v1/chat/completions")
	if first["status"] != "validating" {
		t.Fatalf("first batch: %v", first)
	}
	failed := mustCreateBatch(t, url, "k", one, "/v1/chat/completions")
	if failed["status"] != "failed" || failed["failed_at"] == nil || failed["in_progress_at"] != nil {
		t.Fatalf("over the limit: %v", failed)
	}
	errs := failed["errors"].(map[string]any)
	want := map[string]any{"object": "list", "data": []any{map[string]any{"code": "token_limit_exceeded",
		"message": "Enqueued token limit reached for gpt-4o in organization org-emulator. Limit: 30 enqueued tokens. " +
			"Please try again once some in_progress batches have been completed.", "param": nil, "line": nil}}}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("errors %v", errs)
	}
	if g := getBatch(t, url, "k", failed["id"].(string)); g["status"] != "failed" {
		t.Errorf("failed batch later: %v", g["status"])
	}
	// Other models and other keys have their own allowance.
	if b := mustCreateBatch(t, url, "k", other, "/v1/chat/completions"); b["status"] != "validating" {
		t.Errorf("other model: %v", b["status"])
	}
	if st := getStats(t, url, "k").Batches; st.EnqueuedTokens["gpt-4o"] != 27 || st.EnqueuedTokens["gpt-4o-mini"] != 9 {
		t.Errorf("enqueued %v", st.EnqueuedTokens)
	}
	// Once the first batch completed, its tokens are no longer enqueued.
	fastForward(t, url, first["id"].(string))
	if b := mustCreateBatch(t, url, "k", one, "/v1/chat/completions"); b["status"] != "validating" {
		t.Errorf("after completion: %v", b)
	}
	st := getStats(t, url, "k").Batches
	if st.TokenLimitFailures != 1 || st.OpenAICreated != 4 || st.PeakEnqueuedTokens["gpt-4o"] != 27 ||
		st.PeakEnqueuedTokens["gpt-4o-mini"] != 9 || st.EnqueuedTokens["gpt-4o"] != 9 {
		t.Errorf("stats %+v", st)
	}
	// The lines of the failed batch were never accepted: sending them again
	// is no duplicate.
	if st.DuplicateCustomIDs != 0 || st.LinesReceived != 6 {
		t.Errorf("duplicates %d, lines %d", st.DuplicateCustomIDs, st.LinesReceived)
	}
}

func TestBatchListAndPagination(t *testing.T) {
	url := startEmulator(t, "--batch-latency-ms", "600000")
	fileID := mustUpload(t, url, "k", batchLine("a", "/v1/embeddings", embBody("text-embedding-3-small", `"x"`, "")))
	var ids []string
	for range 5 {
		ids = append(ids, mustCreateBatch(t, url, "k", fileID, "/v1/embeddings")["id"].(string))
	}
	list := func(key, query string) map[string]any {
		return okJSON(t, request(t, http.MethodGet, url+"/v1/batches"+query, oaHeaders(key), nil), "list")
	}
	idsOf := func(l map[string]any) []string {
		var out []string
		for _, b := range l["data"].([]any) {
			out = append(out, b.(map[string]any)["id"].(string))
		}
		return out
	}
	all := list("k", "")
	if got := idsOf(all); !reflect.DeepEqual(got, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}) || all["object"] != "list" ||
		all["has_more"] != false || all["first_id"] != ids[4] || all["last_id"] != ids[0] {
		t.Errorf("list: %v", all)
	}
	var pages [][]string
	after := ""
	for {
		q := "?limit=2"
		if after != "" {
			q += "&after=" + after
		}
		l := list("k", q)
		pages = append(pages, idsOf(l))
		if l["has_more"] != true {
			break
		}
		after = l["last_id"].(string)
	}
	want := [][]string{{ids[4], ids[3]}, {ids[2], ids[1]}, {ids[0]}}
	if !reflect.DeepEqual(pages, want) {
		t.Errorf("pages %v, want %v", pages, want)
	}
	if l := list("other", ""); len(l["data"].([]any)) != 0 || l["first_id"] != nil || l["has_more"] != false {
		t.Errorf("another key's list: %v", l)
	}
	if a := request(t, http.MethodGet, url+"/v1/batches/"+ids[0], oaHeaders("other"), nil); a.status != 404 {
		t.Errorf("another key's batch: %d", a.status)
	}
	if a := request(t, http.MethodGet, url+"/v1/batches?limit=101", oaHeaders("k"), nil); a.status != 400 {
		t.Errorf("limit 101: %d", a.status)
	}
	// Listing ends the batches that are due.
	fastForward(t, url, ids[1])
	for _, b := range dataOf(list("k", "")) {
		if want := map[bool]string{true: "completed", false: "in_progress"}[b["id"] == ids[1]]; b["status"] != want {
			t.Errorf("%v: status %v", b["id"], b["status"])
		}
	}
}

// dataOf returns a list answer's data items.
func dataOf(l map[string]any) []map[string]any {
	var out []map[string]any
	for _, v := range l["data"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func TestBatchCancel(t *testing.T) {
	url := startEmulator(t, "--batch-latency-ms", "600000", "--batch-enqueued-tokens", "100")
	fileID := mustUpload(t, url, "k", batchLine("a", "/v1/chat/completions", chatBody("gpt-4o", "hello", "")))
	id := mustCreateBatch(t, url, "k", fileID, "/v1/chat/completions")["id"].(string)
	a := request(t, http.MethodPost, url+"/v1/batches/"+id+"/cancel", oaHeaders("k"), nil)
	b := a.json(t)
	if a.status != 200 || b["status"] != "cancelled" || b["cancelled_at"] == nil || b["cancelling_at"] == nil ||
		b["completed_at"] != nil || b["output_file_id"] != nil {
		t.Fatalf("cancel: %d %s", a.status, a.body)
	}
	a = request(t, http.MethodPost, url+"/v1/batches/"+id+"/cancel", oaHeaders("k"), nil)
	if e := errorOf(t, a); a.status != 409 || e["message"] != "Cannot cancel a batch with status 'cancelled'." {
		t.Errorf("second cancel: %d %s", a.status, a.body)
	}
	fastForward(t, url, "")
	if g := getBatch(t, url, "k", id); g["status"] != "cancelled" {
		t.Errorf("after fast-forward: %v", g["status"])
	}
	// A completed batch cannot be cancelled.
	id2 := mustCreateBatch(t, url, "k", fileID, "/v1/chat/completions")["id"].(string)
	fastForward(t, url, id2)
	if a := request(t, http.MethodPost, url+"/v1/batches/"+id2+"/cancel", oaHeaders("k"), nil); a.status != 409 {
		t.Errorf("cancel completed: %d %s", a.status, a.body)
	}
	if a := request(t, http.MethodGet, url+"/v1/batches/"+id2+"/cancel", oaHeaders("k"), nil); a.status != 405 {
		t.Errorf("GET cancel: %d", a.status)
	}
	st := getStats(t, url, "k").Batches
	if len(st.EnqueuedTokens) != 0 || st.LinesCanceled != 1 || st.LinesSucceeded != 1 || st.DuplicateCustomIDs != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestBatchKeys(t *testing.T) {
	url := startEmulator(t, "--invalid-keys", "sk-bad", "--quota-keys", "sk-broke")
	good := batchLine("a", "/v1/embeddings", embBody("text-embedding-3-small", `"x"`, ""))
	if a := uploadFile(t, url, "sk-bad", "batch", good); a.status != 401 || errorOf(t, a)["code"] != "invalid_api_key" {
		t.Errorf("invalid key upload: %d %s", a.status, a.body)
	}
	if a := uploadFile(t, url, "", "batch", good); a.status != 401 {
		t.Errorf("no key upload: %d %s", a.status, a.body)
	}
	if a := createBatch(t, url, "sk-broke", "file-x", "/v1/embeddings", ""); a.status != 429 || errorOf(t, a)["code"] != "insufficient_quota" {
		t.Errorf("quota key create: %d %s", a.status, a.body)
	}
	for _, path := range []string{"/v1/batches", "/v1/batches/batch_x", "/v1/files/file-x", "/v1/files/file-x/content"} {
		a := request(t, http.MethodGet, url+path, oaHeaders("sk-bad"), nil)
		if a.status != 401 || a.header.Get("X-Request-Id") == "" {
			t.Errorf("%s with an invalid key: %d %s", path, a.status, a.body)
		}
	}
	if st := getStats(t, url, "sk-bad"); st.Batches.APIErrors != 5 || st.Batches.FilesUploaded != 0 || st.Received != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestBatchEnding(t *testing.T) {
	now := time.Now()
	j := batchJob{created: now, due: now.Add(25 * time.Hour), expires: now.Add(batchWindow)}
	if c, x, _ := j.ending(now.Add(23*time.Hour), false); c || x {
		t.Errorf("ended early")
	}
	if c, x, at := j.ending(now.Add(24*time.Hour), false); c || !x || !at.Equal(j.expires) {
		t.Errorf("did not expire: %v %v %v", c, x, at)
	}
	if c, x, _ := j.ending(now, true); !c || x {
		t.Errorf("forced ending did not complete")
	}
	j.due = now.Add(time.Second)
	if c, _, at := j.ending(now.Add(time.Hour), false); !c || !at.Equal(j.due) {
		t.Errorf("completion at %v, want %v", at, j.due)
	}
}

func TestBatchSpec(t *testing.T) {
	spec, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "specs", "openai-openapi.json"))
	if _, err := os.Stat(spec); err != nil {
		t.Skipf("spec not available: %v", err)
	}
	url := startEmulator(t, "--validate-spec", spec)
	fileID := mustUpload(t, url, "k", batchLine("ok", "/v1/chat/completions", chatBody("gpt-4o", "x", ""))+
		batchLine("bad", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"temperature":"hot"}`))
	a := createBatch(t, url, "k", fileID, "/v1/chat/completions", `,"metadata":"nope"`)
	if e := errorOf(t, a); a.status != 400 || !strings.Contains(e["message"].(string), "CreateBatchRequest") || e["param"] != "metadata" {
		t.Errorf("spec violation: %d %s", a.status, a.body)
	}
	id := mustCreateBatch(t, url, "k", fileID, "/v1/chat/completions")["id"].(string)
	fastForward(t, url, id)
	g := getBatch(t, url, "k", id)
	errs := fileLines(t, url, "k", g["error_file_id"].(string))
	body := errs[0]["response"].(map[string]any)["body"].(map[string]any)["error"].(map[string]any)
	if errs[0]["custom_id"] != "bad" || !strings.Contains(body["message"].(string), "CreateChatCompletionRequest") {
		t.Errorf("line spec violation: %v", errs[0])
	}
}

func TestBatchFlags(t *testing.T) {
	cfg, err := parseConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.batchMaxFileBytes != 209715200 || cfg.batchEnqueuedTokens != 0 || cfg.batchLatency != time.Second {
		t.Errorf("defaults %d %d %v", cfg.batchMaxFileBytes, cfg.batchEnqueuedTokens, cfg.batchLatency)
	}
	for _, args := range [][]string{{"--batch-max-file-bytes", "0"}, {"--batch-enqueued-tokens", "-1"}, {"--batch-latency-ms", "-5"}} {
		if _, err := parseConfig(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestBatchFileLineLimit(t *testing.T) {
	var b strings.Builder
	for i := range maxBatchLines {
		fmt.Fprintf(&b, `{"custom_id":"%d","method":"POST","url":"/v1/embeddings","body":{}}`+"\n", i)
	}
	if lines, aerr := parseBatchFile([]byte(b.String())); aerr != nil || len(lines) != maxBatchLines {
		t.Fatalf("%d lines: %v", len(lines), aerr)
	}
	b.WriteString(`{"custom_id":"one more","method":"POST","url":"/v1/embeddings","body":{}}`)
	if _, aerr := parseBatchFile([]byte(b.String())); aerr == nil || aerr.code != "too_many_requests_in_file" {
		t.Fatalf("one line too many: %v", aerr)
	}
}
