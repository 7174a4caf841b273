package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

type geminiValues struct {
	Values json.RawMessage `json:"values"`
}

type geminiUsage struct {
	PromptTokenCount int64 `json:"promptTokenCount"`
	TotalTokenCount  int64 `json:"totalTokenCount"`
}

type geminiEmbedReply struct {
	Embedding     *geminiValues  `json:"embedding"`
	Embeddings    []geminiValues `json:"embeddings"`
	UsageMetadata *geminiUsage   `json:"usageMetadata"`
}

// readGeminiEmbed checks a 200 embedContent or batchEmbedContents answer
// (no other members, usage present) and returns its vectors.
func readGeminiEmbed(t *testing.T, a streamAnswer, batch bool) (int64, [][]float32) {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Errorf("content type %q", ct)
	}
	var r geminiEmbedReply
	decodeStrict(t, a.body, &r)
	if r.UsageMetadata == nil || r.UsageMetadata.PromptTokenCount != r.UsageMetadata.TotalTokenCount {
		t.Fatalf("usage: %s", a.body)
	}
	items := r.Embeddings
	if !batch {
		if r.Embedding == nil || r.Embeddings != nil {
			t.Fatalf("embedContent answer: %.200s", a.body)
		}
		items = []geminiValues{*r.Embedding}
	} else if r.Embedding != nil {
		t.Fatalf("batchEmbedContents answer: %.200s", a.body)
	}
	vecs := make([][]float32, len(items))
	for i, it := range items {
		vecs[i] = decodeEmbedding(t, it.Values)
		if math.Abs(l2(vecs[i])-1) > 1e-5 {
			t.Errorf("vector %d has norm %v", i, l2(vecs[i]))
		}
	}
	return r.UsageMetadata.PromptTokenCount, vecs
}

// embedRequest is one EmbedContentRequest with the given texts as parts;
// model and extra are raw members ("" leaves them out).
func embedRequest(model string, texts []string, extra string) string {
	var parts []string
	for _, s := range texts {
		q, _ := json.Marshal(s)
		parts = append(parts, `{"text":`+string(q)+`}`)
	}
	b := `{`
	if model != "" {
		b += `"model":` + model + `,`
	}
	return b + `"content":{"parts":[` + strings.Join(parts, ",") + `]}` + extra + `}`
}

func TestGeminiEmbedContent(t *testing.T) {
	url := startEmulator(t)
	a := postGemini(t, url, "gk", "text-embedding-004", "embedContent", embedRequest("", []string{"Hello ", "there"}, `,"taskType":"RETRIEVAL_DOCUMENT","title":"Greeting"`))
	n, vecs := readGeminiEmbed(t, a, false)
	if n != textTokens("Hello there") || len(vecs[0]) != 768 {
		t.Fatalf("tokens %d, %d values", n, len(vecs[0]))
	}
	if ref := textEmbedding("text-embedding-004", "Hello there", 768); fmt.Sprint(ref) != fmt.Sprint(vecs[0]) {
		t.Error("the parts' texts joined are not what is embedded")
	}
	if a.header.Get("Server-Timing") == "" {
		t.Errorf("headers %v", a.header)
	}

	// gemini-embedding-001 has 3072 values; outputDimensionality cuts and
	// renormalises, as /v1/embeddings' dimensions does; the task type does
	// not change the vector. The model may come with its prefix in the path.
	_, full := readGeminiEmbed(t, postGemini(t, url, "gk", "gemini-embedding-001", "embedContent", embedRequest("", []string{"Hello there"}, "")), false)
	_, short := readGeminiEmbed(t, postGemini(t, url, "gk", "models/gemini-embedding-001", "embedContent",
		embedRequest(`"models/gemini-embedding-001"`, []string{"Hello there"}, `,"outputDimensionality":256,"task_type":"CLUSTERING"`)), false)
	if len(full[0]) != 3072 || len(short[0]) != 256 {
		t.Fatalf("lengths %d and %d", len(full[0]), len(short[0]))
	}
	norm := l2(full[0][:256])
	for i := range short[0] {
		if math.Abs(float64(short[0][i])-float64(full[0][i])/norm) > 1e-5 {
			t.Fatalf("value %d is not the cut vector renormalised", i)
		}
	}
	_, oa := parseEmb(t, postEmbeddings(t, url, "sk-x", embBody("text-embedding-3-large", `"Hello there"`, `,"dimensions":256`)))
	_, g := readGeminiEmbed(t, postGemini(t, url, "gk", "text-embedding-3-large", "embedContent", embedRequest("", []string{"Hello there"}, `,"outputDimensionality":256`)), false)
	if fmt.Sprint(oa[0]) != fmt.Sprint(g[0]) {
		t.Error("embedContent and /v1/embeddings disagree")
	}

	st := getStats(t, url, "gk")
	if st.Received != 4 || st.OK != 4 || st.PromptTokens != 4*textTokens("Hello there") || st.CompletionTokens != 0 ||
		st.Models["gemini-embedding-001"].OK != 2 {
		t.Errorf("stats: %+v", st)
	}
}

func TestGeminiBatchEmbedContents(t *testing.T) {
	url := startEmulator(t)
	const model = `"models/text-embedding-004"`
	texts := []string{"first text", "the second, longer text", "3"}
	var reqs []string
	for i, s := range texts {
		extra := ""
		if i == 1 {
			extra = `,"outputDimensionality":32`
		}
		reqs = append(reqs, embedRequest(model, []string{s}, extra))
	}
	n, vecs := readGeminiEmbed(t, postGemini(t, url, "gk", "text-embedding-004", "batchEmbedContents", `{"requests":[`+strings.Join(reqs, ",")+`]}`), true)
	var want int64
	for _, s := range texts {
		want += textTokens(s)
	}
	if n != want || len(vecs) != 3 {
		t.Fatalf("tokens %d, %d vectors", n, len(vecs))
	}
	for i, s := range texts {
		dims := 768
		if i == 1 {
			dims = 32
		}
		if ref := textEmbedding("text-embedding-004", s, dims); fmt.Sprint(ref) != fmt.Sprint(vecs[i]) {
			t.Errorf("vector %d is not that of %q with %d values", i, s, dims)
		}
	}
	// The same text alone gives the same vector.
	if _, one := readGeminiEmbed(t, postGemini(t, url, "gk", "text-embedding-004", "embedContent", embedRequest("", texts[2:], "")), false); fmt.Sprint(one[0]) != fmt.Sprint(vecs[2]) {
		t.Error("batch and single vectors differ")
	}

	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = embedRequest(model, []string{fmt.Sprint(i)}, "")
	}
	if _, v := readGeminiEmbed(t, postGemini(t, url, "gk", "text-embedding-004", "batchEmbedContents", `{"requests":[`+strings.Join(hundred, ",")+`]}`), true); len(v) != 100 {
		t.Errorf("%d vectors", len(v))
	}
	over := append(hundred, embedRequest(model, []string{"x"}, ""))
	a := postGemini(t, url, "gk", "text-embedding-004", "batchEmbedContents", `{"requests":[`+strings.Join(over, ",")+`]}`)
	if e := checkGeminiError(t, a, 400, "INVALID_ARGUMENT"); e["message"] != "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n" {
		t.Errorf("101 requests: %v", e["message"])
	}
}

func TestGeminiEmbedErrors(t *testing.T) {
	url := startEmulator(t, "--known-models", "text-embedding-004,gemini-embedding-001", "--invalid-keys", "bad")
	for _, tc := range []struct{ method, body, want string }{
		{"embedContent", `{}`, "* EmbedContentRequest.content: content is not specified\n"},
		{"embedContent", `{"content":{"parts":[]}}`, "* EmbedContentRequest.content.parts: contents.parts must not be empty.\n"},
		{"embedContent", `{"content":{"parts":[{"text":""}]}}`, "The text content is empty."},
		{"embedContent", `{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}}`, "* EmbedContentRequest.content.parts[0].inline_data: only text parts can be embedded\n"},
		{"embedContent", `{"content":{"parts":[{"text":"a"}]},"outputDimensionality":769}`, "* EmbedContentRequest.output_dimensionality: output_dimensionality must be in the range [1, 768] for models/text-embedding-004.\n"},
		{"embedContent", `{"content":{"parts":[{"text":"a"}]},"outputDimensionality":-2}`, "* EmbedContentRequest.output_dimensionality: output_dimensionality must be in the range [1, 768] for models/text-embedding-004.\n"},
		{"embedContent", `{"content":{"parts":[{"text":"a"}]},"taskType":"GUESSING"}`, `Invalid value at 'task_type' (type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), "GUESSING"`},
		{"embedContent", `{"content":{"parts":[{"text":"a"}]},"outputDimensionality":"many"}`, `Invalid value at 'output_dimensionality' (TYPE_INT32), "many"`},
		{"embedContent", `{"content":{"parts":[{"text":"a"}]},"extra":1}`, `Invalid JSON payload received. Unknown name "extra": Cannot find field.`},
		{"batchEmbedContents", `{"requests":[]}`, "* BatchEmbedContentsRequest.requests: requests is not specified\n"},
		{"batchEmbedContents", `{"requests":[{"content":{"parts":[{"text":"a"}]}}]}`, "* BatchEmbedContentsRequest.requests[0].model: model is not specified\n"},
		{"batchEmbedContents", `{"requests":[{"model":"text-embedding-004","content":{"parts":[{"text":"a"}]}}]}`,
			"* BatchEmbedContentsRequest.requests[0].model: model \"text-embedding-004\" does not match the model of the URL, \"models/text-embedding-004\"\n"},
		{"batchEmbedContents", `{"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]}},{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"b"}]}}]}`,
			"* BatchEmbedContentsRequest.requests[1].model: model \"models/gemini-embedding-001\" does not match the model of the URL, \"models/text-embedding-004\"\n"},
		{"batchEmbedContents", `{"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]},"title":7}]}`,
			`Invalid value at 'requests[0].title' (TYPE_STRING), 7`},
	} {
		a := postGemini(t, url, "gk", "text-embedding-004", tc.method, tc.body)
		if e := checkGeminiError(t, a, 400, "INVALID_ARGUMENT"); e["message"] != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.body, e["message"], tc.want)
		}
	}
	body := embedRequest("", []string{"a"}, "")
	if e := checkGeminiError(t, postGemini(t, url, "gk", "text-embedding-005", "embedContent", body), 404, "NOT_FOUND"); !strings.Contains(e["message"].(string), "is not supported for embedContent") {
		t.Errorf("unknown model: %v", e["message"])
	}
	checkGeminiError(t, postGemini(t, url, "", "text-embedding-004", "embedContent", body), 403, "PERMISSION_DENIED")
	checkGeminiError(t, postGemini(t, url, "bad", "text-embedding-004", "embedContent", body), 400, "INVALID_ARGUMENT")
	checkGeminiError(t, postGemini(t, url, "gk", "text-embedding-004", "embedContents", body), 404, "NOT_FOUND")
	if st := getStats(t, url, "gk"); st.BadRequests != 15 || st.OK != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestGeminiEmbedLimitsAndFaults(t *testing.T) {
	// The window is charged the input tokens: two 8-byte texts cost 4.
	url := startEmulator(t, "--tpm", "5")
	two := `{"requests":[` + embedRequest(`"models/text-embedding-004"`, []string{"12345678"}, "") + "," +
		embedRequest(`"models/text-embedding-004"`, []string{"abcdefgh"}, "") + `]}`
	if n, _ := readGeminiEmbed(t, postGemini(t, url, "gk", "text-embedding-004", "batchEmbedContents", two), true); n != 4 {
		t.Errorf("tokens %d", n)
	}
	a := postGemini(t, url, "gk", "text-embedding-004", "embedContent", embedRequest("", []string{"12345678"}, ""))
	e := checkGeminiError(t, a, 429, "RESOURCE_EXHAUSTED")
	if d, _ := json.Marshal(e["details"]); !strings.Contains(string(d), "google.rpc.RetryInfo") || a.header.Get("Retry-After") != "" {
		t.Errorf("rate limited: %s %v", a.body, a.header)
	}
	if st := getStats(t, url, "gk"); st.OK != 1 || st.RateLimited != 1 || st.PeakWindowTokens != 4 {
		t.Errorf("stats: %+v", st)
	}

	url = startEmulator(t, "--rate-limit-first", "1", "--rate-limit-wait-ms", "1500")
	body := embedRequest("", []string{"again"}, "")
	e = checkGeminiError(t, postGemini(t, url, "gk", "text-embedding-004", "embedContent", body), 429, "RESOURCE_EXHAUSTED")
	if d, _ := json.Marshal(e["details"]); !strings.Contains(string(d), `"retryDelay":"1.5s"`) {
		t.Errorf("details %s", d)
	}
	readGeminiEmbed(t, postGemini(t, url, "gk", "text-embedding-004", "embedContent", body), false)
	// Arrivals are counted per method.
	checkGeminiError(t, postGemini(t, url, "gk", "text-embedding-004", "batchEmbedContents",
		`{"requests":[`+embedRequest(`"models/text-embedding-004"`, []string{"again"}, "")+`]}`), 429, "RESOURCE_EXHAUSTED")

	url = startEmulator(t, "--error-rate", "1", "--seed", "4")
	seen := map[int]bool{}
	for i := 0; i < 12; i++ {
		a := postGemini(t, url, "gk", "text-embedding-004", "embedContent", embedRequest("", []string{fmt.Sprint("body ", i)}, ""))
		seen[a.status] = true
		switch a.status {
		case 500:
			checkGeminiError(t, a, 500, "INTERNAL")
		case 503:
			checkGeminiError(t, a, 503, "UNAVAILABLE")
		}
	}
	if !seen[500] || !seen[503] || len(seen) != 2 {
		t.Errorf("statuses %v", seen)
	}
}
