package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
)

func postOllamaEmbed(t *testing.T, url, key, body string) streamAnswer {
	t.Helper()
	return postOllamaTo(t, url, "/api/embed", key, body)
}

type ollamaEmbedReply struct {
	Model           string            `json:"model"`
	Embeddings      []json.RawMessage `json:"embeddings"`
	TotalDuration   int64             `json:"total_duration"`
	LoadDuration    int64             `json:"load_duration"`
	PromptEvalCount int64             `json:"prompt_eval_count"`
}

// parseOllamaEmbed checks a 200 /api/embed answer (no other members) and
// returns it with its vectors.
func parseOllamaEmbed(t *testing.T, a streamAnswer) (ollamaEmbedReply, [][]float32) {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var r ollamaEmbedReply
	decodeStrict(t, a.body, &r)
	if r.LoadDuration != 1e6 || r.TotalDuration < r.LoadDuration+r.PromptEvalCount*50e3 {
		t.Errorf("durations: %+v", r)
	}
	vecs := make([][]float32, len(r.Embeddings))
	for i, raw := range r.Embeddings {
		vecs[i] = decodeEmbedding(t, raw)
	}
	return r, vecs
}

func TestOllamaEmbed(t *testing.T) {
	url := startEmulator(t)
	inputs := []string{"Hello there", "a longer text to embed, with ünïcödé", "x"}
	in, _ := json.Marshal(inputs)
	r, vecs := parseOllamaEmbed(t, postOllamaEmbed(t, url, "", fmt.Sprintf(`{"model":"nomic-embed-text","input":%s,"truncate":true,"keep_alive":"5m","options":{"temperature":0}}`, in)))
	var want int64
	for _, s := range inputs {
		want += textTokens(s)
	}
	if r.Model != "nomic-embed-text" || len(vecs) != 3 || r.PromptEvalCount != want {
		t.Fatalf("reply: %+v", r)
	}
	for i, v := range vecs {
		if len(v) != ollamaEmbedDims || math.Abs(l2(v)-1) > 1e-5 {
			t.Errorf("vector %d: %d values, norm %v", i, len(v), l2(v))
		}
		if ref := textEmbedding("nomic-embed-text", inputs[i], ollamaEmbedDims); fmt.Sprint(ref) != fmt.Sprint(v) {
			t.Errorf("vector %d is not the reference vector", i)
		}
	}
	if fmt.Sprint(vecs[0]) == fmt.Sprint(vecs[1]) {
		t.Error("different texts, same vector")
	}

	// A string input; dimensions shortens and renormalises; a larger value
	// leaves the vector alone, as in Ollama.
	_, one := parseOllamaEmbed(t, postOllamaEmbed(t, url, "", `{"model":"nomic-embed-text","input":"Hello there","dimensions":64}`))
	if len(one) != 1 || len(one[0]) != 64 || math.Abs(l2(one[0])-1) > 1e-5 {
		t.Fatalf("dimensions 64: %d vectors", len(one))
	}
	for i := range one[0] {
		if math.Abs(float64(one[0][i])-float64(vecs[0][i])/l2(vecs[0][:64])) > 1e-5 {
			t.Fatalf("value %d is not the cut vector renormalised", i)
		}
	}
	if _, big := parseOllamaEmbed(t, postOllamaEmbed(t, url, "", `{"model":"nomic-embed-text","input":"Hello there","dimensions":4096}`)); len(big[0]) != ollamaEmbedDims {
		t.Errorf("dimensions 4096: %d values", len(big[0]))
	}

	// The vectors are those of /v1/embeddings for the same model, text and
	// length.
	_, oa := parseEmb(t, postEmbeddings(t, url, "sk-x", embBody("text-embedding-3-small", `"Hello there"`, `,"dimensions":768`)))
	_, ol := parseOllamaEmbed(t, postOllamaEmbed(t, url, "", `{"model":"text-embedding-3-small","input":["Hello there"]}`))
	if fmt.Sprint(oa[0]) != fmt.Sprint(ol[0]) {
		t.Error("/api/embed and /v1/embeddings disagree")
	}

	st := getStats(t, url, "ollama")
	if st.Received != 4 || st.OK != 4 || st.PromptTokens != want+3+3+3 || st.CompletionTokens != 0 ||
		st.Models["nomic-embed-text"].PromptTokens != want+6 {
		t.Errorf("stats: %+v", st)
	}
}

func TestOllamaEmbedErrors(t *testing.T) {
	url := startEmulator(t, "--known-models", "nomic-embed-text")
	for _, tc := range []struct{ body, want string }{
		{`{"model":"nomic-embed-text","input":[]}`, "input must not be empty"},
		{`{"model":"nomic-embed-text","input":""}`, "input must not be empty"},
		{`{"model":"nomic-embed-text"}`, "input is required"},
		{`{"model":"nomic-embed-text","input":["a",""]}`, "input[1] must not be empty"},
		{`{"model":"nomic-embed-text","input":["a",3]}`, "invalid input type: input[1] is number, not a string"},
		{`{"model":"nomic-embed-text","input":{"a":1}}`, "invalid input type: input is object, not a string or an array of strings"},
		{`{"model":"nomic-embed-text","input":"a","prompt":"b"}`, `json: unknown field "prompt"`},
		{`{"input":"a"}`, "model is required"},
		{`{"model":7,"input":"a"}`, "json: cannot unmarshal number into Go struct field EmbedRequest.model of type string"},
		{`{"model":"nomic-embed-text","input":"a","truncate":"yes"}`, "json: cannot unmarshal string into Go struct field EmbedRequest.truncate of type bool"},
		{`{"model":"nomic-embed-text","input":"a","dimensions":"8"}`, "json: cannot unmarshal string into Go struct field EmbedRequest.dimensions of type int"},
		{`{"model":"nomic-embed-text","input":"a","dimensions":-1}`, "dimensions must be a positive integer, got -1"},
		{`{"model":"nomic-embed-text","input":"a","keep_alive":true}`, "json: cannot unmarshal bool into Go struct field EmbedRequest.keep_alive"},
		{`{"model":"nomic-embed-text","input":"a","options":{"seed":"x"}}`, `option "seed" must be of type integer`},
		{`[1]`, "json: cannot unmarshal array into Go value of type api.EmbedRequest"},
	} {
		a := postOllamaEmbed(t, url, "", tc.body)
		want, _ := json.Marshal(map[string]string{"error": tc.want})
		if a.status != 400 || strings.TrimSpace(string(a.body)) != string(want) {
			t.Errorf("%s: %d %s, want %s", tc.body, a.status, a.body, want)
		}
	}
	if a := postOllamaEmbed(t, url, "", `{"model":"all-minilm","input":"a"}`); a.status != 404 ||
		string(a.body) != `{"error":"model \"all-minilm\" not found, try pulling it first"}` {
		t.Errorf("unknown model: %d %s", a.status, a.body)
	}
	if a := request(t, http.MethodGet, url+"/api/embed", nil, nil); a.status != 405 || string(a.body) != `{"error":"method not allowed"}` {
		t.Errorf("GET: %d %s", a.status, a.body)
	}
	if st := getStats(t, url, "ollama"); st.BadRequests != 17 || st.Received != 17 {
		t.Errorf("stats: %+v", st)
	}
}

func TestOllamaEmbedLimitsAndFaults(t *testing.T) {
	// The input tokens are the charge; a bearer key names the key.
	url := startEmulator(t, "--tpm", "5", "--window-ms", "60000")
	ok := postOllamaEmbed(t, url, "team-a", `{"model":"m","input":["12345678","12345678"]}`)
	if ok.status != 200 {
		t.Fatalf("first: %d %s", ok.status, ok.body)
	}
	if a := postOllamaEmbed(t, url, "team-a", `{"model":"m","input":"12345678"}`); a.status != 429 || string(a.body) != `{"error":"rate limited"}` {
		t.Errorf("over the limit: %d %s", a.status, a.body)
	}
	if st := getStats(t, url, "team-a"); st.OK != 1 || st.RateLimited != 1 || st.PromptTokens != 4 || st.PeakWindowTokens != 4 {
		t.Errorf("stats: %+v", st)
	}

	url = startEmulator(t, "--rate-limit-first", "1", "--fail-first", "0")
	body := `{"model":"m","input":"again"}`
	if a := postOllamaEmbed(t, url, "", body); a.status != 429 {
		t.Errorf("first arrival: %d %s", a.status, a.body)
	}
	if a := postOllamaEmbed(t, url, "", body); a.status != 200 {
		t.Errorf("second arrival: %d %s", a.status, a.body)
	}

	url = startEmulator(t, "--error-rate", "1", "--seed", "3")
	seen := map[int]bool{}
	for i := 0; i < 12; i++ {
		a := postOllamaEmbed(t, url, "", fmt.Sprintf(`{"model":"m","input":"body %d"}`, i))
		seen[a.status] = true
		if a.status == 503 && string(a.body) != `{"error":"server busy, please try again.  maximum pending requests exceeded"}` ||
			a.status == 500 && string(a.body) != `{"error":"an error was encountered while running the model"}` {
			t.Errorf("%d %s", a.status, a.body)
		}
	}
	if !seen[500] || !seen[503] || len(seen) != 2 {
		t.Errorf("statuses %v", seen)
	}
	if st := getStats(t, url, "ollama"); st.ServerErrors != 12 {
		t.Errorf("stats: %+v", st)
	}
}
