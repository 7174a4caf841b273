package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The OpenAI Files API, as far as batches need it: POST /v1/files uploads a
// batch input file (purpose "batch"), GET /v1/files/{id} returns the File
// object and GET /v1/files/{id}/content its bytes. A batch's output and
// error files are Files too, with purpose "batch_output". Files belong to
// the key that made them; other keys get 404.

const (
	// maxBatchLines is the most requests a batch input file may hold.
	maxBatchLines = 50000
	// maxCustomIDBytes bounds an OpenAI line's custom_id.
	maxCustomIDBytes = 512
)

// batchEndpoints are the urls a batch line may name.
var batchEndpoints = []string{"/v1/chat/completions", "/v1/embeddings", "/v1/responses"}

// batchFile is an uploaded or generated file.
type batchFile struct {
	id       string
	key      string
	filename string
	purpose  string
	created  int64
	content  []byte
	lines    []fileLine // the requests of a batch input file
}

// fileLine is one request of a batch input file.
type fileLine struct {
	n        int // line number, from 1
	customID string
	url      string
	body     []byte
	model    string // "" when the body names none
	tokens   int64  // input tokens, as the endpoint's rate limit counts them
}

func (f *batchFile) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, f.id)
	b = append(b, `,"object":"file","bytes":`...)
	b = strconv.AppendInt(b, int64(len(f.content)), 10)
	b = append(b, `,"created_at":`...)
	b = strconv.AppendInt(b, f.created, 10)
	b = append(b, `,"filename":`...)
	b = appendJSONString(b, f.filename)
	b = append(b, `,"purpose":`...)
	b = appendJSONString(b, f.purpose)
	return append(b, `,"status":"processed","expires_at":null,"status_details":null}`...)
}

// adminCall is one call to the Files or Batches endpoints. These calls and
// the lines they run count in the key's "batches" statistics only.
type adminCall struct {
	e        *emulator
	w        http.ResponseWriter
	r        *http.Request
	key      string
	ks       *keyState
	start    time.Time
	idA, idB uint64
	// anthropic selects the Message Batches API's headers and error shape.
	anthropic bool
}

// newAdminCall starts a call made with key to the Files or Batches
// endpoints (anthropic: the Message Batches API) and counts it in the key's
// batch statistics.
func (e *emulator) newAdminCall(w http.ResponseWriter, r *http.Request, key string, anthropic bool) *adminCall {
	c := &adminCall{e: e, w: w, r: r, key: key, start: time.Now(), anthropic: anthropic}
	c.idA, c.idB = e.nextIDs()
	c.ks = e.keys.get(c.key)
	c.ks.mu.Lock()
	c.ks.batch.counters.APICalls++
	c.ks.mu.Unlock()
	return c
}

// openAIAdmin checks the method and the key of a Files or Batches call;
// false when it already answered.
func (e *emulator) openAIAdmin(w http.ResponseWriter, r *http.Request, methods ...string) (*adminCall, bool) {
	c := e.newAdminCall(w, r, bearerKey(r), false)
	cfg := e.cfg
	switch {
	case !contains(methods, r.Method):
		c.fail(methodError(r))
	case c.key == "":
		c.fail(errMissingKey())
	case cfg.invalidKeys[c.key]:
		c.fail(errInvalidKey(c.key))
	case cfg.quotaKeys[c.key]:
		c.fail(errQuota())
	default:
		return c, true
	}
	return nil, false
}

func (c *adminCall) requestID() string {
	var id [36]byte
	return string(appendHex(appendHex(append(id[:0], "req_"...), c.idA), c.idB))
}

func (c *adminCall) setHeaders() {
	h := c.w.Header()
	if c.anthropic {
		h.Set("Request-Id", c.requestID())
		h.Set("Anthropic-Organization-Id", anthropicOrg)
		return
	}
	h.Set("X-Request-Id", c.requestID())
	h.Set("Openai-Version", "2020-10-01")
	h.Set("Openai-Organization", "org-emulator")
	h.Set("Openai-Processing-Ms", strconv.FormatInt(time.Since(c.start).Milliseconds(), 10))
}

func (c *adminCall) fail(ae *apiError) {
	c.ks.mu.Lock()
	c.ks.batch.counters.APIErrors++
	c.ks.mu.Unlock()
	c.setHeaders()
	if c.e.cfg.shouldRetry {
		retry := (ae.status >= 500 || ae.status == http.StatusTooManyRequests) && !ae.noRetry
		c.w.Header().Set("X-Should-Retry", strconv.FormatBool(retry))
	}
	if c.anthropic {
		writeJSON(c.w, ae.status, messagesErrorBody(ae, c.requestID()))
		return
	}
	writeError(c.w, ae)
}

func (c *adminCall) reply(body []byte) {
	c.setHeaders()
	writeJSON(c.w, http.StatusOK, append(body, '\n'))
}

// replyLocked answers with the object render makes with the batch store's
// mutex held.
func (c *adminCall) replyLocked(render func() []byte) {
	c.e.batches.mu.Lock()
	out := render()
	c.e.batches.mu.Unlock()
	c.reply(out)
}

func errNoFile(id string) *apiError {
	return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", param: "id", outcome: outBadRequest,
		message: "No such File object: " + id}
}

// serveFiles answers POST /v1/files.
func (e *emulator) serveFiles(w http.ResponseWriter, r *http.Request) {
	c, ok := e.openAIAdmin(w, r, http.MethodPost)
	if !ok {
		return
	}
	limit := e.cfg.batchMaxFileBytes
	r.Body = http.MaxBytesReader(w, r.Body, limit+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		c.fail(invalidRequest("", "", "Expected a multipart/form-data body with the fields 'purpose' and 'file'."))
		return
	}
	var purpose, filename string
	var content []byte
	hasPurpose, hasFile := false, false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.fail(uploadReadError(err, limit))
			return
		}
		switch p.FormName() {
		case "purpose":
			v, err := io.ReadAll(io.LimitReader(p, 1024))
			if err != nil {
				c.fail(uploadReadError(err, limit))
				return
			}
			purpose, hasPurpose = string(bytes.TrimSpace(v)), true
		case "file":
			filename, hasFile = p.FileName(), true
			content, err = io.ReadAll(io.LimitReader(p, limit+1))
			if err != nil {
				c.fail(uploadReadError(err, limit))
				return
			}
			if int64(len(content)) > limit {
				c.fail(errFileTooLarge(limit))
				return
			}
		default:
			if _, err := io.Copy(io.Discard, p); err != nil {
				c.fail(uploadReadError(err, limit))
				return
			}
		}
	}
	switch {
	case !hasPurpose:
		c.fail(invalidRequest("purpose", "missing_required_parameter", "Missing required parameter: 'purpose'."))
		return
	case purpose != "batch":
		c.fail(invalidRequest("purpose", "invalid_value", "Invalid value for 'purpose': '%s'. Supported values are: 'batch'.", purpose))
		return
	case !hasFile:
		c.fail(invalidRequest("file", "missing_required_parameter", "Missing required parameter: 'file'."))
		return
	}
	lines, aerr := parseBatchFile(content)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	if filename == "" {
		filename = "file"
	}
	f := &batchFile{id: e.newBatchID("file-", 24), key: c.key, filename: filename, purpose: "batch",
		created: time.Now().Unix(), content: content, lines: lines}
	e.batches.addFile(f)
	c.ks.mu.Lock()
	c.ks.batch.counters.FilesUploaded++
	c.ks.mu.Unlock()
	c.reply(f.appendJSON(nil))
}

func errFileTooLarge(limit int64) *apiError {
	return invalidRequest("file", "file_too_large", "File is too large: a batch input file may have at most %d bytes.", limit)
}

func uploadReadError(err error, limit int64) *apiError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errFileTooLarge(limit)
	}
	return invalidRequest("", "", "Could not read the multipart/form-data body: %v.", err)
}

func (s *batchStore) addFile(f *batchFile) {
	s.mu.Lock()
	if s.files == nil {
		s.files = map[string]*batchFile{}
	}
	s.files[f.id] = f
	s.mu.Unlock()
}

// file returns the key's file with id, nil when there is none.
func (s *batchStore) file(key, id string) *batchFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.files[id]; f != nil && f.key == key {
		return f
	}
	return nil
}

// serveFile answers GET /v1/files/{id} and GET /v1/files/{id}/content.
func (e *emulator) serveFile(w http.ResponseWriter, r *http.Request) {
	c, ok := e.openAIAdmin(w, r, http.MethodGet, http.MethodHead)
	if !ok {
		return
	}
	id, tail := batchPath(r.URL.Path, "/v1/files/")
	if tail != "" && tail != "content" {
		c.fail(&apiError{status: http.StatusNotFound, typ: "invalid_request_error", outcome: outBadRequest,
			message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path)})
		return
	}
	f := e.batches.file(c.key, id)
	if f == nil {
		c.fail(errNoFile(id))
		return
	}
	if tail == "" {
		c.reply(f.appendJSON(nil))
		return
	}
	c.setHeaders()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+f.filename+`"`)
	h.Set("Content-Length", strconv.Itoa(len(f.content)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(f.content)
	}
}

// lineError is a 400 naming a line of an uploaded file.
func lineError(n int, code, format string, args ...any) *apiError {
	return invalidRequest("file", code, "Line %d: %s", n, fmt.Sprintf(format, args...))
}

// parseBatchFile checks a batch input file: one JSON object per non-empty
// line, each with a unique string custom_id, method POST, a supported url
// and an object body.
func parseBatchFile(content []byte) ([]fileLine, *apiError) {
	var lines []fileLine
	seen := map[string]int{}
	rest := content
	for n := 1; len(rest) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(lines) == maxBatchLines {
			return nil, invalidRequest("file", "too_many_requests_in_file",
				"The file has more than %d requests; a batch input file may have at most %d.", maxBatchLines, maxBatchLines)
		}
		fl, aerr := parseBatchLine(n, line, seen)
		if aerr != nil {
			return nil, aerr
		}
		lines = append(lines, fl)
	}
	if len(lines) == 0 {
		return nil, invalidRequest("file", "empty_file", "The file has no requests: a batch input file needs at least one line.")
	}
	return lines, nil
}

func parseBatchLine(n int, line []byte, seen map[string]int) (fileLine, *apiError) {
	fl := fileLine{n: n}
	if !bytes.HasPrefix(line, []byte("{")) || !json.Valid(line) {
		return fl, lineError(n, "invalid_json_line", "not a valid JSON object.")
	}
	o, ok := parseObject(line)
	if !ok {
		return fl, lineError(n, "invalid_json_line", "not a valid JSON object.")
	}
	raw := o.get("custom_id")
	if isAbsent(raw) {
		return fl, lineError(n, "missing_required_parameter", "missing required field 'custom_id'.")
	}
	id, ok := rawString(raw)
	switch {
	case !ok:
		return fl, lineError(n, "invalid_type", "'custom_id' must be a string, got %s.", jsonKind(raw))
	case id == "":
		return fl, lineError(n, "invalid_value", "'custom_id' must not be empty.")
	case len(id) > maxCustomIDBytes:
		return fl, lineError(n, "invalid_value", "'custom_id' is longer than %d bytes.", maxCustomIDBytes)
	}
	if first, dup := seen[id]; dup {
		return fl, lineError(n, "duplicate_custom_id", "custom_id '%s' is already used on line %d; custom_id values must be unique within a file.", id, first)
	}
	seen[id] = n
	fl.customID = id

	raw = o.get("method")
	if isAbsent(raw) {
		return fl, lineError(n, "missing_required_parameter", "missing required field 'method'.")
	}
	if m, _ := rawString(raw); m != http.MethodPost {
		return fl, lineError(n, "invalid_method", "'method' must be \"POST\", got %s.", bytes.TrimSpace(raw))
	}
	raw = o.get("url")
	if isAbsent(raw) {
		return fl, lineError(n, "missing_required_parameter", "missing required field 'url'.")
	}
	url, _ := rawString(raw)
	known := false
	for _, ep := range batchEndpoints {
		known = known || url == ep
	}
	if !known {
		return fl, lineError(n, "invalid_url", "'url' must be one of '/v1/chat/completions', '/v1/embeddings' or '/v1/responses', got %s.", bytes.TrimSpace(raw))
	}
	fl.url = url
	raw = o.get("body")
	if isAbsent(raw) {
		return fl, lineError(n, "missing_required_parameter", "missing required field 'body'.")
	}
	if jsonKind(raw) != "an object" {
		return fl, lineError(n, "invalid_type", "'body' must be a JSON object, got %s.", jsonKind(raw))
	}
	fl.body = raw
	fl.model, fl.tokens = lineTokens(url, raw)
	return fl, nil
}

// lineTokens is a line's model and input tokens: the prompt tokens the
// endpoint's parser computes for its rate limit (chat completions: the
// prompt tokens; embeddings: the input tokens; responses: the input tokens
// of the body itself). A body the endpoint would refuse counts 0 tokens.
func lineTokens(url string, body []byte) (string, int64) {
	switch url {
	case "/v1/chat/completions":
		if req, aerr := parseChatRequest(body); aerr == nil {
			return req.model, req.promptTokens
		}
	case "/v1/embeddings":
		if req, aerr := parseEmbeddingsRequest(body); aerr == nil {
			return req.model, req.promptTokens
		}
	case "/v1/responses":
		if req, aerr := parseResponsesRequest(body); aerr == nil {
			return req.model, req.inputTokens
		}
	}
	return bodyModel(body), 0
}

// bodyModel is the model a JSON body names, "" when none.
func bodyModel(body []byte) string {
	if o, ok := parseObject(body); ok {
		m, _ := rawString(o.get("model"))
		return m
	}
	return ""
}
