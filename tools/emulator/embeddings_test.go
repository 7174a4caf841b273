package main

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// postEmbeddings sends body to /v1/embeddings with a bearer key.
func postEmbeddings(t *testing.T, url, key, body string) answer {
	t.Helper()
	return request(t, http.MethodPost, url+"/v1/embeddings", oaHeaders(key), strings.NewReader(body))
}

// decodeStrict decodes a reply's body into v, failing the test on a member
// v does not have.
func decodeStrict(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("reply: %v: %.300s", err, body)
	}
}

// embBody builds a request; input and extra are raw JSON.
func embBody(model, input, extra string) string {
	return fmt.Sprintf(`{"model":%q,"input":%s%s}`, model, input, extra)
}

type embReply struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
	Usage struct {
		PromptTokens int64 `json:"prompt_tokens"`
		TotalTokens  int64 `json:"total_tokens"`
	} `json:"usage"`
}

// parseEmb checks a 200 embeddings answer's envelope and returns its
// vectors, decoded from floats or from base64.
func parseEmb(t *testing.T, a answer) (embReply, [][]float32) {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var r embReply
	decodeStrict(t, a.body, &r)
	if r.Object != "list" || r.Usage.TotalTokens != r.Usage.PromptTokens {
		t.Errorf("envelope: %+v", r)
	}
	vecs := make([][]float32, len(r.Data))
	for i, d := range r.Data {
		if d.Object != "embedding" || d.Index != i {
			t.Errorf("item %d: object %q index %d", i, d.Object, d.Index)
		}
		vecs[i] = decodeEmbedding(t, d.Embedding)
	}
	return r, vecs
}

func decodeEmbedding(t *testing.T, raw json.RawMessage) []float32 {
	t.Helper()
	if raw[0] == '"' {
		var s string
		json.Unmarshal(raw, &s)
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || len(b)%4 != 0 {
			t.Fatalf("base64 embedding: %v (%d bytes)", err, len(b))
		}
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return v
	}
	var nums []json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&nums); err != nil {
		t.Fatalf("float embedding: %v", err)
	}
	v := make([]float32, len(nums))
	for i, n := range nums {
		f, err := strconv.ParseFloat(n.String(), 32)
		if err != nil {
			t.Fatalf("float %q: %v", n, err)
		}
		v[i] = float32(f)
	}
	return v
}

func l2(v []float32) float64 {
	var s float64
	for _, f := range v {
		s += float64(f) * float64(f)
	}
	return math.Sqrt(s)
}

func TestEmbeddingsShape(t *testing.T) {
	url := startEmulator(t)
	key := "sk-emb-shape"

	// One string.
	a := postEmbeddings(t, url, key, embBody("text-embedding-3-small", `"hello world"`, ""))
	if !bytes.HasPrefix(a.body, []byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[`)) ||
		!bytes.HasSuffix(a.body, []byte(`],"model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}}`+"\n")) {
		t.Errorf("reply: %.200s … %s", a.body, a.body[max(0, len(a.body)-120):])
	}
	if a.header.Get("Content-Type") != "application/json" || !strings.HasPrefix(a.header.Get("X-Request-Id"), "req_") ||
		len(a.header.Get("X-Request-Id")) != 36 || a.header.Get("Openai-Version") != "2020-10-01" ||
		a.header.Get("Openai-Organization") != "org-emulator" || a.header.Get("Openai-Processing-Ms") == "" {
		t.Errorf("headers: %v", a.header)
	}
	r, vecs := parseEmb(t, a)
	if len(vecs) != 1 || len(vecs[0]) != 1536 || r.Model != "text-embedding-3-small" || r.Usage.PromptTokens != textTokens("hello world") {
		t.Fatalf("one string: %+v, %d vectors", r.Usage, len(vecs))
	}
	want := embeddingVector("text-embedding-3-small", &embeddingInput{text: "hello world"}, 1536)
	if !slices.Equal(vecs[0], want) {
		t.Errorf("the float reply is not the float32 vector")
	}

	// A list of strings, in order; repeated items get the same vector.
	r, vecs = parseEmb(t, postEmbeddings(t, url, key, embBody("text-embedding-3-small", `["a","bcdef","a","héllo"]`, `,"user":"u-1"`)))
	if len(vecs) != 4 || r.Usage.PromptTokens != 1+2+1+2 {
		t.Fatalf("list: %+v, %d vectors", r.Usage, len(vecs))
	}
	if !slices.Equal(vecs[0], vecs[2]) || slices.Equal(vecs[0], vecs[1]) || slices.Equal(vecs[1], vecs[3]) {
		t.Errorf("list vectors are not per item")
	}
	_, one := parseEmb(t, postEmbeddings(t, url, key, embBody("text-embedding-3-small", `"bcdef"`, "")))
	if !slices.Equal(one[0], vecs[1]) {
		t.Errorf("an item's vector depends on its neighbours")
	}

	// Token ids: one array is one input; an array of arrays is several.
	r, vecs = parseEmb(t, postEmbeddings(t, url, key, embBody("text-embedding-ada-002", `[1212, 318, 257]`, "")))
	if len(vecs) != 1 || len(vecs[0]) != 1536 || r.Usage.PromptTokens != 3 || r.Model != "text-embedding-ada-002" {
		t.Fatalf("token ids: %+v, %d vectors", r, len(vecs))
	}
	r, vecs2 := parseEmb(t, postEmbeddings(t, url, key, embBody("text-embedding-ada-002", `[[1212,318,257],[13],[1212,318,257]]`, "")))
	if len(vecs2) != 3 || r.Usage.PromptTokens != 7 || !slices.Equal(vecs2[0], vecs[0]) || !slices.Equal(vecs2[0], vecs2[2]) ||
		slices.Equal(vecs2[0], vecs2[1]) {
		t.Fatalf("arrays of token ids: %+v", r.Usage)
	}

	// Vector lengths by model.
	for model, n := range map[string]int{"text-embedding-3-large": 3072, "text-embedding-ada-002": 1536, "my-embedder": 1536} {
		if _, v := parseEmb(t, postEmbeddings(t, url, key, embBody(model, `"x"`, ""))); len(v[0]) != n {
			t.Errorf("%s: %d dimensions, want %d", model, len(v[0]), n)
		}
	}
}

func TestEmbeddingsVectors(t *testing.T) {
	url := startEmulator(t)
	key := "sk-emb-vec"
	get := func(model, input, extra string) []float32 {
		t.Helper()
		_, v := parseEmb(t, postEmbeddings(t, url, key, embBody(model, input, extra)))
		return v[0]
	}
	a1 := get("text-embedding-3-small", `"the quick brown fox"`, "")
	a2 := get("text-embedding-3-small", `"the quick brown fox"`, "")
	b := get("text-embedding-3-small", `"the quick brown fox."`, "")
	c := get("text-embedding-3-large", `"the quick brown fox"`, "")
	if !slices.Equal(a1, a2) {
		t.Errorf("same input, different vectors")
	}
	if slices.Equal(a1, b) || slices.Equal(a1, c[:len(a1)]) {
		t.Errorf("different inputs or models, same vector")
	}
	// A text and the same-looking token ids differ too.
	if slices.Equal(get("m", `"1"`, ""), get("m", `[1]`, "")) {
		t.Errorf("text and token ids share a vector")
	}
	for _, v := range [][]float32{a1, b, c} {
		if n := l2(v); math.Abs(n-1) > 1e-5 {
			t.Errorf("norm %v", n)
		}
		var sum float64
		for _, f := range v {
			sum += float64(f)
		}
		if math.Abs(sum) > 0.2*math.Sqrt(float64(len(v))) || slices.Max(v) <= 0 || slices.Min(v) >= 0 {
			t.Errorf("values are not spread around 0: sum %v", sum)
		}
	}

	// dimensions: the full vector cut and renormalised.
	d := get("text-embedding-3-small", `"the quick brown fox"`, `,"dimensions":256`)
	if len(d) != 256 || math.Abs(l2(d)-1) > 1e-5 {
		t.Fatalf("dimensions 256: len %d norm %v", len(d), l2(d))
	}
	scale := 1 / l2(a1[:256])
	for i := range d {
		if math.Abs(float64(d[i])-float64(a1[i])*scale) > 1e-6 {
			t.Fatalf("dimensions 256: item %d is %v, want %v", i, d[i], float64(a1[i])*scale)
		}
	}
	if v := get("text-embedding-3-large", `"x"`, `,"dimensions":3072`); len(v) != 3072 {
		t.Errorf("dimensions 3072: %d", len(v))
	}
	if v := get("text-embedding-3-small", `"x"`, `,"dimensions":1`); len(v) != 1 || (v[0] != 1 && v[0] != -1) {
		t.Errorf("dimensions 1: %v", v)
	}

	// base64: the little-endian float32 array of the float reply.
	for _, c := range []struct{ model, input, extra string }{
		{"text-embedding-3-small", `["the quick brown fox","jumps"]`, ""},
		{"text-embedding-3-large", `[[1,2,3]]`, `,"dimensions":100`},
		{"text-embedding-ada-002", `"z"`, ""},
	} {
		ra, fl := parseEmb(t, postEmbeddings(t, url, key, embBody(c.model, c.input, c.extra+`,"encoding_format":"float"`)))
		a := postEmbeddings(t, url, key, embBody(c.model, c.input, c.extra+`,"encoding_format":"base64"`))
		if !bytes.Contains(a.body, []byte(`"embedding":"`)) {
			t.Fatalf("base64 reply: %.200s", a.body)
		}
		rb, b64 := parseEmb(t, a)
		if len(fl) != len(b64) || ra.Usage != rb.Usage || ra.Model != rb.Model {
			t.Fatalf("base64 %s: %d vs %d items", c.input, len(fl), len(b64))
		}
		for i := range fl {
			if !slices.Equal(fl[i], b64[i]) {
				t.Errorf("base64 %s item %d differs from the float reply", c.input, i)
			}
		}
	}
}

func TestEmbeddingsBadRequests(t *testing.T) {
	url := startEmulator(t, "--known-models", "text-embedding-3-small,text-embedding-ada-002,m")
	key := "sk-emb-bad"
	many := func(n int, item string) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + "]"
	}
	cases := []struct {
		name, body    string
		status        int
		param, code   string
		messageSubstr string
	}{
		{"unknown field", embBody("m", `"x"`, `,"foo":1`), 400, "", "", "Unrecognized request argument supplied: foo"},
		{"chat field", embBody("m", `"x"`, `,"temperature":0.5`), 400, "", "", "temperature"},
		{"not JSON", `{"model":"m","input":`, 400, "", "", "could not parse the JSON body"},
		{"not an object", `["m"]`, 400, "", "", "could not parse the JSON body"},
		{"no model", `{"input":"x"}`, 400, "model", "", "you must provide a model parameter"},
		{"model type", `{"model":5,"input":"x"}`, 400, "model", "invalid_type", "expected a string"},
		{"no input", `{"model":"m"}`, 400, "input", "missing_required_parameter", "'input'"},
		{"null input", `{"model":"m","input":null}`, 400, "input", "missing_required_parameter", "'input'"},
		{"empty string", embBody("m", `""`, ""), 400, "input", "", "'$.input' is invalid"},
		{"empty array", embBody("m", `[]`, ""), 400, "input", "empty_array", "empty array"},
		{"empty string item", embBody("m", `["a",""]`, ""), 400, "input[1]", "", "'$.input' is invalid"},
		{"empty token array", embBody("m", `[[1],[]]`, ""), 400, "input[1]", "empty_array", "empty array"},
		{"number input", embBody("m", `5`, ""), 400, "input", "invalid_type", "but got an integer instead"},
		{"object input", embBody("m", `{"text":"x"}`, ""), 400, "input", "invalid_type", "but got an object instead"},
		{"mixed list", embBody("m", `["a",1]`, ""), 400, "input[1]", "invalid_type", "expected a string"},
		{"mixed ids", embBody("m", `[1,"a"]`, ""), 400, "input[1]", "invalid_type", "expected an integer"},
		{"float id", embBody("m", `[[1,2.5]]`, ""), 400, "input[0][1]", "invalid_type", "expected an integer"},
		{"objects", embBody("m", `[{"a":1}]`, ""), 400, "input[0]", "invalid_type", "but got an object instead"},
		{"too many", embBody("m", many(maxEmbeddingInputs+1, `"a"`), ""), 400, "input", "array_above_max_length", "maximum length 2048"},
		{"encoding", embBody("m", `"x"`, `,"encoding_format":"hex"`), 400, "encoding_format", "invalid_value", "'float' and 'base64'"},
		{"dimensions on ada", embBody("text-embedding-ada-002", `"x"`, `,"dimensions":256`), 400, "dimensions", "", "does not support specifying dimensions"},
		{"dimensions on other model", embBody("m", `"x"`, `,"dimensions":256`), 400, "dimensions", "", "does not support specifying dimensions"},
		{"dimensions zero", embBody("text-embedding-3-small", `"x"`, `,"dimensions":0`), 400, "dimensions", "integer_below_min_value", ">= 1"},
		{"dimensions too many", embBody("text-embedding-3-small", `"x"`, `,"dimensions":1537`), 400, "dimensions", "integer_above_max_value", "<= 1536"},
		{"dimensions type", embBody("text-embedding-3-small", `"x"`, `,"dimensions":"8"`), 400, "dimensions", "invalid_type", "expected an integer"},
		{"user type", embBody("m", `"x"`, `,"user":7`), 400, "user", "invalid_type", "expected a string"},
		{"unknown model", embBody("text-embedding-3-large", `"x"`, ""), 404, "", "model_not_found", "text-embedding-3-large"},
	}
	for _, c := range cases {
		a := postEmbeddings(t, url, key, c.body)
		e, _ := a.json(t)["error"].(map[string]any)
		if a.status != c.status || e["type"] != "invalid_request_error" || fmt.Sprint(e["param"]) != cmp.Or(c.param, "<nil>") ||
			fmt.Sprint(e["code"]) != cmp.Or(c.code, "<nil>") || !strings.Contains(fmt.Sprint(e["message"]), c.messageSubstr) {
			t.Errorf("%s: %d %s", c.name, a.status, a.body)
		}
		if a.header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no x-request-id", c.name)
		}
	}
	// The largest input array is fine.
	if r, v := parseEmb(t, postEmbeddings(t, url, key, `{"model":"text-embedding-3-small","dimensions":1,"input":`+many(maxEmbeddingInputs, `"ab"`)+`}`)); len(v) != maxEmbeddingInputs || r.Usage.PromptTokens != maxEmbeddingInputs {
		t.Errorf("2048 inputs: %d vectors, %+v", len(v), r.Usage)
	}
	resp, err := http.Get(url + "/v1/embeddings")
	if err != nil || resp.StatusCode != 405 {
		t.Errorf("GET: %v %v", resp, err)
	}
	resp.Body.Close()
	st := getStats(t, url, key) // the keyless GET counts under ""
	if st.Received != int64(len(cases))+1 || st.BadRequests != int64(len(cases)) || st.OK != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestEmbeddingsKeysAndStats(t *testing.T) {
	url := startEmulator(t, "--invalid-keys", "sk-emb-invalid", "--quota-keys", "sk-emb-quota")
	body := embBody("text-embedding-3-small", `["hello there","x"]`, "")
	if a := postEmbeddings(t, url, "", body); a.status != 401 || !strings.Contains(string(a.body), "You didn't provide an API key") {
		t.Errorf("no key: %d %s", a.status, a.body)
	}
	if a := postEmbeddings(t, url, "sk-emb-invalid", body); a.status != 401 || !strings.Contains(string(a.body), "invalid_api_key") {
		t.Errorf("invalid key: %d %s", a.status, a.body)
	}
	if a := postEmbeddings(t, url, "sk-emb-quota", body); a.status != 429 || !strings.Contains(string(a.body), "insufficient_quota") {
		t.Errorf("quota key: %d %s", a.status, a.body)
	}
	key := "sk-emb-stats-01"
	for i := 0; i < 3; i++ {
		parseEmb(t, postEmbeddings(t, url, key, body)) // 3 + 1 tokens each
	}
	parseEmb(t, postEmbeddings(t, url, key, embBody("text-embedding-ada-002", `[1,2,3,4,5]`, "")))
	mustPost(t, url, key, chatBody("gpt-4o", "Hello there", "")) // 10 prompt tokens
	st := getStats(t, url, key)
	if st.Received != 5 || st.OK != 5 || st.PromptTokens != 3*4+5+10 {
		t.Errorf("stats: %+v", st)
	}
	if m := st.Models["text-embedding-3-small"]; m.OK != 3 || m.PromptTokens != 12 || m.CompletionTokens != 0 {
		t.Errorf("model stats: %+v", st.Models)
	}
	if m := st.Models["text-embedding-ada-002"]; m.OK != 1 || m.PromptTokens != 5 {
		t.Errorf("model stats: %+v", st.Models)
	}
	if z := getStats(t, url, "sk-emb-invalid"); z.Received != 1 || z.AuthErrors != 1 {
		t.Errorf("invalid key stats: %+v", z)
	}
	if z := getStats(t, url, "sk-emb-quota"); z.Received != 1 || z.QuotaErrors != 1 {
		t.Errorf("quota key stats: %+v", z)
	}
}

// headerNames lists the header names of an answer, without the transport's.
func headerNames(h http.Header) []string {
	var names []string
	for k := range h {
		if k != "Date" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

func TestEmbeddingsRateLimits(t *testing.T) {
	// 12000 TPM over 500 ms: 100 tokens per window; 240 RPM: 2 requests.
	url := startEmulator(t, "--tpm", "12000", "--rpm", "480", "--window-ms", "500", "--should-retry-header")
	key := "sk-emb-tpm"
	text := strings.Repeat("abcd", 60) // 60 tokens
	a := postEmbeddings(t, url, key, embBody("text-embedding-3-small", strconv.Quote(text), ""))
	if a.status != 200 || a.header.Get("X-Ratelimit-Limit-Tokens") != "100" || a.header.Get("X-Ratelimit-Remaining-Tokens") != "40" ||
		a.header.Get("X-Ratelimit-Limit-Requests") != "4" || a.header.Get("X-Ratelimit-Remaining-Requests") != "3" {
		t.Fatalf("first: %d %v %.200s", a.status, a.header, a.body)
	}
	okNames := headerNames(a.header)
	chatOK := mustPost(t, url, "sk-emb-tpm-chat", chatBody("gpt-4o", "hi", ""))
	if chatOK.status != 200 || !slices.Equal(okNames, headerNames(chatOK.header)) {
		t.Errorf("200 headers %v, chat's %v", okNames, headerNames(chatOK.header))
	}

	// The input tokens stay in the window: 60 + 60 > 100.
	a = postEmbeddings(t, url, key, embBody("text-embedding-3-small", strconv.Quote(text), ""))
	if a.status != 429 {
		t.Fatalf("second: %d %s", a.status, a.body)
	}
	e := a.json(t)["error"].(map[string]any)
	wantMsg := "Rate limit reached for text-embedding-3-small in organization org-emulator on tokens per min (TPM): Limit 100, Used 60, Requested 60. Please try again in "
	if e["type"] != "tokens" || e["code"] != "rate_limit_exceeded" || e["param"] != nil || !strings.HasPrefix(e["message"].(string), wantMsg) {
		t.Errorf("429 body: %s", a.body)
	}
	ms, err := strconv.Atoi(a.header.Get("Retry-After-Ms"))
	if err != nil || ms < 1 || ms > 500 || a.header.Get("Retry-After") != "1" || a.header.Get("X-Should-Retry") != "true" ||
		a.header.Get("X-Ratelimit-Remaining-Tokens") != "40" {
		t.Errorf("429 headers: %v", a.header)
	}
	// The chat endpoint's 429 carries the same headers.
	mustPost(t, url, "sk-emb-tpm-chat2", chatBody("gpt-4o", "hi", `,"max_completion_tokens":92`))
	chat429 := mustPost(t, url, "sk-emb-tpm-chat2", chatBody("gpt-4o", "hi", `,"max_completion_tokens":92`))
	if chat429.status != 429 || !slices.Equal(headerNames(a.header), headerNames(chat429.header)) {
		t.Errorf("429 headers %v, chat's %v", headerNames(a.header), headerNames(chat429.header))
	}

	// Embeddings and chat share the key's window.
	if c := mustPost(t, url, key, chatBody("gpt-4o", "hi", `,"max_completion_tokens":92`)); c.status != 429 ||
		!strings.Contains(string(c.body), "Used 60, Requested 100") {
		t.Errorf("chat after embeddings: %d %s", c.status, c.body)
	}
	// Small inputs still fit; a request that can never fit is refused for good.
	if a := postEmbeddings(t, url, key, embBody("text-embedding-3-small", `["abcd","efgh"]`, "")); a.status != 200 ||
		a.header.Get("X-Ratelimit-Remaining-Tokens") != "38" {
		t.Errorf("small input: %d %v", a.status, a.header)
	}
	a = postEmbeddings(t, url, key, embBody("text-embedding-3-small", strconv.Quote(text+text), ""))
	if a.status != 429 || a.header.Get("Retry-After-Ms") != "" || a.header.Get("X-Should-Retry") != "false" ||
		!strings.Contains(string(a.body), "Request too large for text-embedding-3-small") || !strings.Contains(string(a.body), "Requested 120") {
		t.Errorf("too large: %d %v %s", a.status, a.header, a.body)
	}
	st := getStats(t, url, key)
	if st.OK != 2 || st.RateLimited != 3 || st.PromptTokens != 62 || st.PeakWindowTokens != 62 || st.TokCap != 100 {
		t.Errorf("stats: %+v", st)
	}

	// --rpm counts embeddings requests.
	url = startEmulator(t, "--rpm", "120", "--window-ms", "500")
	key = "sk-emb-rpm"
	if a := postEmbeddings(t, url, key, embBody("m", `"a"`, "")); a.status != 200 || a.header.Get("X-Ratelimit-Remaining-Requests") != "0" {
		t.Fatalf("first: %d %v", a.status, a.header)
	}
	a = postEmbeddings(t, url, key, embBody("m", `"b"`, ""))
	if e, _ := a.json(t)["error"].(map[string]any); a.status != 429 || e["type"] != "requests" ||
		!strings.HasPrefix(fmt.Sprint(e["message"]), "Rate limit reached for m in organization org-emulator on requests per min (RPM): Limit 1, Used 1, Requested 1.") {
		t.Errorf("second: %d %s", a.status, a.body)
	}
}

func TestEmbeddingsFaults(t *testing.T) {
	url := startEmulator(t, "--fail-first", "1")
	body := embBody("m", `"x"`, "")
	if a := postEmbeddings(t, url, "sk-emb-ff", body); a.status != 500 || !strings.Contains(string(a.body), "server_error") ||
		a.header.Get("X-Request-Id") == "" {
		t.Errorf("first arrival: %d %s", a.status, a.body)
	}
	parseEmb(t, postEmbeddings(t, url, "sk-emb-ff", body))
	if st := getStats(t, url, "sk-emb-ff"); st.ServerErrors != 1 || st.OK != 1 {
		t.Errorf("stats: %+v", st)
	}

	url = startEmulator(t, "--rate-limit-first", "1", "--rate-limit-wait-ms", "20")
	a := postEmbeddings(t, url, "sk-emb-rlf", body)
	if a.status != 429 || a.header.Get("Retry-After-Ms") != "20" || !strings.Contains(string(a.body), `"type":"requests"`) {
		t.Errorf("rate-limit-first: %d %v %s", a.status, a.header, a.body)
	}
	parseEmb(t, postEmbeddings(t, url, "sk-emb-rlf", body))

	url = startEmulator(t, "--error-rate", "1")
	for i := 0; i < 3; i++ {
		if a := postEmbeddings(t, url, "sk-emb-err", body); a.status != 500 && a.status != 503 {
			t.Errorf("error-rate 1: %d %s", a.status, a.body)
		}
	}

	url = startEmulator(t, "--reset-rate", "1")
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/embeddings", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer sk-emb-reset")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("reset-rate 1 answered %d", resp.StatusCode)
	}
	if st := getStats(t, url, "sk-emb-reset"); st.Resets != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestEmbeddingsSpec(t *testing.T) {
	url := startEmulator(t, "--validate-spec", specFile(t))
	key := "sk-emb-spec"
	for _, b := range []string{
		embBody("text-embedding-3-small", `"hi"`, ""),
		embBody("text-embedding-3-small", `["hi","there"]`, `,"encoding_format":"base64","dimensions":8,"user":"u"`),
		embBody("text-embedding-ada-002", `[1,2,3]`, `,"encoding_format":"float"`),
		embBody("text-embedding-3-large", `[[1,2],[3]]`, `,"dimensions":4`),
	} {
		a := postEmbeddings(t, url, key, b)
		if a.status != 200 {
			t.Errorf("valid body refused: %s\n%s", b, a.body)
			continue
		}
		if !strings.Contains(b, "base64") {
			// The document's Embedding has only the float form.
			checkReply(t, "CreateEmbeddingResponse", a.body)
		}
	}
	for b, param := range map[string]string{
		embBody("m", `"x"`, `,"foo":1`):                 "",
		embBody("m", `[]`, ""):                          "input",
		embBody("m", `"x"`, `,"encoding_format":"hex"`): "encoding_format",
		embBody("m", `"x"`, `,"dimensions":0`):          "dimensions",
		`{"input":"x"}`:                                 "",
		embBody("m", `[[1,"a"]]`, ""):                   "input",
	} {
		a := postEmbeddings(t, url, key, b)
		e, _ := a.json(t)["error"].(map[string]any)
		if a.status != 400 || e["type"] != "invalid_request_error" || !strings.HasPrefix(fmt.Sprint(e["param"]), param) ||
			!strings.Contains(fmt.Sprint(e["message"]), "CreateEmbeddingRequest") {
			t.Errorf("invalid body %s: %d %s", b, a.status, a.body)
		}
	}
	if st := getStats(t, url, key); st.SpecViolations != 6 || st.BadRequests != 6 || st.OK != 4 {
		t.Errorf("stats: %+v", st)
	}
}
