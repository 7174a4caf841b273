package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// serveAzure answers Azure OpenAI's Chat Completions and Embeddings routes,
// POST /openai/deployments/{deployment}/chat/completions?api-version=V and
// POST /openai/deployments/{deployment}/embeddings?api-version=V, with the
// key in an api-key header (or a bearer token). The deployment stands for the model
// when the body names none; everything else is the chat (or embeddings) endpoint's.
func (e *emulator) serveAzure(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/openai/deployments/")
	deployment, tail, _ := strings.Cut(rest, "/")
	serve := e.serveChat
	if tail == "embeddings" {
		serve = e.serveEmbeddings
	}
	if deployment == "" || (tail != "chat/completions" && tail != "embeddings") {
		writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "404",
			outcome: outBadRequest, message: "Resource not found"})
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "404",
			outcome: outBadRequest, message: "Resource not found (no api-version query parameter)"})
		return
	}
	if key := r.Header.Get("api-key"); key != "" && r.Header.Get("Authorization") == "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	// Azure takes the model from the deployment: a body without one names it.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err == nil {
		var doc map[string]json.RawMessage
		if json.Unmarshal(body, &doc) == nil && doc != nil && doc["model"] == nil {
			name, _ := json.Marshal(deployment)
			doc["model"] = name
			if b, err := json.Marshal(doc); err == nil {
				body = b
			}
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	serve(w, r)
}
