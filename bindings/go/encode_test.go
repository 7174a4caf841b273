package llmsvc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The request document the core receives is the Request's own JSON encoding.
func TestEncodeRequestMatchesMarshal(t *testing.T) {
	reqs := []Request{
		{},
		{Prompt: "<b>&</b>", Metadata: map[string]any{"k": []int{1, 2}}},
		benchRequest,
		{Messages: []Message{{Role: RoleUser, Parts: []ContentPart{TextPart("a"), ImagePart("https://x/y.png", "auto")}}}},
	}
	for _, req := range reqs {
		want, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		buf, err := encodeRequest(&req)
		if err != nil {
			t.Fatal(err)
		}
		got := buf.Bytes()
		if got[len(got)-1] != 0 {
			t.Fatal("the document is not NUL-terminated")
		}
		// Equal once both are re-encoded the same way (HTML escaping differs).
		if !bytes.Equal(normalize(t, got[:len(got)-1]), normalize(t, want)) {
			t.Errorf("encodeRequest %s\njson.Marshal  %s", got[:len(got)-1], want)
		}
		releaseDocument(buf)
	}
}

func normalize(t *testing.T, doc []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
