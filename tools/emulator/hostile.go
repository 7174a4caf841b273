package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Hostile replies: a provider that misbehaves on purpose, for the client's tests of what
// it does with replies no real provider should send (docs/reliability.md). A client
// reaches a case through its base URL, http://HOST:PORT/hostile/CASE/v1, and sends
// OpenAI Chat Completions requests there; the limits, faults and statistics of the
// emulator do not apply. Every case is deterministic.
var hostileCases = map[string]func(w http.ResponseWriter, r *http.Request, stream bool){
	// A 429 whose retry-after asks for 31 years.
	"retry-after-forever": func(w http.ResponseWriter, r *http.Request, _ bool) {
		w.Header().Set("Retry-After", "999999999")
		writeError(w, &apiError{status: http.StatusTooManyRequests, typ: "requests", code: "rate_limit_exceeded",
			message: "Rate limit reached; try again in 31 years."})
	},
	// A 401 that echoes the whole API key in its message, its param and a header.
	"echo-key": func(w http.ResponseWriter, r *http.Request, _ bool) {
		key := bearerKey(r)
		w.Header().Set("X-Echo-Key", key)
		writeError(w, &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key",
			param: key, message: "Incorrect API key provided: " + key + "."})
	},
	// Text that is not UTF-8, in a whole reply and in stream deltas.
	"bad-utf8": func(w http.ResponseWriter, r *http.Request, stream bool) {
		text := "caf\xc3\xa9 \x80\xff ok \xe2\x82"
		if !stream {
			writeJSON(w, http.StatusOK, []byte(`{"id":"chatcmpl-h","object":"chat.completion","model":"gpt-4o-mini",`+
				`"choices":[{"index":0,"message":{"role":"assistant","content":"`+text+`"},"finish_reason":"stop"}],`+
				`"usage":{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9}}`))
			return
		}
		sse(w, []string{
			`{"id":"chatcmpl-h","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"` + text + `"}}]}`,
			`{"id":"chatcmpl-h","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
			`{"id":"chatcmpl-h","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9}}`,
		})
	},
	// Usage counts that are not counts.
	"bad-usage": func(w http.ResponseWriter, r *http.Request, _ bool) {
		writeJSON(w, http.StatusOK, []byte(`{"id":"chatcmpl-h","object":"chat.completion","model":"gpt-4o-mini",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":-5,"completion_tokens":1e30,"total_tokens":"many"}}`))
	},
	// A 200 whose body is 200 MB of JSON whitespace before the object.
	"huge-body": func(w http.ResponseWriter, r *http.Request, _ bool) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		pad := []byte(strings.Repeat(" ", 1<<20))
		for i := 0; i < 200; i++ {
			if _, err := w.Write(pad); err != nil {
				return // the client stopped reading
			}
		}
		w.Write([]byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}]}`))
	},
	// A stream whose one data line is 5 MB long.
	"long-sse-line": func(w http.ResponseWriter, r *http.Request, _ bool) {
		sse(w, []string{`{"choices":[{"index":0,"delta":{"content":"` + strings.Repeat("a", 5<<20) + `"}}]}`})
	},
	// Headers that never come.
	"stall-headers": func(w http.ResponseWriter, r *http.Request, _ bool) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	},
	// Headers and the start of a body, then nothing.
	"stall-body": func(w http.ResponseWriter, r *http.Request, _ bool) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"id":"chatcmpl-h","choices":[`))
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	},
	// The connection closed in the middle of a header line.
	"close-mid-header": func(w http.ResponseWriter, r *http.Request, _ bool) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			return
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: applica")
		buf.Flush()
	},
	// An HTTP/1.1 reply without a length, ended by closing the connection.
	"no-length": func(w http.ResponseWriter, r *http.Request, _ bool) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			return
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		writeRaw(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"+
			`{"id":"chatcmpl-h","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,`+
			`"message":{"role":"assistant","content":"no length"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`)
	},
}

func writeRaw(buf *bufio.ReadWriter, s string) {
	buf.WriteString(s)
	buf.Flush()
}

// sse writes each data as one server-sent event, then [DONE].
func sse(w http.ResponseWriter, data []string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for _, d := range data {
		fmt.Fprintf(w, "data: %s\n\n", d)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func serveHostile(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/hostile/")
	name, path, _ := strings.Cut(rest, "/")
	serve, ok := hostileCases[name]
	if !ok || path != "v1/chat/completions" || r.Method != http.MethodPost {
		writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error",
			message: fmt.Sprintf("no hostile case %q at %s %s", name, r.Method, r.URL.Path)})
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	serve(w, r, strings.Contains(string(body), `"stream":true`))
}
