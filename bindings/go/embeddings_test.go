package llmsvc_test

import (
	"encoding/json"
	"testing"

	llmsvc "llmsvc/bindings/go"
)

// An embeddings request's vectors come from the core's typed getters, equal to the
// document's to the bit (it writes each float with the digits that read back to it).
func TestEmbeddings(t *testing.T) {
	emu := startEmulator(t)
	c := emu.client(t, "k-embeddings", llmsvc.Config{})
	resp, err := c.Generate(testContext(t), llmsvc.Request{Model: "text-embedding-3-small",
		Input: []string{"a", "b"}, Dimensions: 8})
	if err != nil {
		t.Fatal(err)
	}
	sameAsDocument(t, resp, err)
	var doc struct {
		Embeddings [][]float32 `json:"embeddings"`
	}
	if err := json.Unmarshal(resp.Raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(resp.Embeddings) != 2 || len(doc.Embeddings) != 2 {
		t.Fatalf("%d vectors, the document has %d", len(resp.Embeddings), len(doc.Embeddings))
	}
	for i, v := range resp.Embeddings {
		if len(v) != 8 || len(doc.Embeddings[i]) != 8 {
			t.Fatalf("vector %d: %d dimensions, the document's %d", i, len(v), len(doc.Embeddings[i]))
		}
		for j := range v {
			if v[j] != doc.Embeddings[i][j] {
				t.Errorf("vector %d[%d] = %v, the document's %v", i, j, v[j], doc.Embeddings[i][j])
			}
		}
	}
	if resp.Usage == nil || resp.Usage.PromptTokens <= 0 || resp.CostNanoUSD == nil {
		t.Errorf("usage %+v, cost %v", resp.Usage, resp.CostNanoUSD)
	}

	// Other requests have none.
	chat, err := c.Generate(testContext(t), llmsvc.Request{Prompt: "hi", MaxOutputTokens: 5})
	if err != nil || chat.Embeddings != nil {
		t.Fatalf("a chat request: %v, embeddings %v", err, chat.Embeddings)
	}
}
