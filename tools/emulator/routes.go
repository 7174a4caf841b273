package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// serveFunc answers the requests of one endpoint.
type serveFunc func(*emulator, http.ResponseWriter, *http.Request)

// prefixRoutes serve the paths that start with a prefix; the first that
// matches serves.
var prefixRoutes = []struct {
	prefix string
	serve  serveFunc
}{
	{"/hostile/", func(_ *emulator, w http.ResponseWriter, r *http.Request) { serveHostile(w, r) }},
	{"/openai/deployments/", (*emulator).serveAzure},
	{geminiPrefix, (*emulator).serveGemini},
	{bedrockPrefix, (*emulator).serveBedrock},
	{"/v1/files/", (*emulator).serveFile},
	{"/v1/batches/", (*emulator).serveBatch},
	{"/v1/messages/batches/", (*emulator).serveMessageBatch},
}

// exactRoutes serve one path each.
var exactRoutes = map[string]serveFunc{
	"/v1/files":                   (*emulator).serveFiles,
	"/v1/batches":                 (*emulator).serveBatches,
	"/v1/messages/batches":        (*emulator).serveMessageBatches,
	"/_emulator/batches/complete": (*emulator).serveComplete,
	"/emulator/batches/complete":  (*emulator).serveComplete,
	"/v1/chat/completions":        (*emulator).serveChat,
	"/v1/messages":                (*emulator).serveMessages,
	"/v1/responses":               (*emulator).serveResponses,
	"/v1/embeddings":              (*emulator).serveEmbeddings,
	"/api/chat":                   (*emulator).serveOllama,
	"/api/embed":                  (*emulator).serveOllamaEmbed,
	"/v1/traces":                  serveOTLP,
	"/v1/metrics":                 serveOTLP,
}

func serveOTLP(e *emulator, w http.ResponseWriter, r *http.Request) { e.otlp.serve(w, r) }

// handler routes a request to its endpoint. With --verbose, requests to
// the emulator's own paths and to unknown ones are logged here; the routes
// of the tables are not (the LLM endpoints log their calls themselves).
func (e *emulator) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, rt := range prefixRoutes {
			if strings.HasPrefix(r.URL.Path, rt.prefix) {
				rt.serve(e, w, r)
				return
			}
		}
		if serve := exactRoutes[r.URL.Path]; serve != nil {
			serve(e, w, r)
			return
		}
		switch r.URL.Path {
		case "/_emulator/otlp":
			e.otlp.serveCaptured(w, r)
		case "/_emulator/stats":
			e.serveStats(w, r)
		case "/_emulator/reset":
			e.serveReset(w, r)
		case "/health":
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				e.methodNotAllowed(w, r)
				break
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Content-Length", "2")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "ok")
		default:
			writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error",
				message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path)})
		}
		if e.logger != nil {
			e.logger.Printf("%s %s %s", r.Proto, r.Method, r.URL.RequestURI())
		}
	})
}
