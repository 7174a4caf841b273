package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAzureRouteNeedsAnAPIVersionAndTakesTheAPIKeyHeader(t *testing.T) {
	url := startEmulator(t)
	send := func(path, key string) (int, string) {
		body := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":4}`
		if strings.Contains(path, "/embeddings") {
			body = `{"input":["hi","there"],"encoding_format":"base64"}`
		}
		req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("api-key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := send("/openai/deployments/prod/chat/completions?api-version=2024-10-21", "sk-az"); code != 200 ||
		!strings.Contains(body, `"chat.completion"`) {
		t.Fatalf("with api-version and api-key: %d %s", code, body)
	}
	if code, body := send("/openai/deployments/prod/chat/completions", "sk-az"); code != 404 ||
		!strings.Contains(body, "api-version") {
		t.Fatalf("without api-version: %d %s", code, body)
	}
	if code, _ := send("/openai/deployments/prod/chat/completions?api-version=2024-10-21", ""); code != 401 {
		t.Fatalf("without a key: %d", code)
	}
	// Embeddings follow the same rules; the deployment names the model.
	if code, body := send("/openai/deployments/emb/embeddings?api-version=2024-10-21", "sk-az"); code != 200 ||
		!strings.HasPrefix(body, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":"`) ||
		!strings.Contains(body, `"index":1`) || !strings.Contains(body, `"model":"emb"`) {
		t.Fatalf("embeddings with api-version and api-key: %d %.300s", code, body)
	}
	if code, body := send("/openai/deployments/emb/embeddings", "sk-az"); code != 404 ||
		!strings.Contains(body, "api-version") {
		t.Fatalf("embeddings without api-version: %d %s", code, body)
	}
	if code, _ := send("/openai/deployments/emb/embeddings?api-version=2024-10-21", ""); code != 401 {
		t.Fatalf("embeddings without a key: %d", code)
	}
	if code, _ := send("/openai/deployments/prod/completions?api-version=2024-10-21", "sk-az"); code != 404 {
		t.Fatalf("another route: %d", code)
	}
	if st := getStats(t, url, "sk-az"); st.OK != 2 || st.AuthErrors != 0 || st.Models["emb"].OK != 1 {
		t.Errorf("stats: %+v", st)
	}
}
