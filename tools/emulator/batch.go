package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The OpenAI Batch API: POST /v1/batches creates a job from an uploaded
// file, GET /v1/batches lists the key's jobs (newest first), GET
// /v1/batches/{id} returns one and POST /v1/batches/{id}/cancel cancels it.
// An ended job's successful answers are in its output file, its refused
// lines in its error file.

// specBatchSchema checks POST /v1/batches bodies when the document has it.
const specBatchSchema = "CreateBatchRequest"

// batchCreateFields are the members a CreateBatchRequest may have.
var batchCreateFields = []string{"input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"}

// openAIBatch is one job of the OpenAI Batch API.
type openAIBatch struct {
	batchJob
	endpoint string
	input    *batchFile
	metadata json.RawMessage // an object, or null

	// Guarded by the store's mutex.
	errors       []byte // the errors list object, nil for null
	inProgressAt int64  // unix seconds, 0 for null
	finalizingAt int64
	completedAt  int64
	failedAt     int64
	expiredAt    int64
	cancellingAt int64
	cancelledAt  int64
	outputFileID string
	errorFileID  string
}

// appendJSON appends the Batch object; fresh renders a running job as the
// creation answer shows it, still validating. Called with the store's
// mutex held.
func (b *openAIBatch) appendJSON(buf []byte, fresh bool) []byte {
	status, inProgressAt := b.status, b.inProgressAt
	if fresh && status == "in_progress" {
		status, inProgressAt = "validating", 0
	}
	unix := func(buf []byte, v int64) []byte {
		if v == 0 {
			return append(buf, "null"...)
		}
		return strconv.AppendInt(buf, v, 10)
	}
	buf = append(buf, `{"id":`...)
	buf = appendJSONString(buf, b.id)
	buf = append(buf, `,"object":"batch","endpoint":`...)
	buf = appendJSONString(buf, b.endpoint)
	buf = append(buf, `,"errors":`...)
	if b.errors == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, b.errors...)
	}
	buf = append(buf, `,"input_file_id":`...)
	buf = appendJSONString(buf, b.input.id)
	buf = append(buf, `,"completion_window":"24h","status":`...)
	buf = appendJSONString(buf, status)
	buf = append(buf, `,"output_file_id":`...)
	buf = appendNullable(buf, b.outputFileID)
	buf = append(buf, `,"error_file_id":`...)
	buf = appendNullable(buf, b.errorFileID)
	buf = append(buf, `,"created_at":`...)
	buf = strconv.AppendInt(buf, b.created.Unix(), 10)
	buf = append(buf, `,"in_progress_at":`...)
	buf = unix(buf, inProgressAt)
	buf = append(buf, `,"expires_at":`...)
	buf = strconv.AppendInt(buf, b.expires.Unix(), 10)
	for _, f := range []struct {
		name string
		v    int64
	}{{"finalizing_at", b.finalizingAt}, {"completed_at", b.completedAt}, {"failed_at", b.failedAt},
		{"expired_at", b.expiredAt}, {"cancelling_at", b.cancellingAt}, {"cancelled_at", b.cancelledAt}} {
		buf = append(buf, `,"`...)
		buf = append(buf, f.name...)
		buf = append(buf, `":`...)
		buf = unix(buf, f.v)
	}
	t := &b.totals
	buf = fmt.Appendf(buf, `,"request_counts":{"total":%d,"completed":%d,"failed":%d},"metadata":`,
		len(b.input.lines), t.succeeded, t.failed+t.expired)
	buf = append(buf, b.metadata...)
	buf = append(buf, `,"model":`...)
	buf = appendJSONString(buf, b.model)
	return fmt.Appendf(buf, `,"usage":{"input_tokens":%d,"input_tokens_details":{"cached_tokens":%d},"output_tokens":%d,`+
		`"output_tokens_details":{"reasoning_tokens":%d},"total_tokens":%d}}`,
		t.prompt, t.cached, t.completion, t.reasoning, t.prompt+t.completion)
}

// errNoBatch is the 404 for an unknown (or another key's) batch.
func errNoBatch(id string) *apiError {
	return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", param: "id", outcome: outBadRequest,
		message: fmt.Sprintf("No batch found with id '%s'.", id)}
}

// serveBatches answers POST /v1/batches and GET /v1/batches.
func (e *emulator) serveBatches(w http.ResponseWriter, r *http.Request) {
	c, ok := e.openAIAdmin(w, r, http.MethodPost, http.MethodGet)
	if !ok {
		return
	}
	if r.Method == http.MethodGet {
		e.listBatches(c)
		return
	}
	body, ok := readBody(w, r, maxBodyBytes, errBodyTooLarge, c.fail, nil)
	if !ok {
		return
	}
	if e.spec != nil {
		if aerr := e.spec.validate(specBatchSchema, body); aerr != nil {
			c.fail(aerr)
			return
		}
	}
	b, aerr := e.newOpenAIBatch(c, body)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	c.replyLocked(func() []byte { return b.appendJSON(nil, true) })
}

// newOpenAIBatch checks a CreateBatchRequest and starts the job, or fails
// it at once when it would take the model over --batch-enqueued-tokens.
func (e *emulator) newOpenAIBatch(c *adminCall, body []byte) (*openAIBatch, *apiError) {
	o, aerr := openAIObject(body, batchCreateFields)
	if aerr != nil {
		return nil, aerr
	}
	fileID, has, aerr := oaString("input_file_id", o.get("input_file_id"))
	if aerr != nil {
		return nil, aerr
	}
	if !has {
		return nil, invalidRequest("input_file_id", "missing_required_parameter", "Missing required parameter: 'input_file_id'.")
	}
	endpoint, has, aerr := oaEnum("endpoint", o.get("endpoint"), batchEndpoints...)
	if aerr != nil {
		return nil, aerr
	}
	if !has {
		return nil, invalidRequest("endpoint", "missing_required_parameter", "Missing required parameter: 'endpoint'.")
	}
	_, has, aerr = oaEnum("completion_window", o.get("completion_window"), "24h")
	if aerr != nil {
		return nil, aerr
	}
	if !has {
		return nil, invalidRequest("completion_window", "missing_required_parameter", "Missing required parameter: 'completion_window'.")
	}
	metadata := json.RawMessage("null")
	if !isAbsent(o.get("metadata")) {
		if metadata, aerr = parseMetadata(o.get("metadata")); aerr != nil {
			return nil, aerr
		}
	}
	if _, aerr := oaObject("output_expires_after", o.get("output_expires_after")); aerr != nil {
		return nil, aerr
	}
	f := e.batches.file(c.key, fileID)
	if f == nil {
		return nil, invalidRequest("input_file_id", "", "No such File object: %s", fileID)
	}
	if f.purpose != "batch" {
		return nil, invalidRequest("input_file_id", "invalid_value", "File %s has purpose '%s'; a batch input file must have purpose 'batch'.", fileID, f.purpose)
	}
	var tokens int64
	ids := make([]string, len(f.lines))
	for i, ln := range f.lines {
		if ln.url != endpoint {
			return nil, invalidRequest("endpoint", "mismatched_endpoint",
				"Line %d of file %s has url '%s', which does not match the batch endpoint '%s'.", ln.n, fileID, ln.url, endpoint)
		}
		tokens += ln.tokens
		ids[i] = ln.customID
	}

	// Jobs of the key that are due end first, so that they no longer count
	// as enqueued.
	e.settleKey(c.key, "", false)

	now := time.Now()
	b := &openAIBatch{
		batchJob: batchJob{id: e.newBatchID("batch_", 24), key: c.key, ks: c.ks, created: now,
			due: now.Add(e.cfg.batchLatency), expires: now.Add(batchWindow), model: f.lines[0].model, tokens: tokens,
			status: "in_progress"},
		endpoint: endpoint, input: f, metadata: metadata, inProgressAt: now.Unix(),
	}
	limit := e.cfg.batchEnqueuedTokens
	c.ks.mu.Lock()
	acct := &c.ks.batch
	acct.counters.OpenAICreated++
	acct.counters.LinesReceived += int64(len(ids))
	_, fits := acct.enqueue(b.model, tokens, limit)
	if fits {
		acct.accept(ids)
	} else {
		acct.counters.TokenLimitFailures++
	}
	c.ks.mu.Unlock()
	if !fits {
		b.status, b.inProgressAt, b.failedAt = "failed", 0, now.Unix()
		msg := fmt.Sprintf("Enqueued token limit reached for %s in organization org-emulator. Limit: %d enqueued tokens. "+
			"Please try again once some in_progress batches have been completed.", b.model, limit)
		b.errors = appendJSONString([]byte(`{"object":"list","data":[{"code":"token_limit_exceeded","message":`), msg)
		b.errors = append(b.errors, `,"param":null,"line":null}]}`...)
	}
	addJob(&e.batches, b, &e.batches.openai, &e.batches.oaList)
	return b, nil
}

// finish answers each line of an ending job by the live endpoint; the
// answers go to the output and error files.
func (b *openAIBatch) finish(e *emulator, expire bool, at time.Time) batchTotals {
	var t batchTotals
	var out, errs []byte
	header := http.Header{"Authorization": {"Bearer " + b.key}}
	for _, ln := range b.input.lines {
		if expire {
			t.expired++
			errs = append(errs, `{"id":`...)
			errs = appendJSONString(errs, e.newBatchID("batch_req_", 24))
			errs = append(errs, `,"custom_id":`...)
			errs = appendJSONString(errs, ln.customID)
			errs = append(errs, `,"response":null,"error":{"code":"batch_expired","message":"This request could not be executed before the completion window expired."}}`+"\n"...)
			continue
		}
		var a lineAnswer
		if streams(ln.body) {
			a = lineAnswer{status: http.StatusBadRequest, requestID: e.newRequestID(),
				body: trimNewline(errorBody(invalidRequest("stream", "", "Streaming is not supported in batch requests.")))}
		} else {
			a = e.answerLine(ln.url, ln.body, header)
		}
		t.add(&a)
		line := []byte(`{"id":`)
		line = appendJSONString(line, e.newBatchID("batch_req_", 24))
		line = append(line, `,"custom_id":`...)
		line = appendJSONString(line, ln.customID)
		line = fmt.Appendf(line, `,"response":{"status_code":%d,"request_id":`, a.status)
		line = appendJSONString(line, a.requestID)
		line = append(line, `,"body":`...)
		line = append(line, a.body...)
		line = append(line, "}"+`,"error":null}`+"\n"...)
		if a.status == http.StatusOK {
			out = append(out, line...)
		} else {
			errs = append(errs, line...)
		}
	}
	created := time.Now().Unix()
	newFile := func(kind string, content []byte) *batchFile {
		if len(content) == 0 {
			return nil
		}
		return &batchFile{id: e.newBatchID("file-", 24), key: b.key, filename: b.id + "_" + kind + ".jsonl",
			purpose: "batch_output", created: created, content: content}
	}
	outFile, errFile := newFile("output", out), newFile("error", errs)
	st := &e.batches
	st.mu.Lock()
	for _, f := range []*batchFile{outFile, errFile} {
		// A job that outlived a reset leaves no files in the new store.
		if f != nil && st.gen == b.gen {
			if st.files == nil {
				st.files = map[string]*batchFile{}
			}
			st.files[f.id] = f
		}
	}
	if outFile != nil {
		b.outputFileID = outFile.id
	}
	if errFile != nil {
		b.errorFileID = errFile.id
	}
	b.totals = t
	if expire {
		b.status, b.expiredAt = "expired", at.Unix()
	} else {
		b.status, b.finalizingAt, b.completedAt = "completed", at.Unix(), at.Unix()
	}
	st.mu.Unlock()
	return t
}

// newRequestID returns a fresh "req_" id.
func (e *emulator) newRequestID() string {
	a, b := e.nextIDs()
	return string(appendHex(appendHex([]byte("req_"), a), b))
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	return b
}

// openAIBatchOf returns the key's batch with id, nil when there is none.
func (s *batchStore) openAIBatchOf(key, id string) *openAIBatch {
	return jobOf(s, &s.openai, key, id)
}

// serveBatch answers GET /v1/batches/{id} and POST /v1/batches/{id}/cancel.
func (e *emulator) serveBatch(w http.ResponseWriter, r *http.Request) {
	id, tail := batchPath(r.URL.Path, "/v1/batches/")
	c, ok := e.openAIAdmin(w, r, tailMethod(tail))
	if !ok {
		return
	}
	if tail != "" && tail != "cancel" {
		c.fail(&apiError{status: http.StatusNotFound, typ: "invalid_request_error", outcome: outBadRequest,
			message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path)})
		return
	}
	b := e.batches.openAIBatchOf(c.key, id)
	if b == nil {
		c.fail(errNoBatch(id))
		return
	}
	now := time.Now()
	e.endBatch(b, now, false)
	if tail == "" {
		c.replyLocked(func() []byte { return b.appendJSON(nil, false) })
		return
	}
	out, status, ok := e.cancelBatch(b, func() (batchTotals, []byte) {
		b.status, b.cancellingAt, b.cancelledAt = "cancelled", now.Unix(), now.Unix()
		return batchTotals{canceled: int64(len(b.input.lines))}, b.appendJSON(nil, false)
	})
	if !ok {
		c.fail(&apiError{status: http.StatusConflict, typ: "invalid_request_error", outcome: outBadRequest,
			message: fmt.Sprintf("Cannot cancel a batch with status '%s'.", status)})
		return
	}
	c.reply(out)
}

// listBatches answers GET /v1/batches?limit=N&after=ID: the key's jobs,
// newest first.
func (e *emulator) listBatches(c *adminCall) {
	q := c.r.URL.Query()
	limit := int64(20)
	if s := q.Get("limit"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 1 || v > 100 {
			c.fail(invalidRequest("limit", "invalid_value", "Invalid value for 'limit': expected an integer from 1 to 100, got '%s'.", s))
			return
		}
		limit = v
	}
	after := q.Get("after")
	e.settleKey(c.key, "", false)
	st := &e.batches
	st.mu.Lock()
	var page []*openAIBatch
	more, started := false, after == ""
	for i := len(st.oaList) - 1; i >= 0; i-- {
		b := st.oaList[i]
		if b.key != c.key {
			continue
		}
		if !started {
			started = b.id == after
			continue
		}
		if int64(len(page)) == limit {
			more = true
			break
		}
		page = append(page, b)
	}
	out := appendJobs([]byte(`{"object":"list","data":[`), page, func(out []byte, b *openAIBatch) []byte {
		return b.appendJSON(out, false)
	})
	st.mu.Unlock()
	out = appendFirstLast(append(out, `],"first_id":`...), page)
	out = fmt.Appendf(out, `,"has_more":%t}`, more)
	c.reply(out)
}
