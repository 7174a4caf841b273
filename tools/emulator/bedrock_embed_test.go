package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestBedrockInvokeEmbeddings(t *testing.T) {
	base := startEmulator(t)
	s := testSigner()
	const titan = "amazon.titan-embed-text-v2:0"
	a := bedrockPost(t, base, &s, titan, "invoke", `{"inputText":"hello world","dimensions":256,"normalize":true}`)
	if a.status != 200 || a.header.Get("X-Amzn-Bedrock-Input-Token-Count") != "3" {
		t.Fatalf("%d %v %s", a.status, a.header, a.body)
	}
	var ti struct {
		Embedding []float64 `json:"embedding"`
		Tokens    int64     `json:"inputTextTokenCount"`
	}
	if err := json.Unmarshal(a.body, &ti); err != nil || len(ti.Embedding) != 256 || ti.Tokens != 3 {
		t.Fatalf("%v %s", err, a.body)
	}
	var n float64
	for _, f := range ti.Embedding {
		n += f * f
	}
	if math.Abs(math.Sqrt(n)-1) > 1e-4 {
		t.Errorf("norm %v", math.Sqrt(n))
	}
	// The same text gives the same vector as /v1/embeddings for the model.
	want := textEmbedding(titan, "hello world", 256)
	for i := range want {
		if float32(ti.Embedding[i]) != want[i] {
			t.Fatalf("component %d: %v, want %v", i, ti.Embedding[i], want[i])
		}
	}

	const cohere = "cohere.embed-english-v3"
	a = bedrockPost(t, base, &s, cohere, "invoke", `{"texts":["One","two"],"input_type":"search_document"}`)
	var co struct {
		ID         string      `json:"id"`
		Embeddings [][]float64 `json:"embeddings"`
		Texts      []string    `json:"texts"`
		Type       string      `json:"response_type"`
	}
	if a.status != 200 || json.Unmarshal(a.body, &co) != nil || len(co.Embeddings) != 2 || len(co.Embeddings[1]) != 1024 ||
		co.Type != "embeddings_floats" || co.Texts[0] != "one" || co.ID == "" || a.header.Get("X-Amzn-Bedrock-Input-Token-Count") != "2" {
		t.Fatalf("%d %v %s", a.status, a.header, a.body)
	}

	for _, c := range []struct{ model, body, says string }{
		{titan, `{"inputText":""}`, "inputText"},
		{titan, `{"inputText":"x","dimensions":300}`, "dimensions"},
		{titan, `{"inputText":"x","texts":["y"]}`, "extraneous key [texts]"},
		{"amazon.titan-embed-text-v1", `{"inputText":"x","dimensions":256}`, "extraneous key [dimensions]"},
		{cohere, `{"texts":[],"input_type":"search_document"}`, "texts"},
		{cohere, `{"texts":["x"]}`, "input_type"},
		{cohere, `{"texts":["x"],"input_type":"poetry"}`, "input_type"},
		{"anthropic.claude-3-haiku-20240307-v1:0", `{"inputText":"x"}`, "Titan Text Embeddings and Cohere Embed"},
	} {
		a := bedrockPost(t, base, &s, c.model, "invoke", c.body)
		if msg := checkBedrockError(t, a, 400, "ValidationException"); !strings.Contains(msg, c.says) {
			t.Errorf("%s %s: %q does not say %q", c.model, c.body, msg, c.says)
		}
	}
	// Unsigned: refused like Converse.
	a = bedrockPost(t, base, nil, titan, "invoke", `{"inputText":"x"}`)
	checkBedrockError(t, a, 403, "MissingAuthenticationTokenException")
}
